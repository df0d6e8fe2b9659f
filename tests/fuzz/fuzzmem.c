/* phys_ptr() for fuzz targets: NULL outside the mapped regions, exact-size copies in COPY mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzmem.h"
#include "phys.h"

#define MAX_REGIONS 4
#define COPY_ALIGN 16 /* copies keep addr % 16, so UBSan sees the alignment real memory has */

struct region {
	uint64_t addr;
	uint8_t *bytes;
	size_t len;
	enum fuzzmem_mode mode;
};

static struct region regions[MAX_REGIONS];
static unsigned region_count;
static unsigned lookups;

/* Copies handed out since the last reset: freed there, so pointers stay valid for one input. */
static void **copies;
static size_t copy_count, copy_cap;

static void fail(const char *what)
{
	fprintf(stderr, "fuzzmem: %s\n", what);
	abort();
}

void fuzzmem_map(uint64_t addr, void *bytes, size_t len, enum fuzzmem_mode mode)
{
	if (region_count == MAX_REGIONS)
		fail("too many regions");
	if (len == 0)
		return; /* nothing to read: phys_ptr answers NULL there, as for unmapped memory */
	if (addr + len < addr)
		fail("region wraps past 2^64");
	regions[region_count++] = (struct region){ addr, bytes, len, mode };
}

void fuzzmem_reset(void)
{
	for (size_t i = 0; i < copy_count; i++)
		free(copies[i]);
	copy_count = 0;
	region_count = 0;
	lookups = 0;
}

unsigned fuzzmem_lookups(void)
{
	return lookups;
}

static void *copy_out(const uint8_t *src, uint64_t addr, uint64_t len)
{
	size_t skew = addr % COPY_ALIGN;
	void *block = NULL;

	if (copy_count == copy_cap) {
		copy_cap = copy_cap ? copy_cap * 2 : 64;
		copies = realloc(copies, copy_cap * sizeof(*copies));
		if (!copies)
			fail("out of memory for the copy list");
	}
	/* Exactly skew + len bytes: ASan's redzone starts right after the last byte asked for. */
	if (posix_memalign(&block, COPY_ALIGN, skew + len ? skew + len : 1))
		fail("out of memory for a copy");
	copies[copy_count++] = block;
	memset(block, 0, skew);
	memcpy((uint8_t *)block + skew, src, len);
	return (uint8_t *)block + skew;
}

/* Like hv/phys.c: address 0 and wrapping ranges are never accessible. */
void *phys_ptr(uint64_t addr, uint64_t len)
{
	lookups++;
	if (addr == 0 || addr + len < addr)
		return NULL;
	for (unsigned i = 0; i < region_count; i++) {
		const struct region *r = &regions[i];
		uint8_t *p;

		if (addr < r->addr || addr - r->addr > r->len || len > r->len - (addr - r->addr))
			continue;
		p = r->bytes + (addr - r->addr);
		return r->mode == FUZZMEM_DIRECT ? p : copy_out(p, addr, len);
	}
	return NULL;
}
