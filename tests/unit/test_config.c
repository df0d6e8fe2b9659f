/* Unit tests for the partition config: parsing, the nasty-input table, validation, the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

#define MAX_MSGS 64
#define MSG_LEN 256
#define FILE_NAME "partition.cfg"

struct reports {
	char msg[MAX_MSGS][MSG_LEN];
	unsigned count;
};

static void collect(void *ctx, const char *msg)
{
	struct reports *r = ctx;

	assert_true(r->count < MAX_MSGS);
	snprintf(r->msg[r->count++], MSG_LEN, "%s", msg);
}

/*
 * 2 GiB below the PCI hole, 4 GiB above 4 GiB in two adjacent entries, and the usual
 * reserved bits: the first MiB, the hypervisor, and modules just above it.
 */
static const struct mem_range ram[] = {
	{ 0x0, 0x9fc00, MEM_USABLE },
	{ 0x9fc00, 0x400, MEM_RESERVED },
	{ 0xf0000, 0x10000, MEM_RESERVED },
	{ 0x100000, 0x7fee0000 - 0x100000, MEM_USABLE },
	{ 0x7fee0000, 0x20000, MEM_ACPI_RECLAIMABLE },
	{ GiB(4), GiB(2), MEM_USABLE },
	{ GiB(6), GiB(2), MEM_USABLE },
};

static const struct reserved_range reserved[] = {
	{ 0x0, MiB(1), "BIOS areas" },
	{ 0x8000, 0x9000, "AP trampoline" },
	{ MiB(1), MiB(4), "hypervisor image and heap" },
};

static const struct boot_module modules[] = {
	{ 0x400000, 0x410000, "/boot/toy.elf", false },
	{ 0x410000, 0x411000, "/boot/partition.cfg", false },
	{ 0x412000, 0x712000, "big.elf some arguments", false },
	{ 0x712000, 0x792000, "initrd.cpio", false },
	{ 0x792000, 0x793000, "cut.elf with a command line that was cut sho", true },
};

static const struct machine_desc machine = {
	.ram = ram, .ram_count = ARRAY_SIZE(ram),
	.reserved = reserved, .reserved_count = ARRAY_SIZE(reserved),
	.modules = modules, .module_count = ARRAY_SIZE(modules),
	.cpu_count = 4,
};

static struct config cfg;
static struct reports rep;

static unsigned parse_m(const char *text, size_t len, const struct machine_desc *m)
{
	unsigned valid;

	memset(&rep, 0, sizeof(rep));
	valid = config_parse(&cfg, FILE_NAME, text, len, m, collect, &rep);
	assert_int_equal(cfg.errors, rep.count);
	return valid;
}

static unsigned parse(const char *text)
{
	return parse_m(text, strlen(text), &machine);
}

static void assert_reported(const char *what)
{
	for (unsigned i = 0; i < rep.count; i++)
		if (strstr(rep.msg[i], what))
			return;
	for (unsigned i = 0; i < rep.count; i++)
		print_message("  got: %s\n", rep.msg[i]);
	fail_msg("no message contains '%s'", what);
}

/* One message exactly, and it is what we expect. */
static void assert_only(const char *what)
{
	assert_reported(what);
	if (rep.count != 1) {
		for (unsigned i = 0; i < rep.count; i++)
			print_message("  got: %s\n", rep.msg[i]);
		fail_msg("expected exactly one message, got %u", rep.count);
	}
}

static void test_good_config(void **state)
{
	const char *text =
		"# two partitions\n"
		"\n"
		"partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf   # real-time\n"
		"\tpartition  gp_1-x\tcpu=2 mem=1G@4G image=/boot/toy.elf console=gp on-fault=restart "
		"restarts=5 budget=250\r\n"
		"   \n"
		"partition p3 cpu=0 mem=4096K@0x10000000 image=big.elf on-fault=park";
	const struct partition_cfg *a = &cfg.part[0], *b = &cfg.part[1], *c = &cfg.part[2];

	(void)state;
	assert_int_equal(parse(text), 3);
	assert_int_equal(rep.count, 0);
	assert_int_equal(cfg.count, 3);
	assert_string_equal(a->name, "rt0");
	assert_string_equal(a->console, "rt0");
	assert_string_equal(a->image, "toy.elf");
	assert_int_equal(a->cpu, 1);
	assert_int_equal(a->base, 0x8000000);
	assert_int_equal(a->size, MiB(64));
	assert_int_equal(a->on_fault, FAULT_PARK);
	assert_int_equal(a->restarts, CFG_DEFAULT_RESTARTS);
	assert_int_equal(a->budget_ms, 0);
	assert_int_equal(a->module, 0);
	assert_int_equal(a->line, 3);
	assert_true(a->valid);
	assert_string_equal(b->name, "gp_1-x");
	assert_string_equal(b->console, "gp");
	assert_int_equal(b->base, GiB(4));
	assert_int_equal(b->size, GiB(1));
	assert_int_equal(b->on_fault, FAULT_RESTART);
	assert_int_equal(b->restarts, 5);
	assert_int_equal(b->budget_ms, 250);
	assert_int_equal(b->module, 0);
	assert_int_equal(b->line, 4);
	assert_int_equal(c->size, MiB(4));
	assert_int_equal(c->module, 2);
	assert_int_equal(c->line, 6);
}

