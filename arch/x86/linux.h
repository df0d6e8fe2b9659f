/* Linux partitions: check and load a PVH vmlinux or a bzImage and write its boot information. */
#ifndef ARCH_X86_LINUX_H
#define ARCH_X86_LINUX_H

#include "../../hv/err.h"

/*
 * A Linux partition's guest-physical space is [0, size), backed by its slice [base, base + size).
 * The memory map both routes give Linux: usable [0, LINUX_LOW_RAM_END) (the real-mode
 * trampoline must go below 1 MiB), reserved [LINUX_LOW_RAM_END, LINUX_HIGH_RAM_GPA) (the legacy
 * hole, which also holds what slicehv writes), usable [LINUX_HIGH_RAM_GPA, size).
 */
#define LINUX_LOW_RAM_END     0xA0000u
#define LINUX_HIGH_RAM_GPA    0x100000u
#define LINUX_E820_ENTRIES    3
#define LINUX_E820_EXTRA_MAX  8 /* reserved ranges above the slice: its channels */

/* What slicehv writes, inside the reserved hole; [0, LINUX_HIGH_RAM_GPA) is zeroed first. */
#define LINUX_ACPI_GPA        0xE0000u /* the RSDP first: 16-byte aligned, found by a BIOS-area scan too */
#define LINUX_BOOT_INFO_GPA   0xE1000u /* PVH: struct linux_pvh_info; bzImage: the zero page */
#define LINUX_GDT_GPA         0xE2000u /* bzImage: the boot GDT */
#define LINUX_CMDLINE_GPA     0xE3000u /* the command line, NUL-terminated */
#define LINUX_CMDLINE_AREA    0x1000u
#define LINUX_PAGE_TABLES_GPA 0xE4000u /* bzImage: PML4, PDPT, page directories, below the next */
#define LINUX_RESET_VECTOR_GPA 0xFFFF0u /* f000:fff0, where a PC starts: a write to the reset register */

/* x86 COMMAND_LINE_SIZE: the PVH route's bound, NUL included (a bzImage says its own). */
#define LINUX_PVH_CMDLINE_MAX 2048u
/* The PVH initrd (module 0) lies below 4 GiB: hvm_modlist_entry.paddr is 64-bit, Linux's use is not. */
#define LINUX_PVH_INITRD_END  GiB(4)
/* bzImage: the lowest load address (the decompressor never runs below LOAD_PHYSICAL_ADDR). */
#define LINUX_BZ_MIN_LOAD     MiB(16)
#define LINUX_BZ_MIN_ALIGN    MiB(2)
/*
 * The bzImage route's identity map: 2 MiB pages over [0, min(size, LINUX_IDENT_MAP_END)). The
 * 64-bit protocol needs only the kernel's [load, load + init_size), the zero page and the command
 * line mapped (boot.rst), all below 4 GiB here; the decompressor builds its own map for the rest.
 */
#define LINUX_IDENT_MAP_END   GiB(4)

/* The boot GDT's flat selectors (boot.rst, 64-bit boot protocol): __BOOT_CS and __BOOT_DS. */
#define LINUX_BOOT_CS         0x10u
#define LINUX_BOOT_DS         0x18u

/*
 * Poweroff and reset through the FADT. ACPI 6.5 4.8.3.7: Linux writes SLP_TYP << 2 | SLP_EN
 * to the sleep control register, after writing WAK_STS to the status register. For S5 the byte is
 * LINUX_ACPI_S5_WRITE (0x34). Its reset writes LINUX_ACPI_RESET_VALUE to the reset register.
 */
#define LINUX_ACPI_SLEEP_CONTROL_PORT 0x600u
#define LINUX_ACPI_SLEEP_STATUS_PORT  0x601u
#define LINUX_ACPI_S5_SLP_TYP         5u
#define LINUX_ACPI_SLP_TYP_SHIFT      2
#define LINUX_ACPI_SLP_EN             BIT(5)
#define LINUX_ACPI_S5_WRITE (LINUX_ACPI_S5_SLP_TYP << LINUX_ACPI_SLP_TYP_SHIFT | LINUX_ACPI_SLP_EN)
#define LINUX_ACPI_RESET_PORT         0xCF9u /* the PC reset control register */
#define LINUX_ACPI_RESET_VALUE        0x06u  /* a hard reset: SYS_RST | RST_CPU */

/* E820 / hvm_memmap_table_entry types. */
#define E820_RAM      1
#define E820_RESERVED 2

/* Xen's public arch-x86/hvm/start_info.h: what EBX points at on the PVH entry. */
#define HVM_START_MAGIC   0x336ec578u
#define HVM_START_VERSION 1
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 on */
	uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry { uint64_t paddr, size, cmdline_paddr, reserved; };
struct hvm_memmap_table_entry { uint64_t addr, size; uint32_t type, reserved; };

/* The page at LINUX_BOOT_INFO_GPA on the PVH route. */
struct linux_pvh_info {
	struct hvm_start_info start;
	struct hvm_modlist_entry initrd;
	struct hvm_memmap_table_entry map[LINUX_E820_ENTRIES + LINUX_E820_EXTRA_MAX];
};

