/* Access to physical memory by address: identity-mapped in the hypervisor, a bounded fake in host tests. */
#ifndef HV_PHYS_H
#define HV_PHYS_H

#include "types.h"

/* In the hypervisor: how far its identity map reaches (4 GiB at boot, all RAM once hardened). */
extern uint64_t phys_mapped_end;

/* A pointer to [addr, addr + len), or NULL when that range is not accessible (or wraps). */
void *phys_ptr(uint64_t addr, uint64_t len);

#endif