static void test_number_forms(void **state)
{
	(void)state;
	assert_int_equal(parse("partition a cpu=0x1 mem=0X4000000@134217728 image=toy.elf\n"
			       "partition b cpu=2 mem=2m@0x10000000 image=toy.elf\n"
			       "partition c cpu=3 mem=0x200000@5g image=toy.elf\n"), 3);
	assert_int_equal(cfg.part[0].cpu, 1);
	assert_int_equal(cfg.part[0].size, MiB(64));
	assert_int_equal(cfg.part[0].base, MiB(128));
	assert_int_equal(cfg.part[1].size, MiB(2));
	assert_int_equal(cfg.part[2].base, GiB(5));
}

/* A slice may span two adjacent usable entries of the memory map. */
static void test_adjacent_ram_ranges(void **state)
{
	(void)state;
	assert_int_equal(parse("partition big cpu=1 mem=2G@5G image=toy.elf"), 1);
	assert_int_equal(rep.count, 0);
}

static void test_empty(void **state)
{
	(void)state;
	assert_int_equal(parse(""), 0);
	assert_only("partition.cfg: no partitions");
	assert_int_equal(parse("# nothing here\n\n   \n\t\n"), 0);
	assert_only("partition.cfg: no partitions");
}

struct nasty {
	const char *text;
	const char *msg;
};

