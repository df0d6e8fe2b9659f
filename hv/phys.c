/* phys_ptr for the hypervisor: physical memory is identity-mapped up to phys_mapped_end. */
#include "phys.h"

/* Set by the boot page tables; page 0 is never handed out (NULL means "not accessible"). */
uint64_t phys_mapped_end = GiB(4);

void *phys_ptr(uint64_t addr, uint64_t len)
{
	if (addr == 0 || addr + len < addr || addr + len > phys_mapped_end)
		return NULL;
	return (void *)(uintptr_t)addr;
}
