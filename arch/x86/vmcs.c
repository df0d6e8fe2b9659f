/* One VMCS per core: controls from the capability MSRs, host state, the guest's start state. */
#include "vmcs.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/cpu.h"
#include "../../hv/partition.h"
#include "../../hv/power.h"
#include "apic.h"
#include "exits.h"
#include "lapic.h"
#include "msr.h"
#include "vmcheck.h"
#include "vmx.h"
#include "x86.h"

#define DR7_INIT 0x400ull              /* DR7's value after reset (SDM Vol 3B 18.2.4) */
#define DR6_INIT 0xffff0ff0ull         /* DR6's value after reset (SDM Vol 3B 18.2.3) */
#define FCW_INIT 0x37f                 /* x87 control word after FINIT (SDM Vol 1 8.1.5) */
#define MXCSR_INIT 0x1f80              /* MXCSR after reset (SDM Vol 1 10.2.3) */
#define PAT_POWER_ON 0x0007040600070406ull /* IA32_PAT's value after reset (SDM Vol 3A 13.12.2) */
#define INVVPID_ALL_CONTEXT 2ull       /* INVVPID type (SDM Vol 3C 31.3, INVVPID) */
#define FLAT_LIMIT 0xffffffffu
#define TSS_LIMIT 0xffu
#define GUEST_SEL_CODE 0x08
#define GUEST_SEL_DATA 0x10
#define SEL_RPL_TI 7u /* a selector's RPL (bits 1:0) and TI (bit 2) */

/* Guest-owned CR bits the hypervisor must keep (fixed bits) or see change (PG: EFER.LMA). */
uint64_t guest_cr0_fixed1, guest_cr0_forced, guest_cr4_forced;

uint64_t vmcs_read_field(uint32_t field)
{
	uint64_t v;
	bool cf, zf;

	__asm__ volatile("vmread %3, %0" : "=r"(v), "=@ccc"(cf), "=@ccz"(zf) : "r"((uint64_t)field));
	if (cf || zf) {
		printk("slicehv: cpu %u: VMREAD of field 0x%x failed\n", this_cpu()->index, field);
		machine_exit(HV_EXIT_PANIC);
	}
	return v;
}

