/* The isolation self-check: walk a partition's real EPT and show it maps its slice and nothing else. */
#ifndef HV_ISOLATION_H
#define HV_ISOLATION_H

#include "config.h"

/*
 * Every leaf of the EPT at pml4 must map guest-physical gpa + x to host-physical base + x inside
 * the slice [base, base + size) (gpa == base: an identity map),
 * in usable RAM (bi's memory map), and overlap none of forbid (the hypervisor's own memory,
 * modules, the other slices). Returns 0 and the number of leaves, or -1 naming the first bad leaf.
 */
int isolation_check(const uint64_t *pml4, uint64_t gpa, uint64_t base, uint64_t size,
		    const struct boot_info *bi, const struct reserved_range *forbid, unsigned forbid_count,
		    uint64_t *leaves, err_t *e);

#endif
