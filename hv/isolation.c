/* The isolation self-check: an independent walk of each partition's EPT before it may launch. */
#include "isolation.h"
#include "arch.h"

struct leaf_check {
	uint64_t gpa, base, end; /* the slice's guest-physical start and host-physical range */
	const struct boot_info *bi;
	const struct reserved_range *forbid;
	unsigned forbid_count;
	uint64_t leaves;
	err_t *e;
};

static int check_leaf(void *ctx, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t entry)
{
	struct leaf_check *x = ctx;
	uint64_t end = hpa + size;

	(void)entry;
	x->leaves++;
	if (hpa - gpa != x->base - x->gpa)
		return err_set(x->e, "leaf at guest-physical 0x%lx maps host 0x%lx, not 0x%lx", gpa, hpa,
			       gpa - x->gpa + x->base);
	if (hpa < x->base || end > x->end)
		return err_set(x->e, "leaf 0x%lx-0x%lx lies outside its slice", hpa, end - 1);
	if (!config_in_usable_ram(x->bi->mmap, x->bi->mmap_count, hpa, end))
		return err_set(x->e, "leaf 0x%lx-0x%lx is not usable RAM (MMIO or firmware)", hpa, end - 1);
	for (unsigned i = 0; i < x->forbid_count; i++)
		if (range_overlaps(hpa, end, x->forbid[i].start, x->forbid[i].end))
			return err_set(x->e, "leaf 0x%lx-0x%lx maps %s", hpa, end - 1, x->forbid[i].name);
	return 0;
}

int isolation_check(const uint64_t *pml4, uint64_t gpa, uint64_t base, uint64_t size,
		    const struct boot_info *bi, const struct reserved_range *forbid, unsigned forbid_count,
		    uint64_t *leaves, err_t *e)
{
	struct leaf_check x = { gpa, base, base + size, bi, forbid, forbid_count, 0, e };
	int r = ept_for_each_leaf(pml4, check_leaf, &x);

	*leaves = x.leaves;
	return r;
}
