/* ACPI: read the host's tables (RSDP, RSDT/XSDT, MADT) and write a Linux partition's own. */
#include "acpi.h"
#include "../../hv/phys.h"
#include "../../hv/string.h"
#include "linux.h"

/* ACPI 6.5 section 5.2.5.3: the RSDP; fields from 'length' on exist from revision 2. */
struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt, length;
	uint64_t xsdt;
	uint8_t ext_checksum, reserved[3];
} __attribute__((packed));

#define RSDP_SIG "RSD PTR "
#define RSDP_V1_LEN 20     /* the ACPI 1.0 part the first checksum covers */
#define ACPI_REV_XSDT 2    /* the RSDP revision adding length, xsdt and the extended checksum */
#define RSDP_SCAN_STEP 16  /* 5.2.5.1: the RSDP sits on a 16-byte boundary */
#define EBDA_SEG_PTR 0x40E /* 5.2.5.1: the BIOS data area word with the EBDA's real-mode segment */
#define EBDA_SCAN_LEN KiB(1)
#define REAL_MODE_SEG_SHIFT 4
#define BIOS_ROM_START 0xE0000u
#define BIOS_ROM_END 0x100000u

/* 5.2.6: the header every system description table starts with. */
struct acpi_sdt {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

#define SDT_SIG_LEN 4
#define SDT_MAX_LEN MiB(1) /* no real table comes near; a larger length is garbage */
#define MADT_SIG "APIC"

/* 5.2.12: the MADT and the entries we read from it. */
struct acpi_madt { struct acpi_sdt hdr; uint32_t lapic_addr, flags; } __attribute__((packed));
struct madt_entry { uint8_t type, length; } __attribute__((packed));
struct madt_lapic { struct madt_entry h; uint8_t acpi_id, apic_id; uint32_t flags; } __attribute__((packed));
struct madt_lapic_override { struct madt_entry h; uint16_t reserved; uint64_t address; } __attribute__((packed));
struct madt_x2apic { struct madt_entry h; uint16_t reserved; uint32_t x2apic_id, flags, uid; } __attribute__((packed));

/* 5.2.12.2, 5.2.12.8, 5.2.12.12: the entry types we read; the rest are skipped. */
enum madt_type { MADT_LAPIC = 0, MADT_LAPIC_OVERRIDE = 5, MADT_X2APIC = 9 };

/* The smallest entry of each type we read, so that its fields lie inside the entry. */
static const uint8_t madt_min_len[] = {
	[MADT_LAPIC] = sizeof(struct madt_lapic),
	[MADT_LAPIC_OVERRIDE] = sizeof(struct madt_lapic_override),
	[MADT_X2APIC] = sizeof(struct madt_x2apic),
};

#define MADT_CPU_ENABLED BIT(0) /* 5.2.12.2 Local APIC Flags; bit 1 (online capable) is not now */
#define MADT_FMT "MADT at 0x%lx: entry at +0x%x (type %u): "

static uint8_t sum_bytes(const void *p, uint64_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

/* A table signature as a printable C string, since it comes from firmware. */
static void sig_str(char out[SDT_SIG_LEN + 1], const char *sig)
{
	for (int i = 0; i < SDT_SIG_LEN; i++)
		out[i] = sig[i] >= ' ' && sig[i] <= '~' ? sig[i] : '?';
	out[SDT_SIG_LEN] = '\0';
}

/* What is wrong with r, or NULL; r must be readable for 36 bytes when its revision is 2+. */
static const char *rsdp_problem(const struct acpi_rsdp *r)
{
	if (memcmp(r->signature, RSDP_SIG, sizeof(r->signature)))
		return "signature is not \"" RSDP_SIG "\"";
	if (sum_bytes(r, RSDP_V1_LEN))
		return "checksum over the first 20 bytes is not zero";
	if (r->revision < ACPI_REV_XSDT)
		return NULL;
	if (r->length != sizeof(*r))
		return "revision 2+ length is not 36";
	if (sum_bytes(r, sizeof(*r)))
		return "extended checksum is not zero";
	return NULL;
}

static const struct acpi_rsdp *rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + RSDP_V1_LEN <= end; a += RSDP_SCAN_STEP) {
		const struct acpi_rsdp *r = phys_ptr(a, RSDP_V1_LEN);

		if (r && r->revision >= ACPI_REV_XSDT)
			r = phys_ptr(a, sizeof(*r));
		if (r && !rsdp_problem(r))
			return r;
	}
	return NULL;
}

