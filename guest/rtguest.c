/* The real-time guest (rt.elf): local APIC timer interrupt latency, bare or in a partition. */
#include "rt.h"
#include "../arch/x86/msr.h"

/*
 * One image, booted bare from GRUB and unchanged in a slicehv partition (guest/README.md). It
 * takes its core's local APIC in x2APIC mode (switching it on bare; slicehv hands it over already
 * on), installs an IDT, programs the LAPIC timer periodic and/or TSC-deadline, and in the handler
 * measures how many TSC ticks after the programmed deadline its first instructions run:
 *   rt: <name> apic <id> x2apic <on|switched on> tsc-deadline <yes|no>
 *   rt: lapic timer <n>/1000 tsc ticks per tick (<cpuid 0x15|calibrated>)
 *   rt: timer <mode> <period> ticks: <n> interrupts, latency min <a> avg <b> max <c> ticks, jitter <d>, exits <e>
 *   rt: done
 * Command line: mode=periodic|deadline|both, period=<TSC ticks>, count=<interrupts>,
 * wait=spin|hlt (how the guest waits between interrupts: spinning takes no VM exits, HLT takes
 * one per interrupt under slicehv). exits: HC_EXIT_COUNT after - before - 1 (the second call
 * counts itself); 0 bare. Interrupt k (1-based) is due at first + (k - 1) * period: periodic,
 * first is the TSC right after arming plus the count left then; TSC-deadline, the TSC at arming
 * plus period.
 */

#define PERIOD_DEFAULT 50000
#define COUNT_DEFAULT 200
#define ARG_LEN 16
#define MILLI 1000
#define CALIBRATE_TICKS 1000000
#define CRYSTAL_AGREES 100 /* CPUID 0x15 is trusted within 1/100 of the measured rate */

/* The LVT timer and its divider (SDM Vol 3A 11.5.1, 11.5.4); the MSRs are in msr.h. */
#define LVT_MASKED BIT(16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define TIMER_DIVIDE_BY_1 0xb
#define CPUID_1_ECX_TSC_DEADLINE BIT(24)
#define CPUID_TSC_CRYSTAL 0x15 /* EBX/EAX: TSC ticks per core crystal tick, which clocks the APIC timer */

/* 8259 PICs: masked bare, so nothing arrives through LINT0 in virtual-wire mode. */
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1
#define PIC_MASK_ALL 0xff

/* The timer's vector; the runtime's IDT (rt.h) takes every other. */
#define TIMER_VECTOR 0x40

enum timer_mode { MODE_PERIODIC, MODE_DEADLINE };

static bool partitioned, wait_hlt;

/* The measurement in progress, shared with the interrupt handler. */
static volatile struct {
	enum timer_mode mode;
	uint64_t period, count, fired;
	uint64_t deadline;                 /* of the next interrupt */
	int64_t min, max, sum;
} run;

/* Interrupt entry: the TSC first (rt.h's IRQ_STUB), then C. */
extern char rt_timer_stub[];
void rt_timer_irq(uint64_t now);
IRQ_STUB(rt_timer_stub, rt_timer_irq);

static void timer_arm_deadline(void)
{
	wrmsr(IA32_TSC_DEADLINE, run.deadline);
}

void rt_timer_irq(uint64_t now)
{
	int64_t late = (int64_t)(now - run.deadline);

	if (run.fired < run.count) {
		run.min = run.fired && run.min < late ? run.min : late;
		run.max = run.fired && run.max > late ? run.max : late;
		run.sum += late;
		run.fired++;
	}
	run.deadline += run.period;
	if (run.fired == run.count && run.mode == MODE_PERIODIC)
		wrmsr(X2APIC_TIMER_INITIAL, 0);
	else if (run.fired < run.count && run.mode == MODE_DEADLINE)
		timer_arm_deadline();
	wrmsr(X2APIC_EOI, 0);
}

/* The runtime's x2APIC set-up, then the timer divided by 1 (SDM Vol 3A 11.5.4). */
static bool apic_take(const char **how)
{
	if (!apic_x2_enable(how))
		return false;
	wrmsr(X2APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_1);
	return true;
}

