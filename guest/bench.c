/* The bench guest: workloads and exit round trips timed with the TSC, bare or in a partition. */
#include "rt.h"

/*
 * One image, booted bare from GRUB and unchanged in a slicehv partition, so tests/bench/bench.py
 * can put the two side by side. Its lines (in a partition behind slicehv's "[<name>] " prefix):
 *   bench: <name> <bare|partitioned> slice 0x<base>-0x<end> size <full|small|idle> reps <n>
 *   bench: buffers 0x<walk>+<MiB> 0x<chase>+<MiB>
 *   bench: cpu ticks <n>          a register-only loop (xorshift), the least of reps runs
 *   bench: memwalk ticks <n>      one qword per 4 KiB page, a cache line further each page, passes
 *   bench: chase ticks <n>        a random cyclic permutation of cache-line nodes, followed laps
 *   bench: exits before <a> after <b>   HC_EXIT_COUNT around the workloads (partitioned only)
 *   bench: steady-exits <n>       after - before - 1: the second call counts itself (partitioned)
 *   bench: <op>-rtt ticks <n>     median of SAMPLES round trips of op between two rdtsc, minus
 *                                 the median of the empty pair (tsc-overhead); op is cpuid
 *                                 (leaf 0), io (OUT to COM1's scratch register, which slicehv
 *                                 accepts and ignores), vmcall (HC_EXIT_COUNT, partitioned only)
 *                                 and nop (vmcall's sequence with a NOP: its bare counterpart)
 *   bench: tsc-overhead ticks <n>
 *   bench: serial line <chars> ticks <n>  one console line, from the first byte to the wire idle
 *   bench: checksum 0x<x>         the same work gives the same value bare and partitioned
 *   bench: done
 * Command line: size=full|small|idle (idle: no work, for boots that measure slicehv itself),
 * reps=<n>. Nothing is printed while the workloads run: console output would be exits.
 */

#define LARGE_PAGE MiB(2)
#define CACHE_LINE 64
#define LINES_PER_PAGE (PAGE_SIZE / CACHE_LINE)
#define SAMPLES 1001          /* round trips per median: odd, so the median is one sample */
#define MAX_REPS 16
#define SERIAL_PROBE_CHARS 64 /* the probe line, newline included */
#define COM1_SCRATCH 0x3ff    /* 16550 scratch register: slicehv's virtual COM1 ignores writes */
#define COM1_LSR 0x3fd
#define LSR_TX_IDLE (1u << 6)
#define SEED 0x243f6a8885a308d3ull
#define MIX 0x9e3779b97f4a7c15ull
#define ARG_LEN 16

/* How much work: full for `make bench`, small for `make bench-smoke`. */
struct plan {
	char name[8]; /* an array, not a pointer: no pointer-valued initializers in a PIC image */
	uint64_t cpu_iters;
	uint64_t walk_bytes, walk_passes;
	uint64_t chase_bytes, chase_laps;
};

static const struct plan plans[] = {
	{ "full", 1000000, MiB(48), 64, MiB(32), 2 },
	{ "small", 250000, MiB(16), 16, MiB(8), 1 },
	{ "idle", 0, 0, 0, 0, 0 },
};

static uint64_t samples[SAMPLES];
static uint64_t checksum;
static bool partitioned;

