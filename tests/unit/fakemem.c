/* Host implementation of phys_ptr() over a bounded static buffer, so parsers run under ASan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakemem.h"
#include "phys.h"

static uint8_t fakemem[FAKEMEM_MAX] __attribute__((aligned(PAGE_SIZE)));
static uint64_t fakemem_size = FAKEMEM_SIZE;

void fakemem_set_size(uint64_t size)
{
	if (size > FAKEMEM_MAX) {
		fprintf(stderr, "fakemem_set_size(0x%lx) is above FAKEMEM_MAX\n", size);
		abort();
	}
	fakemem_size = size;
}

/* Like hv/phys.c, page 0 is never accessible, so address 0 behaves as "no table". */
void *phys_ptr(uint64_t addr, uint64_t len)
{
	if (addr == 0 || addr > fakemem_size || len > fakemem_size - addr)
		return NULL;
	return fakemem + addr;
}

void fakemem_reset(void)
{
	memset(fakemem, 0, fakemem_size);
}

void fakemem_write(uint64_t addr, const void *src, size_t len)
{
	if (addr > fakemem_size || len > fakemem_size - addr) {
		fprintf(stderr, "fakemem_write(0x%lx, %zu) is outside fake memory\n", addr, len);
		abort();
	}
	memcpy(fakemem + addr, src, len);
}

void fakemem_w8(uint64_t addr, uint8_t v) { fakemem_write(addr, &v, sizeof(v)); }
void fakemem_w16(uint64_t addr, uint16_t v) { fakemem_write(addr, &v, sizeof(v)); }
void fakemem_w32(uint64_t addr, uint32_t v) { fakemem_write(addr, &v, sizeof(v)); }
void fakemem_w64(uint64_t addr, uint64_t v) { fakemem_write(addr, &v, sizeof(v)); }

uint64_t fakemem_addr(const void *p)
{
	return (uint64_t)((uintptr_t)p - (uintptr_t)fakemem);
}
