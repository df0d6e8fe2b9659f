/* Unit tests for the guest ELF loader: images assembled in memory, good ones and broken ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "elf.h"
#include "fakemem.h"
#include "phys.h"

#define FILE_SIZE 0x4000u
#define MAX_SEGS 4
#define SLICE_BASE 0x100000u
#define SLICE_SIZE 0x100000u
#define POISON 0xcc
#define PT_NOTE 4
#define ET_REL 1

/* An image under construction: headers in structs, payload bytes follow a fixed pattern. */
struct image {
	struct elf64_ehdr eh;
	struct elf64_phdr ph[MAX_SEGS];
	uint8_t file[FILE_SIZE + 1]; /* one spare byte to test an unaligned file */
	uint64_t size;
};

static uint8_t pattern(uint64_t offset)
{
	return (uint8_t)(offset * 7 + 3);
}

static void add_seg(struct image *im, uint64_t off, uint64_t va, uint64_t pa, uint64_t filesz,
		    uint64_t memsz)
{
	im->ph[im->eh.e_phnum++] = (struct elf64_phdr){ .p_type = PT_LOAD, .p_offset = off,
		.p_vaddr = va, .p_paddr = pa, .p_filesz = filesz, .p_memsz = memsz, .p_align = 0x1000 };
}

/* Text [0x200000, 0x201000) from file 0x1000; data at 0x203000: 0x800 file bytes, 0x1800 bss. */
static void good_image(struct image *im)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->eh.e_ident, ELF_MAGIC, ELF_MAGIC_LEN);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_type = ET_EXEC;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_version = 1;
	im->eh.e_entry = 0x200010;
	im->eh.e_phoff = sizeof(struct elf64_ehdr);
	im->eh.e_phentsize = sizeof(struct elf64_phdr);
	im->eh.e_ehsize = sizeof(struct elf64_ehdr);
	add_seg(im, 0x1000, 0x200000, 0x200000, 0x1000, 0x1000);
	add_seg(im, 0x2000, 0x203000, 0x203000, 0x800, 0x2000);
	im->size = FILE_SIZE;
}

static const uint8_t *serialize(struct image *im, unsigned misalign)
{
	uint8_t *f = im->file + misalign;
	unsigned n = im->eh.e_phnum < MAX_SEGS ? im->eh.e_phnum : MAX_SEGS;

	for (uint64_t i = 0; i < FILE_SIZE; i++)
		f[i] = pattern(i);
	memcpy(f, &im->eh, sizeof(im->eh));
	if (im->eh.e_phoff < FILE_SIZE - sizeof(im->ph))
		memcpy(f + im->eh.e_phoff, im->ph, n * sizeof(im->ph[0]));
	return f;
}

static void poison_slice(void)
{
	fakemem_reset();
	memset(phys_ptr(SLICE_BASE, SLICE_SIZE), POISON, SLICE_SIZE);
}

static void assert_bytes(uint64_t addr, uint64_t len, int value)
{
	const uint8_t *p = phys_ptr(addr, len);

	assert_non_null(p);
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != value)
			fail_msg("byte at 0x%lx is 0x%02x, expected 0x%02x", addr + i, p[i], value);
}

static void assert_file_bytes(uint64_t addr, uint64_t off, uint64_t len)
{
	const uint8_t *p = phys_ptr(addr, len);

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != pattern(off + i))
			fail_msg("byte at 0x%lx does not match file offset 0x%lx", addr + i, off + i);
}

static void load_ok(struct image *im, uint64_t load_base, struct elf_image *out)
{
	err_t e = { "" };
	const uint8_t *f = serialize(im, 0);

	poison_slice();
	if (elf_load(f, im->size, SLICE_BASE, SLICE_SIZE, load_base, out, &e))
		fail_msg("elf_load failed: %s", e.msg);
}

static void test_good_image(void **state)
{
	struct image im;
	struct elf_image out;

	(void)state;
	good_image(&im);
	load_ok(&im, SLICE_BASE, &out);
	assert_int_equal(out.entry, SLICE_BASE + 0x10);
	assert_int_equal(out.start, SLICE_BASE);
	assert_int_equal(out.end, SLICE_BASE + 0x5000);
	assert_file_bytes(SLICE_BASE, 0x1000, 0x1000);
	assert_bytes(SLICE_BASE + 0x1000, 0x2000, POISON); /* the hole between segments */
	assert_file_bytes(SLICE_BASE + 0x3000, 0x2000, 0x800);
	assert_bytes(SLICE_BASE + 0x3800, 0x1800, 0);      /* bss */
	assert_bytes(SLICE_BASE + 0x5000, SLICE_SIZE - 0x5000, POISON);
}