/* TSC ticks per LAPIC timer tick, times MILLI, measured with the timer counting down masked. */
static uint64_t timer_calibrate(void)
{
	uint64_t start, ticks;

	wrmsr(X2APIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	wrmsr(X2APIC_TIMER_INITIAL, UINT32_MAX);
	start = rdtsc();
	tsc_wait(CALIBRATE_TICKS);
	ticks = UINT32_MAX - rdmsr(X2APIC_TIMER_CURRENT);
	start = rdtsc() - start;
	wrmsr(X2APIC_TIMER_INITIAL, 0);
	return ticks ? (start * MILLI + ticks / 2) / ticks : MILLI;
}

/*
 * The timer's rate: CPUID 0x15 (TSC per core crystal tick, the crystal clocking the APIC timer)
 * where it agrees with a measurement within 1 %, else the measurement. Bochs's CPUID 0x15 is the
 * host's, while its TSC and APIC timer both count instructions: there the measurement wins.
 */
static uint64_t timer_ratio(const char **how)
{
	uint64_t measured = timer_calibrate(), crystal = 0;
	struct cpuid_regs r = cpuid(0, 0);

	if (r.eax >= CPUID_TSC_CRYSTAL) {
		r = cpuid(CPUID_TSC_CRYSTAL, 0);
		crystal = r.eax ? (uint64_t)r.ebx * MILLI / r.eax : 0;
	}
	if (crystal && crystal * CRYSTAL_AGREES > measured * (CRYSTAL_AGREES - 1) &&
	    crystal * CRYSTAL_AGREES < measured * (CRYSTAL_AGREES + 1)) {
		*how = "cpuid 0x15";
		return crystal;
	}
	*how = crystal ? "calibrated; cpuid 0x15 disagrees" : "calibrated";
	return measured;
}

/* Until the handler has seen count interrupts: spinning, or HLT (atomic with STI's shadow). */
static void wait_for_all(void)
{
	if (!wait_hlt) {
		while (run.fired < run.count)
			cpu_relax();
		return;
	}
	cli();
	while (run.fired < run.count)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	__asm__ volatile("sti");
}

static void measure(enum timer_mode mode, uint64_t period, uint64_t count, uint64_t ratio)
{
	static const char names[][ARG_LEN] = { "periodic", "deadline" };
	uint64_t before, exits, now;

	run.mode = mode;
	run.period = period;
	run.count = count;
	run.fired = run.sum = run.min = run.max = 0;
	console_drain(); /* slicehv sends our queued lines by coming back: not during the measurement */
	before = hc_exit_count();
	if (mode == MODE_PERIODIC) {
		/*
		 * The first deadline from the count left right after arming, not from a TSC read
		 * before it: with several cores Bochs's TSC moves in steps, and where the arming falls
		 * in a step would otherwise shift every latency by a constant.
		 */
		wrmsr(X2APIC_LVT_TIMER, LVT_TIMER_PERIODIC | TIMER_VECTOR);
		wrmsr(X2APIC_TIMER_INITIAL, period * MILLI / ratio);
		now = rdtsc();
		run.deadline = now + rdmsr(X2APIC_TIMER_CURRENT) * ratio / MILLI;
	} else {
		wrmsr(X2APIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | TIMER_VECTOR);
		__asm__ volatile("mfence" ::: "memory"); /* LVT before the deadline (SDM Vol 3A 11.5.4.1) */
		run.deadline = rdtsc() + period;
		timer_arm_deadline();
	}
	wait_for_all();
	exits = partitioned ? hc_exit_count() - before - 1 : 0;
	wrmsr(X2APIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	kprint("rt: timer %s %lu ticks: %lu interrupts, latency min %ld avg %ld max %ld ticks, jitter %ld, "
	       "exits %lu\n", names[mode], period, run.fired, run.min, run.sum / (int64_t)run.fired, run.max,
	       run.max - run.min, exits);
}

void guest_main(uint32_t info)
{
	struct boot_info bi;
	char mode[ARG_LEN] = "both", wait[ARG_LEN] = "spin";
	const char *apic_how, *ratio_how;
	bool deadline = cpuid(1, 0).ecx & CPUID_1_ECX_TSC_DEADLINE;
	uint64_t period, count, ratio;

	partitioned = rt_init();
	if (boot_parse(info, &bi)) {
		kprint("rt: no usable memory range holds the image\n");
		guest_finish(1);
	}
	boot_arg(&bi, "mode", mode, sizeof(mode));
	boot_arg(&bi, "wait", wait, sizeof(wait));
	wait_hlt = wait[0] == 'h';
	period = boot_arg_number(&bi, "period", PERIOD_DEFAULT);
	count = boot_arg_number(&bi, "count", COUNT_DEFAULT);
	if (!period || !count) {
		kprint("rt: period and count must be positive\n");
		guest_finish(1);
	}
	if (!partitioned) {
		outb(PIC1_DATA, PIC_MASK_ALL);
		outb(PIC2_DATA, PIC_MASK_ALL);
	}
	idt_install("rt");
	idt_set(TIMER_VECTOR, rt_timer_stub);
	if (!apic_take(&apic_how)) {
		kprint("rt: %s apic %u: no x2apic on this cpu\n", bi.name, cpu_apic_id());
		guest_finish(1);
	}
	kprint("rt: %s apic %u x2apic %s tsc-deadline %s\n", bi.name, cpu_apic_id(), apic_how,
	       deadline ? "yes" : "no");
	ratio = timer_ratio(&ratio_how);
	kprint("rt: lapic timer %lu/%u tsc ticks per tick (%s)\n", ratio, MILLI, ratio_how);
	__asm__ volatile("sti");
	if (mode[0] != 'd')
		measure(MODE_PERIODIC, period, count, ratio);
	if (mode[0] != 'p' && deadline)
		measure(MODE_DEADLINE, period, count, ratio);
	else if (mode[0] != 'p')
		kprint("rt: timer deadline: this cpu has no tsc-deadline mode\n");
	cli();
	if (irq_unexpected)
		kprint("rt: %lu unexpected interrupts\n", irq_unexpected);
	kprint("rt: done\n");
	guest_finish(0);
}
