/* VM-exit dispatch and one handler per exit reason: the exit policy of DESIGN.md in code. */
#include "exits.h"
#include "../../hv/console.h"
#include "../../hv/cpu.h"
#include "../../hv/fmt.h"
#include "../../hv/heap.h"
#include "../../hv/hypercall.h"
#include "../../hv/partition.h"
#include "../../hv/string.h"
#include "lapic.h"
#include "msr.h"
#include "vmx.h"
#include "x86.h"

/* Exception vectors injected into guests (SDM Vol 3A Table 6-1). */
#define VECTOR_UD 6
#define VECTOR_GP 13

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
#define EPT_QUAL_READ BIT(0)
#define EPT_QUAL_WRITE BIT(1)
#define EPT_QUAL_FETCH BIT(2)
#define EPT_QUAL_LINEAR_VALID BIT(7)

#define GPR_RSP 4 /* register numbering of exit qualifications: RSP lives in the VMCS */

/* Our virtual COM1 (a 16550 that is always ready). */
#define COM1_BASE 0x3f8
#define COM1_PORTS 8
#define UART_THR 0
#define UART_LCR 3
#define UART_LSR 5
#define UART_LCR_DLAB 0x80
#define UART_LSR_IDLE 0x60 /* THR empty and transmitter empty */

/* The MSR bitmap's four 1 KiB quarters (SDM Vol 3C 25.6.9). */
#define MSR_BITMAP_WRITE 2048
#define MSR_BITMAP_HIGH 1024
#define MSR_HIGH_FIRST 0xc0000000u
#define MSR_RANGE 0x2000u

/* CPUID leaves we shape (SDM Vol 2A, CPUID). */
#define CPUID_FEATURES 1
#define CPUID_TOPOLOGY 0xb
#define CPUID_XSAVE 0xd
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
};

static const char *const exit_names[EXIT_REASON_COUNT] = {
#define EXIT_REASON_NAME(name, nr, str) [nr] = str,
	EXIT_REASONS(EXIT_REASON_NAME)
#undef EXIT_REASON_NAME
};

const char *exit_reason_name(unsigned reason)
{
	return reason < EXIT_REASON_COUNT && exit_names[reason] ? exit_names[reason] : "unknown";
}

/* MSRs a guest reaches directly; every other one exits (SDM Vol 4 for each MSR). */
static const struct msr_passthrough {
	uint32_t first, last;
	bool write;
} msr_passthrough[] = {
	{ IA32_TIME_STAMP_COUNTER, IA32_TIME_STAMP_COUNTER, false }, /* reading the TSC is harmless */
	{ IA32_MTRRCAP, IA32_MTRRCAP, false },                       /* cache policy: read-only */
	{ IA32_SYSENTER_CS, IA32_SYSENTER_EIP, true },               /* switched through the VMCS */
	{ IA32_MISC_ENABLE, IA32_MISC_ENABLE, false },
	{ IA32_MTRR_PHYSBASE0, IA32_MTRR_DEF_TYPE, false },          /* MTRRs: read-only */
	{ IA32_PAT, IA32_PAT, true },                                /* switched through the VMCS */
	{ IA32_EFER, IA32_EFER, false },                             /* writes emulated: LMA is ours */
	{ IA32_STAR, IA32_FMASK, true },                             /* SYSCALL targets: unused by us */
	{ IA32_FS_BASE, IA32_TSC_AUX, true },                        /* segment bases, TSC_AUX */
};

static void msr_bitmap_clear(uint32_t msr, unsigned quarter)
{
	uint32_t bit = msr & (MSR_RANGE - 1);

	exit_bitmaps.msr[quarter + (msr >= MSR_HIGH_FIRST ? MSR_BITMAP_HIGH : 0) + bit / 8] &= ~(1u << (bit % 8));
}

/* The partition's own local APIC and TSC deadline, as arch/x86/lapic.c decides. */
static void msr_bitmap_lapic(uint32_t msr)
{
	if (lapic_msr_passthrough(msr, false))
		msr_bitmap_clear(msr, 0);
	if (lapic_msr_passthrough(msr, true))
		msr_bitmap_clear(msr, MSR_BITMAP_WRITE);
}

