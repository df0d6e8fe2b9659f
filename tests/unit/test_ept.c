/* Unit tests for the EPT builder: leaf choice, exact table counts, coverage and isolation by walks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ept.h"

#define MAX_PAGES 64
#define EPT_ENTRIES 512
#define RANDOM_SAMPLES 4096
#define EPTP_LOW_BITS 0xfffull
#define WB_LEAF_LOW (EPT_RWX | (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT))

/* A page allocator with a budget, so running out of table pages can be tested. */
struct pool {
	void *page[MAX_PAGES];
	unsigned used, budget;
};

static void *pool_alloc(void *ctx)
{
	struct pool *p = ctx;
	void *page;

	if (p->used == p->budget || p->used == MAX_PAGES)
		return NULL;
	page = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	assert_non_null(page);
	memset(page, 0, PAGE_SIZE);
	p->page[p->used++] = page;
	return page;
}

static void pool_free(struct pool *p)
{
	for (unsigned i = 0; i < p->used; i++)
		free(p->page[i]);
	p->used = 0;
}

static struct ept build(struct pool *p, uint64_t base, uint64_t size, uint64_t max_leaf)
{
	struct ept ept;
	err_t e = { "" };

	p->used = 0;
	p->budget = MAX_PAGES;
	if (ept_build(&ept, base, base, size, max_leaf, pool_alloc, p, &e))
		fail_msg("ept_build failed: %s", e.msg);
	assert_int_equal(ept.stats.tables, p->used);
	return ept;
}

/* Every leaf in the whole tree must lie inside [base, end) and carry RWX + WB, IPAT clear. */
static void scan_tree(const uint64_t *table, int level, uint64_t va, uint64_t base, uint64_t end,
		      struct ept_stats *seen)
{
	uint64_t span = KiB(4) << (9 * level);

	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		uint64_t entry = table[i], addr = va + i * span;

		if (!entry)
			continue;
		if (level == 0 || (level < 3 && (entry & EPT_LEAF))) {
			assert_true(addr >= base && addr + span <= end);
			assert_int_equal(entry & EPT_ADDR_MASK, addr);
			assert_int_equal(entry & ~EPT_ADDR_MASK & ~EPT_LEAF, WB_LEAF_LOW);
			assert_int_equal(entry & EPT_IGNORE_PAT, 0);
			*(level == 0 ? &seen->leaves_4k : level == 1 ? &seen->leaves_2m : &seen->leaves_1g) += 1;
			continue;
		}
		assert_int_equal(entry & ~EPT_ADDR_MASK, EPT_RWX); /* bits 7:3 reserved in non-leaves */
		seen->tables++;
		scan_tree((const uint64_t *)(uintptr_t)(entry & EPT_ADDR_MASK), level - 1, addr, base,
			  end, seen);
	}
}

/* Walk leaf by leaf through the slice (coverage, identity), then random samples and the edges. */
static void check_map(const struct ept *ept, uint64_t base, uint64_t size)
{
	uint64_t end = base + size, hpa, leaf, addr = base, rnd = 0x9e3779b97f4a7c15ull;
	struct ept_stats walked = { 0 }, scanned = { 1, 0, 0, 0 };

	while (addr < end) {
		assert_true(ept_translate(ept->pml4, addr, &hpa, &leaf));
		assert_int_equal(hpa, addr);
		assert_int_equal(addr % leaf, 0);
		*(leaf == KiB(4) ? &walked.leaves_4k : leaf == MiB(2) ? &walked.leaves_2m : &walked.leaves_1g) += 1;
		addr += leaf;
	}
	assert_int_equal(addr, end);
	assert_int_equal(walked.leaves_4k, ept->stats.leaves_4k);
	assert_int_equal(walked.leaves_2m, ept->stats.leaves_2m);
	assert_int_equal(walked.leaves_1g, ept->stats.leaves_1g);
	for (int i = 0; i < RANDOM_SAMPLES; i++) {
		uint64_t gpa;

		rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
		gpa = base + rnd % size;
		assert_true(ept_translate(ept->pml4, gpa, &hpa, &leaf));
		assert_int_equal(hpa, gpa);
	}
	assert_true(ept_translate(ept->pml4, end - 1, &hpa, &leaf));
	assert_int_equal(hpa, end - 1);
	if (base)
		assert_false(ept_translate(ept->pml4, base - 1, &hpa, &leaf));
	assert_false(ept_translate(ept->pml4, end, &hpa, &leaf));
	scan_tree(ept->pml4, 3, 0, base, end, &scanned);
	assert_int_equal(scanned.tables, ept->stats.tables);
	assert_int_equal(scanned.leaves_4k, ept->stats.leaves_4k);
	assert_int_equal(scanned.leaves_2m, ept->stats.leaves_2m);
	assert_int_equal(scanned.leaves_1g, ept->stats.leaves_1g);
}

