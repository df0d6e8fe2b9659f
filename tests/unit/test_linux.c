/* Unit tests for the Linux loader: a synthesized vmlinux and bzImage, good ones and broken ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "acpi.h"
#include "elf.h"
#include "fakemem.h"
#include "linux.h"
#include "phys.h"

#define BASE        MiB(4)   /* the slice's host base: guest-physical 0 */
#define PVH_SIZE    MiB(4)
#define BZ_SIZE     MiB(24)
#define POISON      0xcc
#define FILE_MAX    0x6000u
#define INITRD_SIZE 0x2100u  /* not a page multiple: placed page aligned below the top */
#define CMDLINE     "console=ttyS0 quiet"

/* The synthesized vmlinux: text at 1 MiB + 0x10000 and bss after it, the PVH note in a PT_NOTE. */
#define K_PADDR     (MiB(1) + 0x10000)
#define K_VADDR     (0xffffffff80000000ull + K_PADDR)
#define K_FILESZ    0x1000u
#define K_MEMSZ     0x3000u
#define K_OFFSET    0x1000u
#define K_ENTRY     (K_PADDR + 0x850)
#define NOTE_OFFSET 0x400u

static uint8_t file[FILE_MAX];
static uint64_t file_size;
static uint8_t initrd[INITRD_SIZE];

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 13 + 5);
}

static void poison(void)
{
	fakemem_reset();
	memset(phys_ptr(1, FAKEMEM_MAX - 1), POISON, FAKEMEM_MAX - 1);
}

static bool is_poison(uint64_t addr, uint64_t len)
{
	const uint8_t *p = phys_ptr(addr, len);

	return len == 0 || (p[0] == POISON && memcmp(p, p + 1, len - 1) == 0);
}

static void assert_outside_untouched(uint64_t size)
{
	assert_true(is_poison(1, BASE - 1));
	assert_true(is_poison(BASE + size, FAKEMEM_MAX - BASE - size));
}

static void *gp(uint64_t gpa, uint64_t len)
{
	void *p = phys_ptr(BASE + gpa, len);

	assert_non_null(p);
	return p;
}

