/* VM-exit dispatch and one handler per exit reason: the exit policy of DESIGN.md in code. */
#include "exits.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/cpu.h"
#include "../../hv/fmt.h"
#include "../../hv/heap.h"
#include "../../hv/hypercall.h"
#include "../../hv/partition.h"
#include "../../hv/string.h"
#include "apic.h"
#include "lapic.h"
#include "uart.h"
#include "msr.h"
#include "vmx.h"
#include "x86.h"

/* Exit qualification fields (SDM Vol 3C 28.2.1, Tables 28-3, 28-5, 28-7). */
#define CR_QUAL_NUMBER(q) ((q) & 0xf)
#define CR_QUAL_TYPE(q) (((q) >> 4) & 3)
#define CR_QUAL_GPR(q) (((q) >> 8) & 0xf)
#define CR_MOV_TO 0
#define CR_MOV_FROM 1
#define IO_QUAL_SIZE(q) (((q) & 7) + 1)
#define IO_QUAL_IN BIT(3)
#define IO_QUAL_STRING BIT(4)
#define IO_QUAL_PORT(q) ((uint16_t)((q) >> 16))
#define EPT_QUAL_WRITE BIT(1)
#define EPT_QUAL_FETCH BIT(2)
#define EPT_QUAL_LINEAR_VALID BIT(7)

#define CMOS_INDEX 0x70 /* the PC's real-time clock: index, then data */
#define CMOS_DATA 0x71
#define GPR_RSP 4 /* register numbering of exit qualifications: RSP lives in the VMCS */

/* The MSR bitmap's 1 KiB quarters: reads of MSRs 0-0x1fff, 0xc0000000-0xc0001fff, then writes (SDM Vol 3C 25.6.9). */
#define MSR_HIGH_FIRST 0xc0000000u
#define MSR_RANGE 0x2000u

/* CPUID leaves we shape (SDM Vol 2A, CPUID). */
#define CPUID_FEATURES 1
#define CPUID_1_ECX_OSXSAVE BIT(27) /* mirrors CR4.OSXSAVE: the guest's, not the hypervisor's */
#define CPUID_7_ECX_OSPKE BIT(4)    /* mirrors CR4.PKE */
#define CR4_PKE BIT(22)
#define CPUID_1_ECX_TM2 BIT(8)      /* thermal monitoring, power and thermal MSRs: the platform's */
#define CPUID_1_EDX_ACPI BIT(22)
#define CPUID_1_EDX_TM BIT(29)
#define CPUID_POWER 6
#define CPUID_6_EAX_ARAT BIT(2)     /* the APIC timer runs in deep C-states: Linux needs to know */
#define CPUID_6_ECX_APERFMPERF BIT(0)
#define CPUID_XSAVE_SUB_EXT 1
#define CPUID_D1_EAX_XSAVES BIT(3)  /* XSAVES/XRSTORS are not enabled for guests: they would #UD */
#define CPUID_1_EDX_MCE BIT(7)  /* machine-check exception */
#define CPUID_1_EDX_MCA BIT(14) /* machine-check architecture: its banks are the hypervisor's */
#define CPUID_STRUCTURED 7
#define CPUID_7_EBX_TSC_ADJUST BIT(1) /* IA32_TSC_ADJUST would move the TSC slicehv counts budgets by */
#define CPUID_TOPOLOGY 0xb
#define CPUID_HV_LAST 0x400000ffu
#define CPUID_1_EBX_APIC_SHIFT 24
#define CPUID_1_EBX_COUNT_MASK 0x00ff0000u
#define CPUID_1_EBX_ONE_CPU 0x00010000u


struct exit_bitmaps exit_bitmaps;

/* Everything a handler needs about the exit at hand. */
struct vcpu {
	struct guest_regs *regs;
	struct partition *p;
	struct cpu *cpu;
	uint64_t qual;
	unsigned reason; /* the basic exit reason */
};

static const char *const exit_names[EXIT_REASON_COUNT] = {
#define EXIT_REASON_NAME(name, nr, str) [nr] = str,
	EXIT_REASONS(EXIT_REASON_NAME)
#undef EXIT_REASON_NAME
};

const char *arch_exit_reason_name(unsigned reason)
{
	return reason < EXIT_REASON_COUNT && exit_names[reason] ? exit_names[reason] : "unknown";
}