void vmcs_write_field(uint32_t field, uint64_t value)
{
	bool cf, zf;

	__asm__ volatile("vmwrite %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "r"(value), "r"((uint64_t)field));
	if (cf || zf) {
		printk("slicehv: cpu %u: VMWRITE of 0x%lx to field 0x%x failed (VM-instruction error %lu)\n",
		       this_cpu()->index, value, field, zf ? vmcs_read_field(VM_INSTRUCTION_ERROR) : 0);
		machine_exit(HV_EXIT_PANIC);
	}
}

/* Settings a control field must (low half) and may (high half) have, from vmx_msrs. */
static int control(uint32_t field, uint64_t caps, uint32_t want, const char *name, err_t *e)
{
	uint32_t must = (uint32_t)caps, may = (uint32_t)(caps >> 32);

	if (want & ~may)
		return err_set(e, "%s: this CPU cannot set bits 0x%x", name, want & ~may);
	vmcs_write_field(field, want | must);
	return 0;
}

/* drain: the IRR holds vectors of a previous run, to be acknowledged on exit (lapic_hand_over). */
static int setup_controls(struct partition *p, bool drain, err_t *e)
{
	uint32_t secondary = SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST;
	const struct vmx_msrs *m = &vmx_msrs;
	uint32_t may2 = m->procbased2 >> 32;
	/*
	 * budget=: the VMX-preemption timer ends a guest that takes no exits (exits.c budget_arm). NMIs
	 * stay slicehv's; external interrupts do not exit: they reach the guest's IDT from its own APIC.
	 */
	uint32_t pin = PIN_NMI_EXITING | (p->cfg->budget_ms ? PIN_PREEMPTION_TIMER : 0) |
		       (drain ? PIN_EXTERNAL_INTERRUPT_EXITING : 0);

	if (!vmx_caps.unrestricted)
		return err_set(e, "partitions start in 32-bit protected mode without paging, which needs "
				  "unrestricted guest; this CPU has none");
	/* Instructions the guest may run natively when the CPU lets it. */
	secondary |= may2 & (SECONDARY_ENABLE_RDTSCP | SECONDARY_ENABLE_INVPCID | SECONDARY_ENABLE_XSAVES);
	/* WBINVD flushes caches other partitions use: it exits, where the CPU lets it. */
	secondary |= may2 & SECONDARY_WBINVD_EXITING;
	if (vmx_caps.vpid) {
		secondary |= SECONDARY_ENABLE_VPID;
		vmcs_write16(VIRTUAL_PROCESSOR_ID, p->index + 1); /* 0 is the host's */
	}
	if (control(PIN_BASED_VM_EXEC_CONTROL, m->true_pinbased, pin, "pin-based controls", e) < 0 ||
	    control(CPU_BASED_VM_EXEC_CONTROL, m->true_procbased,
		    CPU_HLT_EXITING | CPU_USE_IO_BITMAPS | CPU_USE_MSR_BITMAPS | CPU_ACTIVATE_SECONDARY_CONTROLS,
		    "processor-based controls", e) < 0 ||
	    control(SECONDARY_VM_EXEC_CONTROL, m->procbased2, secondary, "secondary controls", e) < 0 ||
	    control(VM_EXIT_CONTROLS, m->true_exit,
		    EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_SAVE_IA32_PAT | EXIT_LOAD_IA32_PAT | EXIT_SAVE_IA32_EFER |
			    EXIT_LOAD_IA32_EFER | (drain ? EXIT_ACK_INTERRUPT_ON_EXIT : 0),
		    "VM-exit controls", e) < 0 ||
	    control(VM_ENTRY_CONTROLS, m->true_entry, ENTRY_LOAD_IA32_PAT | ENTRY_LOAD_IA32_EFER |
		    (p->boot.route == LINUX_BZIMAGE ? ENTRY_IA32E_MODE_GUEST : 0), "VM-entry controls", e) < 0)
		return -1;
	vmcs_write64(EPT_POINTER, ept_pointer(&p->ept));
	vmcs_write64(IO_BITMAP_A, (uint64_t)exit_bitmaps.io_a);
	vmcs_write64(IO_BITMAP_B, (uint64_t)exit_bitmaps.io_b);
	vmcs_write64(MSR_BITMAP, (uint64_t)exit_bitmaps.msr);
	if (p->cfg->budget_ms) {
		p->budget_left = p->cfg->budget_ms * tsc_per_ms;
		budget_arm(p, false);
	}
	return 0;
}

/* Host selectors need RPL and TI 0, and CS and TR not null (SDM Vol 3C 27.2.3). */
_Static_assert(SEL_CS && SEL_TSS && !((SEL_CS | SEL_DS | SEL_TSS) & SEL_RPL_TI), "host selectors");

/* Host state: this core's own tables and stack; an exit lands in vmx_exit_entry. */
static void setup_host(struct cpu *c)
{
	extern const uint8_t vmx_exit_entry[];

	vmcs_write64(HOST_CR0, read_cr0());
	vmcs_write64(HOST_CR3, read_cr3());
	vmcs_write64(HOST_CR4, read_cr4());
	vmcs_write16(HOST_CS_SELECTOR, SEL_CS);
	vmcs_write16(HOST_SS_SELECTOR, SEL_DS);
	vmcs_write16(HOST_DS_SELECTOR, SEL_DS);
	vmcs_write16(HOST_ES_SELECTOR, SEL_DS);
	vmcs_write16(HOST_TR_SELECTOR, SEL_TSS);
	vmcs_write64(HOST_GS_BASE, (uint64_t)c);
	vmcs_write64(HOST_TR_BASE, (uint64_t)&c->arch.tss);
	vmcs_write64(HOST_GDTR_BASE, (uint64_t)c->arch.gdt);
	vmcs_write64(HOST_IDTR_BASE, (uint64_t)c->arch.idt);
	vmcs_write64(HOST_IA32_PAT, rdmsr(IA32_PAT));
	vmcs_write64(HOST_IA32_EFER, rdmsr(IA32_EFER));
	vmcs_write64(HOST_RSP, (uint64_t)cpu_stack_top(c));
	vmcs_write64(HOST_RIP, (uint64_t)vmx_exit_entry);
}

/* One segment register's selector, limit, access rights and base 0: its fields are evenly spaced. */
static void setup_segment(uint32_t sel_field, uint16_t sel, uint32_t limit, uint32_t ar)
{
	uint32_t index = (sel_field - GUEST_ES_SELECTOR) / 2;

	vmcs_write_field(sel_field, sel);
	vmcs_write_field(GUEST_ES_LIMIT + 2 * index, limit);
	vmcs_write_field(GUEST_ES_AR_BYTES + 2 * index, ar);
	vmcs_write_field(GUEST_ES_BASE + 2 * index, 0);
}

/*
 * A toy or a PVH kernel starts as a multiboot2 kernel would (hv/hypercall.h): 32-bit protected
 * mode, paging off, flat segments. A bzImage starts in long mode on the loader's identity map and
 * GDT: CS = __BOOT_CS (64-bit), the data segments __BOOT_DS, EFER.LME and LMA with "IA-32e mode
 * guest". CR0.NE, CR4.VMXE and the other fixed bits stay set underneath; the guest sees its own
 * values through the read shadows.
 */
static void setup_guest(const struct partition *p)
{
	bool lm = p->boot.route == LINUX_BZIMAGE;
	uint32_t code = AR_TYPE_CODE_XR_ACCESSED | AR_S | AR_P | AR_G | (lm ? AR_L : AR_DB);
	uint32_t data = AR_TYPE_DATA_RW_ACCESSED | AR_S | AR_P | AR_DB | AR_G;
	uint64_t cr0 = CR0_PE | CR0_ET | (lm ? CR0_PG : 0), cr4 = lm ? CR4_PAE : 0;

	guest_cr0_forced = vmx_msrs.cr0_fixed0 & ~(CR0_PE | CR0_PG); /* unrestricted guest */
	guest_cr0_fixed1 = vmx_msrs.cr0_fixed1;
	guest_cr4_forced = vmx_msrs.cr4_fixed0;
	vmcs_write64(CR0_GUEST_HOST_MASK, guest_cr0_forced | CR0_PG | CR0_CD | CR0_NW);
	vmcs_write64(CR0_READ_SHADOW, cr0);
	vmcs_write64(GUEST_CR0, cr0 | guest_cr0_forced);
	vmcs_write64(CR4_GUEST_HOST_MASK, guest_cr4_forced);
	vmcs_write64(CR4_READ_SHADOW, cr4);
	vmcs_write64(GUEST_CR4, cr4 | guest_cr4_forced);
	vmcs_write64(GUEST_CR3, p->boot.cr3); /* 0 but for a bzImage, as the GDTR */
	vmcs_write64(GUEST_IA32_EFER, lm ? IA32_EFER_LME | IA32_EFER_LMA : 0);
	setup_segment(GUEST_CS_SELECTOR, lm ? LINUX_BOOT_CS : GUEST_SEL_CODE, FLAT_LIMIT, code);
	for (uint32_t f = GUEST_ES_SELECTOR; f <= GUEST_GS_SELECTOR; f += 2)
		if (f != GUEST_CS_SELECTOR)
			setup_segment(f, lm ? LINUX_BOOT_DS : GUEST_SEL_DATA, FLAT_LIMIT, data);
	setup_segment(GUEST_LDTR_SELECTOR, 0, 0, AR_UNUSABLE);
	setup_segment(GUEST_TR_SELECTOR, 0, TSS_LIMIT, AR_TYPE_TSS_BUSY | AR_P);
	vmcs_write32(GUEST_GDTR_LIMIT, p->boot.gdt_limit);
	vmcs_write64(GUEST_GDTR_BASE, p->boot.gdt_base);
	vmcs_write64(GUEST_DR7, DR7_INIT);
	vmcs_write64(GUEST_RFLAGS, RFLAGS_FIXED1);
	vmcs_write64(GUEST_RIP, p->image.entry);
	vmcs_write32(GUEST_ACTIVITY_STATE, ACTIVITY_ACTIVE);
	vmcs_write64(GUEST_IA32_PAT, PAT_POWER_ON);
	vmcs_write64(VMCS_LINK_POINTER, VMCS_LINK_POINTER_NONE);
}

/*
 * Fields that start at 0, of every width (VMCLEAR leaves the rest of the VMCS undefined): no
 * exceptions, CR3 targets, MSR lists or event to inject; the host's unused FS, GS and SYSENTER;
 * the guest's IDTR, RSP, pending debug exceptions, blocking, SYSENTER and DEBUGCTL.
 */
static const uint32_t zero_fields[] = {
	EXCEPTION_BITMAP, CR3_TARGET_COUNT, VM_EXIT_MSR_STORE_COUNT, VM_EXIT_MSR_LOAD_COUNT,
	VM_ENTRY_MSR_LOAD_COUNT, VM_ENTRY_INTR_INFO_FIELD,
	HOST_FS_SELECTOR, HOST_GS_SELECTOR, HOST_FS_BASE, HOST_IA32_SYSENTER_CS, HOST_IA32_SYSENTER_ESP,
	HOST_IA32_SYSENTER_EIP,
	GUEST_IDTR_LIMIT, GUEST_IDTR_BASE, GUEST_RSP, GUEST_PENDING_DBG_EXCEPTIONS, GUEST_INTERRUPTIBILITY_INFO,
	GUEST_SYSENTER_CS, GUEST_SYSENTER_ESP, GUEST_SYSENTER_EIP, GUEST_IA32_DEBUGCTL,
};

static uint64_t vmcs_reader(uint32_t field, void *ctx)
{
	(void)ctx;
	return vmcs_read_field(field);
}

/*
 * A guest's state that is not in the VMCS, as after reset, so a restarted partition sees nothing
 * of the one before (SDM Vol 3A 9.1.1, Table 9-1): the SYSCALL and swap-GS MSRs, TSC_AUX, DR0-3
 * and DR6, CR2, CR8, caching on, and every x87/SSE/AVX register. XSAVE's header with XSTATE_BV
 * = 0 puts each component in XCR0 in its init state (SDM Vol 1 13.8.1); MXCSR and, for FXRSTOR,
 * the control word come from the legacy area.
 */
static const struct {
	uint16_t fcw;
	uint8_t pad0[22];
	uint32_t mxcsr;
	uint8_t pad1[548];
} __attribute__((aligned(64))) vector_state_init = { .fcw = FCW_INIT, .mxcsr = MXCSR_INIT };

static void reset_core_state(void)
{
	static const uint32_t msrs[] = { IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK, IA32_KERNEL_GS_BASE,
					 IA32_TSC_AUX };
	struct cpuid_regs x;

	for (unsigned i = 0; i < ARRAY_SIZE(msrs); i++)
		wrmsr(msrs[i], 0);
	write_dr0(0);
	write_dr1(0);
	write_dr2(0);
	write_dr3(0);
	write_dr6(DR6_INIT);
	write_cr2(0);
	write_cr8(0);
	write_cr0(read_cr0() & ~(CR0_CD | CR0_NW));
	if (!(read_cr4() & CR4_OSXSAVE)) {
		fxrstor(&vector_state_init);
		return;
	}
	/* Every user component the CPU has, then XCR0 as after reset: x87 only. */
	x = cpuid(CPUID_XSAVE, 0);
	xsetbv(0, ((uint64_t)x.edx << 32) | x.eax);
	xrstor(&vector_state_init, ~0ull);
	xsetbv(0, XCR0_X87);
}

/*
 * A restart reuses the partition's VPID: drop whatever the TLBs still hold for it (SDM Vol 3C
 * 29.4.3.3, "all-context" as every CPU with INVVPID has it).
 */
static void invvpid_all(void)
{
	struct { uint64_t vpid, addr; } desc = { 0, 0 };

	if ((vmx_msrs.ept_vpid_cap & EPT_CAP_INVVPID) && (vmx_msrs.ept_vpid_cap & EPT_CAP_INVVPID_ALL))
		__asm__ volatile("invvpid %0, %1" ::"m"(desc), "r"((uint64_t)INVVPID_ALL_CONTEXT) : "memory");
}

int arch_partition_launch(struct cpu *c, struct partition *p, err_t *e)
{
	struct guest_regs regs __attribute__((aligned(16))) = { 0 };
	uint64_t vmcs = (uint64_t)c->arch.vmcs;
	struct vmcheck_env entry_state = { &vmx_msrs, vmcs_reader, NULL };

	*(uint32_t *)c->arch.vmcs = vmx_caps.revision;
	if (!vmclear(vmcs) || !vmptrld(vmcs))
		return err_set(e, "VMCLEAR/VMPTRLD of the VMCS at 0x%lx failed", vmcs);
	if (setup_controls(p, lapic_hand_over(), e) < 0)
		return -1;
	for (unsigned i = 0; i < ARRAY_SIZE(zero_fields); i++)
		vmcs_write_field(zero_fields[i], 0);
	setup_host(c);
	setup_guest(p);
	/* Bochs accepts some states silicon rejects: check ours against the SDM before trusting it. */
	if (vmcheck_all(&entry_state, e) < 0)
		return -1;
	if (vmx_caps.vpid)
		invvpid_all();
	reset_core_state();
	regs.rax = MULTIBOOT2_BOOTLOADER_MAGIC;
	regs.rbx = p->bootinfo;
	regs.rsi = p->bootinfo; /* the 64-bit boot protocol's zero page */
	printk("slicehv: partition %s cpu %u mem 0x%lx-0x%lx: launched\n", p->cfg->name, c->index,
	       p->cfg->base, p->cfg->base + p->cfg->size - 1);
	p->budget_since = rdtsc();
	vmx_launch(&regs);
}
