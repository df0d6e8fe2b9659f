/* slicehv start-up: the boot CPU's init steps in order, and every other core's entry. */
#include "arch.h"
#include "bootinfo.h"
#include "config.h"
#include "console.h"
#include "cpu.h"
#include "fmt.h"
#include "heap.h"
#include "isolation.h"
#include "partition.h"
#include "phys.h"
#include "power.h"
#include "string.h"

#define CONFIG_SUFFIX ".cfg"      /* the module whose name ends so is the partition config */
#define DEFAULT_IMAGE "toy.elf"   /* what the embedded default config runs on every core */
#define BIOS_AREAS_END MiB(1)

struct cpu cpus[HV_MAX_CPUS];
unsigned cpu_count;
/* The boot CPU runs on its own per-CPU stack from the first instruction of C on. */
void *const bsp_stack_top = cpus[0].stack + CPU_STACK_SIZE;

extern uint8_t __image_start[], __image_end[];
static struct boot_info boot_info;
static struct config config;
static volatile bool launch_go; /* set by the boot CPU once every partition is built */

void hv_main(uint32_t magic, uint32_t info);
void ap_main(unsigned index);

/* Does the command line hold word as a whole, space-separated word? */
static bool strstr_word(const char *line, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = line; *p; p++)
		if ((p == line || p[-1] == ' ') && !strncmp(p, word, n) && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

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

	for (unsigned i = 0; i < bi->mod_count; i++)
		if (range_overlaps(start, end, bi->mod[i].start, bi->mod[i].end))
			return err_set(e, "module %s [0x%lx-0x%lx) overlaps the hypervisor image", bi->mod[i].name,
				       bi->mod[i].start, bi->mod[i].end);
	if (range_overlaps(start, end, bi->info_start, bi->info_end))
		return err_set(e, "the boot information overlaps the hypervisor image");
	if (!config_in_usable_ram(bi->mmap, bi->mmap_count, start, end))
		return err_set(e, "the hypervisor image [0x%lx-0x%lx) is not inside usable RAM", start, end);
	return 0;
}

/* Every core, the boot CPU included: VMX on, then report. */
static void cpu_bring_up(struct cpu *c)
{
	err_t e;

	if (arch_virt_enable(c, &e) < 0)
		printk("slicehv: cpu %u apic %u: vmx off: %s\n", c->index, c->apic_id, e.msg);
	else
		printk("slicehv: cpu %u apic %u: vmx on\n", c->index, c->apic_id);
	c->online = true;
}

/* Enter this core's partition, or idle for good if it has none. */
static void __attribute__((noreturn)) cpu_run(struct cpu *c)
{
	err_t e;

	arch_paging_load();
	if (c->partition) {
		c->partition->tsc_launched = boot_ticks();
		c->partition->state = PARTITION_RUNNING;
	}
	if (c->partition && arch_partition_launch(c, c->partition, &e) < 0)
		partition_park(c->partition, "%s", e.msg);
	cli();
	for (;;)
		hlt();
}

static void print_config_error(void *ctx, const char *msg)
{
	(void)ctx;
	printk("slicehv: config: %s\n", msg);
}

/* Memory that belongs to slicehv or the firmware: no slice may overlap it, no EPT may map it. */
enum { RESERVED_BIOS, RESERVED_IMAGE, RESERVED_HEAP, RESERVED_TRAMPOLINE, RESERVED_BOOTINFO, RESERVED_COUNT };
static struct reserved_range reserved[RESERVED_COUNT];
static struct machine_desc machine; /* what the config is checked against */

/* All but the heap's range, filled in once the heap is found outside the others. */
static void note_reserved(const struct boot_info *bi)
{
	reserved[RESERVED_BIOS] = (struct reserved_range){ 0, BIOS_AREAS_END, "BIOS areas (first MiB)" };
	reserved[RESERVED_IMAGE] = (struct reserved_range){ (uint64_t)__image_start, (uint64_t)__image_end,
							    "hypervisor image" };
	reserved[RESERVED_TRAMPOLINE] = (struct reserved_range){ arch_smp_page(),
								 arch_smp_page() + PAGE_SIZE, "AP trampoline" };
	reserved[RESERVED_BOOTINFO] = (struct reserved_range){ bi->info_start, bi->info_end, "boot information" };
	machine = (struct machine_desc){ bi->mmap, bi->mmap_count, reserved, RESERVED_COUNT, bi->mod,
					 bi->mod_count, cpu_count };
}

/* The config is the module whose name, the first word of its GRUB line, ends in .cfg. */
static bool is_config_module(const struct boot_module *mod)
{
	size_t n = 0, k = strlen(CONFIG_SUFFIX);

	while (mod->name[n] && mod->name[n] != ' ')
		n++;
	return n >= k && !strncmp(mod->name + n - k, CONFIG_SUFFIX, k);
}

