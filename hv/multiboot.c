/* boot_parse: normalise multiboot2 or multiboot1 information, rejecting malformed input. */
#include "bootinfo.h"
#include "phys.h"

/* Multiboot2 spec 3.6 (its tags: bootinfo.h). */
#define MB2_MIN_INFO (sizeof(struct mb2_fixed) + sizeof(struct mb2_tag)) /* the fixed part and the end tag */
#define MB2_MAX_INFO MiB(1) /* far above what any loader writes; rejects a garbage total_size */
#define MB2_TAG_FMT "multiboot2 tag at +0x%x (type %u): "
#define ACPI_RSDP_V1_LEN 20 /* an ACPI 1.0 RSDP, the payload of tag 14 */


struct mb2_fixed { uint32_t total_size, reserved; } __attribute__((packed));
struct mb2_tag { uint32_t type, size; } __attribute__((packed));
struct mb2_module { struct mb2_tag tag; uint32_t start, end; } __attribute__((packed));
struct mb2_mmap { struct mb2_tag tag; uint32_t entry_size, entry_version; } __attribute__((packed));

/* The smallest tag of each type we read, so that its fixed fields lie inside the tag. */
static const uint8_t mb2_min_size[] = {
	[MB2_TAG_MODULE] = sizeof(struct mb2_module),
	[MB2_TAG_MMAP] = sizeof(struct mb2_mmap),
	[MB2_TAG_RSDP_OLD] = sizeof(struct mb2_tag) + ACPI_RSDP_V1_LEN,
	[MB2_TAG_RSDP_NEW] = sizeof(struct mb2_tag) + ACPI_RSDP_MAX,
};

/* Multiboot 0.6.96 spec 3.3: the flags word says which fields of the information are valid. */
#define MB1_FLAG_CMDLINE BIT(2)
#define MB1_FLAG_MODS BIT(3)
#define MB1_FLAG_MMAP BIT(6)
#define MB1_FLAG_LOADER BIT(9)

/* The fields up to boot_loader_name; the later APM, VBE and framebuffer ones are not used. */
struct mb1_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4], mmap_length, mmap_addr, drives_length, drives_addr, config_table;
	uint32_t boot_loader_name;
} __attribute__((packed));
struct mb1_module { uint32_t start, end, string, reserved; } __attribute__((packed));
/* 'size' counts the bytes after itself, so the next entry is at +size+4. */
struct mb1_mmap_entry { uint32_t size; uint64_t base, len; uint32_t type; } __attribute__((packed));

/*
 * Copy at most n bytes of src up to its NUL into dst, truncated to cap and NUL-terminated.
 * Returns true if src did not fit and was cut short.
 */
static bool copy_str(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < n && src[i]; i++)
		dst[i] = src[i];
	dst[i] = '\0';
	return i < n && src[i];
}

/*
 * A multiboot1 string by address: read byte by byte so nothing past its NUL is touched.
 * Returns 1 if it was longer than cap and cut short, 0 if it fitted, -1 (e set) on bad memory.
 */
static int copy_phys_str(char *dst, size_t cap, uint64_t addr, const char *what, err_t *e)
{
	const char *next;
	size_t i;

	for (i = 0; i + 1 < cap; i++) {
		const char *c = phys_ptr(addr + i, 1);

		if (!c)
			return err_set(e, "multiboot1 %s string at 0x%lx runs outside memory", what, addr);
		if (!*c)
			break;
		dst[i] = *c;
	}
	dst[i] = '\0';
	next = phys_ptr(addr + i, 1);
	return next && *next;
}