static void expect(uint64_t base, uint64_t size, uint64_t max_leaf, unsigned tables, uint64_t n4k,
		   uint64_t n2m, uint64_t n1g)
{
	struct pool p;
	struct ept ept = build(&p, base, size, max_leaf);

	check_map(&ept, base, size);
	assert_int_equal(ept.stats.tables, tables);
	assert_int_equal(ept.stats.leaves_4k, n4k);
	assert_int_equal(ept.stats.leaves_2m, n2m);
	assert_int_equal(ept.stats.leaves_1g, n1g);
	pool_free(&p);
}

static void test_one_gig_leaf(void **state)
{
	(void)state;
	expect(GiB(1), GiB(1), EPT_PAGE_1G, 2, 0, 0, 1);
}

static void test_one_gig_without_1g_pages(void **state)
{
	(void)state;
	expect(GiB(1), GiB(1), EPT_PAGE_2M, 3, 0, 512, 0);
}

static void test_64m_at_2m_alignment(void **state)
{
	(void)state;
	expect(MiB(128), MiB(64), EPT_PAGE_1G, 3, 0, 32, 0);
	expect(MiB(2), MiB(64), EPT_PAGE_1G, 3, 0, 32, 0);
}

static void test_forced_4k(void **state)
{
	(void)state;
	expect(MiB(128), MiB(64), EPT_PAGE_4K, 3 + 32, 16384, 0, 0);
}

static void test_4k_aligned_slice(void **state)
{
	(void)state;
	/* 4 KiB pages up to the first 2 MiB boundary, 2 MiB pages, then 4 KiB pages again. */
	expect(MiB(2) - KiB(8), MiB(4) + KiB(12), EPT_PAGE_1G, 5, 3, 2, 0);
	expect(0, KiB(4), EPT_PAGE_1G, 4, 1, 0, 0);
}

static void test_crosses_1g_boundary(void **state)
{
	(void)state;
	/* [1G-4M+4K, 1G-2M) 511 x 4K; 1 x 2M; [1G, 2G) 1 x 1G; 1 x 2M; 2 x 4K. */
	expect(GiB(1) - MiB(4) + KiB(4), MiB(4) - KiB(4) + GiB(1) + MiB(2) + KiB(8), EPT_PAGE_1G, 6,
	       513, 2, 1);
	/* Two 2 MiB pages straddling a 1 GiB boundary need one page directory each. */
	expect(GiB(1) - MiB(2), MiB(4), EPT_PAGE_1G, 4, 0, 2, 0);
}

static void test_crosses_512g_boundary(void **state)
{
	(void)state;
	expect(GiB(511), GiB(2), EPT_PAGE_1G, 3, 0, 0, 2);
	expect(GiB(511), GiB(2), EPT_PAGE_2M, 5, 0, 1024, 0);
	expect(GiB(512) - MiB(2), MiB(4), EPT_PAGE_1G, 5, 0, 2, 0);
}

static void test_top_of_48_bits(void **state)
{
	(void)state;
	expect(EPT_GPA_LIMIT - GiB(1), GiB(1), EPT_PAGE_1G, 2, 0, 0, 1);
}

static void test_entry_bits_and_eptp(void **state)
{
	struct pool p;
	struct ept ept = build(&p, MiB(2), MiB(2), EPT_PAGE_2M);
	const uint64_t *pdpt = (const uint64_t *)(uintptr_t)(ept.pml4[0] & EPT_ADDR_MASK);
	const uint64_t *pd = (const uint64_t *)(uintptr_t)(pdpt[0] & EPT_ADDR_MASK);

	(void)state;
	assert_int_equal(ept.pml4[0] & ~EPT_ADDR_MASK, EPT_READ | EPT_WRITE | EPT_EXEC);
	/* RWX, WB (6) in bits 5:3, bit 7 for a 2 MiB page, IPAT clear: 0xb7. */
	assert_int_equal(pd[1], MiB(2) | 0xb7);
	assert_int_equal(pd[0], 0);
	assert_int_equal(pd[2], 0);
	/* EPTP: WB (6) in bits 2:0, walk length 4 encoded as 3 in bits 5:3: 0x1e. */
	assert_int_equal(ept_pointer(&ept) & EPTP_LOW_BITS, 0x1e);
	assert_int_equal(ept_pointer(&ept) & ~EPTP_LOW_BITS, (uintptr_t)ept.pml4);
	pool_free(&p);
}

