/* The Linux loader's fuzz harness, shared by its two routes: the input is the kernel file. */
#ifndef TESTS_FUZZ_FUZZ_LINUX_H
#define TESTS_FUZZ_FUZZ_LINUX_H

#include "fuzz.h"
#include "fuzzmem.h"
#include "linux.h"

/* A slice at 1 GiB host-physical, guest-physical [0, SLICE_SIZE); fake RAM either side. */
#define SLICE_BASE  GiB(1)
#define GUARD       KiB(64)
#define MEM_BASE    (SLICE_BASE - GUARD)
#define POISON      0xa5
#define INITRD_SIZE 0x1801u
#define CMDLINE     "console=ttyS0 quiet"

static uint8_t *mem;   /* fake physical memory [MEM_BASE, MEM_BASE + GUARD + size + GUARD) */
static uint8_t initrd[INITRD_SIZE];

static uint8_t *at(uint64_t gpa)
{
	return mem + GUARD + gpa;
}

/* Guest-physical [gpa, gpa + len) (or the guards, from -GUARD) still holds POISON. */
static bool untouched(int64_t gpa, uint64_t len)
{
	const uint8_t *p = mem + GUARD + gpa;

	return len == 0 || (p[0] == POISON && memcmp(p, p + 1, len - 1) == 0);
}

/* Only the low 1 MiB, the kernel and the initrd were written, all inside the slice. */
static void check_common(const struct linux_entry *o, uint64_t size)
{
	uint64_t rd_end = o->initrd_start + INITRD_SIZE, lo_start, lo_end, hi_start, hi_end;
	bool below = o->kernel_start < o->initrd_start; /* the kernel lies below the initrd */

	FUZZ_CHECK(untouched(-(int64_t)GUARD, GUARD) && untouched((int64_t)size, GUARD),
		   "bytes outside the slice were written");
	FUZZ_CHECK(o->kernel_start >= LINUX_HIGH_RAM_GPA && o->kernel_start < o->kernel_end &&
		   o->kernel_end <= size, "kernel [0x%lx, 0x%lx) is not in RAM above 1 MiB",
		   o->kernel_start, o->kernel_end);
	FUZZ_CHECK(o->ip >= o->kernel_start && o->ip < o->kernel_end, "entry 0x%lx is outside the kernel",
		   o->ip);
	FUZZ_CHECK(o->initrd_start >= LINUX_HIGH_RAM_GPA && rd_end <= size && o->initrd_start % PAGE_SIZE == 0 &&
		   !range_overlaps(o->initrd_start, rd_end, o->kernel_start, o->kernel_end),
		   "initrd at 0x%lx is not page aligned in RAM beside the kernel", o->initrd_start);
	FUZZ_CHECK(memcmp(at(o->initrd_start), initrd, INITRD_SIZE) == 0, "initrd not copied");
	lo_start = below ? o->kernel_start : o->initrd_start;
	lo_end = below ? o->kernel_end : rd_end;
	hi_start = below ? o->initrd_start : o->kernel_start;
	hi_end = below ? rd_end : o->kernel_end;
	FUZZ_CHECK(untouched(LINUX_HIGH_RAM_GPA, lo_start - LINUX_HIGH_RAM_GPA) &&
		   untouched(lo_end, hi_start - lo_end) && untouched(hi_end, size - hi_end),
		   "bytes outside the kernel and initrd were written");
	FUZZ_CHECK(strcmp((const char *)at(LINUX_CMDLINE_GPA), CMDLINE) == 0, "command line not written");
	FUZZ_CHECK(o->boot_info == LINUX_BOOT_INFO_GPA, "boot information at 0x%lx", o->boot_info);
}

/*
 * Probe the input as hv/partition.c does; a kernel of the route's, load into a poisoned slice,
 * check what was written, re-poison. Inputs of the other route, or none, are left alone.
 */
static int fuzz_linux(const uint8_t *data, size_t size, uint64_t slice_size, enum linux_route route,
		      void (*check)(const struct linux_entry *, uint64_t))
{
	struct linux_boot b = { .base = SLICE_BASE, .size = slice_size, .kernel = data,
				.kernel_size = size, .initrd = initrd, .initrd_size = INITRD_SIZE,
				.cmdline = CMDLINE, .x2apic_id = 7 };
	struct linux_entry o = { 0 };
	err_t e = { "" };

	if (!mem) {
		mem = malloc(GUARD + slice_size + GUARD);
		if (!mem)
			abort();
		memset(mem, POISON, GUARD + slice_size + GUARD);
		for (unsigned i = 0; i < INITRD_SIZE; i++)
			initrd[i] = (uint8_t)(i * 3 + 1);
	}
	if (linux_probe(data, size, &o, &e) == 0 && o.route != route)
		return 0;
	fuzzmem_map(MEM_BASE, mem, GUARD + slice_size + GUARD, FUZZMEM_DIRECT);
	if (o.route == route && linux_load(&b, &o, &e) == 0) {
		check_common(&o, slice_size);
		check(&o, slice_size);
		FUZZ_SAY("loaded [0x%lx, 0x%lx), entry 0x%lx\n", o.kernel_start, o.kernel_end, o.ip);
		memset(at(0), POISON, LINUX_HIGH_RAM_GPA);
		memset(at(o.kernel_start), POISON, o.kernel_end - o.kernel_start);
		memset(at(o.initrd_start), POISON, INITRD_SIZE);
	} else {
		fuzz_check_error(&e);
		FUZZ_CHECK(!fuzzmem_lookups() || untouched(-(int64_t)GUARD, GUARD + slice_size + GUARD),
			   "a rejected kernel wrote to memory: %s", e.msg);
	}
	fuzzmem_reset();
	return 0;
}

#endif