static int add_mmap(struct boot_info *bi, uint64_t base, uint64_t len, uint32_t type, err_t *e)
{
	unsigned n = bi->mmap_count;

	if (n >= BOOT_MAX_MMAP)
		return err_set(e, "memory map has more than BOOT_MAX_MMAP (%d) entries", BOOT_MAX_MMAP);
	if (len == 0)
		return err_set(e, "memory map entry %u (base 0x%lx): length is zero", n, base);
	if (len > UINT64_MAX - base)
		return err_set(e, "memory map entry %u (base 0x%lx): length 0x%lx wraps past 2^64",
			       n, base, len);
	bi->mmap[bi->mmap_count++] = (struct mem_range){ .base = base, .len = len, .type = type };
	return 0;
}

/* On success the new module is bi->mod[bi->mod_count - 1], for the caller to name. */
static int add_module(struct boot_info *bi, uint64_t start, uint64_t end, err_t *e)
{
	if (bi->mod_count >= BOOT_MAX_MODULES)
		return err_set(e, "more than BOOT_MAX_MODULES (%d) modules", BOOT_MAX_MODULES);
	/* An empty file is a module too (GRUB gives [0, 0)): the loader refuses a partition naming it. */
	if (end < start)
		return err_set(e, "module %u [0x%lx, 0x%lx): end is below start", bi->mod_count, start, end);
	bi->mod[bi->mod_count].start = start;
	bi->mod[bi->mod_count++].end = end;
	return 0;
}

/* Two usable entries claiming the same byte would let it be handed out twice. */
static int check_usable_overlap(const struct boot_info *bi, err_t *e)
{
	for (unsigned i = 0; i < bi->mmap_count; i++)
		for (unsigned j = i + 1; j < bi->mmap_count; j++) {
			const struct mem_range *a = &bi->mmap[i], *b = &bi->mmap[j];

			if (a->type == MEM_USABLE && b->type == MEM_USABLE &&
			    range_overlaps(a->base, a->base + a->len, b->base, b->base + b->len))
				return err_set(e, "memory map entries %u [0x%lx, +0x%lx) and %u [0x%lx, +0x%lx) "
					       "are both usable and overlap", i, a->base, a->len, j, b->base, b->len);
		}
	return 0;
}

static int mb2_mmap(struct boot_info *bi, const struct mb2_tag *t, uint32_t off, err_t *e)
{
	const struct mb2_mmap *m = (const void *)t;
	const uint8_t *entries = (const uint8_t *)(m + 1);
	uint32_t bytes = t->size - sizeof(*m);

	/* Spec 3.6.8: entry_size may grow in later versions, but never below today's entry. */
	if (m->entry_size < sizeof(struct mb2_mmap_entry))
		return err_set(e, MB2_TAG_FMT "entry_size %u is below the %zu-byte memory map entry",
			       off, t->type, m->entry_size, sizeof(struct mb2_mmap_entry));
	if (bytes % m->entry_size)
		return err_set(e, MB2_TAG_FMT "%u bytes of entries are not a multiple of entry_size %u",
			       off, t->type, bytes, m->entry_size);
	for (uint32_t pos = 0; pos < bytes; pos += m->entry_size) {
		const struct mb2_mmap_entry *me = (const void *)(entries + pos);

		if (add_mmap(bi, me->base, me->len, me->type, e))
			return -1;
	}
	return 0;
}

static int mb2_tag(struct boot_info *bi, const struct mb2_tag *t, uint32_t off, err_t *e)
{
	const struct mb2_module *m = (const void *)t;
	const char *payload = (const char *)(t + 1);
	uint32_t n = t->size - sizeof(*t);

	switch (t->type) {
	case MB2_TAG_CMDLINE:
		copy_str(bi->cmdline, sizeof(bi->cmdline), payload, n);
		return 0;
	case MB2_TAG_LOADER:
		copy_str(bi->loader, sizeof(bi->loader), payload, n);
		return 0;
	case MB2_TAG_MODULE:
		if (add_module(bi, m->start, m->end, e))
			return -1;
		bi->mod[bi->mod_count - 1].cut = copy_str(bi->mod[bi->mod_count - 1].name, BOOT_MODULE_LINE_LEN,
							  (const char *)(m + 1), t->size - sizeof(*m));
		return 0;
	case MB2_TAG_MMAP:
		return mb2_mmap(bi, t, off, e);
	case MB2_TAG_RSDP_OLD:
	case MB2_TAG_RSDP_NEW:
		/* Prefer the ACPI 2.0 copy (tag 15) whichever order the tags come in. */
		if (t->type == MB2_TAG_RSDP_OLD && bi->has_rsdp)
			return 0;
		for (uint32_t i = 0; i < n && i < ACPI_RSDP_MAX; i++)
			bi->rsdp[i] = (uint8_t)payload[i];
		bi->has_rsdp = true;
		return 0;
	default:
		return 0; /* spec 3.6: a loader may add tags we do not know; skip them */
	}
}

