/* Linux partitions: check a PVH vmlinux or a bzImage, load it and write what Linux reads at entry. */
#include "linux.h"
#include "acpi.h"
#include "../../hv/elf.h"
#include "../../hv/phys.h"
#include "../../hv/string.h"
#include "x86.h"

/* The vmlinux's PVH entry: the ELF note "Xen" XEN_ELFNOTE_PHYS32_ENTRY, 4 or 8 bytes. */
#define XEN_NOTE_OWNER "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* The boot GDT: null, unused, then __BOOT_CS (64-bit code) and __BOOT_DS (flat data). */
#define GDT_ENTRIES (LINUX_BOOT_DS / sizeof(uint64_t) + 1)

/* A host pointer to guest-physical [gpa, gpa + len), checked to lie inside the slice. */
static void *guest_ptr(const struct linux_boot *b, uint64_t gpa, uint64_t len, const char *what,
		       err_t *e)
{
	void *p = gpa <= b->size && len <= b->size - gpa ? phys_ptr(b->base + gpa, len) : NULL;

	if (!p)
		err_set(e, "linux: %s at guest 0x%lx+0x%lx is outside the slice's accessible memory",
			what, gpa, len);
	return p;
}

static int check_cmdline(const struct linux_boot *b, uint64_t max_len, err_t *e)
{
	uint64_t len = strlen(b->cmdline);

	if (len > max_len || len >= LINUX_CMDLINE_AREA)
		return err_set(e, "linux: the command line's %lu bytes exceed the kernel's limit of %lu",
			       len, MIN(max_len, LINUX_CMDLINE_AREA - 1));
	return 0;
}

/* The initrd at the top of RAM below end, page aligned, in usable RAM above 1 MiB. */
static int place_initrd(const struct linux_boot *b, uint64_t end, uint64_t *gpa, err_t *e)
{
	end = MIN(end, b->size);
	*gpa = 0;
	if (!b->initrd_size)
		return 0;
	if (end < LINUX_HIGH_RAM_GPA || b->initrd_size > end - LINUX_HIGH_RAM_GPA ||
	    ALIGN_DOWN(end - b->initrd_size, PAGE_SIZE) < LINUX_HIGH_RAM_GPA)
		return err_set(e, "linux: the initrd's 0x%lx bytes do not fit in RAM [1 MiB, 0x%lx)",
			       b->initrd_size, end);
	*gpa = ALIGN_DOWN(end - b->initrd_size, PAGE_SIZE);
	return 0;
}

/*
 * Both routes' map: low RAM, the reserved hole holding slicehv's tables, RAM from 1 MiB, then the
 * caller's extra ranges (its channels). Returns how many entries.
 */
static unsigned memory_map(const struct linux_boot *b, struct hvm_memmap_table_entry *map)
{
	map[0] = (struct hvm_memmap_table_entry){ 0, LINUX_LOW_RAM_END, E820_RAM, 0 };
	map[1] = (struct hvm_memmap_table_entry){ LINUX_LOW_RAM_END,
						  LINUX_HIGH_RAM_GPA - LINUX_LOW_RAM_END, E820_RESERVED, 0 };
	map[2] = (struct hvm_memmap_table_entry){ LINUX_HIGH_RAM_GPA, b->size - LINUX_HIGH_RAM_GPA,
						  E820_RAM, 0 };
	if (b->extra_count)
		memcpy(map + LINUX_E820_ENTRIES, b->extra, b->extra_count * sizeof(*map));
	return LINUX_E820_ENTRIES + b->extra_count;
}

/*
 * The PC's reset vector. With a hardware-reduced FADT Linux reboots by EFI, and without EFI it
 * falls through to a real-mode jump to the BIOS there (machine_real_restart), never writing the
 * reset register itself: this writes it, so every reboot and panic ends at that port (SDM Vol 2
 * opcodes).
 */
