/* The isolation self-check: walk a partition's real EPT and show it maps its slice, its channels and nothing else. */
#ifndef HV_ISOLATION_H
#define HV_ISOLATION_H

#include "config.h"

/* A range the EPT must map in full and exactly so: the slice (read-write-execute) or a channel. */
struct isolation_region {
	uint64_t gpa, hpa, size;
	uint64_t rights; /* EPT_READ, EPT_WRITE, EPT_EXEC */
	uint64_t mapped; /* bytes found mapped, by the walk */
};

/*
 * Every leaf of the EPT at pml4 must map guest-physical gpa + x to host-physical hpa + x inside
 * one of the regions, with exactly its rights, in usable RAM (bi's memory map), overlapping none
 * of forbid (the hypervisor's own memory, modules, the other slices and channels); and the leaves
 * must cover every region. Returns 0 and the number of leaves, or -1 naming the first fault.
 */
int isolation_check(const uint64_t *pml4, struct isolation_region *regions, unsigned count,
		    const struct boot_info *bi, const struct reserved_range *forbid, unsigned forbid_count,
		    uint64_t *leaves, err_t *e);

#endif