static unsigned load_config(const struct boot_info *bi)
{
	const struct boot_module *cfg = NULL;
	unsigned extra = 0, valid;
	const char *text;

	for (unsigned i = 0; i < bi->mod_count; i++) {
		if (!is_config_module(&bi->mod[i]))
			continue;
		if (cfg) {
			printk("slicehv: config: module %s is a second config: ignored\n", bi->mod[i].name);
			extra++;
		} else {
			cfg = &bi->mod[i];
		}
	}
	if (!cfg) {
		printk("slicehv: config: none given; the default runs %s on every cpu\n", DEFAULT_IMAGE);
		return config_default(&config, DEFAULT_IMAGE, &machine, print_config_error, NULL);
	}
	printk("slicehv: config: %s\n", cfg->name);
	text = cfg->end == cfg->start ? "" : phys_ptr(cfg->start, cfg->end - cfg->start);
	if (!text) {
		print_config_error(NULL, "the config module is above the memory slicehv maps");
		config.errors++;
		return 0;
	}
	valid = config_parse(&config, cfg->name, text, cfg->end - cfg->start, &machine, print_config_error, NULL);
	config.errors += extra; /* a config that is not read is a config problem too */
	return valid;
}

static void print_partition_table(void)
{
	char row[CONSOLE_LINE_MAX];

	for (unsigned i = 0; i <= config.count; i++) { /* the header row, then a row per partition */
		config_format_row(row, sizeof(row), i ? &config.part[i - 1] : NULL);
		printk("slicehv: %s\n", row);
	}
	for (unsigned i = 0; i < config.channel_count; i++) {
		config_format_channel(row, sizeof(row), &config, &config.chan[i]);
		printk("slicehv: %s\n", row);
	}
}

/*
 * Before p may run: its real EPT, walked, maps its slice and its channels with the rights the
 * config gives it (not the ones the builder chose), and none of slicehv, the modules, the other
 * slices or the other channels.
 */
static int check_isolation(const struct partition *p, const struct boot_info *bi, err_t *e)
{
	struct reserved_range forbid[RESERVED_COUNT + BOOT_MAX_MODULES + CFG_MAX_PARTITIONS + CFG_MAX_CHANNELS];
	struct isolation_region own[1 + CFG_MAX_CHANNELS] = { { p->gpa_base, p->cfg->base, p->cfg->size, EPT_RWX, 0 } };
	const char *names[1 + CFG_MAX_CHANNELS];
	uint32_t self = BIT(p->cfg - config.part);
	unsigned n = 0, k = 0;
	uint64_t leaves;
	char seen_at[40] = "identity", with[24] = ""; /* how the guest sees it; its channels */

	for (unsigned i = 0; i < RESERVED_COUNT; i++)
		forbid[n++] = reserved[i];
	for (unsigned i = 0; i < bi->mod_count; i++)
		forbid[n++] = (struct reserved_range){ bi->mod[i].start, bi->mod[i].end, "a boot module" };
	for (unsigned i = 0; i < config.count; i++) {
		const struct partition_cfg *c = &config.part[i];

		if (c->valid && c != p->cfg)
			forbid[n++] = (struct reserved_range){ c->base, c->base + c->size, "another partition's slice" };
	}
	for (unsigned i = 0; i < config.channel_count; i++) {
		const struct channel_cfg *c = &config.chan[i];
		uint64_t gpa = c->base; /* a toy's view; Linux's is where the builder put it */

		if (!c->valid)
			continue;
		if (!((c->writers | c->readers) & self)) {
			forbid[n++] = (struct reserved_range){ c->base, c->base + c->size, "a channel it is not an endpoint of" };
			continue;
		}
		for (unsigned j = 0; j < p->chan_count; j++)
			gpa = p->chan[j].cfg == c ? p->chan[j].gpa : gpa;
		names[++k] = c->name;
		own[k] = (struct isolation_region){ gpa, c->base, c->size, channel_rights(c, self), 0 };
	}
	if (isolation_check(p->ept.pml4, own, 1 + k, bi, forbid, n, &leaves, e) < 0)
		return -1;
	if (p->gpa_base != p->cfg->base)
		ksnprintf(seen_at, sizeof(seen_at), "at guest-physical 0x%lx", p->gpa_base);
	if (k)
		ksnprintf(with, sizeof(with), " and %u channel%s", k, k > 1 ? "s" : "");
	printk("slicehv: isolation: partition %s: ept maps only its slice 0x%lx-0x%lx%s, %s, %lu leaves\n",
	       p->cfg->name, p->cfg->base, p->cfg->base + p->cfg->size - 1, with, seen_at, leaves);
	for (unsigned i = 1; i <= k; i++)
		printk("slicehv: isolation: partition %s: channel %s 0x%lx-0x%lx at guest-physical 0x%lx, %s%s\n",
		       p->cfg->name, names[i], own[i].hpa, own[i].hpa + own[i].size - 1, own[i].gpa,
		       own[i].rights & EPT_WRITE ? "read-write" : "read-only", own[i].rights & EPT_EXEC ? ", executable" : "");
	return 0;
}

