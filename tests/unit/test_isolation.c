/* Unit tests for the isolation self-check: a clean EPT passes, every kind of stray leaf is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../arch/x86/ept.h"
#include "isolation.h"

#define SLICE_BASE MiB(64)
#define SLICE_SIZE MiB(64)
#define PAGES 16

static void *pages[PAGES];
static unsigned used;

static void *alloc(void *ctx)
{
	(void)ctx;
	if (used == PAGES)
		return NULL;
	pages[used] = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	memset(pages[used], 0, PAGE_SIZE);
	return pages[used++];
}

static int teardown(void **state)
{
	(void)state;
	while (used)
		free(pages[--used]);
	return 0;
}

/* RAM from 1 MiB to 512 MiB, and one firmware hole inside it at 256 MiB. */
static const struct boot_info machine = {
	.mmap = { { MiB(1), MiB(255), MEM_USABLE }, { MiB(256), MiB(2), MEM_RESERVED },
		  { MiB(258), MiB(254), MEM_USABLE } },
	.mmap_count = 3,
};
static const struct reserved_range forbid[] = {
	{ MiB(1), MiB(2), "hypervisor image" },
	{ MiB(200), MiB(264), "another partition's slice" },
};

/* The check with one region: the slice, read-write-execute. */
static int check_slice(const uint64_t *pml4, uint64_t gpa, uint64_t hpa, uint64_t size,
		       const struct reserved_range *no, unsigned n, uint64_t *leaves, err_t *e)
{
	struct isolation_region slice = { gpa, hpa, size, EPT_RWX, 0 };

	return isolation_check(pml4, &slice, 1, &machine, no, n, leaves, e);
}

static struct ept build(uint64_t max_leaf)
{
	struct ept ept;
	err_t e;

	assert_int_equal(ept_build(&ept, SLICE_BASE, SLICE_BASE, SLICE_SIZE, max_leaf, alloc, NULL, &e), 0);
	return ept;
}

static int check(const struct ept *ept, err_t *e)
{
	uint64_t leaves;

	return check_slice(ept->pml4, SLICE_BASE, SLICE_BASE, SLICE_SIZE, forbid, 2, &leaves, e);
}

/* The PD entry (2 MiB leaf) that maps gpa, to corrupt it. */
static uint64_t *pd_entry(const struct ept *ept, uint64_t gpa)
{
	uint64_t *pdpt = (uint64_t *)(uintptr_t)(ept->pml4[0] & EPT_ADDR_MASK);
	uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt[(gpa >> 30) & 511] & EPT_ADDR_MASK);

	return &pd[(gpa >> 21) & 511];
}

static void test_clean_slice_passes(void **state)
{
	struct ept ept = build(EPT_PAGE_2M);
	uint64_t leaves;
	err_t e;

	(void)state;
	assert_int_equal(check_slice(ept.pml4, SLICE_BASE, SLICE_BASE, SLICE_SIZE, forbid, 2, &leaves, &e), 0);
	assert_int_equal(leaves, SLICE_SIZE / MiB(2));
}

static void test_leaf_outside_slice(void **state)
{
	struct ept ept = build(EPT_PAGE_2M);
	err_t e;

	(void)state;
	/* One more identity leaf right after the slice. */
	*pd_entry(&ept, SLICE_BASE + SLICE_SIZE) = (SLICE_BASE + SLICE_SIZE) | *pd_entry(&ept, SLICE_BASE) % PAGE_SIZE;
	assert_int_equal(check(&ept, &e), -1);
	assert_non_null(strstr(e.msg, "outside its slice"));
}

static void test_non_identity_leaf(void **state)
{
	struct ept ept = build(EPT_PAGE_2M);
	uint64_t *entry = pd_entry(&ept, SLICE_BASE);
	err_t e;

	(void)state;
	*entry = (*entry % PAGE_SIZE) | (SLICE_BASE + MiB(2)); /* the slice's first page is its second */
	assert_int_equal(check(&ept, &e), -1);
	assert_non_null(strstr(e.msg, "not 0x"));
}

