/* Fuzz the partition config parser and validator: the input is the text of partition.cfg. */
#include "config.h"
#include "fuzz.h"

#define CFG_FILE "partition.cfg"
#define CPUS 4
#define ROW_MAX 160
#define ROW_SHORT 12 /* a buffer too small for a row: output must still be cut and terminated */

/*
 * A plausible machine: BIOS-style low memory, usable RAM split into adjacent and unordered
 * entries (the validator must join them), a hole below 4 GiB and more RAM above it.
 */
static const struct mem_range ram[] = {
	{ 0x0, 0x9fc00, MEM_USABLE },
	{ 0x9fc00, 0x400, MEM_RESERVED },
	{ 0xf0000, 0x10000, MEM_RESERVED },
	{ MiB(1024), MiB(1024), MEM_USABLE },     /* listed before the entry it continues */
	{ MiB(1), MiB(1023), MEM_USABLE },
	{ GiB(2), GiB(1), MEM_ACPI_RECLAIMABLE },
	{ 0xfee00000, PAGE_SIZE, MEM_RESERVED },
	{ GiB(4), GiB(1), MEM_USABLE },
};

/* The usable RAM above as the merged intervals it amounts to, for checking accepted slices. */
static const struct { uint64_t start, end; } usable[] = {
	{ 0x0, 0x9fc00 }, { MiB(1), GiB(2) }, { GiB(4), GiB(5) },
};

static const struct reserved_range reserved[] = {
	{ 0, MiB(1), "BIOS areas (first MiB)" },
	{ MiB(1), MiB(1) + KiB(256), "hypervisor image" },
	{ MiB(2), MiB(6), "hypervisor heap" },
	{ 0x8000, 0x9000, "AP trampoline" },
	{ 0x9000, 0x9400, "boot information" },
};

static const struct boot_module modules[] = {
	{ MiB(6), MiB(6) + KiB(32), "/boot/toy.elf", false },
	{ MiB(6) + KiB(32), MiB(7), "rt.elf arg1 arg2", false },
	{ MiB(7), MiB(7) + PAGE_SIZE, "/boot/partition.cfg", false },
	{ MiB(8), MiB(72), "/big.elf", false }, /* 64 MiB: larger than a small slice */
};

static const struct machine_desc machine = {
	ram, ARRAY_SIZE(ram), reserved, ARRAY_SIZE(reserved), modules, ARRAY_SIZE(modules), CPUS,
};

static void on_report(void *ctx, const char *msg)
{
	unsigned *count = ctx;

	++*count;
	FUZZ_SAY("%s\n", msg);
	FUZZ_CHECK(!strncmp(msg, CFG_FILE ":", sizeof(CFG_FILE)), "message lacks the file name: %s",
		   msg);
	FUZZ_CHECK(msg[sizeof(CFG_FILE)] != '\0', "message says nothing after the file name");
	/* Messages go to the serial console: no control or non-ASCII bytes from the file. */
	for (const char *c = msg; *c; c++)
		FUZZ_CHECK(*c >= ' ' && *c <= '~', "byte 0x%02x in message: %s", (uint8_t)*c, msg);
}

static bool good_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool in_usable(uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < ARRAY_SIZE(usable); i++)
		if (start >= usable[i].start && end <= usable[i].end)
			return true;
	return false;
}

/* What validation promises of an accepted partition, on its own. */
static void check_valid(const struct partition_cfg *p)
{
	uint64_t end = p->base + p->size;

	FUZZ_CHECK(good_name(p->name) && good_name(p->console), "bad name '%s' or console '%s'",
		   p->name, p->console);
	FUZZ_CHECK(p->line >= 1, "partition %s: line %u", p->name, p->line);
	FUZZ_CHECK(p->cpu < CPUS, "partition %s: cpu %u of %u", p->name, p->cpu, CPUS);
	FUZZ_CHECK(p->on_fault == FAULT_PARK || p->on_fault == FAULT_RESTART, "on_fault %d",
		   p->on_fault);
	FUZZ_CHECK(p->size && p->size % CFG_SLICE_ALIGN == 0 && p->base % CFG_SLICE_ALIGN == 0 &&
		   end > p->base, "partition %s: slice 0x%lx+0x%lx", p->name, p->base, p->size);
	FUZZ_CHECK(in_usable(p->base, end), "partition %s: [0x%lx, 0x%lx) not in usable RAM", p->name,
		   p->base, end);
	for (unsigned i = 0; i < ARRAY_SIZE(reserved); i++)
		FUZZ_CHECK(!range_overlaps(p->base, end, reserved[i].start, reserved[i].end),
			   "partition %s overlaps %s", p->name, reserved[i].name);
	for (unsigned i = 0; i < ARRAY_SIZE(modules); i++)
		FUZZ_CHECK(!range_overlaps(p->base, end, modules[i].start, modules[i].end),
			   "partition %s overlaps module %s", p->name, modules[i].name);
	FUZZ_CHECK(p->module >= 0 && p->module < (int)ARRAY_SIZE(modules), "partition %s: module %d",
		   p->name, p->module);
	FUZZ_CHECK(modules[p->module].end - modules[p->module].start <= p->size,
		   "partition %s: image larger than its slice", p->name);
}