/* MSRs a guest reaches directly; every other one exits (SDM Vol 4 for each MSR). */
static const struct msr_passthrough {
	uint32_t first, last;
	bool write;
} msr_passthrough[] = {
	{ IA32_TIME_STAMP_COUNTER, IA32_TIME_STAMP_COUNTER, false }, /* reading the TSC is harmless */
	{ IA32_BIOS_SIGN_ID, IA32_BIOS_SIGN_ID, true },             /* microcode revision: written 0, then read */
	{ IA32_MPERF, IA32_APERF, false },                           /* this core's clocks: Linux reads them every tick */
	{ IA32_MTRRCAP, IA32_MTRRCAP, false },                       /* cache policy: read-only */
	{ IA32_SYSENTER_CS, IA32_SYSENTER_EIP, true },               /* switched through the VMCS */
	{ IA32_MISC_ENABLE, IA32_MISC_ENABLE, false },
	{ IA32_MTRR_PHYSBASE0, IA32_MTRR_DEF_TYPE, false },          /* MTRRs: read-only */
	{ IA32_PAT, IA32_PAT, true },                                /* switched through the VMCS */
	{ IA32_EFER, IA32_EFER, false },                             /* writes emulated: LMA is ours */
	{ IA32_STAR, IA32_FMASK, true },                             /* SYSCALL targets: unused by us */
	{ IA32_FS_BASE, IA32_TSC_AUX, true },                        /* segment bases, TSC_AUX */
};

/* Lets the guest reach msr directly for reads or for writes: clears its bit in the MSR bitmap. */
static void msr_pass(uint32_t msr, bool write)
{
	unsigned bit = (write ? 2 * MSR_RANGE : 0) + (msr >= MSR_HIGH_FIRST ? MSR_RANGE : 0) + msr % MSR_RANGE;

	exit_bitmaps.msr[bit / 8] &= ~(1u << (bit % 8));
}

/* An MSR of the local APIC's (its registers, its TSC deadline): passed as lapic.c decides. */
static void msr_pass_lapic(uint32_t msr)
{
	for (int write = 0; write < 2; write++)
		if (lapic_msr_passthrough(msr, write))
			msr_pass(msr, write);
}

int exits_init(err_t *e)
{
	uint8_t **bitmaps[] = { &exit_bitmaps.io_a, &exit_bitmaps.io_b, &exit_bitmaps.msr };

	/* Every port exits (COM1 is virtual, everything else is denied), and every MSR but those below. */
	for (unsigned i = 0; i < ARRAY_SIZE(bitmaps); i++) {
		if (!(*bitmaps[i] = heap_alloc_page(NULL)))
			return err_set(e, "no heap pages left for the exit bitmaps");
		memset(*bitmaps[i], 0xff, PAGE_SIZE);
	}
	/* Any entry that allows an access passes it (PAT lies inside the MTRR range). */
	for (unsigned i = 0; i < ARRAY_SIZE(msr_passthrough); i++)
		for (uint32_t msr = msr_passthrough[i].first; msr <= msr_passthrough[i].last; msr++)
			for (int write = 0; write <= msr_passthrough[i].write; write++)
				msr_pass(msr, write);
	for (uint32_t msr = X2APIC_FIRST; msr <= X2APIC_LAST; msr++)
		msr_pass_lapic(msr);
	msr_pass_lapic(IA32_TSC_DEADLINE);
	return 0;
}

/* Past the instruction that exited; also the handler of exits whose instruction is skipped. */
static void skip_instruction(struct vcpu *v)
{
	uint32_t blocking = vmcs_read32(GUEST_INTERRUPTIBILITY_INFO);

	(void)v;
	vmcs_write64(GUEST_RIP, vmcs_read64(GUEST_RIP) + vmcs_read32(VM_EXIT_INSTRUCTION_LEN));
	/* The emulated instruction retired: STI/MOV SS blocking ends with it (SDM Vol 3C 25.4.2). */
	if (blocking & (BLOCKING_BY_STI | BLOCKING_BY_MOV_SS))
		vmcs_write32(GUEST_INTERRUPTIBILITY_INFO, blocking & ~(BLOCKING_BY_STI | BLOCKING_BY_MOV_SS));
}

/* A fault: delivered on the next entry with RIP still at the faulting instruction. */
static void inject_exception(unsigned vector, bool has_error, uint32_t error)
{
	vmcs_write32(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID | INTR_TYPE_HARD_EXCEPTION | vector |
						       (has_error ? INTR_INFO_DELIVER_ERROR_CODE : 0));
	if (has_error)
		vmcs_write32(VM_ENTRY_EXCEPTION_ERROR_CODE, error);
}

/* #UD, also the handler of exits whose instruction a CPU without VMX or SMX refuses. */
static void inject_ud(struct vcpu *v) { (void)v; inject_exception(VECTOR_UD, false, 0); }
static void inject_gp(void) { inject_exception(VECTOR_GP, true, 0); }

/* Registers by the number exit qualifications use: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8... */
static uint64_t *gpr(struct guest_regs *r, unsigned n)
{
	return &((uint64_t *)r)[n < GPR_RSP ? n : n - 1];
}

static uint64_t gpr_read(struct guest_regs *r, unsigned n)
{
	return n == GPR_RSP ? vmcs_read64(GUEST_RSP) : *gpr(r, n);
}

