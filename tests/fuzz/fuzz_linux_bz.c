/* Fuzz the Linux loader's bzImage route: the input is the file, loaded into a 24 MiB slice. */
#include "fuzz_linux.h"

#define BZ_SLICE_SIZE MiB(24)
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define LARGE_PAGE_MASK (MiB(2) - 1)

/* One guest-physical 8-byte entry of a table the loader wrote, found inside low memory. */
static uint64_t entry_at(uint64_t table, uint64_t index)
{
	uint64_t v;

	FUZZ_CHECK(table < LINUX_HIGH_RAM_GPA && table % PAGE_SIZE == 0, "table at 0x%lx", table);
	memcpy(&v, at(table + index * sizeof(v)), sizeof(v));
	return v;
}

/* The page tables map va to itself with a 2 MiB page. */
static void check_ident(uint64_t cr3, uint64_t va)
{
	uint64_t pdpt = entry_at(cr3, va >> 39 & 511) & PTE_ADDR_MASK;
	uint64_t pd = entry_at(pdpt, va >> 30 & 511) & PTE_ADDR_MASK;
	uint64_t pde = entry_at(pd, va >> 21 & 511);

	FUZZ_CHECK((pde & PTE_ADDR_MASK & ~LARGE_PAGE_MASK) == (va & ~LARGE_PAGE_MASK),
		   "0x%lx is not identity mapped", va);
}

static void check_bz(const struct linux_entry *o, uint64_t size)
{
	const struct bz_boot_params *bp = (const void *)at(LINUX_BOOT_INFO_GPA);

	(void)size;
	FUZZ_CHECK(o->route == LINUX_BZIMAGE && o->ip == o->kernel_start + BZ_STARTUP_64 &&
		   o->kernel_start % MiB(2) == 0 && o->kernel_start >= MiB(16), "entry 0x%lx", o->ip);
	FUZZ_CHECK(bp->hdr.code32_start == o->kernel_start && bp->hdr.ramdisk_image == o->initrd_start &&
		   bp->e820_entries == LINUX_E820_ENTRIES && bp->hdr.cmd_line_ptr == LINUX_CMDLINE_GPA,
		   "zero page");
	check_ident(o->cr3, o->ip);
	check_ident(o->cr3, o->kernel_end - 1);
	check_ident(o->cr3, LINUX_BOOT_INFO_GPA);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_linux(data, size, BZ_SLICE_SIZE, LINUX_BZIMAGE, check_bz);
}