/* Checks each tag's size against total_size before reading it, so a lie cannot take us out. */
static int mb2_walk(const uint8_t *base, uint32_t total, struct boot_info *bi, err_t *e)
{
	for (uint32_t off = sizeof(struct mb2_fixed); off + sizeof(struct mb2_tag) <= total;) {
		const struct mb2_tag *t = (const void *)(base + off);
		uint32_t min = t->type < ARRAY_SIZE(mb2_min_size) ? mb2_min_size[t->type] : 0;

		if (t->size < sizeof(*t))
			return err_set(e, MB2_TAG_FMT "size %u is below the %zu-byte tag header", off,
				       t->type, t->size, sizeof(*t));
		if (t->size > total - off)
			return err_set(e, MB2_TAG_FMT "size %u runs past total_size %u", off, t->type,
				       t->size, total);
		if (t->type == MB2_TAG_END)
			return 0;
		if (t->size < min)
			return err_set(e, MB2_TAG_FMT "size %u is below the %u bytes this type needs",
				       off, t->type, t->size, min);
		if (mb2_tag(bi, t, off, e))
			return -1;
		off = ALIGN_UP(off + t->size, MB2_ALIGN);
	}
	return err_set(e, "multiboot2 information has no end tag (type 0) within total_size %u", total);
}

static int mb2_parse(uint64_t info, struct boot_info *bi, err_t *e)
{
	const struct mb2_fixed *fx = phys_ptr(info, sizeof(*fx));
	const uint8_t *base;

	if (info % MB2_ALIGN)
		return err_set(e, "multiboot2 information at 0x%lx is not 8-byte aligned", info);
	if (!fx)
		return err_set(e, "multiboot2 information at 0x%lx is outside memory", info);
	if (fx->total_size < MB2_MIN_INFO || fx->total_size > MB2_MAX_INFO)
		return err_set(e, "multiboot2 total_size %u is too %s (not within [%zu, %lu])",
			       fx->total_size, fx->total_size < MB2_MIN_INFO ? "small" : "large", MB2_MIN_INFO,
			       MB2_MAX_INFO);
	base = phys_ptr(info, fx->total_size);
	if (!base)
		return err_set(e, "multiboot2 information at 0x%lx (total_size %u) is outside memory",
			       info, fx->total_size);
	bi->info_start = info;
	bi->info_end = info + fx->total_size;
	return mb2_walk(base, fx->total_size, bi, e);
}

static int mb1_modules(struct boot_info *bi, uint32_t addr, uint32_t count, err_t *e)
{
	const struct mb1_module *m;

	if (count > BOOT_MAX_MODULES)
		return err_set(e, "multiboot1 mods_count %u is above BOOT_MAX_MODULES (%d)", count,
			       BOOT_MAX_MODULES);
	m = phys_ptr(addr, (uint64_t)count * sizeof(*m));
	if (!m && count) /* an empty list may come with address 0 */
		return err_set(e, "multiboot1 module list at 0x%x (%u entries) is outside memory",
			       addr, count);
	for (uint32_t i = 0; i < count; i++) {
		int cut;

		if (add_module(bi, m[i].start, m[i].end, e) ||
		    (cut = copy_phys_str(bi->mod[i].name, BOOT_MODULE_LINE_LEN, m[i].string, "module", e)) < 0)
			return -1;
		bi->mod[i].cut = cut;
	}
	return 0;
}

