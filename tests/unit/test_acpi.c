/* Unit tests for the ACPI code: RSDP search and checks, RSDT/XSDT walk, MADT parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "acpi.h"
#include "fakemem.h"

#define RSDP_LEN 36
#define RSDP_V1_LEN 20
#define SDT_HDR 36
#define EBDA_PTR 0x40e
#define EBDA_SEG 0x9fc0u /* the EBDA at 0x9fc00 */
#define EBDA_ADDR 0x9fc00u
#define ROM_RSDP 0xf6a40u
#define RSDT_ADDR 0x100000u
#define XSDT_ADDR 0x101000u
#define FACP_ADDR 0x102000u
#define MADT_ADDR 0x103000u
#define LAPIC_DEFAULT 0xfee00000u

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* A valid RSDP of the given revision; the extended fields only from revision 2. */
static void rsdp_build(uint8_t out[RSDP_LEN], uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	uint32_t len = RSDP_LEN;

	memset(out, 0, RSDP_LEN);
	memcpy(out, "RSD PTR ", 8);
	memcpy(out + 9, "SLICE ", 6);
	out[15] = rev;
	memcpy(out + 16, &rsdt, 4);
	if (rev >= 2) {
		memcpy(out + 20, &len, 4);
		memcpy(out + 24, &xsdt, 8);
	}
	out[8] = (uint8_t)-sum(out, RSDP_V1_LEN);
	if (rev >= 2)
		out[32] = (uint8_t)-sum(out, RSDP_LEN);
}

static void rsdp_write(uint64_t addr, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	uint8_t r[RSDP_LEN];

	rsdp_build(r, rev, rsdt, xsdt);
	fakemem_write(addr, r, rev >= 2 ? RSDP_LEN : RSDP_V1_LEN);
}

/* A table with a correct length and checksum around body. */
static void table_write(uint64_t addr, const char *sig, const void *body, uint32_t n)
{
	static uint8_t t[8192];
	uint32_t len = SDT_HDR + n;

	assert_true(len <= sizeof(t));
	memset(t, 0, SDT_HDR);
	memcpy(t, sig, 4);
	memcpy(t + 4, &len, 4);
	t[8] = 1;
	memcpy(t + 10, "SLICE ", 6);
	if (n)
		memcpy(t + SDT_HDR, body, n);
	t[9] = (uint8_t)-sum(t, len);
	fakemem_write(addr, t, len);
}

/* MADT entries being assembled: lapic address, flags, then the entries. */
struct madt {
	uint8_t b[4096];
	uint32_t n;
};

static void madt_begin(struct madt *m)
{
	uint32_t hdr[2] = { LAPIC_DEFAULT, 1 };

	memcpy(m->b, hdr, sizeof(hdr));
	m->n = sizeof(hdr);
}