/* Each is one bad line: exactly one message, naming the line and the field. */
static const struct nasty nasty[] = {
	{ "partition a cpu=1 mem=99999999999999999999@0x8000000 image=toy.elf",
	  "partition.cfg:1: mem 99999999999999999999@0x8000000: overflows 64 bits" },
	{ "partition a cpu=1 mem=0x10000000000000000@0 image=toy.elf", "overflows 64 bits" },
	{ "partition a cpu=1 mem=17179869184G@0 image=toy.elf", "mem 17179869184G@0: overflows 64 bits" },
	{ "partition a cpu=1 mem=2M@0xffffffffffe00000 image=toy.elf",
	  "mem 2M@0xffffffffffe00000: base + size overflows 64 bits" },
	{ "partition a cpu=1 mem=2M@16777215T image=toy.elf", "mem 2M@16777215T: is not a number" },
	{ "partition a cpu=1 mem=@0 image=toy.elf", "mem @0: is not a number" },
	{ "partition a cpu=1 mem=2M@ image=toy.elf", "mem 2M@: is not a number" },
	{ "partition a cpu=1 mem=0x@0 image=toy.elf", "is not a number" },
	{ "partition a cpu=1 mem=2MM@0 image=toy.elf", "is not a number" },
	{ "partition a cpu=1 mem=64M image=toy.elf", "mem 64M: expected <size>@<base>" },
	{ "partition a cpu=1 mem=3M@0x8000000 image=toy.elf",
	  "partition.cfg:1: mem 3M@0x8000000: size and base must be multiples of 2 MiB" },
	{ "partition a cpu=1 mem=2M@0x8001000 image=toy.elf", "multiples of 2 MiB" },
	{ "partition a cpu=1 mem=0@0x8000000 image=toy.elf", "mem 0@0x8000000: size is zero" },
	{ "partition a cpu=x1 mem=2M@0x8000000 image=toy.elf", "cpu x1: is not a number" },
	{ "partition a cpu=1K mem=2M@0x8000000 image=toy.elf", "cpu 1K: is not a number" },
	{ "partition a cpu=-1 mem=2M@0x8000000 image=toy.elf", "cpu -1: is not a number" },
	{ "partition a cpu=4294967296 mem=2M@0x8000000 image=toy.elf", "cpu 4294967296: is too large" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf restarts=99999999999999999999",
	  "restarts 99999999999999999999: overflows 64 bits" },
	{ "partition a cpu=1 cpu=2 mem=2M@0x8000000 image=toy.elf", "partition.cfg:1: cpu= is given twice" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf image=toy.elf", "image= is given twice" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf colour=red", "unknown key 'colour'" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf cpu", "expected key=value, got 'cpu'" },
	{ "partition a cpu= mem=2M@0x8000000 image=toy.elf", "cpu= has no value" },
	{ "partition a =1 mem=2M@0x8000000 image=toy.elf", "unknown key ''" },
	{ "partition a mem=2M@0x8000000 image=toy.elf", "partition.cfg:1: missing cpu=" },
	{ "partition a cpu=1 image=toy.elf", "missing mem=" },
	{ "partition a cpu=1 mem=2M@0x8000000", "missing image=" },
	{ "partition cpu=1 mem=2M@0x8000000 image=toy.elf", "missing partition name after 'partition'" },
	{ "partition", "missing partition name" },
	{ "partition abcdefghijklmnop cpu=1 mem=2M@0x8000000 image=toy.elf",
	  "name abcdefghijklmnop: must be 1-15 characters" },
	{ "partition RT0 cpu=1 mem=2M@0x8000000 image=toy.elf", "name RT0: may only hold a-z 0-9 _ -" },
	{ "partition a.b cpu=1 mem=2M@0x8000000 image=toy.elf", "name a.b: may only hold" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf console=Serial", "console Serial: may only hold" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf console=abcdefghijklmnop", "must be 1-15" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf on-fault=explode",
	  "on-fault explode: expected park or restart" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf restarts=many", "restarts many: is not a number" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf budget=1s", "budget 1s: is not a number" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf budget=5000000000", "budget 5000000000: is too large" },
	{ "partition a cpu=1 mem=2M@0x8000000 "
	  "image=0123456789012345678901234567890123456789012345678901234567890123",
	  "image 0123456789012345678901234567890123456789012345678901234567890123: is longer than" },
	{ "hello world", "partition.cfg:1: expected 'partition <name> key=value...' or 'channel <name> key=value...', got 'hello'" },
	{ "Partition a cpu=1 mem=2M@0x8000000 image=toy.elf", "got 'Partition'" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf a b c d e f g h i j k l m", "more than 16 fields" },
	{ "partition r\xc3\xa9 cpu=1 mem=2M@0x8000000 image=toy.elf",
	  "partition.cfg:1: non-ASCII byte 0xc3 in column 12" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy\x01.elf", "control byte 0x01 in column 45" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf\x7f", "control byte 0x7f" },
	{ "partition a cpu=1 mem=2M@0x8000000 image=toy.elf\r\r", "control byte 0x0d in column 49" },
};

static void test_nasty_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(nasty); i++) {
		print_message("  %s\n", nasty[i].text);
		assert_int_equal(parse(nasty[i].text), 0);
		assert_only(nasty[i].msg);
		assert_true(cfg.count <= 1);
		if (cfg.count)
			assert_false(cfg.part[0].valid);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "partition a cpu=1 mem=2M@0x8000000\0image=toy.elf\n";

	(void)state;
	assert_int_equal(parse_m(text, sizeof(text) - 1, &machine), 0);
	assert_only("partition.cfg:1: control byte 0x00 in column 35");
}

#define GOOD_LINE "partition a cpu=1 mem=2M@0x8000000 image=toy.elf"

/* Writes s at text + at; returns where it ends. */
static size_t put(char *text, size_t at, const char *s)
{
	memcpy(text + at, s, strlen(s));
	return at + strlen(s);
}

/* Comments may hold anything, and only content counts towards the line limit. */
static void test_comments_and_long_lines(void **state)
{
	char text[1024];
	size_t n;

	(void)state;
	assert_int_equal(parse(GOOD_LINE " # caf\xc3\xa9 \x01\n"), 1);
	memset(text, ' ', sizeof(text));
	text[0] = '#';
	n = put(text, 600, "\n" GOOD_LINE);
	assert_int_equal(parse_m(text, n, &machine), 1);
	assert_int_equal(rep.count, 0);

	memset(text, ' ', sizeof(text));
	n = put(text, 250, GOOD_LINE "\n");
	n = put(text, n, "partition b cpu=2 mem=2M@0xa000000 image=toy.elf\n");
	assert_int_equal(parse_m(text, n, &machine), 1);
	assert_only("partition.cfg:1: line is longer than 255 characters");
	assert_string_equal(cfg.part[0].name, "b");

	memset(text, ' ', sizeof(text));
	n = put(text, CFG_LINE_MAX - strlen(GOOD_LINE), GOOD_LINE);
	assert_int_equal(n, CFG_LINE_MAX);
	assert_int_equal(parse_m(text, n, &machine), 1);
	text[n] = ' ';
	parse_m(text, n + 1, &machine);
	assert_only("line is longer than 255 characters");
}

static void test_duplicate_names(void **state)
{
	(void)state;
	assert_int_equal(parse("partition rt0 cpu=1 mem=2M@0x8000000 image=toy.elf\n"
			       "partition rt0 cpu=2 mem=2M@0xa000000 image=toy.elf\n"), 1);
	assert_only("partition.cfg:2: name rt0 is already used on line 1");
	assert_true(cfg.part[0].valid);
	assert_false(cfg.part[1].valid);
}

/* No partition may print under another's name or console, nor as the hypervisor. */
static void test_console_clashes(void **state)
{
	static const struct {
		const char *second, *msg;
	} cases[] = {
		{ "partition ev cpu=2 mem=2M@0xa000000 image=toy.elf console=toy",
		  "partition.cfg:2: console toy is the name of partition toy on line 1" },
		{ "partition ev cpu=2 mem=2M@0xa000000 image=toy.elf console=gp",
		  "partition.cfg:2: console gp is already used by partition toy on line 1" },
		{ "partition gp cpu=2 mem=2M@0xa000000 image=toy.elf",
		  "partition.cfg:2: name gp is the console of partition toy on line 1" },
		{ "partition ev cpu=2 mem=2M@0xa000000 image=toy.elf console=slicehv",
		  "partition.cfg:2: console slicehv: reserved for the hypervisor's own lines" },
	};
	char text[256];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "partition toy cpu=1 mem=2M@0x8000000 image=toy.elf console=gp\n%s\n",
			 cases[i].second);
		assert_int_equal(parse(text), 1);
		assert_only(cases[i].msg);
		assert_true(cfg.part[0].valid);
		assert_false(cfg.part[1].valid);
	}
	assert_int_equal(parse("partition a cpu=1 mem=2M@0x8000000 image=toy.elf console=slicehv\n"), 0);
	assert_only("partition.cfg:1: console slicehv: reserved for the hypervisor's own lines");
}