/* Documentation/arch/x86/boot.rst: the real-mode kernel header at 0x1f1 of a bzImage. */
#define BZ_HEADER_OFFSET  0x1f1
#define BZ_BOOT_FLAG      0xAA55
#define BZ_HEADER_MAGIC   0x53726448u /* "HdrS" */
#define BZ_MIN_VERSION    0x020c      /* 2.12: xloadflags, so the 64-bit entry can be checked */
#define BZ_SECTOR         512
#define BZ_DEFAULT_SECTS  4           /* setup_sects 0 means 4 */
#define BZ_SYSSIZE_UNIT   16
#define BZ_LOADER_UNKNOWN 0xFF        /* type_of_loader: no assigned id */
#define BZ_LOADED_HIGH    BIT(0)      /* loadflags: the protected-mode kernel is at code32_start */
#define XLF_KERNEL_64     BIT(0)      /* xloadflags: has the 64-bit entry at load + 0x200 */
#define BZ_STARTUP_64     0x200       /* startup_64's offset from the load address */
struct bz_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size, vid_mode, root_dev, boot_flag, jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg, kernel_version;
	uint8_t type_of_loader, loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start, ramdisk_image, ramdisk_size, bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver, ext_loader_type;
	uint32_t cmd_line_ptr, initrd_addr_max, kernel_alignment;
	uint8_t relocatable_kernel, min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size, hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset, payload_length;
	uint64_t setup_data, pref_address;
	uint32_t init_size, handover_offset, kernel_info_offset;
} __attribute__((packed));

/* Documentation/arch/x86/zero-page.rst: the fields slicehv writes, at their offsets. */
#define BZ_E820_MAX 128
struct bz_e820_entry { uint64_t addr, size; uint32_t type; } __attribute__((packed));
struct bz_boot_params {
	uint8_t pad0[0x070];
	uint64_t acpi_rsdp_addr;                     /* 0x070 */
	uint8_t pad1[0x0c0 - 0x078];
	uint32_t ext_ramdisk_image, ext_ramdisk_size; /* 0x0c0 */
	uint32_t ext_cmd_line_ptr;                   /* 0x0c8 */
	uint8_t pad2[0x1e8 - 0x0cc];
	uint8_t e820_entries;                        /* 0x1e8 */
	uint8_t pad3[BZ_HEADER_OFFSET - 0x1e9];
	struct bz_setup_header hdr;                  /* 0x1f1 */
	uint8_t pad4[0x2d0 - BZ_HEADER_OFFSET - sizeof(struct bz_setup_header)];
	struct bz_e820_entry e820_table[BZ_E820_MAX]; /* 0x2d0 */
	uint8_t pad5[0x1000 - 0x2d0 - BZ_E820_MAX * sizeof(struct bz_e820_entry)];
} __attribute__((packed));

/* What a Linux partition boots: the slice, the images (GRUB modules) and the partition's core. */
/* The slice is a partition's as hv/config.c checks it: 2 MiB multiples, not wrapping, not empty. */
struct linux_boot {
	uint64_t base, size;          /* guest-physical [0, size) is host-physical [base, base + size) */
	const void *kernel;           /* a vmlinux ELF (PVH) or a bzImage */
	uint64_t kernel_size;
	const void *initrd;           /* none: initrd_size 0 */
	uint64_t initrd_size;
	const char *cmdline;          /* NUL-terminated */
	uint32_t x2apic_id;           /* the partition's core, for the MADT */
	const struct hvm_memmap_table_entry *extra; /* more of the map, above the slice (E820_RESERVED) */
	unsigned extra_count;         /* at most LINUX_E820_EXTRA_MAX */
};

enum linux_route { LINUX_NONE, LINUX_PVH, LINUX_BZIMAGE };

/*
 * The entry state, guest-physical. PVH: 32-bit protected mode, paging off, flat CS/DS/ES/SS,
 * EIP = ip, EBX = boot_info. bzImage: long mode, CR3 = cr3, the GDT at gdt_base/gdt_limit, CS =
 * LINUX_BOOT_CS, DS/ES/SS = LINUX_BOOT_DS, RIP = ip, RSI = boot_info. IF = 0 in both.
 */
struct linux_entry {
	enum linux_route route;
	uint64_t ip, boot_info, cr3, gdt_base;
	uint16_t gdt_limit;
	uint64_t kernel_start, kernel_end; /* what the kernel occupies (bzImage: up to init_size) */
	uint64_t initrd_start;             /* 0 without an initrd */
};

/*
 * The route a kernel file takes, into out->route: LINUX_PVH for an ELF with the PVH entry note
 * (the entry into out->ip), LINUX_BZIMAGE for a file with a bzImage header, else LINUX_NONE: not
 * a Linux kernel (a toy's ELF), and e says why. -1 with a message: a PVH note holding no entry.
 */
int linux_probe(const void *file, uint64_t size, struct linux_entry *out, err_t *e);
/*
 * Load b, a kernel linux_probe found a route for in out, into its slice and write everything
 * Linux reads at entry: the low 1 MiB (zeroed), ACPI tables, command line, memory map, initrd and
 * the route's boot information. Every input is checked before the slice is written; an error
 * after that (memory not accessible) leaves the slice partly written, and the partition must not
 * run.
 */
int linux_load(const struct linux_boot *b, struct linux_entry *out, err_t *e);

#endif