static void gpr_write(struct guest_regs *r, unsigned n, uint64_t v)
{
	if (n == GPR_RSP)
		vmcs_write64(GUEST_RSP, v);
	else
		*gpr(r, n) = v;
}

/* A control register as the guest reads it: its own bits, and the shadow where slicehv owns them. */
static uint64_t guest_view(uint32_t reg, uint32_t mask, uint32_t shadow)
{
	uint64_t m = vmcs_read_field(mask);

	return (vmcs_read_field(reg) & ~m) | (vmcs_read_field(shadow) & m);
}

static void dump_guest(const struct vcpu *v)
{
	const struct guest_regs *r = v->regs;
	const char *name = v->p->cfg->name;

	printk("slicehv: partition %s: rip 0x%lx rsp 0x%lx rflags 0x%lx cr0 0x%lx cr3 0x%lx cr4 0x%lx efer 0x%lx\n",
	       name, vmcs_read64(GUEST_RIP), vmcs_read64(GUEST_RSP), vmcs_read64(GUEST_RFLAGS),
	       guest_view(GUEST_CR0, CR0_GUEST_HOST_MASK, CR0_READ_SHADOW), vmcs_read64(GUEST_CR3),
	       guest_view(GUEST_CR4, CR4_GUEST_HOST_MASK, CR4_READ_SHADOW), vmcs_read64(GUEST_IA32_EFER));
	printk("slicehv: partition %s: rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx rsi 0x%lx rdi 0x%lx rbp 0x%lx\n",
	       name, r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp);
	printk("slicehv: partition %s: r8 0x%lx r9 0x%lx r10 0x%lx r11 0x%lx r12 0x%lx r13 0x%lx r14 0x%lx r15 0x%lx\n",
	       name, r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15);
}

#define PARK_WHAT_MAX 128

