/* The hypervisor's page heap: one reserved range, handed out a zeroed page at a time, never freed. */
#ifndef HV_HEAP_H
#define HV_HEAP_H

#include "types.h"

/* Enough for every partition's EPT with large leaves many times over, and a 1 GiB slice in 4 KiB leaves. */
#define HEAP_SIZE MiB(8)

void heap_init(uint64_t base, uint64_t size);
/* A zeroed 4 KiB page (pointer == physical address), or NULL when the heap is used up. */
void *heap_alloc_page(void *unused);

#endif