static void madt_raw(struct madt *m, const void *p, uint32_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void madt_lapic(struct madt *m, uint8_t apic_id, uint32_t flags)
{
	uint8_t e[8] = { 0, 8, 0, apic_id };

	memcpy(e + 4, &flags, 4);
	madt_raw(m, e, sizeof(e));
}

static void madt_x2apic(struct madt *m, uint32_t id, uint32_t flags)
{
	uint8_t e[16] = { 9, 16 };

	memcpy(e + 4, &id, 4);
	memcpy(e + 8, &flags, 4);
	madt_raw(m, e, sizeof(e));
}

static void madt_override(struct madt *m, uint64_t addr)
{
	uint8_t e[12] = { 5, 12 };

	memcpy(e + 4, &addr, 8);
	madt_raw(m, e, sizeof(e));
}

/* The usual firmware layout: RSDT listing a FACP then the MADT at MADT_ADDR. */
static void rsdt_layout(const struct madt *m)
{
	const uint32_t list[2] = { FACP_ADDR, MADT_ADDR };

	table_write(RSDT_ADDR, "RSDT", list, sizeof(list));
	table_write(FACP_ADDR, "FACP", "facp body", 9);
	table_write(MADT_ADDR, "APIC", m->b, m->n);
}

static int read_cpus_rsdt(const struct madt *m, struct acpi_cpus *cpus, err_t *e)
{
	uint8_t r[RSDP_LEN];

	rsdt_layout(m);
	rsdp_build(r, 0, RSDT_ADDR, 0);
	return acpi_read_cpus(r, cpus, e);
}

static void expect_msg(const err_t *e, const char *want1, const char *want2)
{
	if (!strstr(e->msg, want1) || (want2 && !strstr(e->msg, want2)))
		fail_msg("\"%s\" lacks \"%s\" or \"%s\"", e->msg, want1, want2 ? want2 : "");
}

static int setup(void **state)
{
	(void)state;
	fakemem_reset();
	return 0;
}

static void test_rsdp_from_loader(void **state)
{
	struct boot_info bi = { .has_rsdp = true };
	const void *rsdp = NULL;
	err_t e;

	(void)state;
	rsdp_build(bi.rsdp, 2, RSDT_ADDR, XSDT_ADDR);
	rsdp_write(ROM_RSDP, 0, 0x1234, 0); /* must not be preferred over the loader's copy */
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), 0);
	assert_ptr_equal(rsdp, bi.rsdp);
	rsdp_build(bi.rsdp, 0, RSDT_ADDR, 0);
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), 0);
	bi.rsdp[8] ^= 1;
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), -1);
	expect_msg(&e, "boot loader's RSDP copy is bad", "first 20 bytes");
	rsdp_build(bi.rsdp, 2, RSDT_ADDR, XSDT_ADDR);
	bi.rsdp[33] ^= 1;
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), -1);
	expect_msg(&e, "RSDP copy is bad", "extended checksum");
	bi.rsdp[0] = 'X';
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), -1);
	expect_msg(&e, "RSDP copy is bad", "signature");
}

static void test_rsdp_scan_ebda_first(void **state)
{
	const void *rsdp = NULL;
	err_t e;

	(void)state;
	fakemem_w16(EBDA_PTR, EBDA_SEG);
	rsdp_write(EBDA_ADDR + 0x30, 2, RSDT_ADDR, XSDT_ADDR);
	rsdp_write(ROM_RSDP, 0, RSDT_ADDR, 0);
	assert_int_equal(acpi_find_rsdp(NULL, &rsdp, &e), 0);
	assert_int_equal(fakemem_addr(rsdp), EBDA_ADDR + 0x30);
}

static void test_rsdp_scan_rom(void **state)
{
	struct boot_info bi = { .has_rsdp = false };
	const void *rsdp = NULL;
	err_t e;
	uint8_t r[RSDP_LEN];

	(void)state;
	/* Not on a 16-byte boundary, a bad checksum, a bad extended checksum: all skipped. */
	rsdp_write(0xe0008, 0, RSDT_ADDR, 0);
	rsdp_build(r, 0, RSDT_ADDR, 0);
	r[8] ^= 0xff;
	fakemem_write(0xe0020, r, RSDP_V1_LEN);
	rsdp_build(r, 2, RSDT_ADDR, XSDT_ADDR);
	r[35] ^= 0xff;
	fakemem_write(0xe0040, r, RSDP_LEN);
	rsdp_build(r, 2, RSDT_ADDR, XSDT_ADDR);
	r[20] = 40; /* revision 2 with a length other than 36 */
	r[8] = 0;
	r[8] = (uint8_t)-sum(r, RSDP_V1_LEN);
	r[32] = 0;
	r[32] = (uint8_t)-sum(r, RSDP_LEN);
	fakemem_write(0xe0080, r, RSDP_LEN);
	rsdp_write(0xfffe0, 0, RSDT_ADDR, 0); /* the last slot that fits 20 bytes below 1 MiB */
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), 0);
	assert_int_equal(fakemem_addr(rsdp), 0xfffe0);
	rsdp_write(ROM_RSDP, 0, RSDT_ADDR, 0);
	assert_int_equal(acpi_find_rsdp(&bi, &rsdp, &e), 0);
	assert_int_equal(fakemem_addr(rsdp), ROM_RSDP);
}

