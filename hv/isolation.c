/* The isolation self-check: an independent walk of each partition's EPT before it may launch. */
#include "isolation.h"
#include "arch.h"

struct leaf_check {
	struct isolation_region *regions;
	unsigned count;
	const struct boot_info *bi;
	const struct reserved_range *forbid;
	unsigned forbid_count;
	uint64_t leaves;
	err_t *e;
};

static int check_leaf(void *ctx, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t entry)
{
	struct leaf_check *x = ctx;
	struct isolation_region *r = x->regions;
	uint64_t end = hpa + size;

	x->leaves++;
	while (r < x->regions + x->count && (hpa < r->hpa || end > r->hpa + r->size))
		r++;
	if (r == x->regions + x->count)
		return err_set(x->e, "leaf 0x%lx-0x%lx lies outside its slice and channels", hpa, end - 1);
	if (hpa - gpa != r->hpa - r->gpa)
		return err_set(x->e, "leaf at guest-physical 0x%lx maps host 0x%lx, not 0x%lx", gpa, hpa,
			       gpa - r->gpa + r->hpa);
	if ((entry & EPT_RWX) != r->rights)
		return err_set(x->e, "leaf at guest-physical 0x%lx has rights 0x%lx, not 0x%lx", gpa,
			       (uint64_t)(entry & EPT_RWX), r->rights);
	if (!config_in_usable_ram(x->bi->mmap, x->bi->mmap_count, hpa, end))
		return err_set(x->e, "leaf 0x%lx-0x%lx is not usable RAM (MMIO or firmware)", hpa, end - 1);
	for (unsigned i = 0; i < x->forbid_count; i++)
		if (range_overlaps(hpa, end, x->forbid[i].start, x->forbid[i].end))
			return err_set(x->e, "leaf 0x%lx-0x%lx maps %s", hpa, end - 1, x->forbid[i].name);
	r->mapped += size;
	return 0;
}

int isolation_check(const uint64_t *pml4, struct isolation_region *regions, unsigned count,
		    const struct boot_info *bi, const struct reserved_range *forbid, unsigned forbid_count,
		    uint64_t *leaves, err_t *e)
{
	struct leaf_check x = { regions, count, bi, forbid, forbid_count, 0, e };
	int r = ept_for_each_leaf(pml4, check_leaf, &x);

	*leaves = x.leaves;
	for (unsigned i = 0; i < count && r == 0; i++)
		if (regions[i].mapped != regions[i].size)
			r = err_set(e, "maps 0x%lx of the 0x%lx bytes at guest-physical 0x%lx", regions[i].mapped,
				    regions[i].size, regions[i].gpa);
	return r;
}
