/* VMX: what this CPU offers (read once), and turning VMX operation on per core. */
#ifndef ARCH_X86_VMX_H
#define ARCH_X86_VMX_H

#include "../../hv/types.h"
#include "vmcheck.h"

struct vmx_caps {
	uint32_t revision;     /* VMCS revision identifier, IA32_VMX_BASIC[30:0] */
	bool true_ctls;        /* the IA32_VMX_TRUE_* MSRs exist (IA32_VMX_BASIC[55]) */
	bool ept, ept_2m, ept_1g, vpid, unrestricted, preempt_timer, invept_single, invept_all;
};

extern struct vmx_caps vmx_caps;
extern struct vmx_msrs vmx_msrs; /* the raw capability MSRs, read once by arch_virt_probe */

/* VMXON, VMCLEAR, VMPTRLD of a region: false on VMfailInvalid (CF) or VMfailValid (ZF), SDM Vol 3C 31.2. */
#define DEFINE_VMX_REGION_INSN(insn)                                                               \
	static inline bool insn(uint64_t region)                                                   \
	{                                                                                          \
		bool cf, zf;                                                                       \
		__asm__ volatile(#insn " %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(region) : "memory"); \
		return !cf && !zf;                                                                 \
	}
DEFINE_VMX_REGION_INSN(vmxon)
DEFINE_VMX_REGION_INSN(vmclear)
DEFINE_VMX_REGION_INSN(vmptrld)
#undef DEFINE_VMX_REGION_INSN

#endif