/* Accepted partitions never share a name, a core or a byte. */
static void check_pair(const struct partition_cfg *a, const struct partition_cfg *b)
{
	FUZZ_CHECK(strcmp(a->name, b->name), "two valid partitions named %s", a->name);
	FUZZ_CHECK(a->cpu != b->cpu, "partitions %s and %s share cpu %u", a->name, b->name, a->cpu);
	FUZZ_CHECK(!range_overlaps(a->base, a->base + a->size, b->base, b->base + b->size),
		   "partitions %s and %s overlap", a->name, b->name);
}

static void check_row(const struct partition_cfg *p)
{
	char row[ROW_MAX], cut[ROW_SHORT];

	FUZZ_CHECK(config_format_row(row, sizeof(row), p) >= 0 && fuzz_terminated(row, sizeof(row)),
		   "table row not formatted");
	FUZZ_CHECK(config_format_row(cut, sizeof(cut), p) >= 0 && fuzz_terminated(cut, sizeof(cut)),
		   "short table row not terminated");
}

/*
 * An accepted channel: whole pages in usable RAM, two endpoints or more that are partitions of
 * the config, exec= among them, clear of the hypervisor, the modules, every valid slice and every
 * earlier valid channel; its row formats at any size.
 */
static void check_channel(const struct config *cfg, const struct channel_cfg *c)
{
	char row[ROW_MAX], cut[ROW_SHORT];
	uint32_t ends = c->writers | c->readers, all = (uint32_t)((1ull << cfg->count) - 1);
	uint64_t end = c->base + c->size;

	FUZZ_CHECK(fuzz_terminated(c->name, sizeof(c->name)), "channel: unterminated name");
	FUZZ_CHECK(config_format_channel(row, sizeof(row), cfg, c) >= 0 && fuzz_terminated(row, sizeof(row)) &&
		   config_format_channel(cut, sizeof(cut), cfg, c) >= 0 && fuzz_terminated(cut, sizeof(cut)),
		   "channel row not terminated");
	if (!c->valid)
		return;
	FUZZ_CHECK(c->size && c->size % CFG_CHANNEL_ALIGN == 0 && c->base % CFG_CHANNEL_ALIGN == 0 && end > c->base,
		   "channel %s: 0x%lx+0x%lx", c->name, c->base, c->size);
	FUZZ_CHECK(in_usable(c->base, end), "channel %s not in usable RAM", c->name);
	FUZZ_CHECK(endpoint_count(ends) >= 2 && !(ends & ~all) && !(c->writers & c->readers) && !(c->exec & ~ends),
		   "channel %s: endpoints 0x%x/0x%x exec 0x%x", c->name, c->writers, c->readers, c->exec);
	FUZZ_CHECK(c->vector >= CFG_FIRST_VECTOR && c->vector <= CFG_LAST_VECTOR, "channel %s: vector %u", c->name,
		   c->vector);
	for (unsigned i = 0; i < ARRAY_SIZE(reserved); i++)
		FUZZ_CHECK(!range_overlaps(c->base, end, reserved[i].start, reserved[i].end), "channel %s overlaps %s",
			   c->name, reserved[i].name);
	for (unsigned i = 0; i < ARRAY_SIZE(modules); i++)
		FUZZ_CHECK(!range_overlaps(c->base, end, modules[i].start, modules[i].end),
			   "channel %s overlaps module %s", c->name, modules[i].name);
	for (unsigned i = 0; i < cfg->count; i++)
		FUZZ_CHECK(!cfg->part[i].valid || !range_overlaps(c->base, end, cfg->part[i].base,
								  cfg->part[i].base + cfg->part[i].size),
			   "channel %s overlaps partition %s", c->name, cfg->part[i].name);
	for (const struct channel_cfg *q = cfg->chan; q < c; q++)
		FUZZ_CHECK(!q->valid || !range_overlaps(c->base, end, q->base, q->base + q->size),
			   "channels %s and %s overlap", q->name, c->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	unsigned reports = 0, valid = 0, invalid;

	unsigned n = config_parse(&cfg, CFG_FILE, (const char *)data, size, &machine, on_report,
				  &reports);
	FUZZ_CHECK(cfg.count <= CFG_MAX_PARTITIONS, "%u partitions", cfg.count);
	FUZZ_CHECK(cfg.errors == reports, "errors %u but %u reports", cfg.errors, reports);
	FUZZ_CHECK(cfg.count || cfg.errors, "no partitions and no message saying so");
	check_row(NULL);
	for (unsigned i = 0; i < cfg.count; i++) {
		const struct partition_cfg *p = &cfg.part[i];

		FUZZ_CHECK(fuzz_terminated(p->name, sizeof(p->name)) &&
			   fuzz_terminated(p->console, sizeof(p->console)) &&
			   fuzz_terminated(p->image, sizeof(p->image)), "partition %u: unterminated", i);
		check_row(p);
		if (!p->valid)
			continue;
		valid++;
		check_valid(p);
		for (unsigned j = 0; j < i; j++)
			if (cfg.part[j].valid)
				check_pair(&cfg.part[j], p);
	}
	FUZZ_CHECK(cfg.channel_count <= CFG_MAX_CHANNELS, "%u channels", cfg.channel_count);
	for (unsigned i = 0; i < cfg.channel_count; i++)
		check_channel(&cfg, &cfg.chan[i]);
	invalid = cfg.count - valid;
	FUZZ_SAY("%u partitions, %u valid, %u messages\n", cfg.count, valid, cfg.errors);
	FUZZ_CHECK(n == valid, "returned %u, but %u partitions are valid", n, valid);
	FUZZ_CHECK(cfg.errors >= invalid, "%u invalid partitions, only %u messages", invalid,
		   cfg.errors);
	return 0;
}
