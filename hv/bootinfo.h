/* What the boot loader handed over, normalised from multiboot2 or multiboot1 information. */
#ifndef HV_BOOTINFO_H
#define HV_BOOTINFO_H

#include "err.h"
#include "types.h"

#define MULTIBOOT2_BOOTLOADER_MAGIC 0x36d76289u
#define MULTIBOOT1_BOOTLOADER_MAGIC 0x2badb002u

#define BOOT_MAX_MMAP 64
#define BOOT_MAX_MODULES 16
#define BOOT_NAME_LEN 64
#define BOOT_MODULE_LINE_LEN 1024 /* a module's command line: a Linux kernel's arguments fit */
#define BOOT_CMDLINE_LEN 256
#define ACPI_RSDP_MAX 36 /* an ACPI 2.0+ RSDP; an ACPI 1.0 one uses the first 20 bytes */

/* Multiboot2 spec 3.6: an 8-byte fixed part, then tags padded to 8 bytes, ending with type 0; the
 * ones slicehv reads from its loader and writes for its guests. */
#define MB2_ALIGN 8u
#define MB2_MMAP_ENTRY_VERSION 0
enum mb2_tag_type {
	MB2_TAG_END = 0, MB2_TAG_CMDLINE = 1, MB2_TAG_LOADER = 2, MB2_TAG_MODULE = 3,
	MB2_TAG_MMAP = 6, MB2_TAG_RSDP_OLD = 14, MB2_TAG_RSDP_NEW = 15,
};
struct mb2_mmap_entry { uint64_t base, len; uint32_t type, reserved; } __attribute__((packed));

/* E820 memory types, as both multiboot versions report them. */
enum mem_type { MEM_USABLE = 1, MEM_RESERVED = 2, MEM_ACPI_RECLAIMABLE = 3, MEM_ACPI_NVS = 4, MEM_BAD = 5 };

struct mem_range {
	uint64_t base, len;
	uint32_t type; /* enum mem_type, or another value the firmware used */
};

struct boot_module {
	uint64_t start, end; /* physical: [start, end) */
	char name[BOOT_MODULE_LINE_LEN]; /* the module's command line: its name, then arguments */
	bool cut;                 /* the command line was longer than name holds, and cut short */
};

struct boot_info {
	struct mem_range mmap[BOOT_MAX_MMAP];
	unsigned mmap_count;
	struct boot_module mod[BOOT_MAX_MODULES];
	unsigned mod_count;
	char cmdline[BOOT_CMDLINE_LEN];
	char loader[BOOT_NAME_LEN];
	uint8_t rsdp[ACPI_RSDP_MAX]; /* a copy of the RSDP from the loader, if has_rsdp */
	bool has_rsdp;
	uint64_t info_start, info_end; /* where the loader's information itself lies */
};

/*
 * Parse the loader's information at physical address info (read through phys_ptr) into bi.
 * magic is the value the loader left in EAX and selects multiboot2 or multiboot1.
 * Malformed input (truncated or overlapping tags, absurd sizes, zero-length or overlapping
 * memory entries, too many entries) fails with a message naming the tag/entry and the rule.
 */
int boot_parse(uint32_t magic, uint64_t info, struct boot_info *bi, err_t *e);

/* Total bytes of MEM_USABLE memory. */
uint64_t boot_usable_bytes(const struct boot_info *bi);

/* Name of a memory type for the E820-style table ("usable", "reserved", "ACPI data", ...). */
const char *boot_mem_type_name(uint32_t type);

#endif