static void test_too_many_partitions(void **state)
{
	char text[4096] = "";
	unsigned n = 0;

	(void)state;
	for (unsigned i = 0; i <= CFG_MAX_PARTITIONS; i++)
		n += snprintf(text + n, sizeof(text) - n,
			      "partition p%u cpu=%u mem=2M@%uM image=toy.elf\n", i, i, 128 + 2 * i);
	assert_int_equal(parse(text), 4);
	assert_int_equal(cfg.count, CFG_MAX_PARTITIONS);
	assert_reported("partition.cfg:17: too many partitions: at most 16");
	assert_reported("partition.cfg:5: cpu 4 does not exist: 4 CPUs are online");
	assert_int_equal(rep.count, CFG_MAX_PARTITIONS - 4 + 1);
}

static void test_cpu_checks(void **state)
{
	(void)state;
	assert_int_equal(parse("partition rt0 cpu=1 mem=2M@0x8000000 image=toy.elf\n"
			       "partition rt1 cpu=1 mem=2M@0xa000000 image=toy.elf\n"
			       "partition rt2 cpu=4 mem=2M@0xc000000 image=toy.elf\n"
			       "partition rt3 cpu=0 mem=2M@0xe000000 image=toy.elf\n"), 2);
	assert_reported("partition.cfg:2: cpu 1 is already owned by partition rt0");
	assert_reported("partition.cfg:3: cpu 4 does not exist: 4 CPUs are online");
	assert_int_equal(rep.count, 2);
	assert_true(cfg.part[0].valid && !cfg.part[1].valid && !cfg.part[2].valid && cfg.part[3].valid);
}

static void test_slice_overlaps_partition(void **state)
{
	(void)state;
	assert_int_equal(parse("partition rt0 cpu=1 mem=64M@0x6000000 image=toy.elf\n"
			       "partition gp cpu=2 mem=64M@0x8000000 image=toy.elf\n"
			       "partition ok cpu=3 mem=64M@0xa000000 image=toy.elf\n"), 2);
	assert_only("partition.cfg:2: mem 64M@0x8000000 overlaps partition rt0");
	assert_false(cfg.part[1].valid);
	assert_true(cfg.part[2].valid);
}

