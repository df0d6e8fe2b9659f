/* Partitions at run time: building a slice, its virtual console, and how a partition ends. */
#include "partition.h"
#include "arch.h"
#include "console.h"
#include "cpu.h"
#include "fmt.h"
#include "heap.h"
#include "hypercall.h"
#include "phys.h"
#include "power.h"
#include "string.h"

struct partition partitions[HV_MAX_CPUS];
unsigned partition_count;
static volatile unsigned partitions_running;
static bool config_failed; /* config errors, or configured partitions that could not be started */

static const char *const state_names[] = {
	[PARTITION_READY] = "ready",   [PARTITION_RUNNING] = "running", [PARTITION_DONE] = "done",
	[PARTITION_HALTED] = "halted", [PARTITION_PARKED] = "parked",
};

const char *partition_state_name(enum partition_state s) { return state_names[s]; }

void *partition_mem(const struct partition *p, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - p->gpa_base;

	return gpa >= p->gpa_base && off < p->cfg->size && len <= p->cfg->size - off
		       ? phys_ptr(p->cfg->base + off, len) : NULL;
}

/* Appends one tag to a multiboot2 information block; returns the next tag's offset. */
static uint32_t mb2_tag(uint8_t *info, uint32_t off, uint32_t type, const void *body, uint32_t len)
{
	uint32_t hdr[2] = { type, (uint32_t)(sizeof(hdr) + len) };

	memcpy(info + off, hdr, sizeof(hdr));
	memcpy(info + off + sizeof(hdr), body, len);
	return (uint32_t)ALIGN_UP(off + sizeof(hdr) + len, MB2_ALIGN);
}

/* A module's GRUB arguments: its command line after the first word (its name). */
static const char *module_args(const struct boot_module *m)
{
	const char *a = m->name;

	while (*a && *a != ' ')
		a++;
	while (*a == ' ')
		a++;
	return a;
}

/* A Linux kernel sees its slice at guest-physical 0 and boots on what arch/x86/linux.c writes. */
static int load_linux(struct partition *p, const void *file, err_t *e)
{
	const struct partition_cfg *c = p->cfg;
	const struct boot_module *k = p->module, *rd = p->initrd;
	struct hvm_memmap_table_entry channels[CFG_MAX_CHANNELS];
	struct linux_boot b = { c->base, c->size, file, k->end - k->start, NULL, 0, module_args(k),
				cpus[c->cpu].apic_id, channels, p->chan_count };

	_Static_assert(CFG_MAX_CHANNELS <= LINUX_E820_EXTRA_MAX, "a Linux partition's map holds all its channels");
	for (unsigned i = 0; i < p->chan_count; i++)
		channels[i] = (struct hvm_memmap_table_entry){ p->chan[i].gpa, p->chan[i].cfg->size, E820_RESERVED, 0 };

	if (rd && rd->end > rd->start && !(b.initrd = phys_ptr(rd->start, rd->end - rd->start)))
		return err_set(e, "initrd %s is not in mapped memory", rd->name);
	b.initrd_size = rd ? rd->end - rd->start : 0;
	if (linux_load(&b, &p->boot, e) < 0)
		return -1;
	p->image = (struct elf_image){ p->boot.ip, c->base + p->boot.kernel_start, c->base + p->boot.kernel_end };
	p->bootinfo = p->boot.boot_info;
	return 0;
}

/*
 * The guest's start-up information (hv/hypercall.h): its name and its image module's arguments,
 * "slicehv", and its slice as its only RAM.
 */
static void write_bootinfo(struct partition *p, const struct boot_module *image)
{
	const char *args = module_args(image);
	uint8_t *info = phys_ptr(p->bootinfo, GUEST_BOOTINFO_MAX);
	char cmdline[BOOT_MODULE_LINE_LEN + CFG_NAME_MAX + 8];
	struct { uint32_t entry_size, entry_version; struct mb2_mmap_entry e[1 + CFG_MAX_CHANNELS]; }
		__attribute__((packed)) mmap = { sizeof(mmap.e[0]), MB2_MMAP_ENTRY_VERSION,
						 { { p->cfg->base, p->cfg->size, MEM_USABLE, 0 } } };
	uint32_t off = 8; /* total_size and reserved come first */

	for (unsigned k = 0; k < p->chan_count; k++)
		mmap.e[1 + k] = (struct mb2_mmap_entry){ p->chan[k].gpa, p->chan[k].cfg->size, GUEST_MEM_CHANNEL, 0 };

	memset(info, 0, GUEST_BOOTINFO_MAX);
	ksnprintf(cmdline, sizeof(cmdline), "name=%s%s%s", p->cfg->name, *args ? " " : "", args);
	off = mb2_tag(info, off, MB2_TAG_CMDLINE, cmdline, strlen(cmdline) + 1);
	off = mb2_tag(info, off, MB2_TAG_LOADER, "slicehv", sizeof("slicehv"));
	off = mb2_tag(info, off, MB2_TAG_MMAP, &mmap,
		     sizeof(mmap) - (CFG_MAX_CHANNELS - p->chan_count) * sizeof(mmap.e[0]));
	off = mb2_tag(info, off, MB2_TAG_END, NULL, 0);
	*(uint32_t *)info = off;
}