/* Parks the partition for what fmt says, after its console lines and a dump of its registers. */
static void __attribute__((noreturn, format(printf, 2, 3))) park_with_dump(const struct vcpu *v, const char *fmt, ...)
{
	char what[PARK_WHAT_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	partition_console_flush(v->p);
	dump_guest(v);
	partition_park(v->p, "%s at rip 0x%lx", what, vmcs_read64(GUEST_RIP));
}

/*
 * CPUID: the real answer, minus VMX, machine checks, thermal and power management, TSC_ADJUST
 * (each is the hypervisor's or the platform's) and XSAVES (not enabled for guests),
 * plus our signature, this core's APIC id and one CPU; OSXSAVE and OSPKE as the guest's own CR4 has them.
 */
static void handle_cpuid(struct vcpu *v)
{
	uint32_t leaf = (uint32_t)v->regs->rax, sub = (uint32_t)v->regs->rcx;
	struct cpuid_regs c = cpuid(leaf, sub);
	uint64_t guest_cr4 = vmcs_read64(GUEST_CR4); /* CPUID's OS bits read the caller's CR4 */

	if (leaf == CPUID_FEATURES) {
		c.ecx = (c.ecx & ~(CPUID_1_ECX_VMX | CPUID_1_ECX_OSXSAVE | CPUID_1_ECX_TM2)) |
			CPUID_1_ECX_HYPERVISOR | (guest_cr4 & CR4_OSXSAVE ? CPUID_1_ECX_OSXSAVE : 0);
		c.edx &= ~(CPUID_1_EDX_MCE | CPUID_1_EDX_MCA | CPUID_1_EDX_ACPI | CPUID_1_EDX_TM);
		c.ebx = (c.ebx & ~(0xffu << CPUID_1_EBX_APIC_SHIFT) & ~CPUID_1_EBX_COUNT_MASK) |
			(v->cpu->apic_id << CPUID_1_EBX_APIC_SHIFT) | CPUID_1_EBX_ONE_CPU;
	} else if (leaf == CPUID_POWER) {
		c = (struct cpuid_regs){ c.eax & CPUID_6_EAX_ARAT, 0, c.ecx & CPUID_6_ECX_APERFMPERF, 0 };
	} else if (leaf == CPUID_XSAVE && sub == CPUID_XSAVE_SUB_EXT) {
		c.eax &= ~CPUID_D1_EAX_XSAVES;
	} else if (leaf == CPUID_STRUCTURED && sub == 0) {
		c.ebx &= ~CPUID_7_EBX_TSC_ADJUST;
		c.ecx = (c.ecx & ~CPUID_7_ECX_OSPKE) | (guest_cr4 & CR4_PKE ? CPUID_7_ECX_OSPKE : 0);
	} else if (leaf == CPUID_TOPOLOGY) {
		c.edx = v->cpu->apic_id;
		c.ebx = c.ebx ? 1 : 0; /* one logical processor at every level */
	} else if (leaf == HV_CPUID_SIGNATURE) {
		c = (struct cpuid_regs){ HV_CPUID_SIGNATURE, HV_SIGNATURE_EBX, HV_SIGNATURE_ECX, HV_SIGNATURE_EDX };
	} else if (leaf > HV_CPUID_SIGNATURE && leaf <= CPUID_HV_LAST) {
		c = (struct cpuid_regs){ 0 };
	}
	v->regs->rax = c.eax;
	v->regs->rbx = c.ebx;
	v->regs->rcx = c.ecx;
	v->regs->rdx = c.edx;
	skip_instruction(v);
}

/*
 * HLT with interrupts on waits for the partition's next interrupt in the HLT activity state: one
 * exit, no spinning (SDM Vol 3C 25.4.2; entry needs no STI/MOV SS blocking, 27.3.1.5, which
 * skip_instruction ends). With interrupts off nothing but slicehv could wake it: it stops.
 */
static void handle_hlt(struct vcpu *v)
{
	if ((vmcs_read64(GUEST_RFLAGS) & RFLAGS_IF) && (vmx_msrs.misc & VMX_MISC_ACTIVITY_HLT)) {
		skip_instruction(v);
		vmcs_write32(GUEST_ACTIVITY_STATE, ACTIVITY_HLT);
		return;
	}
	partition_console_flush(v->p);
	printk("slicehv: partition %s halted at rip 0x%lx: nothing can wake it\n", v->p->cfg->name,
	       vmcs_read64(GUEST_RIP));
	partition_stop(v->p, PARTITION_HALTED);
}

/*
 * A Linux partition's platform ports: its ACPI registers (its FADT, arch/x86/linux.h), where S5
 * through the sleep control register is its poweroff and the reset register its reboot; and the
 * CMOS clock, which Linux reads for the wall time whatever the FADT says. All ones there is an
 * update in progress forever, a second's wait; zeros are a clock stopped at midnight. True if
 * port is one of these.
 */
static bool linux_port(struct vcpu *v, unsigned port, bool in, uint32_t *val)
{
	uint8_t out = (uint8_t)v->regs->rax;

	if (!v->p->is_linux || (port != LINUX_ACPI_SLEEP_CONTROL_PORT && port != LINUX_ACPI_SLEEP_STATUS_PORT &&
				port != LINUX_ACPI_RESET_PORT && port != CMOS_INDEX && port != CMOS_DATA))
		return false;
	*val = 0;
	if (in)
		return true;
	if (port == LINUX_ACPI_SLEEP_CONTROL_PORT && out == LINUX_ACPI_S5_WRITE) {
		partition_console_flush(v->p);
		printk("slicehv: partition %s powered off\n", v->p->cfg->name);
		v->p->status = 0;
		partition_stop(v->p, PARTITION_DONE);
	}
	if (port == LINUX_ACPI_RESET_PORT && out == LINUX_ACPI_RESET_VALUE)
		partition_park(v->p, "reboot requested (ACPI reset register)");
	return true;
}

/* Port I/O: COM1 is virtual per partition, every other port is denied (reads float high). */
static void handle_io_instruction(struct vcpu *v)
{
	unsigned size = IO_QUAL_SIZE(v->qual), port = IO_QUAL_PORT(v->qual);
	bool in = v->qual & IO_QUAL_IN;
	uint64_t mask = (size == 8 ? ~0ull : (1ull << (size * 8)) - 1);
	uint32_t val = ~0u;

	if (v->qual & IO_QUAL_STRING)
		park_with_dump(v, "string I/O (INS/OUTS) is not supported");
	if (port >= COM1_BASE && port < COM1_BASE + COM1_PORTS && size == 1) {
		if (in)
			val = uart_read(v->p, port - COM1_BASE);
		else
			uart_write(v->p, port - COM1_BASE, (uint8_t)v->regs->rax);
	} else if (!linux_port(v, port, in, &val)) {
		partition_deny(v->p, "%s port 0x%x", in ? "read of" : "write to", port);
	}
	if (in)
		v->regs->rax = (size == 4) ? val : ((v->regs->rax & ~mask) | (val & mask));
	skip_instruction(v);
}

/* Trapped RDMSR: VMX reads as locked off, everything else that exits is refused. */
static void handle_rdmsr(struct vcpu *v)
{
	uint32_t msr = (uint32_t)v->regs->rcx;
	uint64_t val;

	if (msr != IA32_FEATURE_CONTROL && msr != IA32_APIC_BASE) {
		partition_deny(v->p, "rdmsr 0x%x", msr);
		inject_gp();
		return;
	}
	val = msr == IA32_APIC_BASE ? rdmsr(IA32_APIC_BASE) : IA32_FEATURE_CONTROL_LOCK;
	v->regs->rax = (uint32_t)val;
	v->regs->rdx = val >> 32;
	skip_instruction(v);
}

/* ICR and LVT writes that exit: only what stays on this core goes through; refusals reported once. */
static void lapic_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	enum lapic_verdict verdict = lapic_wrmsr(msr, val, v->cpu->apic_id);

	if (verdict != LAPIC_DONE && !v->cpu->arch.lapic_refusal_reported) {
		v->cpu->arch.lapic_refusal_reported = true;
		partition_deny(v->p, "wrmsr 0x%x value 0x%lx: %s (further APIC refusals only counted)", msr, val,
			       verdict == LAPIC_MASKED ? "written masked" :
			       msr == X2APIC_ICR       ? "only fixed IPIs to itself" :
							 "no such LVT entry, or a reserved mode or bit");
	} else if (verdict != LAPIC_DONE) {
		v->p->denied++;
	}
	if (verdict == LAPIC_REFUSED)
		inject_gp();
	else
		skip_instruction(v);
}