/* An invalid partition claims nothing: a later one may take its core and memory. */
static void test_invalid_claims_nothing(void **state)
{
	(void)state;
	assert_int_equal(parse("partition bad cpu=1 mem=64M@0x8000000 image=nope.elf\n"
			       "partition good cpu=1 mem=64M@0x8000000 image=toy.elf\n"), 1);
	assert_only("partition.cfg:1: image nope.elf: no module of that name");
	assert_true(cfg.part[1].valid);
}

static void test_slice_overlaps_reserved(void **state)
{
	(void)state;
	parse("partition a cpu=1 mem=2M@0x200000 image=toy.elf");
	assert_only("partition.cfg:1: mem 2M@0x200000 overlaps hypervisor image and heap "
		    "[0x100000, 0x400000)");
	parse("partition a cpu=1 mem=2M@0x400000 image=toy.elf");
	assert_reported("mem 2M@0x400000 overlaps module /boot/toy.elf [0x400000, 0x410000)");
	assert_reported("overlaps module /boot/partition.cfg [0x410000, 0x411000)");
	assert_reported("overlaps module big.elf some arguments [0x412000, 0x712000)");
	assert_int_equal(rep.count, 3);
	parse("partition a cpu=1 mem=2M@0 image=toy.elf");
	assert_reported("mem 2M@0x0 is not inside usable RAM");
	assert_reported("mem 2M@0x0 overlaps BIOS areas [0x0, 0x100000)");
	assert_reported("overlaps AP trampoline [0x8000, 0x9000)");
	assert_reported("overlaps hypervisor image and heap");
	assert_int_equal(rep.count, 4);
}

static void test_slice_outside_ram(void **state)
{
	(void)state;
	parse("partition a cpu=1 mem=2M@0x80000000 image=toy.elf");
	assert_only("partition.cfg:1: mem 2M@0x80000000 is not inside usable RAM");
	parse("partition a cpu=1 mem=2M@0x7fe00000 image=toy.elf");
	assert_only("mem 2M@0x7fe00000 is not inside usable RAM");
	parse("partition a cpu=1 mem=1G@0x7fe00000 image=toy.elf");
	assert_only("is not inside usable RAM");
	parse("partition a cpu=1 mem=4G@6G image=toy.elf");
	assert_only("mem 4G@0x180000000 is not inside usable RAM");
	parse("partition a cpu=1 mem=2M@0xfffffffffc000000 image=toy.elf");
	assert_only("is not inside usable RAM");
}

static void test_image_checks(void **state)
{
	(void)state;
	parse("partition a cpu=1 mem=2M@0x8000000 image=big.elf");
	assert_only("partition.cfg:1: image big.elf (3M) is larger than the slice (2M)");
	assert_int_equal(parse("partition a cpu=1 mem=4M@0x8000000 image=big.elf"), 1);
	parse("partition a cpu=1 mem=2M@0x8000000 image=boot/toy.elf");
	assert_only("image boot/toy.elf: no module of that name");
	parse("partition a cpu=1 mem=2M@0x8000000 image=arguments");
	assert_only("image arguments: no module of that name");
	assert_int_equal(parse("partition a cpu=1 mem=2M@0x8000000 image=partition.cfg"), 1);
	assert_int_equal(cfg.part[0].module, 1);
	assert_int_equal(cfg.part[0].initrd_module, -1);
	parse("partition a cpu=1 mem=2M@0x8000000 image=cut.elf");
	assert_only("partition.cfg:1: image cut.elf: its module line is longer than 1023 characters");
}

/* initrd= names a second module; the two together must fit the slice. */
static void test_initrd(void **state)
{
	(void)state;
	assert_int_equal(parse("partition a cpu=1 mem=4M@0x8000000 image=toy.elf initrd=initrd.cpio"), 1);
	assert_int_equal(cfg.part[0].module, 0);
	assert_int_equal(cfg.part[0].initrd_module, 3);
	assert_string_equal(cfg.part[0].initrd, "initrd.cpio");
	assert_int_equal(parse("partition a cpu=1 mem=4M@0x8000000 image=big.elf initrd=initrd.cpio"), 1);
	parse("partition a cpu=1 mem=2M@0x8000000 image=toy.elf initrd=big.elf");
	assert_only("partition.cfg:1: image toy.elf with initrd big.elf (3136K) is larger than the slice (2M)");
	parse("partition a cpu=1 mem=4M@0x8000000 image=toy.elf initrd=nosuch.cpio");
	assert_only("partition.cfg:1: initrd nosuch.cpio: no module of that name");
	parse("partition a cpu=1 mem=4M@0x8000000 image=toy.elf initrd=cut.elf");
	assert_only("initrd cut.elf: its module line is longer than 1023 characters");
}

