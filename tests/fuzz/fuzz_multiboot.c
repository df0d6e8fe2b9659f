/*
 * Fuzz the multiboot parser. The input is one selector byte, then fake memory at MEM_BASE.
 * Selector bits 0-1: 0 multiboot2 information at MEM_BASE, 1 multiboot1 information there,
 * 2 multiboot2 at a misaligned address, 3 an unknown loader magic. Multiboot1 pointers (strings,
 * module list, memory map) may point anywhere in the memory.
 */
#include "bootinfo.h"
#include "fuzz.h"
#include "fuzzmem.h"

#define MEM_BASE 0x10000u /* 8-byte aligned and low, where GRUB puts it */
#define MISALIGN 4u
#define BAD_MAGIC 0x1badb002u /* a multiboot1 *header* magic: a kernel's, never a loader's */

enum select { SELECT_MB2, SELECT_MB1, SELECT_MB2_MISALIGNED, SELECT_BAD_MAGIC, SELECT_MASK = 3 };

static const struct { uint32_t magic; uint64_t info; } selected[] = {
	[SELECT_MB2] = { MULTIBOOT2_BOOTLOADER_MAGIC, MEM_BASE },
	[SELECT_MB1] = { MULTIBOOT1_BOOTLOADER_MAGIC, MEM_BASE },
	[SELECT_MB2_MISALIGNED] = { MULTIBOOT2_BOOTLOADER_MAGIC, MEM_BASE + MISALIGN },
	[SELECT_BAD_MAGIC] = { BAD_MAGIC, MEM_BASE },
};

static void check_strings(const struct boot_info *bi)
{
	FUZZ_CHECK(fuzz_terminated(bi->cmdline, sizeof(bi->cmdline)), "cmdline not terminated");
	FUZZ_CHECK(fuzz_terminated(bi->loader, sizeof(bi->loader)), "loader name not terminated");
	for (unsigned i = 0; i < bi->mod_count; i++)
		FUZZ_CHECK(fuzz_terminated(bi->mod[i].name, BOOT_MODULE_LINE_LEN), "module %u name", i);
}

/* What boot_parse promises: bounded counts, sane ranges, no usable byte listed twice. */
static void check_parsed(const struct boot_info *bi, uint64_t info, uint64_t mem_end)
{
	uint64_t usable = 0;

	FUZZ_CHECK(bi->mmap_count <= BOOT_MAX_MMAP, "mmap_count %u", bi->mmap_count);
	FUZZ_CHECK(bi->mod_count <= BOOT_MAX_MODULES, "mod_count %u", bi->mod_count);
	FUZZ_CHECK(bi->info_start == info && bi->info_start < bi->info_end &&
		   bi->info_end <= mem_end, "information [0x%lx, 0x%lx) outside what was read",
		   bi->info_start, bi->info_end);
	check_strings(bi);
	for (unsigned i = 0; i < bi->mod_count; i++)
		FUZZ_CHECK(bi->mod[i].start <= bi->mod[i].end, "module %u is reversed", i);
	for (unsigned i = 0; i < bi->mmap_count; i++) {
		const struct mem_range *a = &bi->mmap[i];

		FUZZ_CHECK(a->len && a->base + a->len > a->base, "mmap %u: 0x%lx+0x%lx", i, a->base,
			   a->len);
		FUZZ_CHECK(boot_mem_type_name(a->type), "no name for type %u", a->type);
		if (a->type != MEM_USABLE)
			continue;
		/* Disjoint ranges below 2^64 cannot add up past it. */
		FUZZ_CHECK(!__builtin_add_overflow(usable, a->len, &usable), "usable bytes overflow");
		for (unsigned j = 0; j < i; j++) {
			const struct mem_range *b = &bi->mmap[j];

			FUZZ_CHECK(b->type != MEM_USABLE ||
				   !range_overlaps(a->base, a->base + a->len, b->base, b->base + b->len),
				   "usable entries %u and %u overlap", j, i);
		}
	}
	FUZZ_CHECK(boot_usable_bytes(bi) == usable, "boot_usable_bytes disagrees");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_info bi;
	err_t e = { "" };
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0] & SELECT_MASK;
	fuzzmem_map(MEM_BASE, (void *)(data + 1), size - 1, FUZZMEM_COPY);
	if (boot_parse(selected[sel].magic, selected[sel].info, &bi, &e) == 0) {
		check_parsed(&bi, selected[sel].info, MEM_BASE + (size - 1));
		FUZZ_SAY("parsed: %u memory ranges, %u modules, cmdline '%s', loader '%s', rsdp %d\n",
			 bi.mmap_count, bi.mod_count, bi.cmdline, bi.loader, bi.has_rsdp);
	} else {
		fuzz_check_error(&e);
	}
	fuzzmem_reset();
	return 0;
}