/* EFER bits a guest may set: NXE only where the CPU has execute-disable (SDM Vol 4, IA32_EFER). */
static bool efer_write(uint64_t val)
{
	uint64_t efer = vmcs_read64(GUEST_IA32_EFER);
	uint64_t allowed = IA32_EFER_SCE | IA32_EFER_LME | IA32_EFER_LMA;

	if (cpu_has_nx())
		allowed |= IA32_EFER_NXE;
	if (val & ~allowed)
		return false;
	/* Changing LME while paging is on is a #GP on real CPUs (SDM Vol 3A 10.8.5). */
	if (((val ^ efer) & IA32_EFER_LME) && (vmcs_read64(GUEST_CR0) & CR0_PG))
		return false;
	/* LMA is the processor's (SDM Vol 3A 10.8.5): keep ours, ignore the guest's. */
	vmcs_write64(GUEST_IA32_EFER, (val & ~(uint64_t)IA32_EFER_LMA) | (efer & IA32_EFER_LMA));
	return true;
}

static void handle_wrmsr(struct vcpu *v)
{
	uint32_t msr = (uint32_t)v->regs->rcx;
	uint64_t val = ((uint64_t)(uint32_t)v->regs->rdx << 32) | (uint32_t)v->regs->rax;

	if (msr == IA32_EFER && efer_write(val)) {
		skip_instruction(v);
		return;
	}
	if (msr >= X2APIC_FIRST && msr <= X2APIC_LAST) {
		lapic_write(v, msr, val);
		return;
	}
	partition_deny(v->p, "wrmsr 0x%x value 0x%lx", msr, val);
	inject_gp();
}

/* PDPTE bits that must be 0 in a present entry (SDM Vol 3A 4.4.1, Table 4-8). */
#define PDPTE_PRESENT BIT(0)
#define PDPTE_RESERVED 0x1e6ull /* bits 2:1 and 8:5 */
#define PDPTE_COUNT 4
#define PAE_CR3_MASK 0xffffffe0ull /* the PDPT's 32-byte-aligned address (SDM Vol 3A 4.4) */

/*
 * PAE paging outside IA-32e mode takes its four PDPTEs from the VMCS at VM entry (SDM Vol 3C
 * 27.3.2.4): an emulated MOV CR0 that turns it on, or changes CD, NW or PG under it, must load
 * them from CR3 as the CPU would (SDM Vol 3A 4.4.1), with #GP for a reserved bit.
 */
static bool load_pdptes(const struct vcpu *v)
{
	uint64_t base = vmcs_read64(GUEST_CR3) & PAE_CR3_MASK, reserved;
	const uint64_t *pdpt = partition_mem(v->p, base, PDPTE_COUNT * sizeof(uint64_t));

	if (!pdpt)
		park_with_dump(v, "ept-violation: read of the PAE PDPT at guest-physical 0x%lx", base);
	reserved = PDPTE_RESERVED | ~((1ull << vmx_msrs.phys_addr_bits) - 1);
	for (unsigned i = 0; i < PDPTE_COUNT; i++)
		if ((pdpt[i] & PDPTE_PRESENT) && (pdpt[i] & reserved))
			return false;
	for (unsigned i = 0; i < PDPTE_COUNT; i++)
		vmcs_write_field(GUEST_PDPTE0 + 2 * i, pdpt[i]);
	return true;
}

/* The CR0 bits MOV CR0 keeps; the others in 31:0 are reserved and ignored (SDM Vol 3A 2.5). */
#define CR0_DEFINED (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG)
#define CR0_CACHE (CR0_CD | CR0_NW)

/*
 * MOV CR0 exits for PG (EFER.LMA follows it, SDM Vol 3A 10.8.5), for the fixed bits, and for CD
 * and NW, which VM entry does not load (SDM Vol 3C 27.3.2.1): slicehv sets them on the
 * partition's own core. Each #GP of MOV CR0 (SDM Vol 2B MOV) is the guest's.
 */