/* A Linux partition's map: guest-physical 0 up backed by a slice elsewhere; leaves need both
 * addresses aligned, so a 1 GiB-aligned guest range over a 2 MiB-aligned slice gets 2 MiB pages. */
static void test_offset_map(void **state)
{
	struct pool p = { .budget = MAX_PAGES };
	struct ept ept;
	uint64_t hpa = 0, size = 0;
	err_t e = { "" };

	(void)state;
	assert_int_equal(ept_build(&ept, 0, GiB(5) + MiB(2), GiB(1), EPT_PAGE_1G, pool_alloc, &p, &e), 0);
	assert_int_equal(ept.stats.leaves_1g, 0);
	assert_int_equal(ept.stats.leaves_2m, 512);
	assert_true(ept_translate(ept.pml4, 0, &hpa, &size));
	assert_int_equal(hpa, GiB(5) + MiB(2));
	assert_true(ept_translate(ept.pml4, GiB(1) - 8, &hpa, &size));
	assert_int_equal(hpa, GiB(6) + MiB(2) - 8);
	assert_false(ept_translate(ept.pml4, GiB(1), &hpa, &size));
	assert_false(ept_translate(ept.pml4, GiB(5) + MiB(2), &hpa, &size));
	pool_free(&p);
	p.budget = MAX_PAGES;
	assert_int_equal(ept_build(&ept, 0, GiB(4), GiB(2), EPT_PAGE_1G, pool_alloc, &p, &e), 0);
	assert_int_equal(ept.stats.leaves_1g, 2);
	pool_free(&p);
}

static void expect_error(uint64_t base, uint64_t size, uint64_t max_leaf, unsigned budget,
			 const char *what)
{
	struct pool p = { .budget = budget };
	struct ept ept;
	err_t e = { "" };

	assert_int_equal(ept_build(&ept, base, base, size, max_leaf, pool_alloc, &p, &e), -1);
	if (!strstr(e.msg, what))
		fail_msg("expected '%s' in '%s'", what, e.msg);
	pool_free(&p);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(MiB(2), 0, EPT_PAGE_2M, MAX_PAGES, "empty or not 4 KiB aligned");
	expect_error(MiB(2) + 1, MiB(2), EPT_PAGE_2M, MAX_PAGES, "not 4 KiB aligned");
	expect_error(MiB(2), MiB(2) + 8, EPT_PAGE_2M, MAX_PAGES, "not 4 KiB aligned");
	expect_error(MiB(2), MiB(2), MiB(4), MAX_PAGES, "max leaf size 0x400000");
	expect_error(MiB(2), MiB(2), 0, MAX_PAGES, "max leaf size");
	expect_error(EPT_GPA_LIMIT - MiB(2), MiB(4), EPT_PAGE_2M, MAX_PAGES, "48-bit");
	expect_error(EPT_GPA_LIMIT, KiB(4), EPT_PAGE_2M, MAX_PAGES, "48-bit");
	expect_error(UINT64_MAX - KiB(4) + 1, KiB(4), EPT_PAGE_2M, MAX_PAGES, "48-bit");
	expect_error(MiB(2), MiB(2), EPT_PAGE_2M, 0, "out of memory for the PML4");
	expect_error(MiB(2), MiB(2), EPT_PAGE_2M, 2, "out of memory after 2 table pages");
	expect_error(MiB(2), MiB(4), EPT_PAGE_4K, 4, "out of memory after 4 table pages");
}

static void test_unmapped_everywhere_else(void **state)
{
	struct pool p;
	struct ept ept = build(&p, GiB(3), MiB(6), EPT_PAGE_1G);
	uint64_t hpa, leaf;
	const uint64_t probes[] = { 0, GiB(1), GiB(3) - KiB(4), GiB(3) + MiB(6), GiB(4), GiB(512) + GiB(3),
				    EPT_GPA_LIMIT - 1, EPT_GPA_LIMIT, UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
		assert_false(ept_translate(ept.pml4, probes[i], &hpa, &leaf));
	pool_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_gig_leaf),
		cmocka_unit_test(test_one_gig_without_1g_pages),
		cmocka_unit_test(test_64m_at_2m_alignment),
		cmocka_unit_test(test_forced_4k),
		cmocka_unit_test(test_4k_aligned_slice),
		cmocka_unit_test(test_crosses_1g_boundary),
		cmocka_unit_test(test_crosses_512g_boundary),
		cmocka_unit_test(test_top_of_48_bits),
		cmocka_unit_test(test_entry_bits_and_eptp),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_offset_map),
		cmocka_unit_test(test_unmapped_everywhere_else),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
