/* The partition's own local APIC: handed over in x2APIC mode, the MSR-bitmap policy for its registers, trapped writes. */
#include "lapic.h"
#include "../../hv/arch.h"
#include "../../hv/cpu.h"
#include "msr.h"
#include "x86.h"

/*
 * A partition owns its core, so it owns that core's local APIC (x2APIC mode: MSRs only; the xAPIC
 * page stays outside every EPT). Only what could reach beyond the core exits: the ICR, and the LVT
 * entries whose delivery mode could raise NMI, SMI, INIT or ExtINT (SDM Vol 3A 11.5.1, 11.6.1).
 * The policy functions are pure, for tests/unit/test_lapic.c.
 */

#define APIC_VECTORS 256
#define APIC_FIRST_VECTOR 16 /* 0-15 are illegal vectors (SDM Vol 3A 11.5.2) */

/* ICR in x2APIC mode (SDM Vol 3A 11.12.9, Figure 11-28). */
#define ICR_VECTOR(icr) ((uint32_t)(icr) & 0xff)
#define ICR_DELIVERY(icr) (((uint32_t)(icr) >> 8) & 7)
#define ICR_DEST_LOGICAL BIT(11)
#define ICR_TRIGGER_LEVEL BIT(15)
#define ICR_SHORTHAND(icr) (((uint32_t)(icr) >> 18) & 3)
#define ICR_RESERVED 0xfff33000ull /* bits 12, 13, 16, 17, 20-31 */
#define ICR_DEST(icr) ((uint32_t)((icr) >> 32))
enum { SHORTHAND_NONE, SHORTHAND_SELF, SHORTHAND_ALL, SHORTHAND_OTHERS };

/* LVT entries (SDM Vol 3A 11.5.1, Figure 11-8). */
#define LVT_DELIVERY(v) (((uint32_t)(v) >> 8) & 7)
#define LVT_MASKED BIT(16)
#define LVT_READ_ONLY (BIT(12) | BIT(14)) /* delivery status, remote IRR */
#define LVT_WRITABLE 0x107ffull           /* vector, delivery mode, mask; the rest reserved */
#define LVT_LINT_WRITABLE 0x1a7ffull      /* also pin polarity and trigger mode */
#define SVR_RESET 0xff                    /* software-disabled, spurious vector 0xff */
#define SVR_APIC_ENABLED BIT(8)
enum { DELIVERY_FIXED = 0, DELIVERY_SMI = 2, DELIVERY_NMI = 4, DELIVERY_INIT = 5, DELIVERY_EXTINT = 7 };

/* The lowest max-LVT index (version register bits 23:16) at which an entry exists. */
#define MAX_LVT_PMC 4
#define MAX_LVT_THERMAL 5
#define MAX_LVT_CMCI 6

/* 8259 PICs: masked, so nothing arrives through LINT0 in virtual-wire mode. */
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1
#define PIC_MASK_ALL 0xff

#define CPUID_1_ECX_X2APIC BIT(21)
#define CPUID_1_ECX_TSC_DEADLINE BIT(24)

static const uint32_t lvt_entries[] = { X2APIC_LVT_CMCI, X2APIC_LVT_TIMER, X2APIC_LVT_THERMAL, X2APIC_LVT_PMC,
					 X2APIC_LVT_LINT0, X2APIC_LVT_LINT1, X2APIC_LVT_ERROR };

static bool lvt_has_delivery_mode(uint32_t msr)
{
	return msr == X2APIC_LVT_CMCI || (msr >= X2APIC_LVT_THERMAL && msr <= X2APIC_LVT_LINT1);
}

/* Whether LVT entry msr is there, on an APIC whose version register gives max_lvt. */
static bool lvt_exists(uint32_t msr, unsigned max_lvt)
{
	return (msr != X2APIC_LVT_PMC || max_lvt >= MAX_LVT_PMC) &&
	       (msr != X2APIC_LVT_THERMAL || max_lvt >= MAX_LVT_THERMAL) &&
	       (msr != X2APIC_LVT_CMCI || max_lvt >= MAX_LVT_CMCI);
}

bool lapic_msr_passthrough(uint32_t msr, bool write)
{
	if (msr == IA32_TSC_DEADLINE)
		return true;
	if (msr < X2APIC_FIRST || msr > X2APIC_LAST)
		return false;
	/* Reads cannot reach another core; registers that do not exist raise #GP by themselves. */
	return !write || (msr != X2APIC_ICR && !lvt_has_delivery_mode(msr));
}

int lapic_icr_self_vector(uint64_t icr, uint32_t self_id, uint32_t self_ldr)
{
	bool self;

	if ((icr & ICR_RESERVED) || ICR_DELIVERY(icr) != DELIVERY_FIXED || (icr & ICR_TRIGGER_LEVEL) ||
	    ICR_VECTOR(icr) < APIC_FIRST_VECTOR)
		return -1;
	if (ICR_SHORTHAND(icr) == SHORTHAND_SELF)
		self = true;
	else if (ICR_SHORTHAND(icr) != SHORTHAND_NONE)
		self = false;
	else
		self = ICR_DEST(icr) == ((icr & ICR_DEST_LOGICAL) ? self_ldr : self_id);
	return self ? (int)ICR_VECTOR(icr) : -1;
}