/* RDTSC after every earlier instruction has completed (SDM Vol 2B, RDTSC). */
static inline uint64_t tsc_ordered(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t exit_count(void)
{
	int64_t n;

	__asm__ volatile("vmcall" : "=a"(n) : "a"((uint64_t)HC_EXIT_COUNT) : "memory");
	return (uint64_t)n;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & -a; }

/* ---- workloads: each returns its TSC ticks and folds its result into checksum */

/* Registers only: the same instructions bare and partitioned, no memory traffic to speak of. */
static uint64_t work_cpu(const struct plan *pl)
{
	uint64_t s = SEED, acc = 0, start = tsc_ordered();

	for (uint64_t i = 0; i < pl->cpu_iters; i++)
		acc += xorshift(&s) * MIX;
	start = tsc_ordered() - start;
	checksum ^= acc;
	return start;
}

/* The qword a walk touches in page i: a different cache line each page, so no set fills up. */
static volatile uint64_t *walk_slot(uint64_t base, uint64_t i)
{
	return (volatile uint64_t *)(uintptr_t)(base + i * PAGE_SIZE + (i % LINES_PER_PAGE) * CACHE_LINE);
}

static void walk_init(uint64_t base, const struct plan *pl)
{
	for (uint64_t i = 0; i < pl->walk_bytes / PAGE_SIZE; i++)
		*walk_slot(base, i) = i;
}

/* One read-modify-write per 4 KiB page: far more pages than any TLB holds as 4 KiB entries. */
static uint64_t work_memwalk(uint64_t base, const struct plan *pl)
{
	uint64_t pages = pl->walk_bytes / PAGE_SIZE, sum = 0, start = tsc_ordered();

	for (uint64_t pass = 0; pass < pl->walk_passes; pass++)
		for (uint64_t i = 0; i < pages; i++)
			sum += (*walk_slot(base, i) += pass);
	start = tsc_ordered() - start;
	checksum ^= sum;
	return start;
}

/*
 * Sattolo's shuffle makes node i point at node next[i] in one cycle through every node, in an
 * order no prefetcher can guess; the indices become addresses afterwards (run-time, so PIC).
 */
static void chase_init(uint64_t base, const struct plan *pl)
{
	uint64_t n = pl->chase_bytes / CACHE_LINE, s = SEED;
	uint64_t *node = (uint64_t *)(uintptr_t)base;
	const uint64_t stride = CACHE_LINE / sizeof(uint64_t);

	for (uint64_t i = 0; i < n; i++)
		node[i * stride] = i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = xorshift(&s) % i, t = node[i * stride];

		node[i * stride] = node[j * stride];
		node[j * stride] = t;
	}
	for (uint64_t i = 0; i < n; i++)
		node[i * stride] = base + node[i * stride] * CACHE_LINE;
}

/* Each load's address is the previous load's value: latency-bound, one node per step. */
static uint64_t work_chase(uint64_t base, const struct plan *pl)
{
	uint64_t steps = pl->chase_bytes / CACHE_LINE * pl->chase_laps, start = tsc_ordered();
	const uint64_t *p = (const uint64_t *)(uintptr_t)base;

	for (uint64_t i = 0; i < steps; i++)
		p = (const uint64_t *)(uintptr_t)*(volatile const uint64_t *)p;
	start = tsc_ordered() - start;
	checksum ^= (uintptr_t)p - base;
	return start;
}

/* ---- round trips: op between two ordered TSC reads, SAMPLES times, the median */

#define TIMED(name, op, ...)                                                                      \
	static uint64_t name(void)                                                                \
	{                                                                                         \
		uint32_t lo0, hi0, lo1, hi1;                                                      \
		__asm__ volatile("lfence; rdtsc; mov %%eax, %0; mov %%edx, %1;" op "lfence; rdtsc" \
				 : "=&r"(lo0), "=&r"(hi0), "=&a"(lo1), "=&d"(hi1)::__VA_ARGS__);   \
		return (((uint64_t)hi1 << 32) | lo1) - (((uint64_t)hi0 << 32) | lo0);             \
	}

TIMED(rtt_empty, "", "memory")
TIMED(rtt_nop, "mov $4, %%eax; nop;", "memory") /* rtt_vmcall with a NOP for the VMCALL */
TIMED(rtt_cpuid, "xor %%eax, %%eax; xor %%ecx, %%ecx; cpuid;", "rbx", "rcx", "memory")
TIMED(rtt_io, "mov $0x3ff, %%dx; out %%al, %%dx;", "memory")
TIMED(rtt_vmcall, "mov $4, %%eax; vmcall;", "memory")

_Static_assert(HC_EXIT_COUNT == 4 && COM1_SCRATCH == 0x3ff, "rtt_vmcall and rtt_io spell these out");