static void test_load_base_inside_slice(void **state)
{
	struct image im;
	struct elf_image out;

	(void)state;
	good_image(&im);
	load_ok(&im, SLICE_BASE + 0x20000, &out);
	assert_int_equal(out.entry, SLICE_BASE + 0x20010);
	assert_int_equal(out.end, SLICE_BASE + 0x25000);
	assert_bytes(SLICE_BASE, 0x20000, POISON);
	assert_file_bytes(SLICE_BASE + 0x20000, 0x1000, 0x1000);
}

/* A higher-half kernel: e_entry is virtual and goes through its segment's p_paddr. */
static void test_higher_half_entry(void **state)
{
	struct image im;
	struct elf_image out;

	(void)state;
	good_image(&im);
	im.ph[0].p_vaddr = 0xffffffff80000000ull;
	im.ph[1].p_vaddr = 0xffffffff80003000ull;
	im.eh.e_entry = 0xffffffff80003100ull;
	load_ok(&im, SLICE_BASE, &out);
	assert_int_equal(out.entry, SLICE_BASE + 0x3100);
}

/* Program headers out of address order, ET_DYN at address 0, and a file that is not aligned. */
static void test_unordered_dyn_unaligned(void **state)
{
	struct image im;
	struct elf_image out;
	err_t e = { "" };
	const uint8_t *f;

	(void)state;
	good_image(&im);
	im.eh.e_type = ET_DYN;
	im.eh.e_phnum = 0;
	im.eh.e_entry = 0x20;
	add_seg(&im, 0x2000, 0x4000, 0x4000, 0x100, 0x100);
	add_seg(&im, 0x1000, 0x0, 0x0, 0x100, 0x1000);
	im.ph[2] = (struct elf64_phdr){ .p_type = PT_NOTE, .p_offset = 0x3000, .p_filesz = 8 };
	im.eh.e_phnum = 3;
	f = serialize(&im, 1);
	poison_slice();
	if (elf_load(f, im.size, SLICE_BASE, SLICE_SIZE, SLICE_BASE, &out, &e))
		fail_msg("elf_load failed: %s", e.msg);
	assert_int_equal(out.entry, SLICE_BASE + 0x20);
	assert_int_equal(out.end, SLICE_BASE + 0x4100);
	assert_file_bytes(SLICE_BASE + 0x4000, 0x2000, 0x100);
	assert_bytes(SLICE_BASE + 0x100, 0xf00, 0);
}

/* Exactly filling the slice is fine; the loader stays inside [start, end). */
static void test_fills_slice_exactly(void **state)
{
	struct image im;
	struct elf_image out;

	(void)state;
	good_image(&im);
	im.ph[1].p_memsz = SLICE_SIZE - 0x3000;
	load_ok(&im, SLICE_BASE, &out);
	assert_int_equal(out.end, SLICE_BASE + SLICE_SIZE);
	assert_bytes(SLICE_BASE + 0x3800, SLICE_SIZE - 0x3800, 0);
}

typedef void (*breaker_fn)(struct image *im);

static void expect_error(breaker_fn brk, uint64_t slice_base, uint64_t slice_size, uint64_t load_base,
			 const char *what)
{
	struct image im;
	struct elf_image out = { 1, 2, 3 };
	err_t e = { "" };
	const uint8_t *f;

	good_image(&im);
	if (brk)
		brk(&im);
	f = serialize(&im, 0);
	poison_slice();
	assert_int_equal(elf_load(f, im.size, slice_base, slice_size, load_base, &out, &e), -1);
	if (!strstr(e.msg, what))
		fail_msg("expected '%s' in '%s'", what, e.msg);
	assert_bytes(SLICE_BASE, SLICE_SIZE, POISON); /* validated before anything was written */
	assert_int_equal(out.entry, 1);
}

static void expect_bad(breaker_fn brk, const char *what)
{
	expect_error(brk, SLICE_BASE, SLICE_SIZE, SLICE_BASE, what);
}

static void short_file(struct image *im) { im->size = sizeof(im->eh) - 1; }
static void bad_magic(struct image *im) { im->eh.e_ident[1] = 'X'; }
static void class32(struct image *im) { im->eh.e_ident[EI_CLASS] = 1; }
static void big_endian(struct image *im) { im->eh.e_ident[EI_DATA] = 2; }
static void machine_i386(struct image *im) { im->eh.e_machine = 3; }
static void type_rel(struct image *im) { im->eh.e_type = ET_REL; }
static void phentsize(struct image *im) { im->eh.e_phentsize = 32; }
static void phnum_zero(struct image *im) { im->eh.e_phnum = 0; }
static void phnum_absurd(struct image *im) { im->eh.e_phnum = 0xffff; }
static void phoff_past_end(struct image *im) { im->eh.e_phoff = FILE_SIZE - 8; }
static void phoff_huge(struct image *im) { im->eh.e_phoff = UINT64_MAX - 16; }
static void no_load(struct image *im)
{
	im->ph[0].p_type = im->ph[1].p_type = PT_NOTE;
}

