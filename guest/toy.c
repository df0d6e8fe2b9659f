/* The toy kernel: one workload, bare or partitioned, printing the lines the tests assert on. */
#include "rt.h"

#define SIEVE_LIMIT 100000
#define HEARTBEATS 3 /* beats=<n> on the command line asks for more */
#define HEARTBEAT_TICKS 2000000 /* about 40 ms in Bochs, where the TSC counts instructions */
#define KIB 1024
#define WORD sizeof(uint64_t)
#define WORD_BITS 64
/* Each tested word holds its own address plus this: aliased or stuck address lines read back wrong. */
#define MEM_SALT 0x9e3779b97f4a7c15ull
/* One word per cache line: every address bit a page table (or an EPT) could alias is covered, at an
 * eighth of the instructions of every word (a 1 GiB slice costs Bochs seconds, not tens of them). */
#define MEM_STRIDE (64 / WORD)
#define MEM_HOLES 2 /* the image (with its page tables and stack) and the boot information */

struct range {
	uint64_t base, end; /* [base, end), word-aligned */
};

static uint64_t composite[SIEVE_LIMIT / WORD_BITS + 1]; /* bit n: n is not prime */
static struct hc_partition_info partition;

static uint64_t align_down(uint64_t v) { return v & -WORD; }
static uint64_t align_up(uint64_t v) { return (v + WORD - 1) & -WORD; }
static uint64_t min(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The slice minus the holes, as at most MEM_HOLES + 1 ranges in address order. */
static int mem_ranges(const struct boot_info *bi, struct range *out)
{
	struct range hole[MEM_HOLES] = {
		{ align_down((uintptr_t)__image_start), align_up((uintptr_t)__image_end) },
		{ align_down(bi->info_base), align_up(bi->info_end) },
	};
	uint64_t at = align_up(bi->slice_base), end = align_down(bi->slice_end);
	int n = 0;

	if (hole[1].base < hole[0].base) {
		struct range t = hole[0];

		hole[0] = hole[1];
		hole[1] = t;
	}
	for (int i = 0; i < MEM_HOLES; i++) {
		uint64_t stop = min(hole[i].base, end);

		if (stop > at)
			out[n++] = (struct range){ at, stop };
		at = max(at, hole[i].end);
	}
	if (at < end)
		out[n++] = (struct range){ at, end };
	return n;
}

static void mem_fill(struct range r)
{
#pragma GCC unroll 8
	for (uint64_t *p = (void *)r.base; p < (uint64_t *)r.end; p += MEM_STRIDE)
		*p = (uintptr_t)p + MEM_SALT;
}

/* False, with the first bad address in *bad, if a word lost its pattern. */
static bool mem_verify(struct range r, uint64_t *bad)
{
#pragma GCC unroll 8
	for (const uint64_t *p = (const void *)r.base; p < (const uint64_t *)r.end; p += MEM_STRIDE) {
		if (*p != (uintptr_t)p + MEM_SALT) {
			*bad = (uintptr_t)p;
			return false;
		}
	}
	return true;
}

/* Every range is written before any is read back, so aliasing across ranges shows too. */
static bool mem_test(const struct boot_info *bi)
{
	struct range r[MEM_HOLES + 1];
	int n = mem_ranges(bi, r);
	uint64_t bytes = 0, bad;

	for (int i = 0; i < n; i++)
		mem_fill(r[i]);
	/* Not volatile, so the loops stay tight; this barrier keeps every store and every load. */
	__asm__ volatile("" ::: "memory");
	for (int i = 0; i < n; i++) {
		if (!mem_verify(r[i], &bad)) {
			kprint("toy: memory FAIL at 0x%lx\n", bad);
			return false;
		}
		bytes += r[i].end - r[i].base;
	}
	kprint("toy: memory ok %lu KiB\n", bytes / KIB);
	return true;
}

/* Eratosthenes over a bss bitmap: pure CPU and cache work, no exits when partitioned. */
static unsigned sieve(void)
{
	unsigned count = 0;

	for (uint64_t i = 2; i <= SIEVE_LIMIT; i++) {
		if (composite[i / WORD_BITS] >> (i % WORD_BITS) & 1)
			continue;
		count++;
		for (uint64_t j = i * i; j <= SIEVE_LIMIT; j += i)
			composite[j / WORD_BITS] |= 1ull << (j % WORD_BITS);
	}
	return count;
}

static void print_partition(void)
{
	int64_t ret = hypercall(HC_PARTITION_INFO, (uintptr_t)&partition);

	if (ret < 0)
		kprint("toy: partition info error %ld\n", ret);
	else
		kprint("toy: partition %u/%u cpu %u\n", partition.index, partition.partitions, partition.cpu);
}

void guest_main(uint32_t info)
{
	bool partitioned = rt_init();
	struct boot_info bi;
	uint64_t start;
	unsigned primes;

	if (boot_parse(info, &bi)) {
		kprint("toy: no usable memory range holds the image\n");
		guest_finish(1);
	}
	kprint("toy: %s apic %u slice 0x%lx-0x%lx\n", bi.name, cpu_apic_id(), bi.slice_base, bi.slice_end);
	if (partitioned)
		print_partition();
	if (!mem_test(&bi))
		guest_finish(1);
	start = rdtsc();
	primes = sieve();
	kprint("toy: sieve %u primes %u tsc %lu\n", SIEVE_LIMIT, primes, rdtsc() - start);
	for (uint64_t n = 1, beats = boot_arg_number(&bi, "beats", HEARTBEATS); n <= beats; n++) {
		tsc_wait(HEARTBEAT_TICKS);
		kprint("toy: heartbeat %lu\n", n);
	}
	kprint("toy: done\n");
	guest_finish(0);
}