static void test_rsdp_none(void **state)
{
	const void *rsdp = (const void *)1;
	err_t e;

	(void)state;
	fakemem_w16(EBDA_PTR, EBDA_SEG);
	/* An RSDP just past the EBDA's first KiB and one at 1 MiB are both out of scope. */
	rsdp_write(EBDA_ADDR + 0x400, 0, RSDT_ADDR, 0);
	rsdp_write(0x100000, 0, RSDT_ADDR, 0);
	assert_int_equal(acpi_find_rsdp(NULL, &rsdp, &e), -1);
	assert_null(rsdp);
	expect_msg(&e, "no RSDP", "EBDA (0x9fc00)");
}

static void test_madt_rsdt_good(void **state)
{
	struct madt m;
	struct acpi_cpus c;
	err_t e;

	(void)state;
	madt_begin(&m);
	madt_lapic(&m, 0, 1);
	madt_raw(&m, "\x01\x0c\x04\x00\x00\x00\xc0\xfe\x00\x00\x00\x00", 12); /* an I/O APIC: skipped */
	madt_lapic(&m, 2, 1);
	madt_lapic(&m, 4, 0); /* disabled */
	madt_lapic(&m, 6, 3);
	madt_x2apic(&m, 0x100, 1);
	madt_x2apic(&m, 0x101, 2); /* online-capable only: not enabled now */
	assert_int_equal(read_cpus_rsdt(&m, &c, &e), 0);
	assert_int_equal(c.count, 4);
	assert_int_equal(c.ignored, 0);
	assert_int_equal(c.apic_id[0], 0);
	assert_int_equal(c.apic_id[1], 2);
	assert_int_equal(c.apic_id[2], 6);
	assert_int_equal(c.apic_id[3], 0x100);
	assert_int_equal(c.lapic_base, LAPIC_DEFAULT);
}

static void test_madt_override(void **state)
{
	struct madt m;
	struct acpi_cpus c;
	err_t e;

	(void)state;
	madt_begin(&m);
	madt_lapic(&m, 1, 1);
	madt_override(&m, 0x1fee00000ull);
	assert_int_equal(read_cpus_rsdt(&m, &c, &e), 0);
	assert_int_equal(c.lapic_base, 0x1fee00000ull);
	assert_int_equal(c.count, 1);
}

/* Revision 2 with an XSDT uses it; revision 0, or an XSDT address of 0, uses the RSDT. */
static void test_xsdt_preferred(void **state)
{
	struct madt m, other;
	struct acpi_cpus c;
	err_t e;
	uint8_t r[RSDP_LEN];
	const uint64_t xlist[2] = { FACP_ADDR, MADT_ADDR + 0x1000 };

	(void)state;
	madt_begin(&m);
	madt_lapic(&m, 1, 1);
	rsdt_layout(&m);
	madt_begin(&other);
	madt_x2apic(&other, 7, 1);
	madt_x2apic(&other, 8, 1);
	table_write(MADT_ADDR + 0x1000, "APIC", other.b, other.n);
	/* The XSDT's 8-byte entries start at offset 36: not 8-byte aligned. */
	table_write(XSDT_ADDR, "XSDT", xlist, sizeof(xlist));
	rsdp_build(r, 2, RSDT_ADDR, XSDT_ADDR);
	assert_int_equal(acpi_read_cpus(r, &c, &e), 0);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.apic_id[1], 8);
	rsdp_build(r, 2, RSDT_ADDR, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), 0);
	assert_int_equal(c.count, 1);
	rsdp_build(r, 0, RSDT_ADDR, XSDT_ADDR);
	assert_int_equal(acpi_read_cpus(r, &c, &e), 0);
	assert_int_equal(c.count, 1);
}

