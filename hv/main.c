/* slicehv start-up: the boot CPU's init steps in order, and every other core's entry. */
#include "../arch/x86/acpi.h"
#include "../arch/x86/apic.h"
#include "../arch/x86/smp.h"
#include "../arch/x86/vmx.h"
#include "../arch/x86/x86.h"
#include "bootinfo.h"
#include "console.h"
#include "cpu.h"
#include "power.h"

struct cpu cpus[HV_MAX_CPUS];
unsigned cpu_count;
/* The boot CPU runs on its own per-CPU stack from the first instruction of C on. */
void *const bsp_stack_top = cpus[0].stack + CPU_STACK_SIZE;

extern uint8_t __image_start[], __image_end[];
static struct boot_info boot_info;

void hv_main(uint32_t magic, uint32_t info);
void ap_main(unsigned index);

/* Bad input from the loader or firmware: say what and where, then end the machine. */
static void __attribute__((noreturn)) boot_fail(const char *what, const err_t *e)
{
	printk("slicehv: %s: %s\n", what, e->msg);
	machine_exit(HV_EXIT_FAILED);
}

static void print_boot_info(const struct boot_info *bi)
{
	printk("slicehv: boot loader: %s\n", bi->loader[0] ? bi->loader : "(unnamed)");
	printk("slicehv: command line: %s\n", bi->cmdline);
	printk("slicehv: memory map:\n");
	for (unsigned i = 0; i < bi->mmap_count; i++) {
		const struct mem_range *m = &bi->mmap[i];

		printk("  [mem 0x%016lx-0x%016lx] %s\n", m->base, m->base + m->len - 1,
		       boot_mem_type_name(m->type));
	}
	printk("slicehv: usable RAM: %lu MiB\n", boot_usable_bytes(bi) >> 20);
	for (unsigned i = 0; i < bi->mod_count; i++)
		printk("slicehv: module %s [0x%lx-0x%lx)\n", bi->mod[i].name, bi->mod[i].start, bi->mod[i].end);
	printk("slicehv: image [0x%lx-0x%lx)\n", (uint64_t)__image_start, (uint64_t)__image_end);
}

/* Nothing the loader placed may overlap the image, and the image must sit in usable RAM. */
static int check_image_placement(const struct boot_info *bi, err_t *e)
{
	uint64_t start = (uint64_t)__image_start, end = (uint64_t)__image_end;
	bool in_ram = false;

	for (unsigned i = 0; i < bi->mod_count; i++)
		if (range_overlaps(start, end, bi->mod[i].start, bi->mod[i].end))
			return err_set(e, "module %s [0x%lx-0x%lx) overlaps the hypervisor image", bi->mod[i].name,
				       bi->mod[i].start, bi->mod[i].end);
	if (range_overlaps(start, end, bi->info_start, bi->info_end))
		return err_set(e, "the boot information overlaps the hypervisor image");
	for (unsigned i = 0; i < bi->mmap_count; i++) {
		const struct mem_range *m = &bi->mmap[i];

		in_ram |= m->type == MEM_USABLE && m->base <= start && end <= m->base + m->len;
	}
	if (!in_ram)
		return err_set(e, "the hypervisor image [0x%lx-0x%lx) is not inside usable RAM", start, end);
	return 0;
}

/* CPU 0 is the boot CPU; the other enabled local APICs follow in MADT order. */
static int discover_cpus(const struct boot_info *bi, err_t *e)
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

/* Every core, the boot CPU included: VMX on, then report. */
static void cpu_bring_up(struct cpu *c)
{
	err_t e;

	if (vmx_enable(c, &e) < 0)
		printk("slicehv: cpu %u apic %u: vmx off: %s\n", c->index, c->apic_id, e.msg);
	else
		printk("slicehv: cpu %u apic %u: vmx on\n", c->index, c->apic_id);
	c->online = true;
}

void ap_main(unsigned index)
{
	struct cpu *c = &cpus[index];

	cpu_init(c);
	cpu_bring_up(c);
	cli();
	for (;;)
		hlt();
}

void hv_main(uint32_t magic, uint32_t info)
{
	unsigned online = 1;
	err_t e;

	cpu_init(&cpus[0]); /* first: from here on an exception is reported, not a triple fault */
	console_init();
	printk("slicehv: starting\n");
	if (boot_parse(magic, info, &boot_info, &e) < 0)
		boot_fail("boot information", &e);
	print_boot_info(&boot_info);
	if (check_image_placement(&boot_info, &e) < 0)
		boot_fail("memory layout", &e);
	if (discover_cpus(&boot_info, &e) < 0)
		boot_fail("ACPI", &e);
	if (vmx_probe(&e) < 0) {
		printk("slicehv: no vmx: %s\n", e.msg);
		machine_exit(HV_EXIT_NO_VMX);
	}
	tsc_calibrate();
	if (smp_place_trampoline(&boot_info, (uint64_t)__image_start, (uint64_t)__image_end, &e) < 0)
		boot_fail("memory layout", &e);
	cpu_bring_up(&cpus[0]);
	for (unsigned i = 1; i < cpu_count; i++) {
		if (smp_start_cpu(&cpus[i], ap_main))
			online++;
		else
			printk("slicehv: cpu %u apic %u: did not come up; going on without it\n", i,
			       cpus[i].apic_id);
	}
	printk("slicehv: %u cpus online\n", online);
	machine_exit(HV_EXIT_OK);
}
