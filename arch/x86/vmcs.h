/* VMCS fields, controls and exit reasons by their SDM names (SDM Vol 3C ch. 25, Vol 3D App. B, C). */
#ifndef ARCH_X86_VMCS_H
#define ARCH_X86_VMCS_H

#include "../../hv/types.h"

enum vmcs_field {
	/*
	 * Guest segment fields: the SDM numbers the segments ES, CS, SS, DS, FS, GS, LDTR, TR and gives
	 * each kind of field consecutive encodings, two apart (B.1, B.3.3, B.4.3).
	 */
#define GUEST_SEGMENT(seg, i)                                                        \
	GUEST_##seg##_SELECTOR = 0x0800 + 2 * (i), GUEST_##seg##_LIMIT = 0x4800 + 2 * (i), \
	GUEST_##seg##_AR_BYTES = 0x4814 + 2 * (i), GUEST_##seg##_BASE = 0x6806 + 2 * (i)
	GUEST_SEGMENT(ES, 0),
	GUEST_SEGMENT(CS, 1),
	GUEST_SEGMENT(SS, 2),
	GUEST_SEGMENT(DS, 3),
	GUEST_SEGMENT(FS, 4),
	GUEST_SEGMENT(GS, 5),
	GUEST_SEGMENT(LDTR, 6),
	GUEST_SEGMENT(TR, 7),
#undef GUEST_SEGMENT
	/* 16-bit control, guest-state and host-state fields (B.1) */
	VIRTUAL_PROCESSOR_ID = 0x0000,
	HOST_ES_SELECTOR = 0x0c00,
	HOST_CS_SELECTOR = 0x0c02,
	HOST_SS_SELECTOR = 0x0c04,
	HOST_DS_SELECTOR = 0x0c06,
	HOST_FS_SELECTOR = 0x0c08,
	HOST_GS_SELECTOR = 0x0c0a,
	HOST_TR_SELECTOR = 0x0c0c,
	/* 64-bit control fields (B.2.1) */
	IO_BITMAP_A = 0x2000,
	IO_BITMAP_B = 0x2002,
	MSR_BITMAP = 0x2004,
	EPT_POINTER = 0x201a,
	/* 64-bit read-only data field (B.2.2) */
	GUEST_PHYSICAL_ADDRESS = 0x2400,
	/* 64-bit guest-state fields (B.2.3) */
	VMCS_LINK_POINTER = 0x2800,
	GUEST_IA32_DEBUGCTL = 0x2802,
	GUEST_IA32_PAT = 0x2804,
	GUEST_IA32_EFER = 0x2806,
	GUEST_PDPTE0 = 0x280a, /* PDPTE1-3 follow, two apart */
	/* 64-bit host-state fields (B.2.4) */
	HOST_IA32_PAT = 0x2c00,
	HOST_IA32_EFER = 0x2c02,
	/* 32-bit control fields (B.3.1) */
	PIN_BASED_VM_EXEC_CONTROL = 0x4000,
	CPU_BASED_VM_EXEC_CONTROL = 0x4002,
	EXCEPTION_BITMAP = 0x4004,
	CR3_TARGET_COUNT = 0x400a,
	VM_EXIT_CONTROLS = 0x400c,
	VM_EXIT_MSR_STORE_COUNT = 0x400e,
	VM_EXIT_MSR_LOAD_COUNT = 0x4010,
	VM_ENTRY_CONTROLS = 0x4012,
	VM_ENTRY_MSR_LOAD_COUNT = 0x4014,
	VM_ENTRY_INTR_INFO_FIELD = 0x4016,
	VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018,
	SECONDARY_VM_EXEC_CONTROL = 0x401e,
	/* 32-bit read-only data fields (B.3.2) */
	VM_INSTRUCTION_ERROR = 0x4400,
	VM_EXIT_REASON = 0x4402,
	VM_EXIT_INSTRUCTION_LEN = 0x440c,
	/* 32-bit guest-state fields (B.3.3) */
	GUEST_GDTR_LIMIT = 0x4810,
	GUEST_IDTR_LIMIT = 0x4812,
	GUEST_INTERRUPTIBILITY_INFO = 0x4824,
	GUEST_ACTIVITY_STATE = 0x4826,
	GUEST_SYSENTER_CS = 0x482a,
	VMX_PREEMPTION_TIMER_VALUE = 0x482e,
	/* 32-bit host-state field (B.3.4) */
	HOST_IA32_SYSENTER_CS = 0x4c00,
	/* natural-width control fields (B.4.1) */
	CR0_GUEST_HOST_MASK = 0x6000,
	CR4_GUEST_HOST_MASK = 0x6002,
	CR0_READ_SHADOW = 0x6004,
	CR4_READ_SHADOW = 0x6006,
	/* natural-width read-only data fields (B.4.2) */
	EXIT_QUALIFICATION = 0x6400,
	/* natural-width guest-state fields (B.4.3) */
	GUEST_CR0 = 0x6800,
	GUEST_CR3 = 0x6802,
	GUEST_CR4 = 0x6804,
	GUEST_GDTR_BASE = 0x6816,
	GUEST_IDTR_BASE = 0x6818,
	GUEST_DR7 = 0x681a,
	GUEST_RSP = 0x681c,
	GUEST_RIP = 0x681e,
	GUEST_RFLAGS = 0x6820,
	GUEST_PENDING_DBG_EXCEPTIONS = 0x6822,
	GUEST_SYSENTER_ESP = 0x6824,
	GUEST_SYSENTER_EIP = 0x6826,
	/* natural-width host-state fields (B.4.4) */
	HOST_CR0 = 0x6c00,
	HOST_CR3 = 0x6c02,
	HOST_CR4 = 0x6c04,
	HOST_FS_BASE = 0x6c06,
	HOST_GS_BASE = 0x6c08,
	HOST_TR_BASE = 0x6c0a,
	HOST_GDTR_BASE = 0x6c0c,
	HOST_IDTR_BASE = 0x6c0e,
	HOST_IA32_SYSENTER_ESP = 0x6c10,
	HOST_IA32_SYSENTER_EIP = 0x6c12,
	HOST_RSP = 0x6c14,
	HOST_RIP = 0x6c16,
};