enum lapic_verdict lapic_lvt_check(uint32_t msr, uint64_t val, unsigned max_lvt)
{
	bool lint = msr == X2APIC_LVT_LINT0 || msr == X2APIC_LVT_LINT1;
	unsigned mode = LVT_DELIVERY(val);

	if (!lvt_exists(msr, max_lvt))
		return LAPIC_REFUSED; /* no such entry: the CPU's own #GP */
	if ((val & ~(lint ? LVT_LINT_WRITABLE : LVT_WRITABLE) & ~LVT_READ_ONLY))
		return LAPIC_REFUSED; /* reserved bits: #GP, as the CPU would */
	if (mode == DELIVERY_FIXED || (val & LVT_MASKED))
		return LAPIC_DONE;
	if (mode == DELIVERY_SMI || mode == DELIVERY_NMI || mode == DELIVERY_INIT || mode == DELIVERY_EXTINT)
		return LAPIC_MASKED;
	return LAPIC_REFUSED; /* a reserved delivery mode */
}

enum lapic_verdict lapic_wrmsr(uint32_t msr, uint64_t val, uint32_t self_id)
{
	enum lapic_verdict verdict;
	int vector;

	if (msr == X2APIC_ICR) {
		/* SELF_IPI sends exactly that, and no value of it can fault (SDM Vol 3A 11.12.11). */
		vector = lapic_icr_self_vector(val, self_id, (uint32_t)rdmsr(X2APIC_LDR));
		if (vector >= 0)
			wrmsr(X2APIC_SELF_IPI, (uint32_t)vector);
		return vector >= 0 ? LAPIC_DONE : LAPIC_REFUSED;
	}
	if (!lvt_has_delivery_mode(msr))
		return LAPIC_REFUSED;
	verdict = lapic_lvt_check(msr, val, APIC_VERSION_MAX_LVT(rdmsr(X2APIC_VERSION)));
	if (verdict != LAPIC_REFUSED)
		wrmsr(msr, (val & ~LVT_READ_ONLY) | (verdict == LAPIC_MASKED ? LVT_MASKED : 0));
	return verdict;
}

/* Whether any of the 256 bits of the ISR or the IRR (the first of their eight registers) is set. */
static bool any_vector(uint32_t first)
{
	uint64_t any = 0;

	for (uint32_t i = 0; i < X2APIC_ISR_COUNT; i++)
		any |= rdmsr(first + i);
	return any != 0;
}

/* Software-enabled while a vector waits in the IRR, so it is dispatched (TPR 0); as at reset once none does. */
static bool irr_pending(void)
{
	bool requested = any_vector(X2APIC_IRR0);

	wrmsr(X2APIC_SVR, SVR_RESET | (requested ? SVR_APIC_ENABLED : 0));
	return requested;
}

/* Every LVT entry this APIC has, masked with vector 0: their reset value. */
static void lvt_mask_all(void)
{
	unsigned max_lvt = APIC_VERSION_MAX_LVT(rdmsr(X2APIC_VERSION));

	for (unsigned i = 0; i < ARRAY_SIZE(lvt_entries); i++)
		if (lvt_exists(lvt_entries[i], max_lvt))
			wrmsr(lvt_entries[i], LVT_MASKED);
}

/*
 * A (re)started partition finds its APIC in x2APIC mode and quiet, as after reset (SDM Vol 3A
 * 11.4.7.1): no timer armed, divide configuration 0, every LVT entry masked, TPR 0, nothing in
 * service from a previous run, software-disabled. EN is never cleared (Bochs cannot set it again),
 * and x2APIC is entered only from xAPIC mode (SDM Vol 3A 11.12.5). Only INIT clears an IRR: a
 * vector still requested is drained at the first entry, acknowledged on exit (lapic_drained).
 */
bool lapic_hand_over(void)
{
	uint32_t features = cpuid(1, 0).ecx;
	uint64_t base = rdmsr(IA32_APIC_BASE);

	outb(PIC1_DATA, PIC_MASK_ALL);
	outb(PIC2_DATA, PIC_MASK_ALL);
	if (!(features & CPUID_1_ECX_X2APIC) || !(base & IA32_APIC_BASE_EN))
		return false;
	if (!(base & IA32_APIC_BASE_EXTD))
		wrmsr(IA32_APIC_BASE, base | IA32_APIC_BASE_EXTD);
	this_cpu()->arch.x2apic = true; /* for good: the guest cannot write IA32_APIC_BASE */
	wrmsr(X2APIC_TIMER_INITIAL, 0);
	if (features & CPUID_1_ECX_TSC_DEADLINE)
		wrmsr(IA32_TSC_DEADLINE, 0);
	wrmsr(X2APIC_TIMER_DIVIDE, 0);
	lvt_mask_all();
	wrmsr(X2APIC_TPR, 0);
	for (unsigned i = 0; i < APIC_VECTORS && any_vector(X2APIC_ISR0); i++)
		wrmsr(X2APIC_EOI, 0);
	return irr_pending();
}

/* A fixed, physical, edge-triggered IPI: the only kind an x2APIC ICR write by slicehv sends. */
bool arch_send_ipi(uint32_t apic_id, unsigned vector)
{
	if (!this_cpu()->arch.x2apic) /* known since the launch: no MSR read (an exit of its own when nested) */
		return false;
	wrmsr(X2APIC_ICR, ((uint64_t)apic_id << 32) | vector);
	return true;
}

bool lapic_drained(void)
{
	wrmsr(X2APIC_EOI, 0);
	return !irr_pending();
}
