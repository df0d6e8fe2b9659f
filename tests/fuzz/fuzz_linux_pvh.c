/* Fuzz the Linux loader's PVH route: the input is the vmlinux, loaded into a 4 MiB slice. */
#include "elf.h"
#include "fuzz_linux.h"

#define PVH_SLICE_SIZE MiB(4)

/* The start info, its module and memory map say what the loader placed. */
static void check_pvh(const struct linux_entry *o, uint64_t size)
{
	const struct linux_pvh_info *p = (const void *)at(LINUX_BOOT_INFO_GPA);

	FUZZ_CHECK(o->route == LINUX_PVH && o->cr3 == 0, "not a PVH entry");
	FUZZ_CHECK(p->start.magic == HVM_START_MAGIC && p->start.version == HVM_START_VERSION &&
		   p->start.nr_modules == 1 && p->start.memmap_entries == LINUX_E820_ENTRIES,
		   "start info header");
	FUZZ_CHECK(p->initrd.paddr == o->initrd_start && p->initrd.size == INITRD_SIZE, "module 0");
	FUZZ_CHECK(p->map[2].addr + p->map[2].size == size, "memory map ends at 0x%lx",
		   p->map[2].addr + p->map[2].size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_linux(data, size, PVH_SLICE_SIZE, LINUX_PVH, check_pvh);
}