static void test_find_module(void **state)
{
	(void)state;
	assert_int_equal(config_find_module(&machine, "toy.elf"), 0);
	assert_int_equal(config_find_module(&machine, "/boot/toy.elf"), 0);
	assert_int_equal(config_find_module(&machine, "big.elf"), 2);
	assert_int_equal(config_find_module(&machine, "toy"), -1);
	assert_int_equal(config_find_module(&machine, "oy.elf"), -1);
	assert_int_equal(config_find_module(&machine, "big.elf some"), -1);
	assert_int_equal(config_find_module(&machine, ""), -1);
}

/* One partition can collect several messages; the others stay valid. */
static void test_many_errors_one_partition(void **state)
{
	(void)state;
	assert_int_equal(parse("partition ok cpu=1 mem=2M@0x8000000 image=toy.elf\n"
			       "partition bad cpu=1 mem=2M@0x8000000 image=nope.elf\n"
			       "partition ok2 cpu=2 mem=2M@0xa000000 image=toy.elf\n"), 2);
	assert_reported("partition.cfg:2: cpu 1 is already owned by partition ok");
	assert_reported("partition.cfg:2: mem 2M@0x8000000 overlaps partition ok");
	assert_reported("partition.cfg:2: image nope.elf: no module of that name");
	assert_int_equal(rep.count, 3);
	assert_true(cfg.part[2].valid);
}

static void test_null_report(void **state)
{
	(void)state;
	assert_int_equal(config_parse(&cfg, FILE_NAME, "garbage", 7, &machine, NULL, NULL), 0);
	assert_int_equal(cfg.errors, 1);
}

static unsigned make_default(const char *image, const struct machine_desc *m)
{
	unsigned valid;

	memset(&rep, 0, sizeof(rep));
	valid = config_default(&cfg, image, m, collect, &rep);
	assert_int_equal(cfg.errors, rep.count);
	return valid;
}

static void test_default_config(void **state)
{
	(void)state;
	/* The largest free stretch is [4G, 6G): the entries are not merged for the default. */
	assert_int_equal(make_default("toy.elf", &machine), 4);
	assert_int_equal(rep.count, 0);
	for (unsigned i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%u", i);
		assert_string_equal(cfg.part[i].name, name);
		assert_string_equal(cfg.part[i].console, name);
		assert_string_equal(cfg.part[i].image, "toy.elf");
		assert_int_equal(cfg.part[i].cpu, i);
		assert_int_equal(cfg.part[i].base, GiB(4) + i * MiB(512));
		assert_int_equal(cfg.part[i].size, MiB(512));
		assert_int_equal(cfg.part[i].module, 0);
		assert_int_equal(cfg.part[i].on_fault, FAULT_PARK);
		assert_true(cfg.part[i].valid);
	}
}

/* Uneven splits round down to 2 MiB; the first free byte after the modules is aligned up. */
static void test_default_low_memory(void **state)
{
	static const struct mem_range small[] = { { 0, 0x9fc00, MEM_USABLE },
						  { MiB(1), MiB(127), MEM_USABLE } };
	struct machine_desc m = machine;

	(void)state;
	m.ram = small;
	m.ram_count = ARRAY_SIZE(small);
	m.cpu_count = 3;
	/* Free: [0x712000, 128M) -> [8M, 128M) = 120M -> 40M each. */
	assert_int_equal(make_default("toy.elf", &m), 3);
	assert_int_equal(cfg.part[0].base, MiB(8));
	assert_int_equal(cfg.part[0].size, MiB(40));
	assert_int_equal(cfg.part[2].base, MiB(88));
	m.cpu_count = 7;
	assert_int_equal(make_default("toy.elf", &m), 7);
	assert_int_equal(cfg.part[0].size, MiB(16));
}

