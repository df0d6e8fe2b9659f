/* ACPI: find the RSDP, walk RSDT/XSDT with checksums, read the MADT's enabled local APICs. */
#ifndef ARCH_X86_ACPI_H
#define ARCH_X86_ACPI_H

#include "../../hv/bootinfo.h"
#include "../../hv/err.h"

struct acpi_cpus {
	uint32_t apic_id[HV_MAX_CPUS];
	unsigned count;          /* enabled local APICs kept, at most HV_MAX_CPUS */
	unsigned ignored;        /* enabled local APICs beyond HV_MAX_CPUS */
	uint64_t lapic_base;     /* from the MADT, or its 64-bit override */
};

/*
 * The RSDP: the loader's copy when it gave one, else a scan of the first KiB of the EBDA and of
 * 0xE0000-0xFFFFF on 16-byte boundaries. The RSDP checksum (and the extended one for revision
 * 2+) is checked. On success *rsdp points at a checked RSDP.
 */
int acpi_find_rsdp(const struct boot_info *bi, const void **rsdp, err_t *e);

/*
 * Walk the XSDT (revision 2+, when present) or the RSDT from rsdp, checking every table's
 * length and checksum, and read the MADT's enabled processor local APIC and x2APIC entries.
 */
int acpi_read_cpus(const void *rsdp, struct acpi_cpus *out, err_t *e);

/* The guest's tables (acpi_write_guest): RSDP, XSDT, MADT, FADT, DSDT, packed in this order. */
#define ACPI_GUEST_TABLES_SIZE 512

/*
 * Write a Linux partition's ACPI tables into block, which the guest sees at guest-physical gpa
 * (16-byte aligned; the RSDP comes first, at gpa): an RSDP (revision 2) and XSDT listing a MADT
 * with the one enabled x2APIC x2apic_id and no IOAPIC, and a hardware-reduced ACPI 6 FADT
 * pointing at a DSDT that defines \_S5, with sleep and reset registers at linux.h's ports.
 */
void acpi_write_guest(void *block, uint64_t gpa, uint32_t x2apic_id);

#endif