int acpi_find_rsdp(const struct boot_info *bi, const void **rsdp, err_t *e)
{
	const uint16_t *seg = phys_ptr(EBDA_SEG_PTR, sizeof(*seg));
	uint64_t ebda = seg ? (uint64_t)*seg << REAL_MODE_SEG_SHIFT : 0;
	const char *why;

	if (bi && bi->has_rsdp) {
		why = rsdp_problem((const struct acpi_rsdp *)bi->rsdp);
		*rsdp = why ? NULL : bi->rsdp;
		return why ? err_set(e, "the boot loader's RSDP copy is bad: %s", why) : 0;
	}
	*rsdp = ebda ? rsdp_scan(ebda, ebda + EBDA_SCAN_LEN) : NULL;
	if (!*rsdp)
		*rsdp = rsdp_scan(BIOS_ROM_START, BIOS_ROM_END);
	return *rsdp ? 0 : err_set(e, "no RSDP: the loader gave none and no valid \"" RSDP_SIG "\" is in the "
				   "EBDA (0x%lx) or [0x%x, 0x%x)", ebda, BIOS_ROM_START, BIOS_ROM_END);
}

/* The table at addr once its length and checksum are checked; what names it in messages. */
static int sdt_map(uint64_t addr, const char *what, const struct acpi_sdt **out, err_t *e)
{
	const struct acpi_sdt *t = phys_ptr(addr, sizeof(*t));
	char sig[SDT_SIG_LEN + 1];

	if (!t)
		return err_set(e, "%s at 0x%lx is outside memory", what, addr);
	sig_str(sig, t->signature);
	if (t->length < sizeof(*t) || t->length > SDT_MAX_LEN)
		return err_set(e, "%s at 0x%lx (\"%s\"): length %u is outside [%zu, %lu]", what, addr,
			       sig, t->length, sizeof(*t), SDT_MAX_LEN);
	t = phys_ptr(addr, t->length);
	if (!t)
		return err_set(e, "%s at 0x%lx (\"%s\"): its bytes run outside memory", what, addr, sig);
	if (sum_bytes(t, t->length))
		return err_set(e, "%s at 0x%lx (\"%s\"): checksum is not zero", what, addr, sig);
	*out = t;
	return 0;
}

/* 5.2.7/5.2.8: the XSDT lists 64-bit table addresses, the older RSDT 32-bit ones. */
static int find_madt(const struct acpi_rsdp *r, const struct acpi_sdt **madt, uint64_t *addr,
		     err_t *e)
{
	bool x = r->revision >= ACPI_REV_XSDT && r->xsdt;
	const char *root_sig = x ? "XSDT" : "RSDT";
	uint64_t root_addr = x ? r->xsdt : r->rsdt;
	size_t esz = x ? sizeof(uint64_t) : sizeof(uint32_t);
	const struct acpi_sdt *root;
	uint32_t n;

	if (sdt_map(root_addr, root_sig, &root, e))
		return -1;
	if (memcmp(root->signature, root_sig, SDT_SIG_LEN))
		return err_set(e, "%s at 0x%lx: the signature is wrong", root_sig, root_addr);
	n = (root->length - sizeof(*root)) / esz;
	for (uint32_t i = 0; i < n; i++) {
		/* XSDT entries are 8-byte values at 4-byte alignment; x86 and ACPI are little-endian. */
		*addr = 0;
		memcpy(addr, (const uint8_t *)(root + 1) + i * esz, esz);
		if (sdt_map(*addr, x ? "table listed in the XSDT" : "table listed in the RSDT", madt, e))
			return -1;
		if (!memcmp((*madt)->signature, MADT_SIG, SDT_SIG_LEN))
			return 0;
	}
	return err_set(e, "no MADT (\"" MADT_SIG "\") among the %u tables of the %s at 0x%lx", n,
		       root_sig, root_addr);
}

static int add_cpu(struct acpi_cpus *out, uint32_t id, uint64_t addr, uint32_t off, err_t *e)
{
	for (unsigned i = 0; i < out->count; i++)
		if (out->apic_id[i] == id)
			return err_set(e, "MADT at 0x%lx: entry at +0x%x repeats APIC id %u", addr, off, id);
	if (out->count >= HV_MAX_CPUS)
		out->ignored++;
	else
		out->apic_id[out->count++] = id;
	return 0;
}

static int madt_entry(const struct madt_entry *en, uint64_t addr, uint32_t off,
		      struct acpi_cpus *out, err_t *e)
{
	const struct madt_lapic *l = (const void *)en;
	const struct madt_x2apic *x2 = (const void *)en;
	unsigned min = en->type < ARRAY_SIZE(madt_min_len) ? madt_min_len[en->type] : 0;