/* Build every valid partition on the boot CPU; one that fails is reported and not started. */
static unsigned build_partitions(const struct boot_info *bi)
{
	uint64_t max_leaf = arch_largest_leaf();
	err_t e;

	/* ept=4k or ept=2m on the command line caps the leaf size: what large pages buy, measured. */
	if (strstr_word(bi->cmdline, "ept=4k"))
		max_leaf = EPT_PAGE_4K;
	else if (strstr_word(bi->cmdline, "ept=2m") && max_leaf > EPT_PAGE_2M)
		max_leaf = EPT_PAGE_2M;

	for (unsigned i = 0; i < config.count; i++) {
		struct partition_cfg *c = &config.part[i];
		struct partition *p = &partitions[partition_count];

		if (!c->valid)
			continue;
		if (!cpus[c->cpu].online || !cpus[c->cpu].vmx_on) {
			printk("slicehv: partition %s: cpu %u is not online with VMX on; not started\n", c->name, c->cpu);
			continue;
		}
		p->cfg = c;
		p->index = partition_count;
		if (partition_prepare(p, &config, bi->mod, max_leaf, &e) < 0 || check_isolation(p, bi, &e) < 0) {
			printk("slicehv: partition %s: %s; not started\n", c->name, e.msg);
			continue;
		}
		cpus[c->cpu].partition = p;
		partition_count++;
	}
	return partition_count;
}

void ap_main(unsigned index)
{
	struct cpu *c = &cpus[index];

	arch_cpu_init(c);
	cpu_bring_up(c);
	while (!launch_go)
		cpu_relax();
	cpu_run(c);
}

/* Multiboot information, shown, and checked against where the hypervisor itself lies. */
static void read_boot_info(uint32_t magic, uint32_t info)
{
	err_t e;

	if (boot_parse(magic, info, &boot_info, &e) < 0)
		boot_fail("boot information", &e);
	print_boot_info(&boot_info);
	/* For the test that shows a hypervisor fault is reported, not a triple fault. */
	if (strstr_word(boot_info.cmdline, "test-exception"))
		__asm__ volatile("ud2");
	if (check_image_placement(&boot_info, &e) < 0)
		boot_fail("memory layout", &e);
}

/* The cores from the MADT, and what VMX offers: a machine that cannot run partitions says why. */
static void probe_machine(void)
{
	err_t e;

	if (arch_cpus_find(&boot_info, &e) < 0)
		boot_fail("ACPI", &e);
	if (arch_virt_probe(&e) < 0) {
		printk("slicehv: no vmx: %s\n", e.msg);
		machine_exit(HV_EXIT_NO_VMX);
	}
}

/* VMX on here, then every other core started one at a time; one that never answers is left out. */
static void start_cpus(void)
{
	unsigned online = 1;
	err_t e;

	arch_timer_calibrate();
	if (arch_smp_prepare(&boot_info, (uint64_t)__image_start, (uint64_t)__image_end, &e) < 0)
		boot_fail("memory layout", &e);
	cpu_bring_up(&cpus[0]);
	for (unsigned i = 1; i < cpu_count; i++) {
		if (arch_cpu_start(&cpus[i], ap_main))
			online++;
		else
			printk("slicehv: cpu %u apic %u: did not come up; going on without it\n", i,
			       cpus[i].apic_id);
	}
	printk("slicehv: %u cpus online\n", online);
	printk("slicehv: timing: cpus online +%lu ticks, %lu ticks per ms\n", boot_ticks(), tsc_per_ms);
}

/* The end of the highest usable RAM: slices may lie anywhere below it. */
static uint64_t ram_top(const struct boot_info *bi)
{
	uint64_t top = 0;

	for (unsigned i = 0; i < bi->mmap_count; i++)
		if (bi->mmap[i].type == MEM_USABLE && bi->mmap[i].base + bi->mmap[i].len > top)
			top = bi->mmap[i].base + bi->mmap[i].len;
	return top;
}

/* What slices must avoid, the heap outside all that, the hypervisor's W^X page tables, the exit bitmaps. */
static void reserve_memory(void)
{
	uint64_t heap, free;
	err_t e;

	note_reserved(&boot_info);
	heap = config_find_free(&machine, NULL, HEAP_SIZE, &free);
	if (!free)
		boot_fail("memory layout", &(err_t){ "no free usable RAM for the hypervisor heap" });
	reserved[RESERVED_HEAP] = (struct reserved_range){ heap, heap + HEAP_SIZE, "hypervisor heap" };
	heap_init(heap, HEAP_SIZE);
	if (arch_memory_init(ram_top(&boot_info), &e) < 0)
		boot_fail("memory layout", &e);
}

void hv_main(uint32_t magic, uint32_t info)
{
	arch_cpu_init(&cpus[0]); /* first: from here on an exception is reported, not a triple fault */
	console_init();
	printk("slicehv: starting\n");
	read_boot_info(magic, info);
	probe_machine();
	start_cpus();
	reserve_memory();
	load_config(&boot_info); /* the config module, or the default: a partition per core */
	print_partition_table();
	if (build_partitions(&boot_info) == 0) {
		printk("slicehv: no partition to run\n");
		machine_exit(HV_EXIT_FAILED);
	}
	partition_expect(partition_count, config.errors || config.count != partition_count);
	launch_go = true; /* the other cores launch their partitions, and this one its own */
	cpu_run(&cpus[0]);
}