static void test_default_errors(void **state)
{
	static const struct mem_range tiny[] = { { MiB(4), MiB(6), MEM_USABLE } };
	struct machine_desc m = machine;

	(void)state;
	assert_int_equal(make_default("nope.elf", &machine), 0);
	assert_int_equal(cfg.count, 4);
	assert_reported("default config: p0: image nope.elf: no module of that name");
	assert_reported("default config: p3: image nope.elf");
	assert_int_equal(rep.count, 4);
	assert_int_equal(make_default("big.elf", &machine), 4);
	m.ram = tiny;
	m.ram_count = ARRAY_SIZE(tiny);
	assert_int_equal(make_default("toy.elf", &m), 0);
	assert_only("default config: no room for 4 slices of 2 MiB: largest free RAM is 0x200000 bytes");
	m.cpu_count = 1;
	assert_int_equal(make_default("toy.elf", &m), 1);
	assert_int_equal(cfg.part[0].base, MiB(8));
	m.cpu_count = 0;
	assert_int_equal(make_default("toy.elf", &machine), 4);
	assert_int_equal(make_default("toy.elf", &m), 0);
	assert_only("no room for 0 slices");
	m = machine;
	m.cpu_count = 64; /* more than slicehv drives: the first CFG_MAX_PARTITIONS get one each */
	assert_int_equal(make_default("toy.elf", &m), CFG_MAX_PARTITIONS);
	assert_int_equal(rep.count, 0);
	assert_int_equal(cfg.part[CFG_MAX_PARTITIONS - 1].size, MiB(128));
}

static void test_format_row(void **state)
{
	char buf[128];

	(void)state;
	parse("partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf\n"
	      "partition bad cpu=9 mem=1G@4G image=toy.elf\n");
	config_format_row(buf, sizeof(buf), NULL);
	assert_string_equal(buf, "partition       cpu  slice                    image                state");
	config_format_row(buf, sizeof(buf), &cfg.part[0]);
	assert_string_equal(buf, "rt0               1  64M@0x8000000            toy.elf              valid");
	config_format_row(buf, sizeof(buf), &cfg.part[1]);
	/* A refused line shows where it is, not its (possibly half-parsed) values. */
	assert_string_equal(buf, "bad               -  -                        -                    invalid (line 2)");
}

/* Channel lines: placed in free RAM or at base=, endpoints with their rights, the table row. */
static void test_channels(void **state)
{
	const struct channel_cfg *t = &cfg.chan[0], *r = &cfg.chan[1];
	char buf[160];

	(void)state;
	assert_int_equal(parse("partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf\n"
			       "partition gp cpu=2 mem=64M@0x10000000 image=toy.elf\n"
			       "channel telemetry size=64K writer=rt0 reader=gp\n"
			       "channel ring size=2M base=0x20000000 rw=rt0,gp exec=gp vector=0x60\n"), 2);
	assert_int_equal(rep.count, 0);
	assert_int_equal(cfg.channel_count, 2);
	assert_true(t->valid && r->valid);
	/* The lowest free 2 MiB-aligned RAM: above the hypervisor and the modules, below rt0. */
	assert_int_equal(t->base, MiB(8));
	assert_int_equal(t->size, KiB(64));
	assert_int_equal(t->writers, BIT(0));
	assert_int_equal(t->readers, BIT(1));
	assert_int_equal(t->exec, 0);
	assert_int_equal(t->vector, CFG_DEFAULT_VECTOR);
	assert_int_equal(r->base, 0x20000000);
	assert_int_equal(r->writers, BIT(0) | BIT(1));
	assert_int_equal(r->exec, BIT(1));
	assert_int_equal(r->vector, 0x60);
	config_format_channel(buf, sizeof(buf), &cfg, t);
	assert_string_equal(buf, "channel telemetry 64K@0x800000 writer rt0 reader gp exec - vector 0x50");
	config_format_channel(buf, sizeof(buf), &cfg, r);
	assert_string_equal(buf, "channel ring 2M@0x20000000 writer rt0,gp reader - exec gp vector 0x60");
	/* A second placed channel goes past the first; a slice declared later may not take it. */
	parse("partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf\n"
	      "partition gp cpu=2 mem=64M@0x10000000 image=toy.elf\n"
	      "channel a size=4K writer=rt0 reader=gp\n"
	      "channel b size=4K writer=rt0 reader=gp\n"
	      "partition late cpu=3 mem=2M@0x800000 image=toy.elf\n");
	assert_int_equal(cfg.chan[1].base, MiB(10));
	assert_only("partition.cfg:5: mem 2M@0x800000 overlaps channel a [0x800000, 0x801000)");
}