int partition_load(struct partition *p, err_t *e)
{
	const struct partition_cfg *c = p->cfg;
	const struct boot_module *image = p->module;
	const void *file = phys_ptr(image->start, image->end - image->start);

	if (image->end == image->start)
		return err_set(e, "image %s is an empty module", image->name);
	if (!file)
		return err_set(e, "image %s is not in mapped memory", image->name);
	p->line_len = 0;
	memset(p->uart, 0, sizeof(p->uart));
	if (p->is_linux)
		return load_linux(p, file, e);
	if (elf_load(file, image->end - image->start, c->base, c->size, c->base + GUEST_IMAGE_OFFSET,
		     &p->image, e) < 0)
		return -1;
	p->bootinfo = c->base + GUEST_BOOTINFO_OFFSET;
	write_bootinfo(p, image);
	return 0;
}

int partition_prepare(struct partition *p, const struct config *cfg, const struct boot_module *mods,
		      uint64_t max_leaf, err_t *e)
{
	const struct partition_cfg *c = p->cfg;
	const struct boot_module *image = &mods[c->module];

	p->module = image;
	p->initrd = c->initrd_module >= 0 ? &mods[c->initrd_module] : NULL;
	if (linux_probe(phys_ptr(image->start, image->end - image->start), image->end - image->start, &p->boot, e))
		return -1;
	p->is_linux = p->boot.route != LINUX_NONE;
	if (p->initrd && !p->is_linux)
		return err_set(e, "initrd %s: image %s is not a Linux kernel", c->initrd, c->image);
	if (!phys_ptr(c->base, c->size))
		return err_set(e, "slice 0x%lx-0x%lx is not in the hypervisor's map", c->base, c->base + c->size - 1);
	/* A toy starts in 32-bit mode at its host address (hypercall.h); Linux sees its slice at 0. */
	p->gpa_base = p->is_linux ? 0 : c->base;
	if (!p->is_linux && c->base + c->size > GiB(4))
		return err_set(e, "slice 0x%lx-0x%lx reaches above 4 GiB, where a 32-bit start cannot run",
			       c->base, c->base + c->size - 1);
	p->ept_build_ticks = rdtsc();
	if (ept_build(&p->ept, p->gpa_base, c->base, c->size, max_leaf, heap_alloc_page, NULL, e) < 0 ||
	    channel_attach(p, cfg, e) < 0)
		return -1;
	p->ept_build_ticks = rdtsc() - p->ept_build_ticks;
	if (partition_load(p, e) < 0)
		return -1;
	p->state = PARTITION_READY;
	printk("slicehv: partition %s: ept %u table pages, leaves 1G=%lu 2M=%lu 4K=%lu; image "
	       "[0x%lx-0x%lx) entry 0x%lx\n",
	       c->name, p->ept.stats.tables, p->ept.stats.leaves_1g, p->ept.stats.leaves_2m,
	       p->ept.stats.leaves_4k, p->image.start, p->image.end, p->image.entry);
	return 0;
}

uint64_t boot_ticks(void)
{
	extern uint64_t boot_tsc;

	return rdtsc() - boot_tsc;
}

void partition_console_flush(struct partition *p)
{
	if (!p->line_len)
		return;
	if (!p->tsc_first_output)
		p->tsc_first_output = boot_ticks();
	p->line[p->line_len] = '\0';
	if (!console_queue("[%s] %s\n", p->cfg->console, p->line)) {
		if (!p->console_dropped)
			printk("slicehv: partition %s: console over its share of the UART: lines dropped and "
			       "counted\n", p->cfg->name);
		p->console_dropped += p->line_len;
	}
	p->line_len = 0;
}