static bool cr0_write(const struct vcpu *v, uint64_t val)
{
	uint64_t efer = vmcs_read64(GUEST_IA32_EFER), old = vmcs_read64(CR0_READ_SHADOW);
	uint32_t entry = vmcs_read32(VM_ENTRY_CONTROLS);
	bool cs_long = vmcs_read32(GUEST_CS_AR_BYTES) & AR_L, pae = vmcs_read64(GUEST_CR4) & CR4_PAE;

	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	val = (val & CR0_DEFINED) | CR0_ET; /* ET is hard-wired to 1 */
	if ((val | guest_cr0_forced) & ~guest_cr0_fixed1)
		return false;
	/* Paging goes off only from compatibility mode, never from 64-bit code (SDM Vol 3A 10.8.5). */
	if (!(val & CR0_PG) && (efer & IA32_EFER_LMA) && cs_long)
		return false;
	if ((val & CR0_PG) && !(old & CR0_PG) && (efer & IA32_EFER_LME)) {
		/* Long mode needs PAE, a code segment not yet 64-bit, a 32/64-bit TSS (SDM Vol 2B MOV CR). */
		if (!pae || cs_long || (vmcs_read32(GUEST_TR_AR_BYTES) & AR_TYPE_MASK) != AR_TYPE_TSS_BUSY)
			return false;
		efer |= IA32_EFER_LMA;
		entry |= ENTRY_IA32E_MODE_GUEST;
	} else if (!(val & CR0_PG)) {
		efer &= ~(uint64_t)IA32_EFER_LMA;
		entry &= ~ENTRY_IA32E_MODE_GUEST;
	}
	if ((val & CR0_PG) && pae && !(efer & IA32_EFER_LMA) && ((val ^ old) & (CR0_PG | CR0_CACHE)) &&
	    !load_pdptes(v))
		return false;
	write_cr0((read_cr0() & ~CR0_CACHE) | (val & CR0_CACHE));
	vmcs_write64(GUEST_IA32_EFER, efer);
	vmcs_write32(VM_ENTRY_CONTROLS, entry);
	vmcs_write64(CR0_READ_SHADOW, val);
	vmcs_write64(GUEST_CR0, val | guest_cr0_forced);
	return true;
}

/* CR4 writes exit only to set VMXE, which a CPU without VMX refuses with #GP. */
static bool cr4_write(uint64_t val)
{
	if (val & CR4_VMXE)
		return false;
	vmcs_write64(CR4_READ_SHADOW, val);
	vmcs_write64(GUEST_CR4, val | guest_cr4_forced);
	return true;
}

static void handle_cr_access(struct vcpu *v)
{
	unsigned cr = CR_QUAL_NUMBER(v->qual), reg = CR_QUAL_GPR(v->qual);
	bool ok;

	if (CR_QUAL_TYPE(v->qual) == CR_MOV_FROM && cr == 3) {
		gpr_write(v->regs, reg, vmcs_read64(GUEST_CR3));
		skip_instruction(v);
		return;
	}
	if (CR_QUAL_TYPE(v->qual) != CR_MOV_TO)
		park_with_dump(v, "unexpected CLTS/LMSW exit");
	if (cr == 0)
		ok = cr0_write(v, gpr_read(v->regs, reg));
	else if (cr == 4)
		ok = cr4_write(gpr_read(v->regs, reg));
	else if (cr == 3)
		ok = (vmcs_write64(GUEST_CR3, gpr_read(v->regs, reg)), true);
	else
		park_with_dump(v, "unexpected control-register exit");
	if (ok)
		skip_instruction(v);
	else
		inject_gp();
}

static void handle_vmcall(struct vcpu *v)
{
	struct guest_regs *r = v->regs;

	/* Hypercalls are for the guest kernel (CPL 0), as on a CPU where VMCALL would #UD (hypercall.h). */
	if (AR_DPL(vmcs_read32(GUEST_SS_AR_BYTES)) != 0 && !HC_ANY_CPL(r->rax)) {
		inject_ud(v);
		return;
	}
	skip_instruction(v); /* first: HC_DONE does not come back */
	r->rax = (uint64_t)hypercall(v->p, r->rax, r->rdi, r->rsi);
}

/* XCR0 components whose rules tie them together (SDM Vol 1 13.3, XSETBV's #GP list). */
#define XCR0_SSE BIT(1)
#define XCR0_AVX BIT(2)
#define XCR0_BNDREGS BIT(3)
#define XCR0_BNDCSR BIT(4)
#define XCR0_AVX512 (BIT(5) | BIT(6) | BIT(7)) /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_TILECFG BIT(17)
#define XCR0_TILEDATA BIT(18)

/* A component group must be all on or all off. */
static bool all_or_none(uint64_t v, uint64_t group) { return (v & group) == 0 || (v & group) == group; }