static int mb1_mmap(struct boot_info *bi, uint32_t addr, uint32_t length, err_t *e)
{
	const uint8_t *p = phys_ptr(addr, length);
	const uint32_t hdr = sizeof(uint32_t); /* the 'size' field itself */

	if (!p && length) /* an empty map may come with address 0 */
		return err_set(e, "multiboot1 mmap at 0x%x (mmap_length %u) is outside memory", addr,
			       length);
	for (uint32_t off = 0; off < length;) {
		const struct mb1_mmap_entry *me = (const void *)(p + off);

		if (length - off < sizeof(*me))
			return err_set(e, "multiboot1 mmap entry at +0x%x: only %u bytes left, below "
				       "the %zu-byte entry", off, length - off, sizeof(*me));
		if (me->size < sizeof(*me) - hdr || me->size > length - off - hdr)
			return err_set(e, "multiboot1 mmap entry at +0x%x: size %u is outside [%zu, %u]",
				       off, me->size, sizeof(*me) - hdr, length - off - hdr);
		if (add_mmap(bi, me->base, me->len, me->type, e))
			return -1;
		off += hdr + me->size;
	}
	return 0;
}

static int mb1_parse(uint64_t info, struct boot_info *bi, err_t *e)
{
	const struct mb1_info *mi = phys_ptr(info, sizeof(*mi));

	if (!mi)
		return err_set(e, "multiboot1 information at 0x%lx is outside memory", info);
	bi->info_start = info;
	bi->info_end = info + sizeof(*mi);
	if ((mi->flags & MB1_FLAG_CMDLINE) &&
	    copy_phys_str(bi->cmdline, sizeof(bi->cmdline), mi->cmdline, "cmdline", e) < 0)
		return -1;
	if ((mi->flags & MB1_FLAG_LOADER) &&
	    copy_phys_str(bi->loader, sizeof(bi->loader), mi->boot_loader_name, "loader name", e) < 0)
		return -1;
	if ((mi->flags & MB1_FLAG_MODS) && mb1_modules(bi, mi->mods_addr, mi->mods_count, e))
		return -1;
	return (mi->flags & MB1_FLAG_MMAP) ? mb1_mmap(bi, mi->mmap_addr, mi->mmap_length, e) : 0;
}

int boot_parse(uint32_t magic, uint64_t info, struct boot_info *bi, err_t *e)
{
	int r;

	*bi = (struct boot_info){ 0 };
	if (magic == MULTIBOOT2_BOOTLOADER_MAGIC)
		r = mb2_parse(info, bi, e);
	else if (magic == MULTIBOOT1_BOOTLOADER_MAGIC)
		r = mb1_parse(info, bi, e);
	else
		return err_set(e, "boot loader magic 0x%x is neither multiboot2 (0x%x) nor multiboot1 "
			       "(0x%x)", magic, MULTIBOOT2_BOOTLOADER_MAGIC, MULTIBOOT1_BOOTLOADER_MAGIC);
	return r ? r : check_usable_overlap(bi, e);
}

uint64_t boot_usable_bytes(const struct boot_info *bi)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < bi->mmap_count; i++)
		if (bi->mmap[i].type == MEM_USABLE)
			sum += bi->mmap[i].len;
	return sum;
}

const char *boot_mem_type_name(uint32_t type)
{
	static const char *const names[] = { [MEM_USABLE] = "usable", [MEM_RESERVED] = "reserved",
					     [MEM_ACPI_RECLAIMABLE] = "ACPI data", [MEM_ACPI_NVS] = "ACPI NVS",
					     [MEM_BAD] = "bad" };

	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "unknown";
}
