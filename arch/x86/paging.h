/* The hypervisor's own page tables: identity map, and no page both writable and executable. */
#ifndef ARCH_X86_PAGING_H
#define ARCH_X86_PAGING_H

#include "../../hv/err.h"

/*
 * Builds tables from the heap for [0, top) (at least 4 GiB, whole GiBs, at most 512 GiB): text RX,
 * rodata R, everything else RW and NX. phys_ptr reaches that far once they are loaded.
 */
int paging_harden(uint64_t top, err_t *e);

#endif