/* Every refusal names its line and what is wrong; the channel is not used, the partitions are. */
static void test_channel_errors(void **state)
{
	static const struct { const char *line, *msg; } bad[] = {
		{ "channel lonely size=4K writer=rt0", "channel lonely has fewer than two endpoints" },
		{ "channel twice size=4K writer=rt0 reader=rt0", "reader rt0: partition 'rt0' is listed twice" },
		{ "channel twice size=4K rw=rt0,gp,rt0", "rw rt0,gp,rt0: partition 'rt0' is listed twice" },
		{ "channel odd size=5000 writer=rt0 reader=gp", "size 5000: must be a nonzero multiple of 4 KiB" },
		{ "channel odd size=4K base=0x20000800 writer=rt0 reader=gp", "must be a nonzero multiple of 4 KiB" },
		{ "channel over size=4K base=0x8000000 writer=rt0 reader=gp",
		  "channel over overlaps partition rt0 [0x8000000, 0xc000000)" },
		{ "channel hv size=4K base=0x200000 writer=rt0 reader=gp",
		  "channel hv overlaps hypervisor image and heap [0x100000, 0x400000)" },
		{ "channel mod size=4K base=0x400000 writer=rt0 reader=gp",
		  "channel mod overlaps module /boot/toy.elf [0x400000, 0x410000)" },
		{ "channel hole size=4K base=0x7fef0000 writer=rt0 reader=gp", "is not inside usable RAM" },
		{ "channel ghost size=4K writer=rt0 reader=gp,nobody", "no partition 'nobody' on an earlier line" },
		{ "channel trail size=4K writer=rt0 reader=gp,", "no partition '' on an earlier line" },
		{ "channel vec size=4K writer=rt0 reader=gp vector=31", "vector 31: must be 32-255" },
		{ "channel x size=4K writer=rt0 reader=gp exec=idle", "exec= names a partition that is not its writer" },
		{ "channel nosize writer=rt0 reader=gp", "missing size=" },
		{ "channel huge size=16G writer=rt0 reader=gp", "no free usable RAM holds 0x400000000 bytes" },
		{ "channel wrap size=0xfffffffffffff000 base=0x100000000 writer=rt0 reader=gp", "overflows 64 bits" },
		{ "channel BAD size=4K writer=rt0 reader=gp", "channel name BAD: may only hold" },
		{ "channel", "missing channel name after 'channel'" },
	};
	char text[512];

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), "partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf\n"
			 "partition gp cpu=2 mem=64M@0x10000000 image=toy.elf\n"
			 "partition idle cpu=3 mem=2M@0x30000000 image=toy.elf\n%s\n", bad[i].line);
		assert_int_equal(parse(text), 3);
		assert_only(bad[i].msg);
		assert_non_null(strstr(rep.msg[0], "partition.cfg:4: "));
		assert_false(cfg.channel_count && cfg.chan[0].valid);
	}
	snprintf(text, sizeof(text), "partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf\n"
		 "partition gp cpu=2 mem=64M@0x10000000 image=toy.elf\n");
	for (unsigned i = 0; i <= CFG_MAX_CHANNELS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "channel c%u size=4K rw=rt0,gp\n", i);
	parse(text);
	assert_int_equal(cfg.channel_count, CFG_MAX_CHANNELS);
	assert_only("partition.cfg:11: too many channels: at most 8");
	parse("partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf\n"
	      "partition gp cpu=2 mem=64M@0x10000000 image=toy.elf\n"
	      "channel a size=4K rw=rt0,gp\nchannel a size=4K rw=rt0,gp\n");
	assert_only("partition.cfg:4: channel name a is already used on line 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config),
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_channel_errors),
		cmocka_unit_test(test_number_forms),
		cmocka_unit_test(test_adjacent_ram_ranges),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_nasty_inputs),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_comments_and_long_lines),
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_console_clashes),
		cmocka_unit_test(test_too_many_partitions),
		cmocka_unit_test(test_cpu_checks),
		cmocka_unit_test(test_slice_overlaps_partition),
		cmocka_unit_test(test_invalid_claims_nothing),
		cmocka_unit_test(test_slice_overlaps_reserved),
		cmocka_unit_test(test_slice_outside_ram),
		cmocka_unit_test(test_image_checks),
		cmocka_unit_test(test_initrd),
		cmocka_unit_test(test_find_module),
		cmocka_unit_test(test_many_errors_one_partition),
		cmocka_unit_test(test_null_report),
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_default_low_memory),
		cmocka_unit_test(test_default_errors),
		cmocka_unit_test(test_format_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