int exits_init(err_t *e)
{
	exit_bitmaps.io_a = heap_alloc_page(NULL);
	exit_bitmaps.io_b = heap_alloc_page(NULL);
	exit_bitmaps.msr = heap_alloc_page(NULL);
	if (!exit_bitmaps.io_a || !exit_bitmaps.io_b || !exit_bitmaps.msr)
		return err_set(e, "no heap pages left for the exit bitmaps");
	/* Every port exits: COM1 is virtual, everything else is denied. */
	memset(exit_bitmaps.io_a, 0xff, PAGE_SIZE);
	memset(exit_bitmaps.io_b, 0xff, PAGE_SIZE);
	memset(exit_bitmaps.msr, 0xff, PAGE_SIZE);
	for (unsigned i = 0; i < ARRAY_SIZE(msr_passthrough); i++)
		for (uint32_t m = msr_passthrough[i].first; m <= msr_passthrough[i].last; m++) {
			msr_bitmap_clear(m, 0);
			if (msr_passthrough[i].write)
				msr_bitmap_clear(m, MSR_BITMAP_WRITE);
		}
	for (uint32_t m = X2APIC_FIRST; m <= X2APIC_LAST; m++)
		msr_bitmap_lapic(m);
	msr_bitmap_lapic(IA32_TSC_DEADLINE);
	return 0;
}

static void skip_instruction(void)
{
	uint32_t blocking = vmcs_read32(GUEST_INTERRUPTIBILITY_INFO);

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

static void inject_ud(void) { inject_exception(VECTOR_UD, false, 0); }
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

static void __attribute__((noreturn)) park_with_dump(const struct vcpu *v, const char *what)
{
	partition_console_flush(v->p);
	dump_guest(v);
	partition_park(v->p, "%s at rip 0x%lx", what, vmcs_read64(GUEST_RIP));
}

/* CPUID: the real answer, minus VMX, plus our signature, this core's APIC id and one CPU. */
static void handle_cpuid(struct vcpu *v)
{
	uint32_t leaf = (uint32_t)v->regs->rax, sub = (uint32_t)v->regs->rcx;
	struct cpuid_regs c = cpuid(leaf, sub);

	if (leaf == CPUID_FEATURES) {
		c.ecx = (c.ecx & ~CPUID_1_ECX_VMX) | CPUID_1_ECX_HYPERVISOR;
		c.ebx = (c.ebx & ~(0xffu << CPUID_1_EBX_APIC_SHIFT) & ~CPUID_1_EBX_COUNT_MASK) |
			(v->cpu->apic_id << CPUID_1_EBX_APIC_SHIFT) | CPUID_1_EBX_ONE_CPU;
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
	skip_instruction();
}

/*
 * HLT with interrupts on waits for the partition's next interrupt in the HLT activity state: one
 * exit, no spinning (SDM Vol 3C 25.4.2; entry needs no STI/MOV SS blocking, 27.3.1.5, which
 * skip_instruction ends). With interrupts off nothing but slicehv could wake it: it stops.
 */
static void handle_hlt(struct vcpu *v)
{
	if ((vmcs_read64(GUEST_RFLAGS) & RFLAGS_IF) && (vmx_msrs.misc & VMX_MISC_ACTIVITY_HLT)) {
		skip_instruction();
		vmcs_write32(GUEST_ACTIVITY_STATE, ACTIVITY_HLT);
		return;
	}
	printk("slicehv: partition %s halted at rip 0x%lx: nothing can wake it\n", v->p->cfg->name,
	       vmcs_read64(GUEST_RIP));
	partition_stop(v->p, PARTITION_HALTED);
}

static uint32_t com1_read(struct partition *p, unsigned reg)
{
	if (reg == UART_LSR)
		return UART_LSR_IDLE;
	return reg == UART_LCR ? p->uart_lcr : 0;
}

static void com1_write(struct partition *p, unsigned reg, uint8_t val)
{
	if (reg == UART_THR && !(p->uart_lcr & UART_LCR_DLAB))
		partition_console_putc(p, (char)val);
	else if (reg == UART_LCR)
		p->uart_lcr = val;
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
			val = com1_read(v->p, port - COM1_BASE);
		else
			com1_write(v->p, port - COM1_BASE, (uint8_t)v->regs->rax);
	} else {
		partition_deny(v->p, "%s port 0x%x", in ? "read of" : "write to", port);
	}
	if (in)
		v->regs->rax = (size == 4) ? val : ((v->regs->rax & ~mask) | (val & mask));
	skip_instruction();
}

/* Trapped RDMSR: VMX reads as locked off, everything else that exits is refused. */
static void handle_rdmsr(struct vcpu *v)
{
	uint32_t msr = (uint32_t)v->regs->rcx;
	uint64_t val;

	if (msr == IA32_FEATURE_CONTROL) {
		val = IA32_FEATURE_CONTROL_LOCK;
	} else if (msr == IA32_APIC_BASE) {
		val = rdmsr(IA32_APIC_BASE);
	} else {
		partition_deny(v->p, "rdmsr 0x%x", msr);
		inject_gp();
		return;
	}
	v->regs->rax = (uint32_t)val;
	v->regs->rdx = val >> 32;
	skip_instruction();
}

/* ICR and LVT writes that exit: only what stays on this core goes through; refusals reported once. */
static void lapic_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	enum lapic_verdict verdict = lapic_wrmsr(msr, val, v->cpu->apic_id);

	if (verdict != LAPIC_DONE && !v->cpu->arch.lapic_refusal_reported) {
		v->cpu->arch.lapic_refusal_reported = true;
		partition_deny(v->p, "wrmsr 0x%x value 0x%lx: %s (further APIC refusals only counted)", msr, val,
			       verdict == LAPIC_MASKED ? "written masked" : "only fixed IPIs to itself");
	} else if (verdict != LAPIC_DONE) {
		v->p->denied++;
	}
	if (verdict == LAPIC_REFUSED)
		inject_gp();
	else
		skip_instruction();
}