static struct linux_boot boot(uint64_t size)
{
	for (unsigned i = 0; i < INITRD_SIZE; i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	return (struct linux_boot){ .base = BASE, .size = size, .kernel = file, .kernel_size = file_size,
				    .initrd = initrd, .initrd_size = INITRD_SIZE, .cmdline = CMDLINE,
				    .x2apic_id = 0x102 };
}

/* ---- the vmlinux ---- */

struct note { const char *owner; uint32_t type, descsz; uint64_t value; };

static uint64_t put_note(uint64_t off, const struct note *n)
{
	struct elf64_nhdr h = { (uint32_t)strlen(n->owner) + 1, n->descsz, n->type };

	memcpy(file + off, &h, sizeof(h));
	memcpy(file + off + sizeof(h), n->owner, h.n_namesz);
	off += sizeof(h) + ALIGN_UP(h.n_namesz, 4);
	memcpy(file + off, &n->value, n->descsz < 8 ? n->descsz : 8);
	return off + ALIGN_UP(n->descsz, 4);
}

/* Headers: a PT_NOTE holding the notes given (after an unrelated "Xen" and a "GNU" one), a PT_LOAD. */
static void vmlinux(const struct note *notes, unsigned n, uint64_t paddr)
{
	struct elf64_ehdr eh = { .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = 1,
				 .e_entry = paddr, .e_phoff = sizeof(eh), .e_ehsize = sizeof(eh),
				 .e_phentsize = sizeof(struct elf64_phdr), .e_phnum = 2 };
	struct note before[] = { { "Xen", 6, 6, 0x78756e696cull }, { "GNU", 18, 4, 0x1234 } };
	struct elf64_phdr ph[2] = {
		{ .p_type = PT_NOTE, .p_offset = NOTE_OFFSET, .p_align = 4 },
		{ .p_type = PT_LOAD, .p_offset = K_OFFSET, .p_vaddr = K_VADDR, .p_paddr = paddr,
		  .p_filesz = K_FILESZ, .p_memsz = K_MEMSZ, .p_align = 0x1000 },
	};
	uint64_t off = NOTE_OFFSET;

	for (unsigned i = 0; i < sizeof(file); i++)
		file[i] = pattern(i);
	memcpy(eh.e_ident, ELF_MAGIC, ELF_MAGIC_LEN);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	for (unsigned i = 0; i < ARRAY_SIZE(before); i++)
		off = put_note(off, &before[i]);
	for (unsigned i = 0; i < n; i++)
		off = put_note(off, &notes[i]);
	ph[0].p_filesz = ph[0].p_memsz = off - NOTE_OFFSET;
	memcpy(file, &eh, sizeof(eh));
	memcpy(file + sizeof(eh), ph, sizeof(ph));
	file_size = K_OFFSET + K_FILESZ;
}

static const struct note pvh_note = { "Xen", 18, 8, K_ENTRY };

static struct elf64_phdr *phdr(unsigned i)
{
	return (struct elf64_phdr *)(file + sizeof(struct elf64_ehdr)) + i;
}

/* As hv/partition.c loads a kernel: its route from linux_probe (none: an error), then linux_load. */
static int load(const struct linux_boot *b, struct linux_entry *out, err_t *e)
{
	if (linux_probe(b->kernel, b->kernel_size, out, e))
		return -1;
	return out->route == LINUX_NONE ? -1 : linux_load(b, out, e);
}

static void load_ok(struct linux_boot *b, struct linux_entry *out)
{
	err_t e = { "" };

	poison();
	if (load(b, out, &e))
		fail_msg("linux_load failed: %s", e.msg);
	assert_outside_untouched(b->size);
}

static void expect_error(struct linux_boot *b, const char *what)
{
	struct linux_entry out;
	err_t e = { "" };

	poison();
	assert_int_equal(load(b, &out, &e), -1);
	if (!strstr(e.msg, what))
		fail_msg("error \"%s\" does not name \"%s\"", e.msg, what);
	assert_true(is_poison(1, FAKEMEM_MAX - 1)); /* everything checked before anything written */
}

/* An n-byte little-endian field at p, whatever its alignment. */
static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

static uint8_t sum(const void *p, uint64_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

/* The memory map both routes give, as (addr, size, type) triples. */
static void assert_map(uint64_t i, uint64_t addr, uint64_t size, uint32_t type, uint64_t slice)
{
	static const uint64_t want[LINUX_E820_ENTRIES][2] = {
		{ 0, 0xA0000 }, { 0xA0000, 0x60000 }, { 0x100000, 0 } };

	assert_int_equal(addr, want[i][0]);
	assert_int_equal(size, i == 2 ? slice - 0x100000 : want[i][1]);
	assert_int_equal(type, i == 1 ? E820_RESERVED : E820_RAM);
}

/* The tables everything shares: zeroed low memory, the command line, the initrd at the top. */
static void assert_common(const struct linux_entry *out, uint64_t initrd_end)
{
	uint64_t rd = ALIGN_DOWN(initrd_end - INITRD_SIZE, PAGE_SIZE);

	assert_int_equal(out->initrd_start, rd);
	assert_memory_equal(gp(rd, INITRD_SIZE), initrd, INITRD_SIZE);
	assert_string_equal(gp(LINUX_CMDLINE_GPA, sizeof(CMDLINE)), CMDLINE);
	for (uint64_t a = 0; a < LINUX_ACPI_GPA; a++)
		if (*(uint8_t *)gp(a, 1))
			fail_msg("low byte at guest 0x%lx is not zero", a);
}

static void test_pvh_good(void **state)
{
	struct linux_boot b;
	struct linux_entry out;
	struct linux_pvh_info *p;

	(void)state;
	vmlinux(&pvh_note, 1, K_PADDR);
	b = boot(PVH_SIZE);
	load_ok(&b, &out);
	assert_int_equal(out.route, LINUX_PVH);
	assert_int_equal(out.ip, K_ENTRY);
	assert_int_equal(out.boot_info, LINUX_BOOT_INFO_GPA);
	assert_int_equal(out.kernel_start, K_PADDR);
	assert_int_equal(out.kernel_end, K_PADDR + K_MEMSZ);
	assert_memory_equal(gp(K_PADDR, K_FILESZ), file + K_OFFSET, K_FILESZ);
	assert_true(is_poison(BASE + K_PADDR + K_MEMSZ, 0x1000)); /* only the kernel, its bss zeroed */
	p = gp(LINUX_BOOT_INFO_GPA, sizeof(*p));
	assert_int_equal(p->start.magic, 0x336ec578);
	assert_int_equal(p->start.version, 1);
	assert_int_equal(p->start.flags, 0);
	assert_int_equal(p->start.nr_modules, 1);
	assert_int_equal(p->start.cmdline_paddr, LINUX_CMDLINE_GPA);
	assert_int_equal(p->start.rsdp_paddr, LINUX_ACPI_GPA);
	assert_int_equal(p->start.memmap_entries, LINUX_E820_ENTRIES);
	assert_ptr_equal(gp(p->start.modlist_paddr, 32), &p->initrd);
	assert_ptr_equal(gp(p->start.memmap_paddr, 24), p->map);
	assert_int_equal(p->initrd.paddr, out.initrd_start);
	assert_int_equal(p->initrd.size, INITRD_SIZE);
	for (unsigned i = 0; i < LINUX_E820_ENTRIES; i++)
		assert_map(i, p->map[i].addr, p->map[i].size, p->map[i].type, PVH_SIZE);
	assert_common(&out, PVH_SIZE);
}

/* A 4-byte descriptor (Xen's own documentation uses .long), no initrd, an empty command line. */
static void test_pvh_note4_no_initrd(void **state)
{
	struct note n = { "Xen", 18, 4, K_ENTRY + 0x10 };
	struct linux_boot b;
	struct linux_entry out;
	struct linux_pvh_info *p;

	(void)state;
	vmlinux(&n, 1, K_PADDR);
	b = boot(PVH_SIZE);
	b.initrd_size = 0;
	b.cmdline = "";
	load_ok(&b, &out);
	assert_int_equal(out.ip, K_ENTRY + 0x10);
	assert_int_equal(out.initrd_start, 0);
	p = gp(LINUX_BOOT_INFO_GPA, sizeof(*p));
	assert_int_equal(p->start.nr_modules, 0);
	assert_int_equal(*(char *)gp(LINUX_CMDLINE_GPA, 1), '\0');
}

static void test_pvh_bad_notes(void **state)
{
	struct note wrong_type = { "Xen", 17, 8, K_ENTRY }, wrong_owner = { "Xe", 18, 8, K_ENTRY };
	struct note short_desc = { "Xen", 18, 2, K_ENTRY }, outside = { "Xen", 18, 8, K_PADDR - 1 };
	struct note high = { "Xen", 18, 8, K_ENTRY + BIT(32) };
	struct linux_boot b;
	struct linux_entry out;
	err_t e = { "" };

	(void)state;
	vmlinux(NULL, 0, K_PADDR);
	b = boot(PVH_SIZE);
	expect_error(&b, "no \"Xen\" note of type 18");
	/* No note: not a Linux kernel (a toy's ELF), which is no error of linux_probe's. */
	assert_int_equal(linux_probe(file, file_size, &out, &e), 0);
	assert_int_equal(out.route, LINUX_NONE);
	vmlinux(&wrong_type, 1, K_PADDR);
	expect_error(&b, "no \"Xen\" note");
	vmlinux(&wrong_owner, 1, K_PADDR);
	expect_error(&b, "no \"Xen\" note");
	vmlinux(&short_desc, 1, K_PADDR);
	expect_error(&b, "holds 2 bytes, not 4 or 8");
	vmlinux(&outside, 1, K_PADDR);
	expect_error(&b, "PVH entry 0x10ffff is not a 32-bit address inside the kernel's");
	vmlinux(&high, 1, K_PADDR);
	expect_error(&b, "is not a 32-bit address");
	/* Truncated: the last note's descriptor runs past its segment; a huge namesz. */
	vmlinux(&pvh_note, 1, K_PADDR);
	phdr(0)->p_filesz -= 4;
	expect_error(&b, "a note runs past the segment");
	vmlinux(&pvh_note, 1, K_PADDR);
	*(uint32_t *)(file + NOTE_OFFSET) = 0xfffffff0u;
	expect_error(&b, "a note runs past the segment");
	/* The note segment outside the file. */
	vmlinux(&pvh_note, 1, K_PADDR);
	phdr(0)->p_offset = file_size - 8;
	expect_error(&b, "note segment 0: 0x1ff8+0x");
	vmlinux(&pvh_note, 1, K_PADDR);
	phdr(0)->p_filesz = UINT64_MAX;
	expect_error(&b, "runs past the end of the file");
}

static void test_pvh_bad_placement(void **state)
{
	struct note low_entry = { "Xen", 18, 8, MiB(1) - 0x1000 + 0x10 };
	struct linux_boot b;
	char longline[LINUX_PVH_CMDLINE_MAX + 1];

	(void)state;
	vmlinux(&low_entry, 1, MiB(1) - 0x1000);
	b = boot(PVH_SIZE);
	expect_error(&b, "PT_LOADs span [0xff000, 0x102000), outside RAM [1 MiB, 0x400000)");
	vmlinux(&pvh_note, 1, K_PADDR);
	b.size = K_PADDR + K_MEMSZ - 1;
	expect_error(&b, "outside RAM [1 MiB, 0x112fff)");
	b = boot(PVH_SIZE);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	b.cmdline = longline;
	expect_error(&b, "command line's 2048 bytes exceed the kernel's limit of 2047");
	longline[2047] = '\0';
	load_ok(&b, &(struct linux_entry){ 0 });
	b = boot(PVH_SIZE);
	b.initrd_size = PVH_SIZE - K_PADDR - K_MEMSZ + 1;
	b.initrd = file; /* only its size matters: refused before it is read */
	expect_error(&b, "do not fit in RAM above the kernel's end 0x113000");
	b.initrd_size = PVH_SIZE;
	expect_error(&b, "do not fit in RAM [1 MiB, 0x400000)");
}

/* ---- the guest's ACPI tables ---- */

static const void *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = gp(gpa, 36);
	uint32_t len;

	assert_memory_equal(t, sig, 4);
	memcpy(&len, t + 4, sizeof(len));
	assert_int_equal(sum(gp(gpa, len), len), 0);
	return t;
}

static void test_acpi_tables(void **state)
{
	struct linux_boot b;
	struct linux_entry out;
	const uint8_t *r, *x, *f, *d;
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00 };
	uint64_t madt, fadt, dsdt;
	struct acpi_cpus cpus;
	err_t e = { "" };