#define OP_MOV_AL_IMM8 0xb0
#define OP_MOV_DX_IMM16 0xba
#define OP_OUT_DX_AL 0xee
#define OP_HLT 0xf4
static const uint8_t reset_vector[] = { OP_MOV_AL_IMM8, LINUX_ACPI_RESET_VALUE, OP_MOV_DX_IMM16,
					LINUX_ACPI_RESET_PORT & 0xff, LINUX_ACPI_RESET_PORT >> 8, OP_OUT_DX_AL, OP_HLT };

/*
 * What both routes write once their inputs are checked: the low 1 MiB zeroed (Linux reads the
 * BIOS data area, scans for MP tables and probes ROMs there whatever the map says), the ACPI
 * tables, the command line, the reset vector and the initrd. The low 1 MiB, for the route's own
 * tables.
 */
static uint8_t *write_common(const struct linux_boot *b, uint64_t initrd, err_t *e)
{
	uint8_t *low = guest_ptr(b, 0, LINUX_HIGH_RAM_GPA, "low memory", e);
	uint8_t *rd = b->initrd_size ? guest_ptr(b, initrd, b->initrd_size, "the initrd", e) : NULL;

	if (!low || (b->initrd_size && !rd))
		return NULL;
	memset(low, 0, LINUX_HIGH_RAM_GPA);
	acpi_write_guest(low + LINUX_ACPI_GPA, LINUX_ACPI_GPA, b->x2apic_id);
	memcpy(low + LINUX_CMDLINE_GPA, b->cmdline, strlen(b->cmdline) + 1);
	memcpy(low + LINUX_RESET_VECTOR_GPA, reset_vector, sizeof(reset_vector));
	if (rd)
		memcpy(rd, b->initrd, b->initrd_size);
	return low;
}

/* ---- PVH: the vmlinux at its link address, entered in 32-bit mode with EBX = start info ---- */

static void write_pvh_info(const struct linux_boot *b, uint8_t *low, uint64_t initrd)
{
	struct linux_pvh_info *p = (void *)(low + LINUX_BOOT_INFO_GPA);

	p->start = (struct hvm_start_info){
		.magic = HVM_START_MAGIC, .version = HVM_START_VERSION,
		.nr_modules = b->initrd_size ? 1 : 0,
		.modlist_paddr = LINUX_BOOT_INFO_GPA + offsetof(struct linux_pvh_info, initrd),
		.cmdline_paddr = LINUX_CMDLINE_GPA, .rsdp_paddr = LINUX_ACPI_GPA,
		.memmap_paddr = LINUX_BOOT_INFO_GPA + offsetof(struct linux_pvh_info, map),
	};
	p->initrd = (struct hvm_modlist_entry){ .paddr = initrd, .size = b->initrd_size };
	p->start.memmap_entries = memory_map(b, p->map);
}

static int load_pvh(const struct linux_boot *b, struct linux_entry *out, err_t *e)
{
	/* linux_probe's walk of the headers found the entry and the PT_LOADs' span */
	uint64_t low = out->kernel_start, high = out->kernel_end, entry = out->ip, initrd;
	struct elf_image img;
	uint8_t *mem;

	if (low < LINUX_HIGH_RAM_GPA || high > b->size)
		return err_set(e, "linux: the vmlinux's PT_LOADs span [0x%lx, 0x%lx), outside RAM [1 MiB, "
			       "0x%lx): a PVH kernel loads at its link address", low, high, b->size);
	if (entry < low || entry >= high || entry > UINT32_MAX)
		return err_set(e, "linux: the PVH entry 0x%lx is not a 32-bit address inside the kernel's "
			       "[0x%lx, 0x%lx)", entry, low, high);
	if (check_cmdline(b, LINUX_PVH_CMDLINE_MAX - 1, e) || place_initrd(b, LINUX_PVH_INITRD_END, &initrd, e))
		return -1;
	if (b->initrd_size && range_overlaps(initrd, initrd + b->initrd_size, low, high))
		return err_set(e, "linux: the initrd's 0x%lx bytes do not fit in RAM above the kernel's "
			       "end 0x%lx", b->initrd_size, high);
	if (elf_load(b->kernel, b->kernel_size, b->base, b->size, b->base + low, &img, e) ||
	    !(mem = write_common(b, initrd, e)))
		return -1;
	write_pvh_info(b, mem, initrd);
	*out = (struct linux_entry){ .route = LINUX_PVH, .ip = entry, .boot_info = LINUX_BOOT_INFO_GPA,
				     .kernel_start = low, .kernel_end = high, .initrd_start = initrd };
	return 0;
}