static void empty_loads(struct image *im)
{
	im->ph[0].p_memsz = im->ph[0].p_filesz = im->ph[1].p_memsz = im->ph[1].p_filesz = 0;
}

static void truncated(struct image *im) { im->ph[1].p_filesz = 0x2001; im->ph[1].p_memsz = 0x3000; }
static void offset_huge(struct image *im) { im->ph[1].p_offset = UINT64_MAX - 0x10; }
static void filesz_gt_memsz(struct image *im) { im->ph[0].p_filesz = 0x1001; }
static void overlap(struct image *im) { im->ph[1].p_paddr = 0x200fff; }
static void overlap_same(struct image *im)
{
	im->ph[1].p_paddr = 0x200000;
	im->ph[1].p_memsz = im->ph[1].p_filesz = 0x10;
}

static void too_big(struct image *im) { im->ph[1].p_memsz = SLICE_SIZE - 0x3000 + 1; }
static void paddr_overflow(struct image *im) { im->ph[1].p_paddr = UINT64_MAX - 0x10; }
static void vaddr_overflow(struct image *im) { im->ph[1].p_vaddr = UINT64_MAX - 0x10; }
static void entry_outside(struct image *im) { im->eh.e_entry = 0x201000; }
static void entry_in_gap(struct image *im) { im->eh.e_entry = 0x202fff; }

static void test_bad_headers(void **state)
{
	(void)state;
	expect_bad(short_file, "shorter than an ELF header");
	expect_bad(bad_magic, "bad magic");
	expect_bad(class32, "class 1 is not ELFCLASS64");
	expect_bad(big_endian, "data encoding 2 is not little-endian");
	expect_bad(machine_i386, "machine 3 is not x86-64");
	expect_bad(type_rel, "type 1 is not ET_EXEC or ET_DYN");
	expect_bad(phentsize, "e_phentsize 32 is not 56");
	expect_bad(phnum_zero, "e_phnum 0 is not in 1..64");
	expect_bad(phnum_absurd, "e_phnum 65535");
	expect_bad(phoff_past_end, "program headers at 0x3ff8+0x70 are outside the file");
	expect_bad(phoff_huge, "are outside the file");
}

static void test_bad_segments(void **state)
{
	(void)state;
	expect_bad(no_load, "no PT_LOAD segment");
	expect_bad(empty_loads, "no PT_LOAD segment");
	expect_bad(truncated, "segment 1: file bytes 0x2000+0x2001 run past the end of the file");
	expect_bad(offset_huge, "segment 1: file bytes");
	expect_bad(filesz_gt_memsz, "segment 0: p_filesz 0x1001 is larger than p_memsz 0x1000");
	expect_bad(overlap, "segment 1 overlaps segment 0");
	expect_bad(overlap_same, "segment 1 overlaps segment 0");
	expect_bad(paddr_overflow, "segment 1: address + p_memsz 0x2000 overflows 64 bits");
	expect_bad(vaddr_overflow, "overflows 64 bits");
	expect_bad(entry_outside, "entry point 0x201000 is in no PT_LOAD segment");
	expect_bad(entry_in_gap, "entry point 0x202fff");
}

static void test_bad_placement(void **state)
{
	(void)state;
	expect_bad(too_big, "segment 1: ends at load base 0x100000 + 0x100001, outside the slice");
	expect_error(NULL, SLICE_BASE, SLICE_SIZE, SLICE_BASE + SLICE_SIZE - 0x4000, "segment 1: ends");
	/* A slice that runs past the fake memory: the loader refuses memory phys_ptr cannot give. */
	expect_error(NULL, FAKEMEM_SIZE - 0x2000, 0x100000, FAKEMEM_SIZE - 0x2000,
		     "segment 1: 0x201000+0x2000 is not accessible memory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_image),
		cmocka_unit_test(test_load_base_inside_slice),
		cmocka_unit_test(test_higher_half_entry),
		cmocka_unit_test(test_unordered_dyn_unaligned),
		cmocka_unit_test(test_fills_slice_exactly),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_segments),
		cmocka_unit_test(test_bad_placement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