/* Every #GP rule of XSETBV (SDM Vol 2D XSETBV, Vol 1 13.3) for XCR0 = val. */
static bool xcr0_valid(uint64_t val)
{
	struct cpuid_regs x = cpuid(CPUID_XSAVE, 0);
	uint64_t supported = ((uint64_t)x.edx << 32) | x.eax;

	if (!(val & XCR0_X87) || (val & ~supported))
		return false;
	if ((val & XCR0_AVX) && !(val & XCR0_SSE))
		return false;
	if (!all_or_none(val, XCR0_BNDREGS | XCR0_BNDCSR) || !all_or_none(val, XCR0_TILECFG | XCR0_TILEDATA))
		return false;
	return all_or_none(val, XCR0_AVX512) && (!(val & XCR0_AVX512) || (val & XCR0_AVX));
}

/* XSETBV: only XCR0 at CPL 0, by every rule of the SDM, and under a fixup all the same. */
static void handle_xsetbv(struct vcpu *v)
{
	uint64_t val = ((uint64_t)(uint32_t)v->regs->rdx << 32) | (uint32_t)v->regs->rax;
	int fault;

	if ((uint32_t)v->regs->rcx != 0 || AR_DPL(vmcs_read32(GUEST_SS_AR_BYTES)) != 0 || !xcr0_valid(val)) {
		inject_gp();
		return;
	}
	fault = xsetbv_safe(0, val);
	if (fault != FAULT_NONE) {
		printk("slicehv: partition %s: xsetbv 0x%lx faulted with vector %d in slicehv: injected\n",
		       v->p->cfg->name, val, fault);
		inject_exception((unsigned)fault, fault == VECTOR_GP, 0);
		return;
	}
	skip_instruction(v);
}

/*
 * The VMX-preemption timer counts down once every 2^rate TSC ticks in VMX non-root operation
 * (SDM Vol 3C 26.5.1). It holds what is left of the partition's budget=, or less while its
 * console lines wait: the UART's time to send what it holds brings the core back. Without
 * budget= it runs only while lines wait, so a quiet partition takes no exits.
 */
void budget_arm(struct partition *p, bool output_waits)
{
	unsigned rate = VMX_MISC_PREEMPTION_RATE(vmx_msrs.misc);
	uint64_t chunk = p->cfg->budget_ms ? p->budget_left >> rate : UINT32_MAX;
	uint64_t soon = (tsc_per_ms * console_refill_ns() / NS_PER_MS >> rate) + 1;
	uint32_t pin = vmcs_read32(PIN_BASED_VM_EXEC_CONTROL);
	bool on = p->cfg->budget_ms || (output_waits && vmx_caps.preempt_timer);

	if (output_waits && chunk > soon)
		chunk = soon;
	if (chunk > UINT32_MAX)
		chunk = UINT32_MAX;
	if (!on != !(pin & PIN_PREEMPTION_TIMER))
		vmcs_write32(PIN_BASED_VM_EXEC_CONTROL, pin ^ PIN_PREEMPTION_TIMER);
	if (on)
		vmcs_write32(VMX_PREEMPTION_TIMER_VALUE, (uint32_t)chunk);
}

/*
 * Before the guest goes on: its queued console lines get their turn on the UART, and budget= is
 * charged every TSC tick since the last entry: the guest's, the exit's and slicehv's work for it.
 */
static void exit_end(struct vcpu *v)
{
	struct partition *p = v->p;
	bool output_waits = console_pump();
	uint64_t now = rdtsc(), spent = now - p->budget_since;

	if (p->cfg->budget_ms) {
		if (spent >= p->budget_left)
			park_with_dump(v, "run-time budget of %u ms used up", p->cfg->budget_ms);
		p->budget_left -= spent;
	}
	p->budget_since = now;
	budget_arm(p, output_waits);
}

static void handle_ept_violation(struct vcpu *v)
{
	uint64_t gpa = vmcs_read64(GUEST_PHYSICAL_ADDRESS);
	const char *access = (v->qual & EPT_QUAL_FETCH) ? "instruction fetch" :
			     (v->qual & EPT_QUAL_WRITE) ? "write"             : "read";

	park_with_dump(v, "ept-violation: %s at guest-physical 0x%lx%s (slice 0x%lx-0x%lx)", access, gpa,
		       (v->qual & EPT_QUAL_LINEAR_VALID) ? "" : " (no linear address)", v->p->gpa_base,
		       v->p->gpa_base + v->p->cfg->size - 1);
}

/*
 * Exits with nothing to do here. NMIs belong to slicehv (NMI exiting): no guest can raise one, and
 * none from the platform reaches a guest. The preemption timer's deadline, the next part of the
 * budget or console lines to send, is exit_end's.
 */
static void handle_nothing(struct vcpu *v)
{
	(void)v;
}

