/* The page heap: a bump allocator over [base, base + size), enough for tables built once at boot. */
#include "heap.h"
#include "string.h"

static uint64_t heap_next, heap_end;

void heap_init(uint64_t base, uint64_t size)
{
	heap_next = base;
	heap_end = base + size;
}

void *heap_alloc_page(void *unused)
{
	void *page;

	(void)unused;
	if (heap_next + PAGE_SIZE > heap_end)
		return NULL;
	page = (void *)(uintptr_t)heap_next;
	heap_next += PAGE_SIZE;
	memset(page, 0, PAGE_SIZE);
	return page;
}