static void test_madt_too_many_cpus(void **state)
{
	struct madt m;
	struct acpi_cpus c;
	err_t e;

	(void)state;
	madt_begin(&m);
	for (unsigned i = 0; i < HV_MAX_CPUS + 5; i++)
		madt_lapic(&m, (uint8_t)i, 1);
	madt_lapic(&m, 200, 0);
	assert_int_equal(read_cpus_rsdt(&m, &c, &e), 0);
	assert_int_equal(c.count, HV_MAX_CPUS);
	assert_int_equal(c.ignored, 5);
	assert_int_equal(c.apic_id[HV_MAX_CPUS - 1], HV_MAX_CPUS - 1);
}

/* Malformed MADT entries: raw bytes after one good local APIC entry. */
struct madt_case {
	const char *name;
	const char *bytes;
	uint32_t n;
	const char *want[2];
};

static const struct madt_case madt_bad[] = {
	{ "entry length 0", "\x00\x00", 2, { "entry at +0x34 (type 0)", "length 0 must be at least 2" } },
	{ "entry length 1", "\x07\x01", 2, { "entry at +0x34 (type 7)", "length 1 must be at least 2" } },
	{ "entry past table", "\x07\x10\x00\x00", 4, { "+0x34 (type 7)", "length 16 must be at least 2 and fit the 4 bytes left" } },
	{ "one stray byte", "\x00", 1, { "1 byte at +0x34", "too short for an entry" } },
	{ "short lapic", "\x00\x06\x00\x01\x01\x00", 6, { "+0x34 (type 0)", "length 6 is below the 8 bytes" } },
	{ "short x2apic", "\x09\x0c\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00", 12, { "(type 9)", "length 12 is below the 16 bytes" } },
	{ "short override", "\x05\x04\x00\x00", 4, { "(type 5)", "length 4 is below the 12 bytes" } },
	{ "duplicate id", "\x00\x08\x01\x03\x01\x00\x00\x00", 8, { "entry at +0x34 repeats APIC id 3", NULL } },
	{ "duplicate x2apic id", "\x09\x10\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00", 16, { "repeats APIC id 3", NULL } },
};

static void test_madt_malformed(void **state)
{
	struct madt m;
	struct acpi_cpus c;
	err_t e;

	(void)state;
	for (size_t i = 0; i < sizeof(madt_bad) / sizeof(madt_bad[0]); i++) {
		const struct madt_case *k = &madt_bad[i];

		fakemem_reset();
		madt_begin(&m);
		madt_lapic(&m, 3, 1);
		madt_raw(&m, k->bytes, k->n);
		e.msg[0] = '\0';
		if (read_cpus_rsdt(&m, &c, &e) != -1)
			fail_msg("%s: accepted", k->name);
		for (int w = 0; w < 2; w++)
			if (k->want[w] && !strstr(e.msg, k->want[w]))
				fail_msg("%s: \"%s\" lacks \"%s\"", k->name, e.msg, k->want[w]);
		assert_non_null(strstr(e.msg, "MADT at 0x103000"));
	}
}

static void test_madt_no_enabled_cpu(void **state)
{
	struct madt m;
	struct acpi_cpus c;
	err_t e;

	(void)state;
	madt_begin(&m);
	assert_int_equal(read_cpus_rsdt(&m, &c, &e), -1);
	expect_msg(&e, "MADT at 0x103000", "no enabled processor");
	madt_lapic(&m, 0, 0);
	madt_x2apic(&m, 1, 0);
	assert_int_equal(read_cpus_rsdt(&m, &c, &e), -1);
	expect_msg(&e, "no enabled processor", NULL);
}

static void test_madt_short_header(void **state)
{
	struct acpi_cpus c;
	err_t e;
	uint8_t r[RSDP_LEN];
	const uint32_t list[1] = { MADT_ADDR };

	(void)state;
	table_write(RSDT_ADDR, "RSDT", list, sizeof(list));
	table_write(MADT_ADDR, "APIC", "\0\0\xe0\xfe", 4);
	rsdp_build(r, 0, RSDT_ADDR, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "MADT at 0x103000", "length 40 is below the 44-byte MADT header");
}