void partition_console_putc(struct partition *p, char ch)
{
	if (ch == '\r')
		return;
	if (ch == '\n') {
		partition_console_flush(p);
		return;
	}
	/* Anything unprintable is shown, not sent raw to the shared terminal. */
	p->line[p->line_len++] = (ch >= ' ' && ch <= '~') ? ch : '?';
	if (p->line_len == CONSOLE_LINE_MAX - 1)
		partition_console_flush(p);
}

void partition_deny(struct partition *p, const char *fmt, ...)
{
	char what[128]; /* the longest: a refused x2APIC write, its 64-bit value and the reason */
	va_list ap;

	if (++p->denied > PRINTED_DENIALS_MAX)
		return;
	va_start(ap, fmt);
	kvsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	printk("slicehv: partition %s: denied %s%s\n", p->cfg->name, what,
	       p->denied == PRINTED_DENIALS_MAX ? " (further denials only counted)" : "");
}

static void print_stats(const struct partition *p)
{
	char line[CONSOLE_LINE_MAX];
	int n;

	printk("slicehv: timing %s: ept-build %lu launched +%lu first-output +%lu stopped +%lu ticks\n",
	       p->cfg->name, p->ept_build_ticks, p->tsc_launched, p->tsc_first_output, p->tsc_stopped);
	n = ksnprintf(line, sizeof(line), "slicehv: stats %s: %s", p->cfg->name, partition_state_name(p->state));
	if (p->state == PARTITION_DONE)
		n += ksnprintf(line + n, sizeof(line) - n, " status %ld", p->status);
	if (p->restarts)
		n += ksnprintf(line + n, sizeof(line) - n, ", restarts %u", p->restarts);
	n += ksnprintf(line + n, sizeof(line) - n, ", denied %u, exits %lu:", p->denied, p->exits_total);
	for (unsigned r = 0; r < EXIT_REASON_COUNT && n < (int)sizeof(line); r++)
		if (p->exits[r])
			n += ksnprintf(line + n, sizeof(line) - n, " %s=%u", arch_exit_reason_name(r), p->exits[r]);
	if (p->console_dropped && n < (int)sizeof(line))
		ksnprintf(line + n, sizeof(line) - n, ", console dropped %lu bytes", p->console_dropped);
	printk("%s\n", line);
}

/* Every partition has stopped: the statistics, then the machine ends with the overall verdict. */
static void __attribute__((noreturn)) end_of_run(void)
{
	bool clean = true;

	console_flush(true);
	for (unsigned i = 0; i < partition_count; i++) {
		print_stats(&partitions[i]);
		clean &= partitions[i].state == PARTITION_DONE && partitions[i].status == 0;
	}
	printk("slicehv: all partitions done\n");
	if (config_failed)
		printk("slicehv: config problems were reported: the run counts as failed\n");
	machine_exit(clean && !config_failed ? HV_EXIT_OK : HV_EXIT_FAILED);
}

void partition_stop(struct partition *p, enum partition_state why)
{
	p->tsc_stopped = boot_ticks();
	partition_console_flush(p);
	console_flush(false);
	p->state = why;
	if (__atomic_sub_fetch(&partitions_running, 1, __ATOMIC_ACQ_REL) == 0)
		end_of_run();
	cli();
	for (;;)
		hlt();
}

/* on-fault=restart: a clean image and a fresh VMCS on the same core, a bounded number of times. */
static void restart(struct partition *p)
{
	struct cpu *c = &cpus[p->cfg->cpu];
	err_t e;

	p->restarts++;
	printk("slicehv: partition %s restarting (%u of %u)\n", p->cfg->name, p->restarts, p->cfg->restarts);
	if (partition_load(p, &e) == 0) {
		p->state = PARTITION_RUNNING;
		arch_partition_launch(c, p, &e); /* returns only if the launch failed */
	}
	printk("slicehv: partition %s parked: restart failed: %s\n", p->cfg->name, e.msg);
}

void partition_park(struct partition *p, const char *fmt, ...)
{
	char reason[CONSOLE_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	partition_console_flush(p);
	printk("slicehv: partition %s parked: %s\n", p->cfg->name, reason);
	p->state = PARTITION_PARKED; /* so its peers, rung now, see it gone (until a restart relaunches it) */
	channel_tell_peers(p);
	if (p->cfg->on_fault == FAULT_RESTART && p->restarts < p->cfg->restarts)
		restart(p);
	partition_stop(p, PARTITION_PARKED);
}

void partition_expect(unsigned running, bool failed_config)
{
	partitions_running = running;
	config_failed = failed_config;
}