/* A Linux partition sees its slice at guest-physical 0: every leaf keeps that one offset. */
static void test_offset_slice(void **state)
{
	struct ept ept;
	uint64_t leaves, *pdpt, *pd;
	err_t e;

	(void)state;
	assert_int_equal(ept_build(&ept, 0, SLICE_BASE, SLICE_SIZE, EPT_PAGE_2M, alloc, NULL, &e), 0);
	assert_int_equal(check_slice(ept.pml4, 0, SLICE_BASE, SLICE_SIZE, forbid, 2, &leaves, &e), 0);
	assert_int_equal(leaves, SLICE_SIZE / MiB(2));
	/* The same tables judged as an identity map: the first leaf is not where it should be. */
	assert_int_equal(check_slice(ept.pml4, SLICE_BASE, SLICE_BASE, SLICE_SIZE, forbid, 2, &leaves, &e), -1);
	assert_non_null(strstr(e.msg, "guest-physical 0x0 maps host"));
	/* Two guest pages on one host page: the second leaf breaks the offset. */
	pdpt = (uint64_t *)(uintptr_t)(ept.pml4[0] & EPT_ADDR_MASK);
	pd = (uint64_t *)(uintptr_t)(pdpt[0] & EPT_ADDR_MASK);
	pd[1] = pd[0];
	assert_int_equal(check_slice(ept.pml4, 0, SLICE_BASE, SLICE_SIZE, forbid, 2, &leaves, &e), -1);
	assert_non_null(strstr(e.msg, "guest-physical 0x200000 maps host"));
}

static void test_forbidden_and_non_ram(void **state)
{
	struct ept ept;
	uint64_t leaves;
	err_t e;

	(void)state;
	/* A slice that (wrongly) covers another partition's range and the firmware hole. */
	assert_int_equal(ept_build(&ept, MiB(192), MiB(192), MiB(64), EPT_PAGE_2M, alloc, NULL, &e), 0);
	assert_int_equal(check_slice(ept.pml4, MiB(192), MiB(192), MiB(64), forbid, 2, &leaves, &e), -1);
	assert_non_null(strstr(e.msg, "maps another partition's slice"));
	assert_int_equal(ept_build(&ept, MiB(254), MiB(254), MiB(4), EPT_PAGE_2M, alloc, NULL, &e), 0);
	assert_int_equal(check_slice(ept.pml4, MiB(254), MiB(254), MiB(4), NULL, 0, &leaves, &e), -1);
	assert_non_null(strstr(e.msg, "not usable RAM"));
}

/* A channel: mapped with exactly its rights and in full, or the check names what differs. */
static void test_channel_rights_and_coverage(void **state)
{
	struct ept ept = build(EPT_PAGE_2M);
	struct isolation_region r[2] = { { SLICE_BASE, SLICE_BASE, SLICE_SIZE, EPT_RWX, 0 },
					 { MiB(300), MiB(300), KiB(64), EPT_READ, 0 } };
	uint64_t leaves;
	err_t e;

	(void)state;
	assert_int_equal(ept_map(&ept, MiB(300), MiB(300), KiB(64), EPT_READ, &e), 0);
	assert_int_equal(isolation_check(ept.pml4, r, 2, &machine, forbid, 2, &leaves, &e), 0);
	assert_int_equal(leaves, SLICE_SIZE / MiB(2) + KiB(64) / KiB(4));
	assert_int_equal(r[1].mapped, KiB(64));
	r[0].mapped = r[1].mapped = 0;
	r[1].rights = EPT_READ | EPT_WRITE; /* the config said writer: a read-only map is wrong too */
	assert_int_equal(isolation_check(ept.pml4, r, 2, &machine, forbid, 2, &leaves, &e), -1);
	assert_non_null(strstr(e.msg, "has rights 0x1, not 0x3"));
	r[0].mapped = r[1].mapped = 0;
	r[1].rights = EPT_READ;
	r[1].size = KiB(128); /* a page of the channel missing */
	assert_int_equal(isolation_check(ept.pml4, r, 2, &machine, forbid, 2, &leaves, &e), -1);
	assert_non_null(strstr(e.msg, "maps 0x10000 of the 0x20000 bytes at guest-physical 0x12c00000"));
}

/* A range that overlaps one already mapped is refused, not written over the slice's leaves. */
static void test_map_refuses_overlap(void **state)
{
	struct ept ept = build(EPT_PAGE_2M);
	err_t e;

	(void)state;
	assert_int_equal(ept_map(&ept, SLICE_BASE + MiB(2), MiB(300), KiB(4), EPT_READ, &e), -1);
	assert_non_null(strstr(e.msg, "overlaps a range already mapped"));
	assert_int_equal(ept_map(&ept, SLICE_BASE, MiB(300), MiB(2), EPT_READ, &e), -1);
	assert_non_null(strstr(e.msg, "overlaps a range already mapped"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_clean_slice_passes, teardown),
		cmocka_unit_test_teardown(test_leaf_outside_slice, teardown),
		cmocka_unit_test_teardown(test_non_identity_leaf, teardown),
		cmocka_unit_test_teardown(test_offset_slice, teardown),
		cmocka_unit_test_teardown(test_forbidden_and_non_ram, teardown),
		cmocka_unit_test_teardown(test_channel_rights_and_coverage, teardown),
		cmocka_unit_test_teardown(test_map_refuses_overlap, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