	(void)state;
	vmlinux(&pvh_note, 1, K_PADDR);
	b = boot(PVH_SIZE);
	load_ok(&b, &out);
	r = gp(LINUX_ACPI_GPA, 36);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(r[15], 2);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	x = table(le(r + 24, 8), "XSDT");
	assert_int_equal(le(x + 4, 4), 36 + 16);
	memcpy(&madt, x + 36, 8);
	memcpy(&fadt, x + 44, 8);
	table(madt, "APIC");
	f = table(fadt, "FACP");
	assert_int_equal(le(f + 4, 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(le(f + 112, 4), BIT(20) | BIT(10)); /* HW_REDUCED, RESET_REG_SUP */
	assert_int_equal(le(f + 109, 2), BIT(2) | BIT(3) | BIT(5));
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG: system I/O, 8 bits, byte access, at the ports. */
	assert_memory_equal(f + 244, ((uint8_t[]){ 1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0 }), 12);
	assert_memory_equal(f + 256, ((uint8_t[]){ 1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0 }), 12);
	assert_memory_equal(f + 116, ((uint8_t[]){ 1, 8, 0, 1, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0 }), 12);
	assert_int_equal(f[128], LINUX_ACPI_RESET_VALUE);
	memcpy(&dsdt, f + 140, 8);
	assert_int_equal(le(f + 40, 4), dsdt);
	d = table(dsdt, "DSDT");
	assert_int_equal(le(d + 4, 4), 36 + sizeof(s5));
	assert_memory_equal(d + 36, s5, sizeof(s5));
	assert_int_equal(LINUX_ACPI_S5_WRITE, 0x34);
	/* The host's own MADT reader accepts the tables where guest-physical is host-physical. */
	acpi_write_guest(phys_ptr(MiB(1), ACPI_GUEST_TABLES_SIZE), MiB(1), 0x102);
	assert_int_equal(acpi_read_cpus(phys_ptr(MiB(1), 36), &cpus, &e), 0);
	assert_int_equal(cpus.count, 1);
	assert_int_equal(cpus.apic_id[0], 0x102);
	assert_int_equal(cpus.lapic_base, 0xFEE00000u);
}

/* ---- the bzImage ---- */

#define BZ_SETUP_SECTS 3
#define BZ_SETUP_LEN ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_KERNEL_LEN 0x1000u
#define BZ_INIT_SIZE MiB(4)

static struct bz_setup_header *hdr(void)
{
	return (struct bz_setup_header *)(file + BZ_HEADER_OFFSET);
}

static void bzimage(void)
{
	struct bz_setup_header *h = hdr();

	for (unsigned i = 0; i < sizeof(file); i++)
		file[i] = pattern(i);
	memset(h, 0, sizeof(*h));
	h->setup_sects = BZ_SETUP_SECTS;
	h->syssize = BZ_KERNEL_LEN / 16;
	h->boot_flag = 0xAA55;
	h->jump = 0x6aeb; /* jmp short 0x26c: the header's end */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = BZ_LOADED_HIGH;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = MiB(2);
	h->relocatable_kernel = 1;
	h->xloadflags = 0x7f;
	h->cmdline_size = 2047;
	h->pref_address = MiB(16);
	h->init_size = BZ_INIT_SIZE;
	h->setup_data = 0x1234; /* a stale pointer the loader must not pass on */
	file_size = BZ_SETUP_LEN + BZ_KERNEL_LEN + 0x100; /* a trailing signature, not loaded */
}

static uint64_t ident(uint64_t cr3, uint64_t va)
{
	const uint64_t *pml4 = gp(cr3, PAGE_SIZE), *pdpt, *pd;

	assert_int_equal(pml4[va >> 39 & 511] & 3, 3);
	pdpt = gp(pml4[va >> 39 & 511] & ~0xfffull, PAGE_SIZE);
	assert_int_equal(pdpt[va >> 30 & 511] & 0x83, 3);
	pd = gp(pdpt[va >> 30 & 511] & ~0xfffull, PAGE_SIZE);
	assert_int_equal(pd[va >> 21 & 511] & 0x83, 0x83);
	return (pd[va >> 21 & 511] & ~0x1fffffull) | (va & 0x1fffff);
}

static void test_bz_good(void **state)
{
	struct linux_boot b;
	struct linux_entry out;
	const struct bz_boot_params *bp;
	const uint64_t *gdt;

	(void)state;
	bzimage();
	b = boot(BZ_SIZE);
	load_ok(&b, &out);
	assert_int_equal(out.route, LINUX_BZIMAGE);
	assert_int_equal(out.ip, MiB(16) + 0x200);
	assert_int_equal(out.boot_info, LINUX_BOOT_INFO_GPA);
	assert_int_equal(out.kernel_start, MiB(16));
	assert_int_equal(out.kernel_end, MiB(16) + BZ_INIT_SIZE);
	assert_memory_equal(gp(MiB(16), BZ_KERNEL_LEN), file + BZ_SETUP_LEN, BZ_KERNEL_LEN);
	assert_true(is_poison(BASE + MiB(16) + BZ_KERNEL_LEN, 0x1000));
	bp = gp(LINUX_BOOT_INFO_GPA, sizeof(*bp));
	assert_memory_equal(&bp->hdr, hdr(), offsetof(struct bz_setup_header, type_of_loader));
	assert_int_equal(bp->hdr.type_of_loader, 0xFF);
	assert_int_equal(bp->hdr.loadflags, BZ_LOADED_HIGH);
	assert_int_equal(bp->hdr.code32_start, MiB(16));
	assert_int_equal(bp->hdr.ramdisk_image, out.initrd_start);
	assert_int_equal(bp->hdr.ramdisk_size, INITRD_SIZE);
	assert_int_equal(bp->hdr.cmd_line_ptr, LINUX_CMDLINE_GPA);
	assert_int_equal(bp->hdr.setup_data, 0);
	assert_int_equal(bp->hdr.init_size, BZ_INIT_SIZE);
	assert_int_equal(bp->ext_ramdisk_image | bp->ext_ramdisk_size | bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->acpi_rsdp_addr, LINUX_ACPI_GPA);
	assert_int_equal(*((const uint8_t *)bp + 0x1e8), LINUX_E820_ENTRIES);
	for (unsigned i = 0; i < LINUX_E820_ENTRIES; i++) {
		const uint8_t *en = (const uint8_t *)bp + 0x2d0 + 20 * i;

		assert_map(i, le(en, 8), le(en + 8, 8), le(en + 16, 4), BZ_SIZE);
	}
	assert_int_equal(*((const uint8_t *)bp + 0x26c), 0); /* the header is copied to its end only */
	gdt = gp(out.gdt_base, out.gdt_limit + 1);
	assert_int_equal(out.gdt_limit, 0x1f);
	assert_int_equal(gdt[2], 0x00AF9A000000FFFFull);
	assert_int_equal(gdt[3], 0x00CF92000000FFFFull);
	for (uint64_t va = 0; va < BZ_SIZE; va += MiB(2) - 0x123)
		assert_int_equal(ident(out.cr3, va), va);
	assert_common(&out, BZ_SIZE);
}

/* Where the kernel goes: pref_address rounded up, or above an initrd in the way. */
static void test_bz_placement(void **state)
{
	struct linux_boot b;
	struct linux_entry out;

	(void)state;
	bzimage();
	hdr()->pref_address = MiB(17);
	b = boot(BZ_SIZE);
	load_ok(&b, &out);
	assert_int_equal(out.ip, MiB(18) + 0x200);
	hdr()->pref_address = MiB(21); /* does not fit: the lowest that does */
	load_ok(&b, &out);
	assert_int_equal(out.ip, MiB(16) + 0x200);
	hdr()->pref_address = UINT64_MAX;
	load_ok(&b, &out);
	assert_int_equal(out.ip, MiB(16) + 0x200);
	hdr()->initrd_addr_max = MiB(17) - 1; /* the initrd at [17 MiB - 12 KiB, 17 MiB) */
	load_ok(&b, &out);
	assert_int_equal(out.initrd_start, MiB(17) - 0x3000);
	assert_int_equal(out.ip, MiB(18) + 0x200);
}

static void test_bz_setup_sects_zero(void **state)
{
	struct linux_boot b;
	struct linux_entry out;

	(void)state;
	bzimage();
	hdr()->setup_sects = 0; /* means 4: the kernel starts at 5 * 512 */
	file_size = 5 * 512 + BZ_KERNEL_LEN;
	b = boot(BZ_SIZE);
	load_ok(&b, &out);
	assert_memory_equal(gp(MiB(16), BZ_KERNEL_LEN), file + 5 * 512, BZ_KERNEL_LEN);
}

/* Each field the loader reads, broken on its own. */
static void test_bz_bad_fields(void **state)
{
	struct linux_boot b;

	(void)state;
#define BAD(field, value, msg)          \
	do {                            \
		bzimage();              \
		hdr()->field = (value); \
		b = boot(BZ_SIZE);      \
		expect_error(&b, msg);  \
	} while (0)
	BAD(boot_flag, 0x55AA, "boot_flag 0x55aa is not 0xaa55");
	BAD(header, 0x53726449, "header 0x53726449 is not \"HdrS\"");
	BAD(version, 0x020b, "boot protocol version 0x20b is older than 0x20c");
	BAD(xloadflags, 0x7e, "xloadflags 0x7e lacks XLF_KERNEL_64");
	BAD(relocatable_kernel, 0, "relocatable_kernel is 0");
	BAD(kernel_alignment, 0, "kernel_alignment 0x0 is not a power of two");
	BAD(kernel_alignment, MiB(3), "kernel_alignment 0x300000 is not a power of two");
	BAD(jump, 0x60eb, "the header's end 0x262 (0x202 + the byte at 0x201) is outside [0x264, 0x290]");
	BAD(jump, 0x90eb, "the header's end 0x292");
	BAD(setup_sects, 40, "setup_sects 40: the setup code's 0x5200 bytes leave no kernel");
	BAD(syssize, 0, "syssize 0x0 (16-byte units) does not fit");
	BAD(syssize, BZ_KERNEL_LEN / 16 + 0x11, "syssize 0x111 (16-byte units) does not fit the file's 0x1100");
	BAD(syssize, UINT32_MAX, "syssize 0xffffffff");
	BAD(init_size, BZ_KERNEL_LEN - 1, "init_size 0xfff is below the kernel's 0x1000 bytes");
	BAD(init_size, MiB(8) + 1, "init_size 0x800001 does not fit at a 0x200000-aligned address");
	BAD(init_size, UINT32_MAX, "init_size 0xffffffff does not fit");
	BAD(cmdline_size, 4, "command line's 19 bytes exceed the kernel's limit of 4");
	BAD(initrd_addr_max, MiB(1), "the initrd's 0x2100 bytes do not fit in RAM [1 MiB, 0x100001)");
	BAD(initrd_addr_max, 0xFFF, "the initrd's 0x2100 bytes do not fit in RAM [1 MiB, 0x1000)");
	BAD(kernel_alignment, GiB(1), "0x40000000-aligned address");
#undef BAD
	bzimage();
	b = boot(BZ_SIZE);
	b.kernel_size = BZ_HEADER_OFFSET + sizeof(struct bz_setup_header) - 1;
	expect_error(&b, "shorter than a setup header");
	b.kernel_size = 0;
	expect_error(&b, "0 bytes is shorter than a setup header");
	hdr()->initrd_addr_max = MiB(20) - 1; /* the initrd just below 20 MiB, in the kernel's way */
	b = boot(MiB(21));
	expect_error(&b, "init_size 0x400000 does not fit at a 0x200000-aligned address from 16 MiB "
		     "below 0x1500000 beside the initrd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvh_good),
		cmocka_unit_test(test_pvh_note4_no_initrd),
		cmocka_unit_test(test_pvh_bad_notes),
		cmocka_unit_test(test_pvh_bad_placement),
		cmocka_unit_test(test_acpi_tables),
		cmocka_unit_test(test_bz_good),
		cmocka_unit_test(test_bz_placement),
		cmocka_unit_test(test_bz_setup_sects_zero),
		cmocka_unit_test(test_bz_bad_fields),
	};

	fakemem_set_size(FAKEMEM_MAX);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