/* Shell sort (gaps 3k+1): 1001 samples need no more. */
static void sort(uint64_t *a, int n)
{
	int gap = 1;

	while (gap < n / 3)
		gap = 3 * gap + 1;
	for (; gap > 0; gap /= 3)
		for (int i = gap; i < n; i++) {
			uint64_t v = a[i];
			int j = i;

			for (; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
}

static uint64_t median_of(uint64_t (*fn)(void))
{
	for (int i = 0; i < SAMPLES; i++)
		samples[i] = fn();
	sort(samples, SAMPLES);
	return samples[SAMPLES / 2];
}

static void report_rtt(const char *op, uint64_t (*fn)(void), uint64_t overhead)
{
	uint64_t m = median_of(fn);

	kprint("bench: %s-rtt ticks %lu\n", op, m > overhead ? m - overhead : 0);
}

static void round_trips(void)
{
	uint64_t overhead = median_of(rtt_empty);

	kprint("bench: tsc-overhead ticks %lu\n", overhead);
	report_rtt("nop", rtt_nop, overhead);
	report_rtt("cpuid", rtt_cpuid, overhead);
	report_rtt("io", rtt_io, overhead);
	if (partitioned)
		report_rtt("vmcall", rtt_vmcall, overhead);
}

/* A line on the console, timed until the UART has put its last bit on the wire (in a partition:
 * until slicehv has sent the line it queued, its virtual LSR.TEMT). */
static void serial_probe(void)
{
	static const char probe[SERIAL_PROBE_CHARS + 1] =
		"bench: serial probe 0123456789abcdefghijklmnopqrstuvwxyz.......\n";
	uint64_t start;

	_Static_assert(sizeof(probe) == SERIAL_PROBE_CHARS + 1, "the probe line is SERIAL_PROBE_CHARS long");
	while (!(inb(COM1_LSR) & LSR_TX_IDLE))
		;
	start = tsc_ordered();
	kprint("%s", probe);
	while (!(inb(COM1_LSR) & LSR_TX_IDLE))
		;
	kprint("bench: serial line %u ticks %lu\n", SERIAL_PROBE_CHARS, tsc_ordered() - start);
}

/* ---- the run */

static const struct plan *choose_plan(const struct boot_info *bi)
{
	char want[ARG_LEN];

	if (!boot_arg(bi, "size", want, sizeof(want)))
		return &plans[0];
	for (unsigned i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		const char *a = want, *b = plans[i].name;

		while (*a && *a == *b)
			a++, b++;
		if (!*a && !*b)
			return &plans[i];
	}
	kprint("bench: unknown size=%s (full, small or idle)\n", want);
	guest_finish(1);
}

static unsigned choose_reps(const struct boot_info *bi)
{
	char val[ARG_LEN];
	unsigned n = 0;

	if (!boot_arg(bi, "reps", val, sizeof(val)))
		return 1;
	for (const char *p = val; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (unsigned)(*p - '0');
	return n < 1 ? 1 : n > MAX_REPS ? MAX_REPS : n;
}

/* The workloads, reps times each (the least ticks kept), with no exit expected in between. */
static void run_workloads(const struct plan *pl, unsigned reps, uint64_t walk, uint64_t chase)
{
	uint64_t cpu = ~0ull, mem = ~0ull, ch = ~0ull, before = 0, after = 0;

	if (partitioned) {
		/* Lines still queued for the UART would cost timer exits (README, Exit policy). */
		while (!(inb(COM1_LSR) & LSR_TX_IDLE))
			;
		before = exit_count();
	}
	walk_init(walk, pl);
	chase_init(chase, pl);
	for (unsigned r = 0; r < reps; r++) {
		cpu = min_u64(cpu, work_cpu(pl));
		mem = min_u64(mem, work_memwalk(walk, pl));
		ch = min_u64(ch, work_chase(chase, pl));
	}
	if (partitioned)
		after = exit_count();
	kprint("bench: cpu ticks %lu\n", cpu);
	kprint("bench: memwalk ticks %lu\n", mem);
	kprint("bench: chase ticks %lu\n", ch);
	if (partitioned) {
		kprint("bench: exits before %lu after %lu\n", before, after);
		kprint("bench: steady-exits %lu\n", after - before - 1);
	}
}

void guest_main(uint32_t info)
{
	struct boot_info bi;
	const struct plan *pl;
	unsigned reps;
	uint64_t walk, chase;

	partitioned = rt_init();
	if (boot_parse(info, &bi)) {
		kprint("bench: no usable memory range holds the image\n");
		guest_finish(1);
	}
	pl = choose_plan(&bi);
	reps = choose_reps(&bi);
	kprint("bench: %s %s slice 0x%lx-0x%lx size %s reps %u\n", bi.name, partitioned ? "partitioned" : "bare",
	       bi.slice_base, bi.slice_end, pl->name, reps);
	/* The buffers follow the image (the boot information lies below it in a partition). */
	walk = align_up((uintptr_t)__image_end, LARGE_PAGE);
	chase = walk + pl->walk_bytes;
	if (chase + pl->chase_bytes > bi.slice_end) {
		kprint("bench: no room: the buffers need up to 0x%lx, the slice ends at 0x%lx\n",
		       chase + pl->chase_bytes, bi.slice_end);
		guest_finish(1);
	}
	if (pl->cpu_iters) {
		kprint("bench: buffers 0x%lx+%lu 0x%lx+%lu\n", walk, pl->walk_bytes / MiB(1), chase, pl->chase_bytes / MiB(1));
		run_workloads(pl, reps, walk, chase);
		round_trips();
		serial_probe();
		kprint("bench: checksum 0x%lx\n", checksum);
	}
	kprint("bench: done\n");
	guest_finish(0);
}