/* Bits 14:13 of an encoding give the field's width (SDM Vol 3C 25.11.2). */
#define VMCS_WIDTH(f) (((f) >> 13) & 3)
enum vmcs_width { VMCS_WIDTH_16, VMCS_WIDTH_64, VMCS_WIDTH_32, VMCS_WIDTH_NATURAL };

/* Pin-based VM-execution controls (25.6.1). */
#define PIN_EXTERNAL_INTERRUPT_EXITING BIT(0)
#define PIN_NMI_EXITING BIT(3)
#define PIN_PREEMPTION_TIMER BIT(6)

/* Primary processor-based VM-execution controls (25.6.2). */
#define CPU_HLT_EXITING BIT(7)
#define CPU_USE_IO_BITMAPS BIT(25)
#define CPU_USE_MSR_BITMAPS BIT(28)
#define CPU_ACTIVATE_SECONDARY_CONTROLS BIT(31)

/* Secondary processor-based VM-execution controls (25.6.2). */
#define SECONDARY_ENABLE_EPT BIT(1)
#define SECONDARY_ENABLE_RDTSCP BIT(3)
#define SECONDARY_ENABLE_VPID BIT(5)
#define SECONDARY_WBINVD_EXITING BIT(6)
#define SECONDARY_UNRESTRICTED_GUEST BIT(7)
#define SECONDARY_ENABLE_INVPCID BIT(12)
#define SECONDARY_ENABLE_XSAVES BIT(20)