	if (en->length < min)
		return err_set(e, MADT_FMT "length %u is below the %u bytes of this type", addr, off,
			       en->type, en->length, min);
	if (en->type == MADT_LAPIC && (l->flags & MADT_CPU_ENABLED))
		return add_cpu(out, l->apic_id, addr, off, e);
	if (en->type == MADT_X2APIC && (x2->flags & MADT_CPU_ENABLED))
		return add_cpu(out, x2->x2apic_id, addr, off, e);
	if (en->type == MADT_LAPIC_OVERRIDE)
		out->lapic_base = ((const struct madt_lapic_override *)en)->address;
	return 0;
}

/* Every entry must be at least its 2-byte header and end inside the table: a zero length
 * would otherwise loop forever. */
static int madt_parse(const struct acpi_sdt *t, uint64_t addr, struct acpi_cpus *out, err_t *e)
{
	const struct acpi_madt *m = (const void *)t;

	if (t->length < sizeof(*m))
		return err_set(e, "MADT at 0x%lx: length %u is below the %zu-byte MADT header", addr,
			       t->length, sizeof(*m));
	out->lapic_base = m->lapic_addr;
	for (uint32_t off = sizeof(*m); off < t->length;) {
		const struct madt_entry *en = (const void *)((const uint8_t *)t + off);
		uint32_t left = t->length - off;

		if (left < sizeof(*en))
			return err_set(e, "MADT at 0x%lx: 1 byte at +0x%x is too short for an entry",
				       addr, off);
		if (en->length < sizeof(*en) || en->length > left)
			return err_set(e, MADT_FMT "length %u must be at least 2 and fit the %u bytes "
				       "left", addr, off, en->type, en->length, left);
		if (madt_entry(en, addr, off, out, e))
			return -1;
		off += en->length;
	}
	if (!out->count)
		return err_set(e, "MADT at 0x%lx: no enabled processor local APIC or x2APIC", addr);
	return 0;
}

int acpi_read_cpus(const void *rsdp, struct acpi_cpus *out, err_t *e)
{
	const struct acpi_sdt *madt = NULL;
	uint64_t addr = 0;

	*out = (struct acpi_cpus){ 0 };
	if (find_madt(rsdp, &madt, &addr, e))
		return -1;
	return madt_parse(madt, addr, out, e);
}

/* ---- The tables a Linux partition gets: written by slicehv, read by the guest ---- */

/* 5.2.3.2: a generic address structure; the guest's registers are byte-wide I/O ports. */
struct acpi_gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_BYTE_BITS 8

/* 5.2.9: the FADT as of ACPI 6.0 (revision 6, 276 bytes). */
struct acpi_fadt {
	struct acpi_sdt hdr;
	uint32_t firmware_ctrl, dsdt;
	/* Preferred_PM_Profile to CENTURY: the SCI, SMI, PM1/PM2/GPE blocks, C-states, CMOS alarm. A
	 * hardware-reduced FADT has none of them: all zero. */
	uint8_t legacy_pm[65];
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_legacy_pm[8]; /* X_PM1a_EVT_BLK to X_GPE1_BLK: none, as above */
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor_identity;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "ACPI 6.0 FADT");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "5.2.9 Table 5.9");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "5.2.9 Table 5.9");

/* Table 5.10: hardware-reduced (no PM1/GPE blocks, no SCI, no legacy PIC or PIT in Linux). */
#define FADT_RESET_REG_SUP BIT(10)
#define FADT_HW_REDUCED_ACPI BIT(20)
/* Table 5.11, IA-PC boot architecture: LEGACY_DEVICES (0) and 8042 (1) stay clear, absent. */
#define IAPC_VGA_NOT_PRESENT BIT(2)
#define IAPC_MSI_NOT_SUPPORTED BIT(3)
#define IAPC_CMOS_RTC_NOT_PRESENT BIT(5)

#define GUEST_OEM_ID "SLICE "
#define GUEST_OEM_TABLE_ID "SLICEHV "
#define GUEST_OEM_REVISION 1
#define XSDT_REVISION 1
#define MADT_REVISION 5    /* ACPI 6.3 */
#define FADT_REVISION 6
#define DSDT_REVISION 2    /* 64-bit AML integers */
#define LAPIC_DEFAULT_BASE 0xFEE00000u
#define MADT_GUEST_UID 0   /* the processor's ACPI UID; no processor object refers to it */

/* 20.2 AML grammar. */
#define AML_NAME_OP 0x08
#define AML_ROOT_CHAR '\\'
#define AML_PACKAGE_OP 0x12
#define AML_BYTE_PREFIX 0x0A
#define AML_ZERO_OP 0x00