static bool efer_write(uint64_t val)
{
	uint64_t efer = vmcs_read64(GUEST_IA32_EFER);

	if (val & ~(uint64_t)(IA32_EFER_SCE | IA32_EFER_LME | IA32_EFER_LMA | IA32_EFER_NXE))
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
		skip_instruction();
		return;
	}
	if (msr >= X2APIC_FIRST && msr <= X2APIC_LAST) {
		lapic_write(v, msr, val);
		return;
	}
	partition_deny(v->p, "wrmsr 0x%x value 0x%lx", msr, val);
	inject_gp();
}

/* CR0 writes exit for PG (EFER.LMA follows it, SDM Vol 3A 10.8.5) and for the fixed bits. */
static bool cr0_write(uint64_t val)
{
	uint64_t efer = vmcs_read64(GUEST_IA32_EFER);
	uint32_t entry = vmcs_read32(VM_ENTRY_CONTROLS);

	if (((val & CR0_PG) && !(val & CR0_PE)) || ((val | guest_cr0_forced) & ~guest_cr0_fixed1))
		return false;
	/* Paging goes off only from compatibility mode, never from 64-bit code (SDM Vol 3A 10.8.5). */
	if (!(val & CR0_PG) && (efer & IA32_EFER_LMA) && (vmcs_read32(GUEST_CS_AR_BYTES) & AR_L))
		return false;
	if ((val & CR0_PG) && (efer & IA32_EFER_LME)) {
		if (!(vmcs_read64(GUEST_CR4) & CR4_PAE))
			return false;
		efer |= IA32_EFER_LMA;
		entry |= ENTRY_IA32E_MODE_GUEST;
	} else if (!(val & CR0_PG)) {
		efer &= ~(uint64_t)IA32_EFER_LMA;
		entry &= ~ENTRY_IA32E_MODE_GUEST;
	}
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
		skip_instruction();
		return;
	}
	if (CR_QUAL_TYPE(v->qual) != CR_MOV_TO)
		park_with_dump(v, "unexpected CLTS/LMSW exit");
	if (cr == 0)
		ok = cr0_write(gpr_read(v->regs, reg));
	else if (cr == 4)
		ok = cr4_write(gpr_read(v->regs, reg));
	else if (cr == 3)
		ok = (vmcs_write64(GUEST_CR3, gpr_read(v->regs, reg)), true);
	else
		park_with_dump(v, "unexpected control-register exit");
	if (ok)
		skip_instruction();
	else
		inject_gp();
}