/* VM-exit controls (25.7.1). */
#define EXIT_HOST_ADDRESS_SPACE_SIZE BIT(9)
#define EXIT_ACK_INTERRUPT_ON_EXIT BIT(15)
#define EXIT_SAVE_IA32_PAT BIT(18)
#define EXIT_LOAD_IA32_PAT BIT(19)
#define EXIT_SAVE_IA32_EFER BIT(20)
#define EXIT_LOAD_IA32_EFER BIT(21)

/* VM-entry controls (25.8.1). */
#define ENTRY_IA32E_MODE_GUEST BIT(9)
#define ENTRY_LOAD_IA32_PAT BIT(14)
#define ENTRY_LOAD_IA32_EFER BIT(15)

/* VM-entry interruption-information field (25.8.3). */
#define INTR_INFO_VALID BIT(31)
#define INTR_INFO_DELIVER_ERROR_CODE BIT(11)
#define INTR_TYPE_HARD_EXCEPTION (3u << 8)

/* Guest non-register state (25.4.2). */
enum activity_state { ACTIVITY_ACTIVE, ACTIVITY_HLT, ACTIVITY_SHUTDOWN, ACTIVITY_WAIT_FOR_SIPI };
#define BLOCKING_BY_STI BIT(0)
#define BLOCKING_BY_MOV_SS BIT(1)
#define VMCS_LINK_POINTER_NONE (~0ull) /* no shadow VMCS */

/* Segment access rights as the VMCS holds them (25.4.1). */
#define AR_TYPE_CODE_XR_ACCESSED 0xb
#define AR_TYPE_DATA_RW_ACCESSED 0x3
#define AR_TYPE_TSS_BUSY 0xb
#define AR_TYPE_MASK 0xf
#define AR_S BIT(4)       /* code or data, not system */
#define AR_P BIT(7)       /* present */
#define AR_L BIT(13)      /* 64-bit code */
#define AR_DB BIT(14)     /* 32-bit default operand size */
#define AR_G BIT(15)      /* 4 KiB limit granularity */
#define AR_UNUSABLE BIT(16)
#define AR_DPL(ar) (((ar) >> 5) & 3)

