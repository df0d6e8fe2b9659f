/*
 * Fuzz the ACPI code. The input is a 40-byte header, then a fake memory image at IMAGE_BASE,
 * in the BIOS area acpi_find_rsdp scans for "RSD PTR ":
 *   byte 0      flags: bit 0 the loader gave an RSDP copy, bit 1 the BIOS data area is there,
 *               bit 2 fix checksums first (see fix_checksums)
 *   bytes 2-3   the EBDA segment stored in the BIOS data area (little-endian)
 *   bytes 4-39  the loader's RSDP copy
 * Tables are found through the RSDT/XSDT addresses, so they may sit anywhere in the image.
 */
#include "acpi.h"
#include "fuzz.h"
#include "fuzzmem.h"

#define IMAGE_BASE 0xe0000u
#define BDA_EBDA_SEG 0x40eu /* the BIOS data area word holding the EBDA segment */
#define HDR_LEN 40
#define HDR_FLAGS 0
#define HDR_EBDA 2
#define HDR_RSDP 4
#define FLAG_RSDP_COPY BIT(0)
#define FLAG_BDA BIT(1)
#define FLAG_FIX_SUMS BIT(2)

/* The checksummed structures as fix_checksums sees them (ACPI 6.5 5.2.5.3 and 5.2.6). */
#define RSDP_SIG "RSD PTR "
#define RSDP_SIG_LEN 8
#define RSDP_SUM 8
#define RSDP_REVISION 15
#define RSDP_V1_LEN 20
#define RSDP_EXT_SUM 32
#define RSDP_ALIGN 16
#define SDT_SIG_LEN 4
#define SDT_LENGTH 4
#define SDT_SUM 9
#define SDT_HDR_LEN 36
#define SDT_ALIGN 4

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void fix_rsdp(uint8_t *p, size_t avail)
{
	if (avail < RSDP_V1_LEN || memcmp(p, RSDP_SIG, RSDP_SIG_LEN))
		return;
	p[RSDP_SUM] -= sum(p, RSDP_V1_LEN);
	if (p[RSDP_REVISION] >= 2 && avail >= ACPI_RSDP_MAX)
		p[RSDP_EXT_SUM] -= sum(p, ACPI_RSDP_MAX);
}

static bool sdt_sig(const uint8_t *p)
{
	for (int i = 0; i < SDT_SIG_LEN; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9')))
			return false;
	return true;
}

/*
 * Checksums stop almost every mutation of a table at the door. So, when asked, give every
 * table-like header (an upper-case signature and a length that fits, at 4-byte alignment) and
 * every RSDP a correct checksum before the run, and let the fuzzer explore what lies behind.
 * Highest offset first, so a table holding another is summed with the inner one fixed.
 */
static void fix_checksums(uint8_t *img, size_t n, uint8_t *copy)
{
	for (size_t k = n / SDT_ALIGN; k-- > 0;) {
		size_t off = k * SDT_ALIGN;
		uint32_t len;

		if (n - off < SDT_HDR_LEN || !sdt_sig(img + off))
			continue;
		memcpy(&len, img + off + SDT_LENGTH, sizeof(len));
		if (len >= SDT_HDR_LEN && len <= n - off)
			img[off + SDT_SUM] -= sum(img + off, len);
	}
	for (size_t off = 0; off < n; off += RSDP_ALIGN)
		fix_rsdp(img + off, n - off);
	fix_rsdp(copy, ACPI_RSDP_MAX);
}

static void check_cpus(const struct acpi_cpus *c)
{
	FUZZ_CHECK(c->count >= 1 && c->count <= HV_MAX_CPUS, "%u CPUs", c->count);
	for (unsigned i = 0; i < c->count; i++)
		for (unsigned j = 0; j < i; j++)
			FUZZ_CHECK(c->apic_id[i] != c->apic_id[j], "APIC id %u twice", c->apic_id[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_info bi;
	static struct acpi_cpus cpus;
	uint8_t ebda_seg[2], *img;
	size_t img_len;
	const void *rsdp = NULL;
	err_t e = { "" };

	if (size < HDR_LEN)
		return 0;
	img_len = size - HDR_LEN;
	img = malloc(img_len ? img_len : 1);
	if (!img)
		abort();
	memcpy(img, data + HDR_LEN, img_len);
	bi.has_rsdp = data[HDR_FLAGS] & FLAG_RSDP_COPY;
	memcpy(bi.rsdp, data + HDR_RSDP, ACPI_RSDP_MAX);
	if (data[HDR_FLAGS] & FLAG_FIX_SUMS)
		fix_checksums(img, img_len, bi.rsdp);
	memcpy(ebda_seg, data + HDR_EBDA, sizeof(ebda_seg));
	if (data[HDR_FLAGS] & FLAG_BDA)
		fuzzmem_map(BDA_EBDA_SEG, ebda_seg, sizeof(ebda_seg), FUZZMEM_COPY);
	fuzzmem_map(IMAGE_BASE, img, img_len, FUZZMEM_COPY);

	if (acpi_find_rsdp(&bi, &rsdp, &e) < 0) {
		fuzz_check_error(&e);
		FUZZ_CHECK(!rsdp, "failed, yet returned an RSDP");
	} else {
		FUZZ_CHECK(rsdp, "succeeded without an RSDP");
		FUZZ_CHECK(!bi.has_rsdp || rsdp == bi.rsdp, "did not use the loader's RSDP copy");
		if (acpi_read_cpus(rsdp, &cpus, &e) == 0) {
			check_cpus(&cpus);
			FUZZ_SAY("%u CPUs (%u ignored), local APIC at 0x%lx\n", cpus.count,
				 cpus.ignored, cpus.lapic_base);
		} else {
			fuzz_check_error(&e);
		}
	}
	fuzzmem_reset();
	free(img);
	return 0;
}