/* ---- bzImage: the 64-bit boot protocol, entered in long mode with RSI = the zero page ---- */

/* boot.rst: the header runs from 0x1f1 to 0x202 + the byte at 0x201 (the jump's offset). */
#define BZ_JUMP_OFFSET   0x201
#define BZ_HEADER_BASE   0x202
#define BZ_HEADER_NEEDED (BZ_HEADER_OFFSET + offsetof(struct bz_setup_header, handover_offset))
#define BZ_HEADER_LIMIT  0x290 /* the zero page's edd_mbr_sig_buffer follows the header */

struct bz_image {
	struct bz_setup_header h;
	uint64_t header_end, setup_len, kernel_len, align;
};

static int bz_check_layout(const struct linux_boot *b, struct bz_image *z, err_t *e)
{
	const struct bz_setup_header *h = &z->h;
	unsigned sects = h->setup_sects ? h->setup_sects : BZ_DEFAULT_SECTS;

	z->header_end = BZ_HEADER_BASE + ((const uint8_t *)b->kernel)[BZ_JUMP_OFFSET];
	if (z->header_end < BZ_HEADER_NEEDED || z->header_end > BZ_HEADER_LIMIT)
		return err_set(e, "bzImage: the header's end 0x%lx (0x202 + the byte at 0x201) is outside "
			       "[0x%lx, 0x%x]", z->header_end, BZ_HEADER_NEEDED, BZ_HEADER_LIMIT);
	z->setup_len = (uint64_t)(sects + 1) * BZ_SECTOR; /* >= 1 KiB, so the header lies in the file */
	if (z->setup_len >= b->kernel_size)
		return err_set(e, "bzImage: setup_sects %u: the setup code's 0x%lx bytes leave no kernel "
			       "in the file's %lu", h->setup_sects, z->setup_len, b->kernel_size);
	z->kernel_len = (uint64_t)h->syssize * BZ_SYSSIZE_UNIT;
	if (!z->kernel_len || z->kernel_len > b->kernel_size - z->setup_len)
		return err_set(e, "bzImage: syssize 0x%x (16-byte units) does not fit the file's 0x%lx "
			       "bytes after the setup code: truncated?", h->syssize,
			       b->kernel_size - z->setup_len);
	if (h->init_size < z->kernel_len)
		return err_set(e, "bzImage: init_size 0x%x is below the kernel's 0x%lx bytes", h->init_size,
			       z->kernel_len);
	return 0;
}

/* Every setup header field the loader relies on, checked in the order boot.rst gives them. */
static int bz_check(const struct linux_boot *b, struct bz_image *z, err_t *e)
{
	const struct bz_setup_header *h = &z->h;

	memcpy(&z->h, (const uint8_t *)b->kernel + BZ_HEADER_OFFSET, sizeof(z->h)); /* linux_probe: it is there */
	if (h->boot_flag != BZ_BOOT_FLAG)
		return err_set(e, "bzImage: boot_flag 0x%x is not 0x%x", h->boot_flag, BZ_BOOT_FLAG);
	if (h->version < BZ_MIN_VERSION)
		return err_set(e, "bzImage: boot protocol version 0x%x is older than 0x%x", h->version,
			       BZ_MIN_VERSION);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return err_set(e, "bzImage: xloadflags 0x%x lacks XLF_KERNEL_64: no 64-bit entry",
			       h->xloadflags);
	if (!h->relocatable_kernel)
		return err_set(e, "bzImage: relocatable_kernel is 0: slicehv loads it at 16 MiB or above");
	if (!h->kernel_alignment || (h->kernel_alignment & (h->kernel_alignment - 1)))
		return err_set(e, "bzImage: kernel_alignment 0x%x is not a power of two",
			       h->kernel_alignment);
	z->align = MAX(h->kernel_alignment, LINUX_BZ_MIN_ALIGN);
	return bz_check_layout(b, z, e) || check_cmdline(b, h->cmdline_size, e);
}