/* Basic exit reasons (SDM Vol 3D Appendix C): enumerator, number, the name logs use. */
#define EXIT_REASONS(X) \
	X(EXCEPTION_NMI, 0, "exception-nmi") \
	X(EXTERNAL_INTERRUPT, 1, "external-interrupt") \
	X(TRIPLE_FAULT, 2, "triple-fault") \
	X(INIT_SIGNAL, 3, "init-signal") \
	X(SIPI, 4, "sipi") \
	X(IO_SMI, 5, "io-smi") \
	X(OTHER_SMI, 6, "other-smi") \
	X(INTERRUPT_WINDOW, 7, "interrupt-window") \
	X(NMI_WINDOW, 8, "nmi-window") \
	X(TASK_SWITCH, 9, "task-switch") \
	X(CPUID, 10, "cpuid") \
	X(GETSEC, 11, "getsec") \
	X(HLT, 12, "hlt") \
	X(INVD, 13, "invd") \
	X(INVLPG, 14, "invlpg") \
	X(RDPMC, 15, "rdpmc") \
	X(RDTSC, 16, "rdtsc") \
	X(RSM, 17, "rsm") \
	X(VMCALL, 18, "vmcall") \
	X(VMCLEAR, 19, "vmclear") \
	X(VMLAUNCH, 20, "vmlaunch") \
	X(VMPTRLD, 21, "vmptrld") \
	X(VMPTRST, 22, "vmptrst") \
	X(VMREAD, 23, "vmread") \
	X(VMRESUME, 24, "vmresume") \
	X(VMWRITE, 25, "vmwrite") \
	X(VMXOFF, 26, "vmxoff") \
	X(VMXON, 27, "vmxon") \
	X(CR_ACCESS, 28, "cr-access") \
	X(DR_ACCESS, 29, "dr-access") \
	X(IO_INSTRUCTION, 30, "io-instruction") \
	X(RDMSR, 31, "rdmsr") \
	X(WRMSR, 32, "wrmsr") \
	X(INVALID_GUEST_STATE, 33, "invalid-guest-state") \
	X(MSR_LOADING, 34, "msr-loading") \
	X(MWAIT, 36, "mwait") \
	X(MONITOR_TRAP_FLAG, 37, "monitor-trap-flag") \
	X(MONITOR, 39, "monitor") \
	X(PAUSE, 40, "pause") \
	X(MACHINE_CHECK, 41, "machine-check") \
	X(TPR_BELOW_THRESHOLD, 43, "tpr-below-threshold") \
	X(APIC_ACCESS, 44, "apic-access") \
	X(VIRTUALIZED_EOI, 45, "virtualized-eoi") \
	X(GDTR_IDTR, 46, "gdtr-idtr") \
	X(LDTR_TR, 47, "ldtr-tr") \
	X(EPT_VIOLATION, 48, "ept-violation") \
	X(EPT_MISCONFIG, 49, "ept-misconfig") \
	X(INVEPT, 50, "invept") \
	X(RDTSCP, 51, "rdtscp") \
	X(PREEMPTION_TIMER, 52, "preemption-timer") \
	X(INVVPID, 53, "invvpid") \
	X(WBINVD, 54, "wbinvd") \
	X(XSETBV, 55, "xsetbv") \
	X(APIC_WRITE, 56, "apic-write") \
	X(RDRAND, 57, "rdrand") \
	X(INVPCID, 58, "invpcid") \
	X(VMFUNC, 59, "vmfunc") \
	X(ENCLS, 60, "encls") \
	X(RDSEED, 61, "rdseed") \
	X(PML_FULL, 62, "pml-full") \
	X(XSAVES, 63, "xsaves") \
	X(XRSTORS, 64, "xrstors")

enum exit_reason {
#define EXIT_REASON_ENUM(name, nr, str) EXIT_REASON_##name = nr,
	EXIT_REASONS(EXIT_REASON_ENUM)
#undef EXIT_REASON_ENUM
	EXIT_REASON_COUNT = 70, /* room for every basic reason the SDM defines */
};
#define EXIT_REASON_BASIC(r) ((r) & 0xffff)
#define EXIT_REASON_ENTRY_FAILURE BIT(31)

/* VMREAD/VMWRITE with both failure flags checked; a failure is a hypervisor bug (panic). */
uint64_t vmcs_read_field(uint32_t field);
void vmcs_write_field(uint32_t field, uint64_t value);

/* Width-checked at compile time: a 32-bit accessor on a 64-bit field does not build. */
#define VMCS_CHECKED(f, ok) ({ _Static_assert(ok, #f " has another width"); (uint32_t)(f); })
#define VMCS_IS(f, w) (VMCS_WIDTH(f) == VMCS_WIDTH_##w)
#define vmcs_read32(f) ((uint32_t)vmcs_read_field(VMCS_CHECKED(f, VMCS_IS(f, 32))))
#define vmcs_read64(f) vmcs_read_field(VMCS_CHECKED(f, VMCS_IS(f, 64) || VMCS_IS(f, NATURAL)))
#define vmcs_write16(f, v) vmcs_write_field(VMCS_CHECKED(f, VMCS_IS(f, 16)), (uint16_t)(v))
#define vmcs_write32(f, v) vmcs_write_field(VMCS_CHECKED(f, VMCS_IS(f, 32)), (uint32_t)(v))
#define vmcs_write64(f, v) vmcs_write_field(VMCS_CHECKED(f, VMCS_IS(f, 64) || VMCS_IS(f, NATURAL)), (v))

/* Guest general-purpose registers, in the order vmentry.asm pushes them (RSP is in the VMCS). */
struct guest_regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t pad; /* keeps the frame a multiple of 16 bytes for the C call */
};

#endif