static void test_missing_madt(void **state)
{
	struct acpi_cpus c;
	err_t e;
	uint8_t r[RSDP_LEN];
	const uint32_t list[2] = { FACP_ADDR, FACP_ADDR + 0x100 };

	(void)state;
	table_write(RSDT_ADDR, "RSDT", list, sizeof(list));
	table_write(FACP_ADDR, "FACP", "x", 1);
	table_write(FACP_ADDR + 0x100, "APIX", "x", 1);
	rsdp_build(r, 0, RSDT_ADDR, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "no MADT", "among the 2 tables of the RSDT at 0x100000");
	table_write(RSDT_ADDR, "RSDT", NULL, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "no MADT", "among the 0 tables");
}

/* Broken root tables and table pointers: each must fail with the reason and the address. */
static void test_bad_tables(void **state)
{
	struct madt m;
	struct acpi_cpus c;
	err_t e;
	uint8_t r[RSDP_LEN];
	uint32_t list[2] = { FACP_ADDR, MADT_ADDR };
	uint32_t len;

	(void)state;
	madt_begin(&m);
	madt_lapic(&m, 0, 1);
	rsdt_layout(&m);
	rsdp_build(r, 0, 0x7fff0000u, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "RSDT at 0x7fff0000 is outside memory", NULL);
	rsdp_build(r, 0, FAKEMEM_SIZE - 16, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "RSDT at 0x1ffff0 is outside memory", NULL);
	rsdp_build(r, 2, RSDT_ADDR, 0x500000000ull);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "XSDT at 0x500000000 is outside memory", NULL);
	rsdp_build(r, 0, FACP_ADDR, 0);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "RSDT at 0x102000", "signature is wrong");

	rsdp_build(r, 0, RSDT_ADDR, 0);
	list[0] = 0x40000000;
	table_write(RSDT_ADDR, "RSDT", list, sizeof(list));
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "table listed in the RSDT at 0x40000000 is outside memory", NULL);
	list[0] = FACP_ADDR;
	table_write(RSDT_ADDR, "RSDT", list, sizeof(list));

	fakemem_w8(FACP_ADDR + 40, 0x55); /* breaks the FACP's checksum */
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "table listed in the RSDT at 0x102000 (\"FACP\")", "checksum is not zero");
	table_write(FACP_ADDR, "FACP", "x", 1);
	for (int i = 0; i < 2; i++) {
		len = i ? 0x7fffffff : 20;
		fakemem_w32(MADT_ADDR + 4, len);
		assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
		expect_msg(&e, "at 0x103000 (\"APIC\")", "is outside [36, 1048576]");
	}
	/* A table whose header fits but whose length runs past the end of memory. */
	list[1] = FAKEMEM_SIZE - 64;
	table_write(RSDT_ADDR, "RSDT", list, sizeof(list));
	table_write(FAKEMEM_SIZE - 64, "APIC", m.b, 16);
	fakemem_w32(FAKEMEM_SIZE - 64 + 4, 0x1000);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "(\"APIC\"): its bytes run outside memory", NULL);
	/* Unprintable signature bytes are shown as '?'. */
	fakemem_write(FAKEMEM_SIZE - 64, "\x01\x02PI", 4);
	assert_int_equal(acpi_read_cpus(r, &c, &e), -1);
	expect_msg(&e, "(\"??PI\")", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rsdp_from_loader, setup),
		cmocka_unit_test_setup(test_rsdp_scan_ebda_first, setup),
		cmocka_unit_test_setup(test_rsdp_scan_rom, setup),
		cmocka_unit_test_setup(test_rsdp_none, setup),
		cmocka_unit_test_setup(test_madt_rsdt_good, setup),
		cmocka_unit_test_setup(test_madt_override, setup),
		cmocka_unit_test_setup(test_xsdt_preferred, setup),
		cmocka_unit_test_setup(test_madt_too_many_cpus, setup),
		cmocka_unit_test_setup(test_madt_malformed, setup),
		cmocka_unit_test_setup(test_madt_no_enabled_cpu, setup),
		cmocka_unit_test_setup(test_madt_short_header, setup),
		cmocka_unit_test_setup(test_missing_madt, setup),
		cmocka_unit_test_setup(test_bad_tables, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
