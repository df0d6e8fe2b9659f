/* Model-specific registers slicehv touches, by their SDM names (SDM Vol 4, Table 2-2). */
#ifndef ARCH_X86_MSR_H
#define ARCH_X86_MSR_H

#include "../../hv/types.h"

#define IA32_FEATURE_CONTROL 0x03a
#define IA32_FEATURE_CONTROL_LOCK (1u << 0)
#define IA32_FEATURE_CONTROL_VMX_OUTSIDE_SMX (1u << 2)

#define IA32_APIC_BASE 0x01b
#define IA32_APIC_BASE_EXTD BIT(10) /* x2APIC mode */
#define IA32_APIC_BASE_EN BIT(11)
#define IA32_TSC_DEADLINE 0x6e0

/* x2APIC registers as MSRs (SDM Vol 3A 11.12.1.2, Table 11-6). */
#define X2APIC_FIRST 0x800
#define X2APIC_APICID 0x802
#define X2APIC_VERSION 0x803
#define APIC_VERSION_MAX_LVT(v) (((v) >> 16) & 0xff)
#define X2APIC_TPR 0x808
#define X2APIC_EOI 0x80b
#define X2APIC_LDR 0x80d
#define X2APIC_SVR 0x80f
#define X2APIC_ISR0 0x810 /* ISR0-7: 256 in-service bits, 32 per register */
#define X2APIC_ISR_COUNT 8
#define X2APIC_IRR0 0x820 /* IRR0-7, likewise */
#define X2APIC_ESR 0x828
#define X2APIC_LVT_CMCI 0x82f
#define X2APIC_ICR 0x830
#define X2APIC_LVT_TIMER 0x832
#define X2APIC_LVT_THERMAL 0x833
#define X2APIC_LVT_PMC 0x834
#define X2APIC_LVT_LINT0 0x835
#define X2APIC_LVT_LINT1 0x836
#define X2APIC_LVT_ERROR 0x837
#define X2APIC_TIMER_INITIAL 0x838
#define X2APIC_TIMER_CURRENT 0x839
#define X2APIC_TIMER_DIVIDE 0x83e
#define X2APIC_SELF_IPI 0x83f
#define X2APIC_LAST 0x8ff

#define IA32_TIME_STAMP_COUNTER 0x010
#define IA32_BIOS_SIGN_ID 0x08b
#define IA32_MPERF 0x0e7 /* maximum- and actual-performance clock counts of this core */
#define IA32_APERF 0x0e8
#define IA32_MTRRCAP 0x0fe
#define IA32_SYSENTER_CS 0x174
#define IA32_SYSENTER_EIP 0x176
#define IA32_MISC_ENABLE 0x1a0
#define IA32_MTRR_PHYSBASE0 0x200
#define IA32_MTRR_DEF_TYPE 0x2ff
#define IA32_PAT 0x277
#define IA32_EFER 0xc0000080
#define IA32_EFER_SCE (1u << 0)
#define IA32_EFER_LME (1u << 8)
#define IA32_EFER_LMA (1u << 10)
#define IA32_EFER_NXE (1u << 11)
#define IA32_STAR 0xc0000081
#define IA32_LSTAR 0xc0000082
#define IA32_CSTAR 0xc0000083
#define IA32_FMASK 0xc0000084
#define IA32_FS_BASE 0xc0000100
#define IA32_GS_BASE 0xc0000101
#define IA32_KERNEL_GS_BASE 0xc0000102
#define IA32_TSC_AUX 0xc0000103

/* VMX capability MSRs (SDM Vol 3D Appendix A). */
#define IA32_VMX_BASIC 0x480
#define IA32_VMX_PINBASED_CTLS 0x481
#define IA32_VMX_PROCBASED_CTLS 0x482
#define IA32_VMX_EXIT_CTLS 0x483
#define IA32_VMX_ENTRY_CTLS 0x484
#define IA32_VMX_MISC 0x485
#define VMX_MISC_PREEMPTION_RATE(m) ((m) & 0x1f) /* the timer ticks every 2^rate TSC ticks */
#define VMX_MISC_ACTIVITY_HLT BIT(6)                /* VM entry can leave the guest in HLT */
#define IA32_VMX_CR0_FIXED0 0x486
#define IA32_VMX_CR0_FIXED1 0x487
#define IA32_VMX_CR4_FIXED0 0x488
#define IA32_VMX_CR4_FIXED1 0x489
#define IA32_VMX_PROCBASED_CTLS2 0x48b
#define IA32_VMX_EPT_VPID_CAP 0x48c
#define IA32_VMX_TRUE_PINBASED_CTLS 0x48d
#define IA32_VMX_TRUE_PROCBASED_CTLS 0x48e
#define IA32_VMX_TRUE_EXIT_CTLS 0x48f
#define IA32_VMX_TRUE_ENTRY_CTLS 0x490

/* IA32_VMX_BASIC fields (SDM Vol 3D A.1). */
#define VMX_BASIC_REVISION_MASK 0x7fffffffu
#define VMX_BASIC_TRUE_CTLS BIT(55) /* the IA32_VMX_TRUE_*_CTLS MSRs exist */

/* IA32_VMX_EPT_VPID_CAP bits (SDM Vol 3D A.10). */
#define EPT_CAP_INVVPID BIT(32)
#define EPT_CAP_INVVPID_ALL BIT(42)
#define EPT_CAP_WALK_LENGTH_4 BIT(6)
#define EPT_CAP_WALK_LENGTH_5 BIT(7)
#define EPT_CAP_MEMTYPE_UC BIT(8)
#define EPT_CAP_MEMTYPE_WB BIT(14)
#define EPT_CAP_2M_PAGES BIT(16)
#define EPT_CAP_1G_PAGES BIT(17)
#define EPT_CAP_INVEPT BIT(20)
#define EPT_CAP_ACCESSED_DIRTY BIT(21)
#define EPT_CAP_INVEPT_SINGLE BIT(25)
#define EPT_CAP_INVEPT_ALL BIT(26)

#endif
