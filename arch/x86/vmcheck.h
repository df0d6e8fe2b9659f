/* Pre-VMLAUNCH self-check of a VMCS against the capability MSRs and the SDM's VM-entry checks. */
#ifndef ARCH_X86_VMCHECK_H
#define ARCH_X86_VMCHECK_H

#include "../../hv/err.h"
#include "../../hv/types.h"

/* The VMX capability MSRs (SDM Vol 3D Appendix A), read once per CPU. */
struct vmx_msrs {
	uint64_t basic, pinbased, procbased, procbased2, exit, entry;
	uint64_t true_pinbased, true_procbased, true_exit, true_entry;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1, ept_vpid_cap, misc;
	unsigned phys_addr_bits; /* CPUID.80000008H:EAX[7:0] */
};

/*
 * What the checks look at: the MSRs, and the VMCS through read() only (VMREAD on the machine,
 * a table in the unit tests). read() gets an SDM field encoding from vmcs.h.
 */
struct vmcheck_env {
	const struct vmx_msrs *msrs;
	uint64_t (*read)(uint32_t field, void *ctx);
	void *ctx;
};

/*
 * Each returns 0 when every check passes; else -1 with e->msg naming the first rule broken, e.g.
 * "guest CR0: bit 5 (NE) is 0 but IA32_VMX_CR0_FIXED0 requires it (SDM 27.3.1.1)".
 * Sections are those of SDM Vol 3C chapter 27 ("VM Entries"; chapter 26 in older editions).
 * Left out, as their rules cannot fail: the host state, the running core's own (CR0, CR3, CR4,
 * IA32_PAT and IA32_EFER as read in IA-32e mode after VMXON, which already held CR0 and CR4 to
 * their fixed bits; its GDT, TSS, IDT and code in the identity-mapped image; selectors vmcs.c
 * asserts at compile time); the I/O and MSR bitmaps, pages of its heap; unrestricted guest
 * always with EPT, VPIDs from 1; and the guest fields vmcs.c writes as the same architectural
 * values at every launch: the segment registers, flat (32-bit for a toy and PVH, 64-bit for a
 * bzImage; the boot scenarios enter each route under Bochs's own VM-entry checks), no event to
 * inject, no MSR-load/store areas, no CR3 targets; RFLAGS bit 1 only (so no virtual-8086 mode),
 * DR7 not loaded, the PAT at its power-on value, the LDTR unusable, TR and IDTR as at reset;
 * active and uninterrupted, no shadow VMCS.
 */
int vmcheck_controls(const struct vmcheck_env *env, err_t *e); /* 27.2.1 */
int vmcheck_guest(const struct vmcheck_env *env, err_t *e);    /* 27.3.1 */
int vmcheck_all(const struct vmcheck_env *env, err_t *e);      /* controls, then guest */

#endif
