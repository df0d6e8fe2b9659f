/* AP start-up: place the trampoline below 1 MiB, fill its fields, INIT-SIPI-SIPI, wait. */
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/cpu.h"
#include "../../hv/string.h"
#include "acpi.h"
#include "apic.h"
#include "x86.h"

/* Real-mode code must sit below 1 MiB; page 0 holds the real-mode IVT. */
#define TRAMPOLINE_LIMIT MiB(1)
#define AP_ONLINE_TIMEOUT_MS 200

extern const uint8_t trampoline_start[], trampoline_end[];
extern const uint8_t tramp_gdt[], tramp_pm[], tramp_lm[];
extern uint8_t tramp_gdt_ptr[], tramp_jump32[], tramp_jump64[];
extern uint64_t tramp_cr3[], tramp_stack[], tramp_entry[], tramp_cpu[];

static uint64_t tramp_page;

/* Where a symbol of the trampoline lands in the copy. */
static uint64_t tramp_addr(const void *sym) { return tramp_page + ((uintptr_t)sym - (uintptr_t)trampoline_start); }
static void *tramp_field(const void *sym) { return (void *)(uintptr_t)tramp_addr(sym); }

static bool page_is_free(const struct boot_info *bi, uint64_t p, uint64_t img_start, uint64_t img_end)
{
	uint64_t end = p + PAGE_SIZE;
	bool usable = false;

	for (unsigned i = 0; i < bi->mmap_count; i++) {
		const struct mem_range *m = &bi->mmap[i];

		if (range_overlaps(p, end, m->base, m->base + m->len) && m->type != MEM_USABLE)
			return false;
		usable |= m->type == MEM_USABLE && m->base <= p && end <= m->base + m->len;
	}
	for (unsigned i = 0; i < bi->mod_count; i++)
		if (range_overlaps(p, end, bi->mod[i].start, bi->mod[i].end))
			return false;
	return usable && !range_overlaps(p, end, bi->info_start, bi->info_end) &&
	       !range_overlaps(p, end, img_start, img_end);
}

int arch_smp_prepare(const struct boot_info *bi, uint64_t img_start, uint64_t img_end, err_t *e)
{
	uint64_t size = (uintptr_t)trampoline_end - (uintptr_t)trampoline_start;

	for (uint64_t p = PAGE_SIZE; p + PAGE_SIZE <= TRAMPOLINE_LIMIT; p += PAGE_SIZE) {
		if (!page_is_free(bi, p, img_start, img_end))
			continue;
		tramp_page = p;
		memcpy((void *)(uintptr_t)p, trampoline_start, size);
		*(uint32_t *)((uint8_t *)tramp_field(tramp_gdt_ptr) + sizeof(uint16_t)) = tramp_addr(tramp_gdt);
		*(uint32_t *)tramp_field(tramp_jump32) = tramp_addr(tramp_pm);
		*(uint32_t *)tramp_field(tramp_jump64) = tramp_addr(tramp_lm);
		return 0;
	}
	return err_set(e, "no free usable page below 1 MiB for the AP start-up trampoline");
}

uint64_t arch_smp_page(void) { return tramp_page; }

bool arch_cpu_start(struct cpu *c, void (*entry)(unsigned index))
{
	uint64_t deadline;

	*(uint64_t *)tramp_field(tramp_cr3) = read_cr3();
	*(uint64_t *)tramp_field(tramp_stack) = (uint64_t)cpu_stack_top(c);
	*(uint64_t *)tramp_field(tramp_entry) = (uint64_t)entry;
	*(uint64_t *)tramp_field(tramp_cpu) = c->index;
	apic_start_ap(c->apic_id, tramp_page);
	deadline = rdtsc() + AP_ONLINE_TIMEOUT_MS * tsc_per_ms;
	while (!c->online && rdtsc() < deadline)
		cpu_relax();
	return c->online;
}

/* CPU 0 is the boot CPU; the other enabled local APICs follow in MADT order. */
int arch_cpus_find(const struct boot_info *bi, err_t *e)
{
	const void *rsdp;
	struct acpi_cpus found;
	uint32_t bsp_id;

	if (acpi_find_rsdp(bi, &rsdp, e) < 0 || acpi_read_cpus(rsdp, &found, e) < 0)
		return -1;
	apic_init(found.lapic_base);
	bsp_id = apic_id();
	cpus[0].apic_id = bsp_id;
	cpu_count = 1;
	for (unsigned i = 0; i < found.count && cpu_count < HV_MAX_CPUS; i++)
		if (found.apic_id[i] != bsp_id)
			cpus[cpu_count++].apic_id = found.apic_id[i];
	for (unsigned i = 0; i < cpu_count; i++)
		cpus[i].index = i;
	printk("slicehv: ACPI MADT: %u cpus, local APIC at 0x%lx\n", cpu_count, found.lapic_base);
	if (found.ignored)
		printk("slicehv: %u more cpus ignored: slicehv drives at most %u\n", found.ignored, HV_MAX_CPUS);
	return 0;
}