static void handle_vmcall(struct vcpu *v)
{
	struct guest_regs *r = v->regs;

	/* Hypercalls are for the guest kernel (CPL 0), as on a CPU where VMCALL would #UD. */
	if (AR_DPL(vmcs_read32(GUEST_SS_AR_BYTES)) != 0) {
		inject_ud();
		return;
	}
	skip_instruction(); /* first: HC_DONE does not come back */
	r->rax = (uint64_t)hypercall(v->p, r->rax, r->rdi, r->rsi, r->rdx);
}

/* XSETBV: only XCR0, only feature sets this CPU has, x87 always on (SDM Vol 1 13.3). */
static void handle_xsetbv(struct vcpu *v)
{
	uint64_t val = ((uint64_t)(uint32_t)v->regs->rdx << 32) | (uint32_t)v->regs->rax;
	struct cpuid_regs x = cpuid(CPUID_XSAVE, 0);
	uint64_t supported = ((uint64_t)x.edx << 32) | x.eax;

	if ((uint32_t)v->regs->rcx != 0 || !(val & XCR0_X87) || (val & ~supported)) {
		inject_gp();
		return;
	}
	xsetbv(0, val);
	skip_instruction();
}

void budget_arm(struct partition *p)
{
	unsigned rate = VMX_MISC_PREEMPTION_RATE(vmx_msrs.misc);
	uint64_t chunk = p->budget_left >> rate;

	if (chunk > UINT32_MAX)
		chunk = UINT32_MAX;
	p->budget_left = chunk ? p->budget_left - (chunk << rate) : 0;
	vmcs_write32(VMX_PREEMPTION_TIMER_VALUE, chunk);
}

/* A guest that never yields (even with interrupts off) still ends when its budget= is used up. */
static void handle_preemption_timer(struct vcpu *v)
{
	char what[64];

	if (v->p->budget_left) {
		budget_arm(v->p);
		return;
	}
	ksnprintf(what, sizeof(what), "run-time budget of %u ms used up", v->p->cfg->budget_ms);
	park_with_dump(v, what);
}

static void handle_ept_violation(struct vcpu *v)
{
	uint64_t gpa = vmcs_read64(GUEST_PHYSICAL_ADDRESS);
	const char *access = (v->qual & EPT_QUAL_FETCH) ? "instruction fetch" :
			     (v->qual & EPT_QUAL_WRITE) ? "write"             : "read";
	char what[128];

	ksnprintf(what, sizeof(what), "ept-violation: %s at guest-physical 0x%lx%s (slice 0x%lx-0x%lx)", access,
		  gpa, (v->qual & EPT_QUAL_LINEAR_VALID) ? "" : " (no linear address)", v->p->cfg->base,
		  v->p->cfg->base + v->p->cfg->size - 1);
	park_with_dump(v, what);
}

/*
 * WBINVD would write back and flush the caches the partitions share, a timing channel between
 * them; slicehv's memory is all write-back and coherent, so skipping it changes nothing else.
 */
static void handle_wbinvd(struct vcpu *v)
{
	(void)v;
	skip_instruction();
}

/* NMIs belong to slicehv (NMI exiting): no guest can raise one, and none from the platform reaches a guest. */
static void handle_nmi(struct vcpu *v)
{
	(void)v;
}

/* Reasons that refuse the instruction as a CPU without VMX or SMX would. */
static void handle_undefined(struct vcpu *v)
{
	(void)v;
	inject_ud();
}