/*
 * The load address: pref_address if it fits, else the lowest aligned one from 16 MiB, else the
 * lowest above the initrd; [load, load + init_size) in identity-mapped RAM beside the initrd.
 */
static int bz_place(const struct linux_boot *b, const struct bz_image *z, uint64_t initrd,
		    uint64_t *load, err_t *e)
{
	uint64_t end = MIN(b->size, LINUX_IDENT_MAP_END), rd_end = initrd + b->initrd_size;
	uint64_t from[] = { z->h.pref_address, LINUX_BZ_MIN_LOAD, rd_end };

	for (unsigned i = 0; i < ARRAY_SIZE(from); i++) {
		uint64_t at = MAX(from[i], LINUX_BZ_MIN_LOAD);

		*load = at <= end ? ALIGN_UP(at, z->align) : end + 1;
		if (*load <= end && z->h.init_size <= end - *load &&
		    !range_overlaps(*load, *load + z->h.init_size, initrd, rd_end))
			return 0;
	}
	return err_set(e, "bzImage: init_size 0x%x does not fit at a 0x%lx-aligned address from 16 MiB "
		       "below 0x%lx beside the initrd", z->h.init_size, z->align, end);
}

static void bz_zero_page(const struct linux_boot *b, const struct bz_image *z, uint8_t *low,
			 uint64_t load, uint64_t initrd)
{
	struct bz_boot_params *bp = (void *)(low + LINUX_BOOT_INFO_GPA); /* zeroed with low memory */
	struct hvm_memmap_table_entry map[LINUX_E820_ENTRIES + LINUX_E820_EXTRA_MAX];

	memcpy(&bp->hdr, (const uint8_t *)b->kernel + BZ_HEADER_OFFSET, z->header_end - BZ_HEADER_OFFSET);
	bp->hdr.type_of_loader = BZ_LOADER_UNKNOWN;
	bp->hdr.loadflags = BZ_LOADED_HIGH;
	bp->hdr.code32_start = (uint32_t)load;
	bp->hdr.ramdisk_image = (uint32_t)initrd;
	bp->hdr.ramdisk_size = (uint32_t)b->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd >> 32);
	bp->ext_ramdisk_size = (uint32_t)(b->initrd_size >> 32);
	bp->hdr.cmd_line_ptr = LINUX_CMDLINE_GPA;
	bp->hdr.setup_data = 0;
	bp->acpi_rsdp_addr = LINUX_ACPI_GPA;
	bp->e820_entries = (uint8_t)memory_map(b, map);
	for (unsigned i = 0; i < bp->e820_entries; i++)
		bp->e820_table[i] = (struct bz_e820_entry){ map[i].addr, map[i].size, map[i].type };
}

_Static_assert(LINUX_PAGE_TABLES_GPA + (2 + LINUX_IDENT_MAP_END / GiB(1)) * PAGE_SIZE <=
	       (LINUX_RESET_VECTOR_GPA & ~(PAGE_SIZE - 1)), "the identity map's tables fit below the reset vector");

