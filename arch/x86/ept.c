/* EPT builder: maps one slice with the largest leaves alignment allows (SDM Vol 3C 29.3). */
#include "ept.h"

/* Each level indexes 9 address bits, above the 12-bit page offset (SDM 29.3.2). */
#define EPT_ENTRIES     512
#define EPT_INDEX_BITS  9
#define EPT_PAGE_SHIFT  12
#define EPT_LEVEL_PT    0 /* entries map 4 KiB pages */
#define EPT_LEVEL_PD    1 /* entries map 2 MiB pages or point at a page table */
#define EPT_LEVEL_PDPT  2 /* entries map 1 GiB pages or point at a page directory */
#define EPT_LEVEL_PML4  3 /* entries always point at a PDPT: there are no 512 GiB pages */

/* A leaf's memory type; a non-leaf entry holds only RWX and the table address. */
#define EPT_LEAF_TYPE   (EPT_MEMTYPE_WB << EPT_MEMTYPE_SHIFT)

struct ept_builder {
	struct ept *ept;
	unsigned max_leaf_level;
	uint64_t offset; /* host-physical minus guest-physical: 0 for an identity map */
	uint64_t leaf_bits;
	const char *fail; /* why map_range stopped */
};

static uint64_t level_span(unsigned level)
{
	return EPT_PAGE_4K << (EPT_INDEX_BITS * level);
}

static unsigned level_index(uint64_t addr, unsigned level)
{
	return (addr >> (EPT_PAGE_SHIFT + EPT_INDEX_BITS * level)) & (EPT_ENTRIES - 1);
}

/* Tables live in identity-mapped memory, so an entry's address field is also a pointer. */
static uint64_t *entry_table(uint64_t entry)
{
	return (uint64_t *)(uintptr_t)(entry & EPT_ADDR_MASK);
}

static void count_leaf(struct ept_stats *st, unsigned level)
{
	if (level == EPT_LEVEL_PT)
		st->leaves_4k++;
	else if (level == EPT_LEVEL_PD)
		st->leaves_2m++;
	else
		st->leaves_1g++;
}

static uint64_t *next_table(struct ept_builder *b, uint64_t *entry, unsigned level)
{
	if (*entry && level != EPT_LEVEL_PML4 && (*entry & EPT_LEAF)) {
		b->fail = "overlaps a range already mapped";
		return NULL;
	}
	if (!*entry) {
		void *page = b->ept->alloc(b->ept->ctx);

		if (!page) {
			b->fail = "out of memory";
			return NULL;
		}
		b->ept->stats.tables++;
		*entry = (uint64_t)(uintptr_t)page | EPT_RWX;
	}
	return entry_table(*entry);
}

/* Map [start, end), which lies inside the region table covers, with the largest leaves that fit. */
static int map_range(struct ept_builder *b, uint64_t *table, unsigned level, uint64_t start,
		     uint64_t end)
{
	uint64_t span = level_span(level);

	while (start < end) {
		uint64_t next = ALIGN_DOWN(start, span) + span;
		uint64_t stop = next < end ? next : end;
		uint64_t *entry = &table[level_index(start, level)];

		if (level <= b->max_leaf_level && (start | b->offset) % span == 0 && stop == next) {
			if (*entry) {
				b->fail = "overlaps a range already mapped";
				return -1;
			}
			*entry = (start + b->offset) | b->leaf_bits | (level != EPT_LEVEL_PT ? EPT_LEAF : 0);
			count_leaf(&b->ept->stats, level);
		} else {
			uint64_t *sub = next_table(b, entry, level);

			if (!sub || map_range(b, sub, level - 1, start, stop))
				return -1;
		}
		start = stop;
	}
	return 0;
}

static int leaf_level(uint64_t max_leaf, unsigned *level)
{
	for (unsigned l = EPT_LEVEL_PT; l <= EPT_LEVEL_PDPT; l++) {
		if (level_span(l) == max_leaf) {
			*level = l;
			return 0;
		}
	}
	return -1;
}