/* Only while a (re)launch drains vectors a previous run left in the IRR (lapic_hand_over). */
static void handle_external_interrupt(struct vcpu *v)
{
	(void)v;
	if (lapic_drained()) {
		vmcs_write32(PIN_BASED_VM_EXEC_CONTROL,
			     vmcs_read32(PIN_BASED_VM_EXEC_CONTROL) & ~PIN_EXTERNAL_INTERRUPT_EXITING);
		vmcs_write32(VM_EXIT_CONTROLS, vmcs_read32(VM_EXIT_CONTROLS) & ~EXIT_ACK_INTERRUPT_ON_EXIT);
	}
}

/* INIT and SIPI come from outside: a partition owns its core, so they are refused. */
static void handle_init_sipi(struct vcpu *v)
{
	partition_deny(v->p, "%s from another core", arch_exit_reason_name(v->reason));
}

/* A legal task switch has no fault to give: slicehv does not emulate one, and says so. */
static void handle_task_switch(struct vcpu *v)
{
	park_with_dump(v, "task switch: slicehv does not emulate hardware task switching");
}

static void handle_fatal(struct vcpu *v)
{
	park_with_dump(v, "%s", arch_exit_reason_name(v->reason));
}

static void (*const handlers[EXIT_REASON_COUNT])(struct vcpu *) = {
	[EXIT_REASON_EXCEPTION_NMI] = handle_nothing, /* the exception bitmap is empty: only NMIs */
	[EXIT_REASON_EXTERNAL_INTERRUPT] = handle_external_interrupt,
	[EXIT_REASON_TRIPLE_FAULT] = handle_fatal,
	[EXIT_REASON_INIT_SIGNAL] = handle_init_sipi,
	[EXIT_REASON_SIPI] = handle_init_sipi,
	[EXIT_REASON_TASK_SWITCH] = handle_task_switch,
	[EXIT_REASON_CPUID] = handle_cpuid,
	[EXIT_REASON_GETSEC] = inject_ud,
	[EXIT_REASON_HLT] = handle_hlt,
	[EXIT_REASON_INVD] = handle_fatal, /* would drop other partitions' dirty cache lines */
	[EXIT_REASON_VMCALL] = handle_vmcall,
	/* VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMREAD, VMRESUME, VMWRITE, VMXOFF, VMXON (19-27). */
	[EXIT_REASON_VMCLEAR ... EXIT_REASON_VMXON] = inject_ud,
	[EXIT_REASON_INVEPT] = inject_ud,
	[EXIT_REASON_INVVPID] = inject_ud,
	[EXIT_REASON_VMFUNC] = inject_ud,
	[EXIT_REASON_CR_ACCESS] = handle_cr_access,
	[EXIT_REASON_IO_INSTRUCTION] = handle_io_instruction,
	[EXIT_REASON_RDMSR] = handle_rdmsr,
	[EXIT_REASON_WRMSR] = handle_wrmsr,
	[EXIT_REASON_EPT_VIOLATION] = handle_ept_violation,
	[EXIT_REASON_XSETBV] = handle_xsetbv,
	/*
	 * WBINVD would write back and flush the caches the partitions share, a timing channel between
	 * them; slicehv's memory is all write-back and coherent, so skipping it changes nothing else.
	 */
	[EXIT_REASON_WBINVD] = skip_instruction,
	[EXIT_REASON_PREEMPTION_TIMER] = handle_nothing,
};

void vmexit_handler(struct guest_regs *regs);
void vmexit_handler(struct guest_regs *regs)
{
	struct cpu *c = this_cpu();
	uint32_t reason = vmcs_read32(VM_EXIT_REASON);
	unsigned basic = EXIT_REASON_BASIC(reason);
	struct vcpu v = { regs, c->partition, c, vmcs_read64(EXIT_QUALIFICATION), basic };

	v.p->exits_total++;
	if (basic < EXIT_REASON_COUNT)
		v.p->exits[basic]++;
	if ((reason & EXIT_REASON_ENTRY_FAILURE) || basic >= EXIT_REASON_COUNT || !handlers[basic])
		park_with_dump(&v, "%s %s (exit reason %u, qualification 0x%lx)",
			       (reason & EXIT_REASON_ENTRY_FAILURE) ? "VM entry failed:" : "unexpected exit",
			       arch_exit_reason_name(basic), basic, v.qual);
	handlers[basic](&v);
	exit_end(&v);
}

/* VMLAUNCH/VMRESUME fell through: the VMCS is not enterable. Park with the SDM's error number. */
void vmentry_failed(struct guest_regs *regs);
void vmentry_failed(struct guest_regs *regs)
{
	struct cpu *c = this_cpu();
	struct vcpu v = { regs, c->partition, c, 0, 0 };

	dump_guest(&v);
	partition_park(c->partition, "VM entry failed: VM-instruction error %u (SDM Vol 3C 31.4)",
		       vmcs_read32(VM_INSTRUCTION_ERROR));
}