/* INIT and SIPI come from outside: a partition owns its core, so they are refused. */
static void handle_init_sipi(struct vcpu *v)
{
	partition_deny(v->p, "%s from another core", exit_reason_name(EXIT_REASON_BASIC(vmcs_read32(VM_EXIT_REASON))));
}

static void handle_fatal(struct vcpu *v)
{
	park_with_dump(v, exit_reason_name(EXIT_REASON_BASIC(vmcs_read32(VM_EXIT_REASON))));
}

static void (*const handlers[EXIT_REASON_COUNT])(struct vcpu *) = {
	[EXIT_REASON_EXCEPTION_NMI] = handle_nmi, /* the exception bitmap is empty: only NMIs */
	[EXIT_REASON_TRIPLE_FAULT] = handle_fatal,
	[EXIT_REASON_INIT_SIGNAL] = handle_init_sipi,
	[EXIT_REASON_SIPI] = handle_init_sipi,
	[EXIT_REASON_CPUID] = handle_cpuid,
	[EXIT_REASON_GETSEC] = handle_undefined,
	[EXIT_REASON_HLT] = handle_hlt,
	[EXIT_REASON_INVD] = handle_fatal, /* would drop other partitions' dirty cache lines */
	[EXIT_REASON_VMCALL] = handle_vmcall,
	/* VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMREAD, VMRESUME, VMWRITE, VMXOFF, VMXON (19-27). */
	[EXIT_REASON_VMCLEAR ... EXIT_REASON_VMXON] = handle_undefined,
	[EXIT_REASON_INVEPT] = handle_undefined,
	[EXIT_REASON_INVVPID] = handle_undefined,
	[EXIT_REASON_VMFUNC] = handle_undefined,
	[EXIT_REASON_CR_ACCESS] = handle_cr_access,
	[EXIT_REASON_IO_INSTRUCTION] = handle_io_instruction,
	[EXIT_REASON_RDMSR] = handle_rdmsr,
	[EXIT_REASON_WRMSR] = handle_wrmsr,
	[EXIT_REASON_EPT_VIOLATION] = handle_ept_violation,
	[EXIT_REASON_XSETBV] = handle_xsetbv,
	[EXIT_REASON_WBINVD] = handle_wbinvd,
	[EXIT_REASON_PREEMPTION_TIMER] = handle_preemption_timer,
};

void vmexit_handler(struct guest_regs *regs);
void vmexit_handler(struct guest_regs *regs)
{
	struct cpu *c = this_cpu();
	uint32_t reason = vmcs_read32(VM_EXIT_REASON);
	unsigned basic = EXIT_REASON_BASIC(reason);
	struct vcpu v = { regs, c->partition, c, vmcs_read64(EXIT_QUALIFICATION) };

	v.p->exits_total++;
	if (basic < EXIT_REASON_COUNT)
		v.p->exits[basic]++;
	if ((reason & EXIT_REASON_ENTRY_FAILURE) || basic >= EXIT_REASON_COUNT || !handlers[basic]) {
		char what[80];

		ksnprintf(what, sizeof(what), "%s %s (exit reason %u, qualification 0x%lx)",
			  (reason & EXIT_REASON_ENTRY_FAILURE) ? "VM entry failed:" : "unexpected exit",
			  exit_reason_name(basic), basic, v.qual);
		park_with_dump(&v, what);
	}
	handlers[basic](&v);
}

/* VMLAUNCH/VMRESUME fell through: the VMCS is not enterable. Park with the SDM's error number. */
void vmentry_failed(struct guest_regs *regs);
void vmentry_failed(struct guest_regs *regs)
{
	struct cpu *c = this_cpu();
	struct vcpu v = { regs, c->partition, c, 0 };

	dump_guest(&v);
	partition_park(c->partition, "VM entry failed: VM-instruction error %u (SDM Vol 3C 31.4)",
		       vmcs_read32(VM_INSTRUCTION_ERROR));
}