int ept_build(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t max_leaf,
	      ept_alloc_fn alloc, void *ctx, err_t *e)
{
	*ept = (struct ept){ .stats.tables = 1, .max_leaf = max_leaf, .alloc = alloc, .ctx = ctx };
	if (!(ept->pml4 = alloc(ctx)))
		return err_set(e, "ept: out of memory for the PML4");
	return ept_map(ept, gpa, hpa, size, EPT_RWX, e);
}

int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t rights, err_t *e)
{
	struct ept_builder b = { .ept = ept, .offset = hpa - gpa, .leaf_bits = rights | EPT_LEAF_TYPE };

	if (leaf_level(ept->max_leaf, &b.max_leaf_level))
		return err_set(e, "ept: max leaf size 0x%lx is not 4 KiB, 2 MiB or 1 GiB", ept->max_leaf);
	if (size == 0 || (gpa | hpa | size) % EPT_PAGE_4K)
		return err_set(e, "ept: range 0x%lx+0x%lx at guest 0x%lx is empty or not 4 KiB aligned",
			       hpa, size, gpa);
	if (gpa >= EPT_GPA_LIMIT || size > EPT_GPA_LIMIT - gpa || hpa >= EPT_GPA_LIMIT ||
	    size > EPT_GPA_LIMIT - hpa)
		return err_set(e, "ept: range 0x%lx+0x%lx at guest 0x%lx is beyond 48-bit physical "
			       "addresses", hpa, size, gpa);
	if (map_range(&b, ept->pml4, EPT_LEVEL_PML4, gpa, gpa + size))
		return err_set(e, "ept: range 0x%lx+0x%lx at guest 0x%lx: %s after %u table pages", hpa, size,
			       gpa, b.fail, ept->stats.tables);
	return 0;
}

uint64_t ept_pointer(const struct ept *ept)
{
	return (uint64_t)(uintptr_t)ept->pml4 | EPTP_MEMTYPE_WB |
	       ((uint64_t)(EPT_LEVELS - 1) << EPTP_WALK_SHIFT);
}

/* An entry with R, W and X all clear is not present (SDM 29.3.2); bit 7 ends the walk early. */
bool ept_translate(const uint64_t *pml4, uint64_t gpa, uint64_t *hpa, uint64_t *leaf_size)
{
	const uint64_t *table = pml4;

	if (gpa >= EPT_GPA_LIMIT)
		return false;
	for (unsigned level = EPT_LEVEL_PML4;; level--) {
		uint64_t entry = table[level_index(gpa, level)];
		uint64_t span = level_span(level);

		if (!(entry & EPT_RWX))
			return false;
		if (level == EPT_LEVEL_PT || (level != EPT_LEVEL_PML4 && (entry & EPT_LEAF))) {
			*hpa = (entry & EPT_ADDR_MASK & ~(span - 1)) | (gpa & (span - 1));
			*leaf_size = span;
			return true;
		}
		table = entry_table(entry);
	}
}

static int walk(const uint64_t *table, unsigned level, uint64_t gpa, ept_leaf_fn fn, void *ctx)
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		uint64_t entry = table[i], span = level_span(level), at = gpa + i * span;

		if (!(entry & EPT_RWX))
			continue;
		if (level == EPT_LEVEL_PT || (level != EPT_LEVEL_PML4 && (entry & EPT_LEAF))) {
			if (fn(ctx, at, entry & EPT_ADDR_MASK & ~(span - 1), span, entry) < 0)
				return -1;
		} else if (walk(entry_table(entry), level - 1, at, fn, ctx) < 0) {
			return -1;
		}
	}
	return 0;
}

int ept_for_each_leaf(const uint64_t *pml4, ept_leaf_fn fn, void *ctx)
{
	return walk(pml4, EPT_LEVEL_PML4, 0, fn, ctx);
}
