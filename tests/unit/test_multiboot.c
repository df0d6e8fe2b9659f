/* Unit tests for boot_parse: well-formed and malformed multiboot2 and multiboot1 information. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bootinfo.h"
#include "fakemem.h"

#define INFO_ADDR 0x10000u /* where the tests place the loader's information */
#define STR_ADDR 0x20000u  /* and the multiboot1 strings, module list and memory map */
#define MB2_ENTRY_SIZE 24u

enum { T_END = 0, T_CMDLINE = 1, T_LOADER = 2, T_MODULE = 3, T_MMAP = 6, T_RSDP_OLD = 14,
       T_RSDP_NEW = 15 };

/* A multiboot2 information block being assembled in host memory. */
struct mb2 {
	uint8_t buf[8192];
	uint32_t len;
};

static void put(struct mb2 *b, const void *p, uint32_t n)
{
	assert_true(b->len + n <= sizeof(b->buf));
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void put32(struct mb2 *b, uint32_t v) { put(b, &v, sizeof(v)); }
static void put64(struct mb2 *b, uint64_t v) { put(b, &v, sizeof(v)); }

static void mb2_begin(struct mb2 *b)
{
	b->len = 0;
	put64(b, 0); /* total_size and reserved, filled in by mb2_finish */
}

/* A tag with a declared size of 8 + n (size_adj lets tests lie about it), padded to 8 bytes. */
static void mb2_tag_sized(struct mb2 *b, uint32_t type, const void *payload, uint32_t n, int size_adj)
{
	static const uint8_t zero[8];

	put32(b, type);
	put32(b, (uint32_t)((int)(8 + n) + size_adj));
	put(b, payload, n);
	put(b, zero, (8 - b->len % 8) % 8);
}

static void mb2_tag(struct mb2 *b, uint32_t type, const void *payload, uint32_t n)
{
	mb2_tag_sized(b, type, payload, n, 0);
}

static void mb2_str(struct mb2 *b, uint32_t type, const char *s)
{
	mb2_tag(b, type, s, (uint32_t)strlen(s) + 1);
}

static void mb2_module(struct mb2 *b, uint32_t start, uint32_t end, const char *name)
{
	uint8_t p[BOOT_MODULE_LINE_LEN + 256];

	memcpy(p, &start, 4);
	memcpy(p + 4, &end, 4);
	assert_true(strlen(name) < sizeof(p) - 8);
	strcpy((char *)p + 8, name);
	mb2_tag(b, T_MODULE, p, 8 + (uint32_t)strlen(name) + 1);
}

struct ent {
	uint64_t base, len;
	uint32_t type;
};

/* A memory map tag of n entries of entry_size bytes each (24 in today's spec). */
static void mb2_mmap(struct mb2 *b, const struct ent *e, unsigned n, uint32_t entry_size)
{
	uint8_t p[4096] = { 0 };
	uint32_t hdr[2] = { entry_size, 0 };

	memcpy(p, hdr, sizeof(hdr));
	for (unsigned i = 0; i < n; i++) {
		uint8_t *q = p + sizeof(hdr) + i * entry_size;

		assert_true(q + MB2_ENTRY_SIZE <= p + sizeof(p));
		memcpy(q, &e[i].base, 8);
		memcpy(q + 8, &e[i].len, 8);
		memcpy(q + 16, &e[i].type, 4);
	}
	mb2_tag(b, T_MMAP, p, sizeof(hdr) + n * entry_size);
}

/* Appends the end tag, fixes total_size and parses the block from fake memory at addr. */
static int mb2_run_at(struct mb2 *b, uint64_t addr, struct boot_info *bi, err_t *e)
{
	mb2_tag(b, T_END, NULL, 0);
	memcpy(b->buf, &b->len, 4);
	fakemem_write(addr, b->buf, b->len);
	return boot_parse(MULTIBOOT2_BOOTLOADER_MAGIC, addr, bi, e);
}

static int mb2_run(struct mb2 *b, struct boot_info *bi, err_t *e)
{
	return mb2_run_at(b, INFO_ADDR, bi, e);
}

static int setup(void **state)
{
	(void)state;
	fakemem_reset();
	return 0;
}

static const struct ent good_map[] = {
	{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xf0000, 0x10000, 2 },
	{ 0x100000, 0x7ee0000, 1 }, { 0x7fe0000, 0x20000, 3 },
};

static void test_mb2_good(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e = { "" };
	uint8_t rsdp[36];

	(void)state;
	memset(rsdp, 0xab, sizeof(rsdp));
	mb2_begin(&b);
	mb2_str(&b, T_CMDLINE, "console=com1 partitions=2");
	mb2_str(&b, T_LOADER, "GRUB 2.12");
	mb2_module(&b, 0x200000, 0x201000, "guest0.bin");
	mb2_module(&b, 0x300000, 0x300001, "");
	mb2_module(&b, 0, 0, "empty.elf"); /* GRUB's empty file */
	mb2_tag(&b, 99, "\x01\x02\x03", 3); /* unknown: skipped */
	mb2_mmap(&b, good_map, 5, MB2_ENTRY_SIZE);
	mb2_tag(&b, T_RSDP_NEW, rsdp, sizeof(rsdp));
	assert_int_equal(mb2_run(&b, &bi, &e), 0);
	assert_string_equal(e.msg, "");
	assert_string_equal(bi.cmdline, "console=com1 partitions=2");
	assert_string_equal(bi.loader, "GRUB 2.12");
	assert_int_equal(bi.mod_count, 3);
	assert_int_equal(bi.mod[2].start, 0);
	assert_int_equal(bi.mod[2].end, 0);
	assert_string_equal(bi.mod[2].name, "empty.elf");
	assert_int_equal(bi.mod[0].start, 0x200000);
	assert_int_equal(bi.mod[0].end, 0x201000);
	assert_string_equal(bi.mod[0].name, "guest0.bin");
	assert_string_equal(bi.mod[1].name, "");
	assert_int_equal(bi.mmap_count, 5);
	assert_int_equal(bi.mmap[3].base, 0x100000);
	assert_int_equal(bi.mmap[3].len, 0x7ee0000);
	assert_int_equal(bi.mmap[4].type, MEM_ACPI_RECLAIMABLE);
	assert_int_equal(boot_usable_bytes(&bi), 0x9fc00 + 0x7ee0000);
	assert_true(bi.has_rsdp);
	assert_memory_equal(bi.rsdp, rsdp, sizeof(rsdp));
	assert_int_equal(bi.info_start, INFO_ADDR);
	assert_int_equal(bi.info_end, INFO_ADDR + b.len);
}

static void test_mb2_minimal_and_wider_entries(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;
	const struct ent one = { 0x100000, 0x100000, 1 };

	(void)state;
	mb2_begin(&b);
	/* A later spec may grow entries: entry_size 32 must still parse. */
	mb2_mmap(&b, &one, 1, 32);
	assert_int_equal(mb2_run(&b, &bi, &e), 0);
	assert_int_equal(bi.mmap_count, 1);
	assert_int_equal(bi.mmap[0].len, 0x100000);
	assert_int_equal(bi.mod_count, 0);
	assert_string_equal(bi.cmdline, "");
	assert_false(bi.has_rsdp);
}

static void test_mb2_strings_truncated(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;
	char longs[BOOT_MODULE_LINE_LEN + 100];

	(void)state;
	memset(longs, 'c', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	memcpy(longs, "a-module-name", 13);
	mb2_begin(&b);
	mb2_str(&b, T_CMDLINE, longs);
	mb2_str(&b, T_LOADER, longs);
	mb2_module(&b, 0x1000, 0x2000, longs);
	longs[BOOT_MODULE_LINE_LEN - 1] = '\0'; /* exactly fits */
	mb2_module(&b, 0x2000, 0x3000, longs);
	/* A string tag with no NUL: copied up to the tag's end, never beyond. */
	mb2_tag(&b, T_CMDLINE, "abc", 3);
	assert_int_equal(mb2_run(&b, &bi, &e), 0);
	assert_string_equal(bi.cmdline, "abc");
	assert_int_equal(strlen(bi.loader), BOOT_NAME_LEN - 1);
	assert_int_equal(strlen(bi.mod[0].name), BOOT_MODULE_LINE_LEN - 1);
	assert_memory_equal(bi.mod[0].name, "a-module-name", 13);
	assert_true(bi.mod[0].cut);
	assert_string_equal(bi.mod[1].name, bi.mod[0].name);
	assert_false(bi.mod[1].cut);
}

static void test_mb2_cmdline_truncated(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;
	char longs[600];

	(void)state;
	memset(longs, 'c', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	mb2_begin(&b);
	mb2_str(&b, T_CMDLINE, longs);
	assert_int_equal(mb2_run(&b, &bi, &e), 0);
	assert_int_equal(strlen(bi.cmdline), BOOT_CMDLINE_LEN - 1);
}

/* The ACPI 2.0 copy wins over the 1.0 one whichever comes first. */
static void test_mb2_rsdp_preference(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;
	uint8_t v1[20], v2[36];

	(void)state;
	memset(v1, 1, sizeof(v1));
	memset(v2, 2, sizeof(v2));
	for (int order = 0; order < 2; order++) {
		mb2_begin(&b);
		mb2_tag(&b, order ? T_RSDP_NEW : T_RSDP_OLD, order ? v2 : v1, order ? 36 : 20);
		mb2_tag(&b, order ? T_RSDP_OLD : T_RSDP_NEW, order ? v1 : v2, order ? 20 : 36);
		assert_int_equal(mb2_run(&b, &bi, &e), 0);
		assert_memory_equal(bi.rsdp, v2, sizeof(v2));
	}
	mb2_begin(&b);
	mb2_tag(&b, T_RSDP_OLD, v1, sizeof(v1));
	assert_int_equal(mb2_run(&b, &bi, &e), 0);
	assert_true(bi.has_rsdp);
	assert_memory_equal(bi.rsdp, v1, sizeof(v1));
	assert_int_equal(bi.rsdp[20], 0);
}

/* Overlap is only an error between two usable entries. */
static void test_mb2_reserved_overlap_allowed(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;
	const struct ent m[] = { { 0x100000, 0x100000, 1 }, { 0x180000, 0x1000, 2 },
				 { 0x200000, 0x1000, 1 } };

	(void)state;
	mb2_begin(&b);
	mb2_mmap(&b, m, 3, MB2_ENTRY_SIZE);
	assert_int_equal(mb2_run(&b, &bi, &e), 0);
	assert_int_equal(boot_usable_bytes(&bi), 0x101000);
}

/* Malformed multiboot2: each builder makes one defect; the message must name it. */
struct bad_case {
	const char *name;
	void (*build)(struct mb2 *b);
	const char *want[2];
};

static void bad_tag_size_4(struct mb2 *b) { mb2_tag_sized(b, T_CMDLINE, "", 0, -4); }
static void bad_tag_past_total(struct mb2 *b) { mb2_tag_sized(b, T_CMDLINE, "x", 1, 64); }
static void bad_module_short(struct mb2 *b) { mb2_tag(b, T_MODULE, "\0\0\0\0", 4); }
static void bad_module_backwards(struct mb2 *b) { mb2_module(b, 0x6000, 0x5000, "m"); }
static void bad_rsdp_old_short(struct mb2 *b) { mb2_tag(b, T_RSDP_OLD, "RSD PTR ", 8); }
static void bad_rsdp_new_short(struct mb2 *b) { mb2_tag(b, T_RSDP_NEW, "RSD PTR 0123456789ab", 20); }
static void bad_mmap_short(struct mb2 *b) { mb2_tag(b, T_MMAP, "\x18\0\0\0", 4); }

static void bad_entry_size(struct mb2 *b)
{
	mb2_mmap(b, good_map, 1, 16);
}

static void bad_mmap_ragged(struct mb2 *b)
{
	uint8_t p[8 + 24 + 8] = { 24 };

	mb2_tag(b, T_MMAP, p, sizeof(p));
}

static void bad_mmap_entry_size_zero(struct mb2 *b)
{
	uint8_t p[8 + 24] = { 0 };

	mb2_tag(b, T_MMAP, p, sizeof(p));
}

static void bad_zero_length(struct mb2 *b)
{
	const struct ent m[] = { { 0x100000, 0x1000, 1 }, { 0x200000, 0, 2 } };

	mb2_mmap(b, m, 2, MB2_ENTRY_SIZE);
}

static void bad_wrap(struct mb2 *b)
{
	const struct ent m[] = { { 0xfffffffffffff000ull, 0x2000, 2 } };

	mb2_mmap(b, m, 1, MB2_ENTRY_SIZE);
}

static void bad_overlap(struct mb2 *b)
{
	const struct ent m[] = { { 0x100000, 0x100000, 1 }, { 0x400000, 0x1000, 2 },
				 { 0x1ff000, 0x2000, 1 } };

	mb2_mmap(b, m, 3, MB2_ENTRY_SIZE);
}

/* Split across two tags: the limit is on the whole map. */
static void bad_too_many_mmap(struct mb2 *b)
{
	struct ent m[40];

	for (unsigned i = 0; i < 40; i++)
		m[i] = (struct ent){ 0x100000ull * (i + 1), 0x1000, 1 };
	mb2_mmap(b, m, 40, MB2_ENTRY_SIZE);
	for (unsigned i = 0; i < 40; i++)
		m[i].base += 0x10000000;
	mb2_mmap(b, m, 40, MB2_ENTRY_SIZE);
}

static void bad_too_many_modules(struct mb2 *b)
{
	for (unsigned i = 0; i <= BOOT_MAX_MODULES; i++)
		mb2_module(b, 0x1000 * (i + 1), 0x1000 * (i + 2), "m");
}

static const struct bad_case mb2_bad[] = {
	{ "tag size 4", bad_tag_size_4, { "tag at +0x8 (type 1)", "size 4 is below the 8-byte tag header" } },
	{ "tag past end", bad_tag_past_total, { "tag at +0x8 (type 1)", "runs past total_size" } },
	{ "module tag short", bad_module_short, { "(type 3)", "size 12 is below the 16 bytes" } },
	{ "module backwards", bad_module_backwards, { "module 0 [0x6000, 0x5000)", "end is below start" } },
	{ "rsdp v1 short", bad_rsdp_old_short, { "(type 14)", "below the 28 bytes" } },
	{ "rsdp v2 short", bad_rsdp_new_short, { "(type 15)", "below the 44 bytes" } },
	{ "mmap tag short", bad_mmap_short, { "(type 6)", "below the 16 bytes" } },
	{ "mmap entry_size 16", bad_entry_size, { "(type 6)", "entry_size 16 is below the 24-byte" } },
	{ "mmap entry_size 0", bad_mmap_entry_size_zero, { "(type 6)", "entry_size 0 is below" } },
	{ "mmap ragged", bad_mmap_ragged, { "(type 6)", "32 bytes of entries are not a multiple of entry_size 24" } },
	{ "mmap zero length", bad_zero_length, { "memory map entry 1 (base 0x200000)", "length is zero" } },
	{ "mmap wraps", bad_wrap, { "memory map entry 0", "wraps past 2^64" } },
	{ "usable overlap", bad_overlap, { "entries 0 [0x100000, +0x100000) and 2 [0x1ff000", "overlap" } },
	{ "too many mmap", bad_too_many_mmap, { "more than BOOT_MAX_MMAP (64) entries", NULL } },
	{ "too many modules", bad_too_many_modules, { "more than BOOT_MAX_MODULES (16) modules", NULL } },
};

static void test_mb2_malformed(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;

	(void)state;
	for (size_t i = 0; i < sizeof(mb2_bad) / sizeof(mb2_bad[0]); i++) {
		const struct bad_case *c = &mb2_bad[i];

		fakemem_reset();
		mb2_begin(&b);
		c->build(&b);
		e.msg[0] = '\0';
		if (mb2_run(&b, &bi, &e) != -1)
			fail_msg("%s: accepted", c->name);
		for (int k = 0; k < 2; k++)
			if (c->want[k] && !strstr(e.msg, c->want[k]))
				fail_msg("%s: \"%s\" lacks \"%s\"", c->name, e.msg, c->want[k]);
	}
}

/* Defects in the fixed part: written raw, since mb2_run would repair them. */
static void expect_raw(uint64_t addr, uint32_t total, const void *tail, uint32_t n, const char *want)
{
	struct boot_info bi;
	err_t e;

	fakemem_reset();
	fakemem_w32(addr, total);
	if (n)
		fakemem_write(addr + 8, tail, n);
	assert_int_equal(boot_parse(MULTIBOOT2_BOOTLOADER_MAGIC, addr, &bi, &e), -1);
	if (!strstr(e.msg, want))
		fail_msg("\"%s\" lacks \"%s\"", e.msg, want);
}

static void test_mb2_fixed_part(void **state)
{
	const uint32_t end_tag[2] = { T_END, 8 };
	const uint32_t cmd_tag[4] = { T_CMDLINE, 12, 0x41, 0 };

	(void)state;
	expect_raw(INFO_ADDR, 8, NULL, 0, "total_size 8 is too small");
	expect_raw(INFO_ADDR, 0, NULL, 0, "total_size 0 is too small");
	expect_raw(INFO_ADDR, 0x40000000, end_tag, 8, "total_size 1073741824 is too large");
	expect_raw(FAKEMEM_SIZE - 16, 32, end_tag, 8, "is outside memory");
	expect_raw(INFO_ADDR, 24, cmd_tag, 16, "no end tag");
	/* A well-formed block at an address that is not 8-byte aligned. */
	expect_raw(INFO_ADDR + 4, 16, end_tag, 8, "not 8-byte aligned");
	/* The header itself outside memory: address 0 and past the end. */
	expect_raw(FAKEMEM_SIZE - 8, 16, NULL, 0, "outside memory");
}

static void test_bad_magic_and_null_err(void **state)
{
	static struct mb2 b;
	struct boot_info bi;
	err_t e;

	(void)state;
	assert_int_equal(boot_parse(0x12345678, INFO_ADDR, &bi, &e), -1);
	assert_non_null(strstr(e.msg, "magic 0x12345678"));
	/* A NULL err_t is allowed: the failure still returns -1 without a crash. */
	mb2_begin(&b);
	bad_overlap(&b);
	assert_int_equal(mb2_run(&b, &bi, NULL), -1);
	assert_int_equal(boot_parse(MULTIBOOT2_BOOTLOADER_MAGIC, 0, &bi, NULL), -1);
}

/* Multiboot1: a 68-byte fixed struct whose flags say which fields hold. */
enum { MB1_CMDLINE = 1 << 2, MB1_MODS = 1 << 3, MB1_MMAP = 1 << 6, MB1_LOADER = 1 << 9 };
enum { O_FLAGS = 0, O_CMDLINE = 16, O_MODS_COUNT = 20, O_MODS_ADDR = 24, O_MMAP_LEN = 44,
       O_MMAP_ADDR = 48, O_LOADER = 64 };
#define MB1_INFO_SIZE 68u
#define MB1_MODS_ADDR 0x21000u
#define MB1_MMAP_ADDR 0x22000u

static void mb1_str(uint32_t field, uint32_t addr, const char *s)
{
	fakemem_w32(INFO_ADDR + field, addr);
	fakemem_write(addr, s, strlen(s) + 1);
}

/* An entry whose 'size' field is size (20 normally); returns the bytes it took. */
static uint32_t mb1_mmap_entry(uint64_t at, uint32_t size, uint64_t base, uint64_t len, uint32_t type)
{
	fakemem_w32(at, size);
	fakemem_w64(at + 4, base);
	fakemem_w64(at + 12, len);
	fakemem_w32(at + 20, type);
	return size + 4;
}

static void mb1_module(unsigned i, uint32_t start, uint32_t end, uint32_t name_addr)
{
	uint64_t at = MB1_MODS_ADDR + 16ull * i;

	fakemem_w32(at, start);
	fakemem_w32(at + 4, end);
	fakemem_w32(at + 8, name_addr);
}

static int mb1_run(uint32_t flags, struct boot_info *bi, err_t *e)
{
	fakemem_w32(INFO_ADDR + O_FLAGS, flags);
	return boot_parse(MULTIBOOT1_BOOTLOADER_MAGIC, INFO_ADDR, bi, e);
}

static void mb1_map(uint32_t length)
{
	fakemem_w32(INFO_ADDR + O_MMAP_ADDR, MB1_MMAP_ADDR);
	fakemem_w32(INFO_ADDR + O_MMAP_LEN, length);
}

static void test_mb1_good(void **state)
{
	struct boot_info bi;
	err_t e;
	uint32_t n = 0;

	(void)state;
	mb1_str(O_CMDLINE, STR_ADDR, "slicehv debug");
	mb1_str(O_LOADER, STR_ADDR + 0x100, "GRUB 0.97");
	fakemem_w32(INFO_ADDR + O_MODS_COUNT, 2);
	fakemem_w32(INFO_ADDR + O_MODS_ADDR, MB1_MODS_ADDR);
	mb1_module(0, 0x200000, 0x280000, STR_ADDR + 0x200);
	mb1_module(1, 0x280000, 0x281000, STR_ADDR + 0x300);
	fakemem_write(STR_ADDR + 0x200, "linux.bin root=/dev/ram", 24);
	fakemem_write(STR_ADDR + 0x300, "", 1);
	n += mb1_mmap_entry(MB1_MMAP_ADDR + n, 20, 0, 0x9f000, 1);
	n += mb1_mmap_entry(MB1_MMAP_ADDR + n, 24, 0xf0000, 0x10000, 2); /* larger 'size': skipped by it */
	n += mb1_mmap_entry(MB1_MMAP_ADDR + n, 20, 0x100000, 0x3f00000, 1);
	mb1_map(n);
	assert_int_equal(mb1_run(MB1_CMDLINE | MB1_LOADER | MB1_MODS | MB1_MMAP, &bi, &e), 0);
	assert_string_equal(bi.cmdline, "slicehv debug");
	assert_string_equal(bi.loader, "GRUB 0.97");
	assert_int_equal(bi.mod_count, 2);
	assert_string_equal(bi.mod[0].name, "linux.bin root=/dev/ram");
	assert_false(bi.mod[0].cut);
	assert_int_equal(bi.mod[1].start, 0x280000);
	assert_int_equal(bi.mod[1].end, 0x281000);
	assert_int_equal(bi.mmap_count, 3);
	assert_int_equal(bi.mmap[1].base, 0xf0000);
	assert_int_equal(bi.mmap[1].type, MEM_RESERVED);
	assert_int_equal(bi.mmap[2].len, 0x3f00000);
	assert_int_equal(boot_usable_bytes(&bi), 0x9f000 + 0x3f00000);
	assert_false(bi.has_rsdp);
	assert_int_equal(bi.info_start, INFO_ADDR);
	assert_int_equal(bi.info_end, INFO_ADDR + MB1_INFO_SIZE);
}

/* Fields whose flag bit is clear are ignored, however wild they are. */
static void test_mb1_flags_clear(void **state)
{
	struct boot_info bi;
	err_t e;

	(void)state;
	fakemem_w32(INFO_ADDR + O_CMDLINE, 0xfffffff0);
	fakemem_w32(INFO_ADDR + O_MODS_COUNT, 1000);
	mb1_map(0xffffffff);
	assert_int_equal(mb1_run(0, &bi, &e), 0);
	assert_int_equal(bi.mmap_count, 0);
	assert_int_equal(bi.mod_count, 0);
	assert_string_equal(bi.cmdline, "");
}

/* Flags set but the lists empty, at address 0 as some loaders leave them. */
static void test_mb1_empty_lists(void **state)
{
	struct boot_info bi;
	err_t e;

	(void)state;
	assert_int_equal(mb1_run(MB1_MODS | MB1_MMAP, &bi, &e), 0);
	assert_int_equal(bi.mod_count, 0);
	assert_int_equal(bi.mmap_count, 0);
}

static void test_mb1_cmdline_truncated(void **state)
{
	struct boot_info bi;
	err_t e;
	char longs[BOOT_MODULE_LINE_LEN + 100];

	(void)state;
	memset(longs, 'k', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	mb1_str(O_CMDLINE, STR_ADDR, longs);
	fakemem_w32(INFO_ADDR + O_MODS_COUNT, 1);
	fakemem_w32(INFO_ADDR + O_MODS_ADDR, MB1_MODS_ADDR);
	mb1_module(0, 0x200000, 0x280000, STR_ADDR);
	assert_int_equal(mb1_run(MB1_CMDLINE | MB1_MODS, &bi, &e), 0);
	assert_int_equal(strlen(bi.cmdline), BOOT_CMDLINE_LEN - 1);
	assert_int_equal(strlen(bi.mod[0].name), BOOT_MODULE_LINE_LEN - 1);
	assert_true(bi.mod[0].cut);
}

static void mb1_expect(uint32_t flags, const char *want1, const char *want2)
{
	struct boot_info bi;
	err_t e;

	assert_int_equal(mb1_run(flags, &bi, &e), -1);
	if (!strstr(e.msg, want1) || (want2 && !strstr(e.msg, want2)))
		fail_msg("\"%s\" lacks \"%s\" or \"%s\"", e.msg, want1, want2 ? want2 : "");
}

static void test_mb1_malformed_mmap(void **state)
{
	(void)state;
	mb1_mmap_entry(MB1_MMAP_ADDR, 16, 0, 0x1000, 1);
	mb1_map(20); /* shorter than one whole entry */
	mb1_expect(MB1_MMAP, "entry at +0x0", "only 20 bytes left");
	mb1_map(24);
	mb1_expect(MB1_MMAP, "entry at +0x0", "size 16 is outside [20, 20]");
	mb1_mmap_entry(MB1_MMAP_ADDR, 28, 0, 0x1000, 1); /* runs past mmap_length 24 */
	mb1_expect(MB1_MMAP, "entry at +0x0", "size 28 is outside [20, 20]");
	mb1_mmap_entry(MB1_MMAP_ADDR, 20, 0, 0x1000, 1);
	mb1_map(30); /* 6 stray bytes after one entry */
	mb1_expect(MB1_MMAP, "entry at +0x18", "only 6 bytes left");
	mb1_mmap_entry(MB1_MMAP_ADDR + 24, 20, 0x5000, 0, 1);
	mb1_map(48);
	mb1_expect(MB1_MMAP, "entry 1 (base 0x5000)", "length is zero");
	mb1_mmap_entry(MB1_MMAP_ADDR + 24, 20, 0x800, 0x1000, 1);
	mb1_expect(MB1_MMAP, "entries 0 [0x0, +0x1000) and 1 [0x800, +0x1000)", "overlap");
	fakemem_w32(INFO_ADDR + O_MMAP_ADDR, FAKEMEM_SIZE - 8);
	mb1_expect(MB1_MMAP, "multiboot1 mmap at 0x", "is outside memory");
}

static void test_mb1_too_many_mmap(void **state)
{
	uint32_t n = 0;

	(void)state;
	for (unsigned i = 0; i <= BOOT_MAX_MMAP; i++)
		n += mb1_mmap_entry(MB1_MMAP_ADDR + n, 20, 0x1000ull * i, 0x1000, 2);
	mb1_map(n);
	mb1_expect(MB1_MMAP, "BOOT_MAX_MMAP (64)", NULL);
}

static void test_mb1_malformed_modules(void **state)
{
	(void)state;
	fakemem_w32(INFO_ADDR + O_MODS_ADDR, MB1_MODS_ADDR);
	fakemem_w32(INFO_ADDR + O_MODS_COUNT, BOOT_MAX_MODULES + 1);
	mb1_expect(MB1_MODS, "mods_count 17", "BOOT_MAX_MODULES (16)");
	fakemem_w32(INFO_ADDR + O_MODS_COUNT, 2);
	fakemem_w32(INFO_ADDR + O_MODS_ADDR, FAKEMEM_SIZE - 16);
	mb1_expect(MB1_MODS, "module list at 0x", "outside memory");
	fakemem_w32(INFO_ADDR + O_MODS_ADDR, MB1_MODS_ADDR);
	mb1_module(0, 0x1000, 0x2000, STR_ADDR);
	mb1_module(1, 0x3000, 0x2fff, STR_ADDR);
	mb1_expect(MB1_MODS, "module 1 [0x3000, 0x2fff)", "end is below start");
	/* A module name with no NUL before the end of memory. */
	mb1_module(1, 0x3000, 0x4000, FAKEMEM_SIZE - 4);
	fakemem_write(FAKEMEM_SIZE - 4, "abcd", 4);
	mb1_expect(MB1_MODS, "module string at 0x1ffffc", "runs outside memory");
}

static void test_mb1_malformed_strings(void **state)
{
	(void)state;
	fakemem_w32(INFO_ADDR + O_CMDLINE, FAKEMEM_SIZE + 0x1000);
	mb1_expect(MB1_CMDLINE, "cmdline string at 0x201000", "outside memory");
	fakemem_w32(INFO_ADDR + O_LOADER, 0);
	mb1_expect(MB1_LOADER, "loader name string at 0x0", "outside memory");
}

static void test_mb1_info_outside_memory(void **state)
{
	struct boot_info bi;
	err_t e;

	(void)state;
	assert_int_equal(boot_parse(MULTIBOOT1_BOOTLOADER_MAGIC, FAKEMEM_SIZE - 32, &bi, &e), -1);
	assert_non_null(strstr(e.msg, "multiboot1 information at 0x1fffe0 is outside memory"));
}

static void test_mem_type_names(void **state)
{
	(void)state;
	assert_string_equal(boot_mem_type_name(MEM_USABLE), "usable");
	assert_string_equal(boot_mem_type_name(MEM_RESERVED), "reserved");
	assert_string_equal(boot_mem_type_name(MEM_ACPI_RECLAIMABLE), "ACPI data");
	assert_string_equal(boot_mem_type_name(MEM_ACPI_NVS), "ACPI NVS");
	assert_string_equal(boot_mem_type_name(MEM_BAD), "bad");
	assert_string_equal(boot_mem_type_name(0), "unknown");
	assert_string_equal(boot_mem_type_name(0xf00), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_mb2_good, setup),
		cmocka_unit_test_setup(test_mb2_minimal_and_wider_entries, setup),
		cmocka_unit_test_setup(test_mb2_strings_truncated, setup),
		cmocka_unit_test_setup(test_mb2_cmdline_truncated, setup),
		cmocka_unit_test_setup(test_mb2_rsdp_preference, setup),
		cmocka_unit_test_setup(test_mb2_reserved_overlap_allowed, setup),
		cmocka_unit_test_setup(test_mb2_malformed, setup),
		cmocka_unit_test_setup(test_mb2_fixed_part, setup),
		cmocka_unit_test_setup(test_bad_magic_and_null_err, setup),
		cmocka_unit_test_setup(test_mb1_good, setup),
		cmocka_unit_test_setup(test_mb1_flags_clear, setup),
		cmocka_unit_test_setup(test_mb1_empty_lists, setup),
		cmocka_unit_test_setup(test_mb1_cmdline_truncated, setup),
		cmocka_unit_test_setup(test_mb1_malformed_mmap, setup),
		cmocka_unit_test_setup(test_mb1_too_many_mmap, setup),
		cmocka_unit_test_setup(test_mb1_malformed_modules, setup),
		cmocka_unit_test_setup(test_mb1_malformed_strings, setup),
		cmocka_unit_test_setup(test_mb1_info_outside_memory, setup),
		cmocka_unit_test(test_mem_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