/* The GDT with __BOOT_CS and __BOOT_DS, and the identity map in 2 MiB pages: PML4, PDPT, then a PD per GiB. */
static void bz_boot_tables(uint64_t size, uint8_t *low)
{
	uint64_t *gdt = (void *)(low + LINUX_GDT_GPA);
	uint64_t *pml4 = (void *)(low + LINUX_PAGE_TABLES_GPA), *pdpt = pml4 + PT_ENTRIES;
	uint64_t *pd = pdpt + PT_ENTRIES, end = MIN(size, LINUX_IDENT_MAP_END);

	gdt[LINUX_BOOT_CS / sizeof(*gdt)] = DESC_CODE64;
	gdt[LINUX_BOOT_DS / sizeof(*gdt)] = DESC_DATA;
	pml4[0] = (LINUX_PAGE_TABLES_GPA + PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t g = 0; g < ALIGN_UP(end, GiB(1)) / GiB(1); g++)
		pdpt[g] = (LINUX_PAGE_TABLES_GPA + (2 + g) * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t a = 0; a < end; a += MiB(2))
		pd[a / MiB(2)] = a | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
}

static int load_bzimage(const struct linux_boot *b, struct linux_entry *out, err_t *e)
{
	struct bz_image z;
	uint64_t initrd, load;
	uint8_t *mem, *dst;

	if (bz_check(b, &z, e) ||
	    place_initrd(b, (uint64_t)z.h.initrd_addr_max + 1, &initrd, e) ||
	    bz_place(b, &z, initrd, &load, e))
		return -1;
	if (!(dst = guest_ptr(b, load, z.kernel_len, "the kernel", e)) ||
	    !(mem = write_common(b, initrd, e)))
		return -1;
	memcpy(dst, (const uint8_t *)b->kernel + z.setup_len, z.kernel_len);
	bz_zero_page(b, &z, mem, load, initrd);
	bz_boot_tables(b->size, mem);
	*out = (struct linux_entry){ .route = LINUX_BZIMAGE, .ip = load + BZ_STARTUP_64,
				     .boot_info = LINUX_BOOT_INFO_GPA, .cr3 = LINUX_PAGE_TABLES_GPA,
				     .gdt_base = LINUX_GDT_GPA, .gdt_limit = GDT_ENTRIES * 8 - 1,
				     .kernel_start = load, .kernel_end = load + z.h.init_size,
				     .initrd_start = initrd };
	return 0;
}

int linux_probe(const void *file, uint64_t size, struct linux_entry *out, err_t *e)
{
	const struct bz_setup_header *h = (const void *)((const uint8_t *)file + BZ_HEADER_OFFSET);
	struct elf_span k;

	*out = (struct linux_entry){ .route = LINUX_NONE };
	if (!file)
		err_set(e, "linux: the kernel file is not in mapped memory");
	else if (size >= ELF_MAGIC_LEN && !memcmp(file, ELF_MAGIC, ELF_MAGIC_LEN)) {
		if (elf_span(file, size, XEN_NOTE_OWNER, XEN_ELFNOTE_PHYS32_ENTRY, &k, e))
			return 0; /* no PVH note (or no sound ELF): not Linux; elf_load says what is wrong */
		if (k.note_size != sizeof(uint32_t) && k.note_size != sizeof(uint64_t))
			return err_set(e, "linux: the PVH entry note holds %u bytes, not 4 or 8", k.note_size);
		*out = (struct linux_entry){ .route = LINUX_PVH, .kernel_start = k.low, .kernel_end = k.high };
		memcpy(&out->ip, k.note, k.note_size); /* little-endian */
	} else if (size < BZ_HEADER_OFFSET + sizeof(*h))
		err_set(e, "bzImage: %lu bytes is shorter than a setup header", size);
	else if (h->header != BZ_HEADER_MAGIC)
		err_set(e, "bzImage: header 0x%x is not \"HdrS\": not a bzImage", h->header);
	else
		out->route = LINUX_BZIMAGE;
	return 0;
}

int linux_load(const struct linux_boot *b, struct linux_entry *out, err_t *e)
{
	if (out->route == LINUX_NONE)
		return err_set(e, "linux: not a kernel linux_probe recognised");
	return out->route == LINUX_PVH ? load_pvh(b, out, e) : load_bzimage(b, out, e);
}