/*
 * The DSDT's whole AML: Name (\_S5, Package () { 5, 5, 0, 0 }), 7.4.2: SLP_TYPa, SLP_TYPb,
 * reserved, reserved. ACPICA's acpi_get_sleep_type_data reads the first two; a hardware-reduced
 * FADT makes Linux write SLP_TYPa to the sleep control register (acpi_hw_extended_sleep).
 */
static const uint8_t dsdt_aml[] = {
	AML_NAME_OP, AML_ROOT_CHAR, '_', 'S', '5', '_',
	AML_PACKAGE_OP,
	8,                 /* PkgLength, 1-byte form: these 8 bytes from itself to the end */
	4,                 /* NumElements */
	AML_BYTE_PREFIX, LINUX_ACPI_S5_SLP_TYP,
	AML_BYTE_PREFIX, LINUX_ACPI_S5_SLP_TYP,
	AML_ZERO_OP, AML_ZERO_OP,
};

struct acpi_guest_tables {
	struct acpi_rsdp rsdp;
	struct { struct acpi_sdt hdr; uint64_t table[2]; } __attribute__((packed)) xsdt;
	struct { struct acpi_madt hdr; struct madt_x2apic cpu; } __attribute__((packed)) madt;
	struct acpi_fadt fadt;
	struct { struct acpi_sdt hdr; uint8_t aml[sizeof(dsdt_aml)]; } __attribute__((packed)) dsdt;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_guest_tables) <= ACPI_GUEST_TABLES_SIZE, "guest ACPI block");

/* The header of a table whose body is written: the checksum makes all its bytes sum to zero. */
static void sdt_fill(struct acpi_sdt *h, const char *sig, uint32_t length, uint8_t revision)
{
	memcpy(h->signature, sig, SDT_SIG_LEN);
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, GUEST_OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, GUEST_OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = GUEST_OEM_REVISION;
	h->checksum = (uint8_t)-sum_bytes(h, length);
}

static struct acpi_gas io_byte(uint16_t port)
{
	return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO, .bit_width = GAS_BYTE_BITS,
				  .access_size = GAS_ACCESS_BYTE, .address = port };
}

static void fadt_fill(struct acpi_fadt *f, uint64_t dsdt)
{
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	f->iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED | IAPC_CMOS_RTC_NOT_PRESENT;
	f->flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP;
	f->reset_reg = io_byte(LINUX_ACPI_RESET_PORT);
	f->reset_value = LINUX_ACPI_RESET_VALUE;
	f->sleep_control_reg = io_byte(LINUX_ACPI_SLEEP_CONTROL_PORT);
	f->sleep_status_reg = io_byte(LINUX_ACPI_SLEEP_STATUS_PORT);
	sdt_fill(&f->hdr, "FACP", sizeof(*f), FADT_REVISION);
}

void acpi_write_guest(void *block, uint64_t gpa, uint32_t x2apic_id)
{
	struct acpi_guest_tables *t = block;
	struct acpi_rsdp *r = &t->rsdp;

	memset(t, 0, sizeof(*t));
	memcpy(t->dsdt.aml, dsdt_aml, sizeof(dsdt_aml));
	sdt_fill(&t->dsdt.hdr, "DSDT", sizeof(t->dsdt), DSDT_REVISION);
	fadt_fill(&t->fadt, gpa + offsetof(struct acpi_guest_tables, dsdt));
	t->madt.hdr.lapic_addr = LAPIC_DEFAULT_BASE; /* flags 0: no PC-AT dual 8259 */
	t->madt.cpu = (struct madt_x2apic){ .h = { MADT_X2APIC, sizeof(t->madt.cpu) },
					    .x2apic_id = x2apic_id, .flags = MADT_CPU_ENABLED,
					    .uid = MADT_GUEST_UID };
	sdt_fill(&t->madt.hdr.hdr, MADT_SIG, sizeof(t->madt), MADT_REVISION);
	t->xsdt.table[0] = gpa + offsetof(struct acpi_guest_tables, madt);
	t->xsdt.table[1] = gpa + offsetof(struct acpi_guest_tables, fadt);
	sdt_fill(&t->xsdt.hdr, "XSDT", sizeof(t->xsdt), XSDT_REVISION);
	memcpy(r->signature, RSDP_SIG, sizeof(r->signature));
	memcpy(r->oem_id, GUEST_OEM_ID, sizeof(r->oem_id));
	r->revision = ACPI_REV_XSDT;
	r->length = sizeof(*r);
	r->xsdt = gpa + offsetof(struct acpi_guest_tables, xsdt);
	r->checksum = (uint8_t)-sum_bytes(r, RSDP_V1_LEN);
	r->ext_checksum = (uint8_t)-sum_bytes(r, sizeof(*r));
}
