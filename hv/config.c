/* Partition config: a line parser, then checks of every partition against the real machine. */
#include "config.h"
#include "fmt.h"
#include "string.h"

#define CFG_MSG_MAX     192
#define CFG_MAX_FIELDS  16  /* "partition", the name and key=value fields: more is garbage */
#define CFG_MEM_STR     48  /* "18446744073709551615@0xffffffffffffffff" */
#define CFG_NAMES_STR   (CFG_MAX_PARTITIONS * (CFG_NAME_MAX + 1)) /* "rt0,gp0": every partition */
#define DIGIT_NONE      99  /* larger than any base */
#define HEX_PREFIX_LEN  2   /* "0x" */
#define ASCII_LIMIT     0x80
#define ASCII_DEL       0x7f
#define ASCII_SPACE     0x20 /* also the bit that makes a letter lower case */

struct parser {
	struct config *cfg;
	const struct machine_desc *m;
	const char *file;
	unsigned line; /* the line being parsed, or 0 */
	config_report_fn report;
	void *ctx;
	char why[CFG_NAME_MAX + 48]; /* a value's problem that names a partition */
};

/* Says where: file:line, or file and name for a default partition. Marks pc (if any) invalid. */
__attribute__((format(printf, 3, 4)))
static bool report(struct parser *p, struct partition_cfg *pc, const char *fmt, ...)
{
	char msg[CFG_MSG_MAX];
	va_list ap;
	int n = p->line ? ksnprintf(msg, sizeof(msg), "%s:%u: ", p->file, p->line)
			: ksnprintf(msg, sizeof(msg), "%s: %s%s", p->file, pc ? pc->name : "", pc ? ": " : "");

	if (pc)
		pc->valid = false;
	n = n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1;
	va_start(ap, fmt);
	kvsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	p->cfg->errors++;
	if (p->report)
		p->report(p->ctx, msg);
	return false;
}

static const char *find_char(const char *s, char c)
{
	while (*s && *s != c)
		s++;
	return s;
}

static unsigned digit_value(char c)
{
	char lower = c | ASCII_SPACE;

	if (c >= '0' && c <= '9')
		return c - '0';
	return lower >= 'a' && lower <= 'f' ? (unsigned)(lower - 'a' + 10) : DIGIT_NONE;
}

/* Binary multiples, largest first: 64M is 64 << 20 bytes. */
static const struct { char c; unsigned shift; } units[] = { { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };

/* Decimal or 0x hex over [s, end), then a K, M or G where allowed. */
static const char *parse_num(const char *s, const char *end, bool suffix, uint64_t *out)
{
	unsigned base = 10, shift = 0, d;
	const char *digits;
	uint64_t v = 0;

	if (end - s > HEX_PREFIX_LEN && s[0] == '0' && (s[1] | ASCII_SPACE) == 'x')
		base = 16, s += HEX_PREFIX_LEN;
	for (digits = s; s < end && (d = digit_value(*s)) < base; s++) {
		if (v > (UINT64_MAX - d) / base)
			return "overflows 64 bits";
		v = v * base + d;
	}
	for (unsigned i = 0; suffix && s + 1 == end && i < ARRAY_SIZE(units); i++)
		if ((*s & ~ASCII_SPACE) == units[i].c)
			shift = units[i].shift, s++;
	if (s == digits || s != end)
		return "is not a number";
	if (v > UINT64_MAX >> shift)
		return "overflows 64 bits";
	*out = v << shift;
	return NULL;
}

static const char *parse_small(const char *val, unsigned *out)
{
	uint64_t v = 0;
	const char *why = parse_num(val, val + strlen(val), false, &v);

	*out = (unsigned)v;
	return why ? why : v > UINT32_MAX ? "is too large" : NULL;
}

static const char *name_error(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_NAME_MAX)
		return "must be 1-15 characters";
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return "may only hold a-z 0-9 _ -";
	return NULL;
}

/* <size>@<base>, both 2 MiB multiples so the EPT can use large pages. */
static const char *parse_mem(struct partition_cfg *pc, const char *val)
{
	const char *at = find_char(val, '@'), *why;

	if (!*at)
		return "expected <size>@<base>";
	if ((why = parse_num(val, at, true, &pc->size)) ||
	    (why = parse_num(at + 1, at + strlen(at), true, &pc->base)))
		return why;
	if (pc->size == 0)
		return "size is zero";
	if (pc->size % CFG_SLICE_ALIGN || pc->base % CFG_SLICE_ALIGN)
		return "size and base must be multiples of 2 MiB";
	return pc->base > UINT64_MAX - pc->size ? "base + size overflows 64 bits" : NULL;
}

/* The keys, required ones first. */
enum cfg_key { KEY_CPU, KEY_MEM, KEY_IMAGE, KEY_CONSOLE, KEY_ON_FAULT, KEY_RESTARTS, KEY_BUDGET,
	       KEY_INITRD };
static const char *const key_names[] = { "cpu", "mem", "image", "console", "on-fault", "restarts",
					 "budget", "initrd" };

/* Stores one value; NULL, or why it is wrong (a partition with a wrong value is never used). */
static const char *set_field(struct parser *p, void *item, unsigned k, const char *val)
{
	struct partition_cfg *pc = item;

	(void)p;
	switch ((enum cfg_key)k) {
	case KEY_CPU:
		return parse_small(val, &pc->cpu);
	case KEY_RESTARTS:
		return parse_small(val, &pc->restarts);
	case KEY_BUDGET:
		return parse_small(val, &pc->budget_ms);
	case KEY_MEM:
		return parse_mem(pc, val);
	case KEY_IMAGE:
	case KEY_INITRD: {
		char *name = k == KEY_IMAGE ? pc->image : pc->initrd;

		ksnprintf(name, sizeof(pc->image), "%s", val);
		return strlen(val) >= sizeof(pc->image) ? "is longer than a module name can be" : NULL;
	}
	case KEY_CONSOLE:
		ksnprintf(pc->console, sizeof(pc->console), "%s", val);
		return name_error(val);
	case KEY_ON_FAULT:
		pc->on_fault = strcmp(val, "park") ? FAULT_RESTART : FAULT_PARK;
		return strcmp(val, "park") && strcmp(val, "restart") ? "expected park or restart" : NULL;
	}
	return NULL;
}

/* A line's keys: their names, how many of the first are required, and who stores a value. */
struct key_set {
	const char *const *names;
	unsigned count, required;
	const char *(*set)(struct parser *p, void *item, unsigned key, const char *val);
};

/* The key=value words tok[2..]: each key known, given once, with a value; the required ones there. */
static bool parse_fields(struct parser *p, struct partition_cfg *pc, char **tok, unsigned ntok,
			 const struct key_set *keys, void *item)
{
	unsigned seen = 0, k;

	for (unsigned i = 2; i < ntok; i++) {
		char *eq = (char *)find_char(tok[i], '=');
		const char *why;

		if (!*eq)
			return report(p, pc, "expected key=value, got '%s'", tok[i]);
		*eq = '\0';
		for (k = 0; k < keys->count && strcmp(tok[i], keys->names[k]); k++)
			;
		if (k == keys->count)
			return report(p, pc, "unknown key '%s'", tok[i]);
		if (seen & BIT(k))
			return report(p, pc, "%s= is given twice", tok[i]);
		seen |= BIT(k);
		if (!eq[1])
			return report(p, pc, "%s= has no value", tok[i]);
		if ((why = keys->set(p, item, k, eq + 1)))
			return report(p, pc, "%s %s: %s", tok[i], eq + 1, why);
	}
	for (k = 0; k < keys->required; k++)
		if (!(seen & BIT(k)))
			return report(p, pc, "missing %s=", keys->names[k]);
	return true;
}

/*
 * A console prefix names one partition's lines: no partition may print under another's name or
 * console, nor as slicehv itself.
 */
static bool console_unique(struct parser *p, struct partition_cfg *pc)
{
	if (!strcmp(pc->console, HV_CONSOLE_NAME))
		return report(p, pc, "console %s: reserved for the hypervisor's own lines", pc->console);
	for (const struct partition_cfg *q = p->cfg->part; q < pc; q++) {
		if (!strcmp(q->console, pc->name))
			return report(p, pc, "name %s is the console of partition %s on line %u", pc->name,
				      q->name, q->line);
		if (!strcmp(q->console, pc->console))
			return report(p, pc, "console %s is already used by partition %s on line %u", pc->console,
				      q->name, q->line);
		if (!strcmp(q->name, pc->console))
			return report(p, pc, "console %s is the name of partition %s on line %u", pc->console,
				      q->name, q->line);
	}
	return true;
}

/* The name after the line's first word (partition or channel), well-formed, into name. */
static bool parse_name(struct parser *p, struct partition_cfg *pc, char **tok, unsigned ntok, char *name)
{
	const char *why;

	if (ntok < 2 || *find_char(tok[1], '='))
		return report(p, pc, "missing %s name after '%s'", tok[0], tok[0]);
	ksnprintf(name, CFG_NAME_MAX + 1, "%s", tok[1]);
	return !(why = name_error(tok[1])) || report(p, pc, "%s name %s: %s", tok[0], tok[1], why);
}

static bool parse_partition(struct parser *p, struct partition_cfg *pc, char **tok, unsigned ntok)
{
	static const struct key_set keys = { key_names, ARRAY_SIZE(key_names), KEY_CONSOLE, set_field };

	if (!parse_name(p, pc, tok, ntok, pc->name))
		return false;
	for (const struct partition_cfg *q = p->cfg->part; q < pc; q++)
		if (!strcmp(q->name, pc->name))
			return report(p, pc, "name %s is already used on line %u", pc->name, q->line);
	if (!parse_fields(p, pc, tok, ntok, &keys, pc))
		return false;
	if (!pc->console[0])
		ksnprintf(pc->console, sizeof(pc->console), "%s", pc->name);
	return console_unique(p, pc);
}

/* The largest binary unit that divides v exactly: 64M, 1G, 12K, or plain bytes. */
static int format_size(char *buf, size_t size, uint64_t v)
{
	for (unsigned i = 0; i < ARRAY_SIZE(units); i++)
		if (v && v % BIT(units[i].shift) == 0)
			return ksnprintf(buf, size, "%lu%c", v >> units[i].shift, units[i].c);
	return ksnprintf(buf, size, "%lu", v);
}

/* Memory as the config writes it: 64M@0x8000000. */
static void format_mem(char *buf, size_t size, uint64_t len, uint64_t base)
{
	int n = format_size(buf, size, len);

	ksnprintf(buf + n, size - n, "@0x%lx", base);
}

bool config_in_usable_ram(const struct mem_range *ram, unsigned count, uint64_t at, uint64_t end)
{
	bool grew = true;

	while (at < end && grew) {
		grew = false;
		for (unsigned i = 0; i < count; i++) {
			if (ram[i].type == MEM_USABLE && at >= ram[i].base && at - ram[i].base < ram[i].len)
				at = ram[i].base + ram[i].len, grew = true;
		}
	}
	return at >= end;
}

/*
 * Everything a slice or a channel must not overlap: the reserved ranges, the modules, then (with
 * a config) its valid slices and channels; an invalid one is the empty range.
 */
static unsigned blocker_count(const struct machine_desc *m, const struct config *cfg)
{
	return m->reserved_count + m->module_count + (cfg ? cfg->count + cfg->channel_count : 0);
}

struct blocker { uint64_t start, end; const char *kind, *name; };

static struct blocker blocker(const struct machine_desc *m, const struct config *cfg, unsigned i)
{
	const struct partition_cfg *pc;
	const struct channel_cfg *c;

	if (i < m->reserved_count)
		return (struct blocker){ m->reserved[i].start, m->reserved[i].end, "", m->reserved[i].name };
	if ((i -= m->reserved_count) < m->module_count)
		return (struct blocker){ m->modules[i].start, m->modules[i].end, "module ", m->modules[i].name };
	if ((i -= m->module_count) < cfg->count) {
		pc = &cfg->part[i];
		return (struct blocker){ pc->base, pc->valid ? pc->base + pc->size : pc->base, "partition ", pc->name };
	}
	c = &cfg->chan[i - cfg->count];
	return (struct blocker){ c->base, c->valid ? c->base + c->size : c->base, "channel ", c->name };
}

/* Reports (as what) each blocker but self (its name) that [start, end) overlaps; false if any. */
static bool check_overlaps(struct parser *p, struct partition_cfg *pc, const char *self, const char *what,
			   uint64_t start, uint64_t end)
{
	bool clear = true;

	for (unsigned i = 0; i < blocker_count(p->m, p->cfg); i++) {
		struct blocker b = blocker(p->m, p->cfg, i);

		if (b.name != self && range_overlaps(start, end, b.start, b.end))
			clear = report(p, pc, "%s overlaps %s%s [0x%lx, 0x%lx)", what, b.kind, b.name, b.start, b.end);
	}
	return clear;
}

/* The module image= or initrd= names (what): it exists, its line is whole; returns its size. */
static uint64_t check_module(struct parser *p, struct partition_cfg *pc, const char *what,
			     const char *name, int *index)
{
	const struct boot_module *mod;

	*index = config_find_module(p->m, name);
	if (*index < 0) {
		report(p, pc, "%s %s: no module of that name", what, name);
		return 0;
	}
	mod = &p->m->modules[*index];
	if (mod->cut)
		report(p, pc, "%s %s: its module line is longer than %u characters", what, name,
		       BOOT_MODULE_LINE_LEN - 1);
	return mod->end - mod->start;
}

static void check_images(struct parser *p, struct partition_cfg *pc)
{
	char have[CFG_MEM_STR], room[CFG_MEM_STR];
	uint64_t size = check_module(p, pc, "image", pc->image, &pc->module);

	if (pc->initrd[0])
		size += check_module(p, pc, "initrd", pc->initrd, &pc->initrd_module);
	format_size(have, sizeof(have), size);
	format_size(room, sizeof(room), pc->size);
	if (size > pc->size)
		report(p, pc, "image %s%s%s (%s) is larger than the slice (%s)", pc->image,
		       pc->initrd[0] ? " with initrd " : "", pc->initrd, have, room);
}

/*
 * Runs on the newest partition, against the earlier valid ones: the first to claim a core or
 * memory keeps it. Each check reports on its own, so one line may get several messages.
 */
static void validate(struct parser *p, struct partition_cfg *pc)
{
	const struct machine_desc *m = p->m;
	uint64_t end = pc->base + pc->size;
	char mem[CFG_MEM_STR];

	ksnprintf(mem, sizeof(mem), "mem ");
	format_mem(mem + strlen(mem), sizeof(mem) - strlen(mem), pc->size, pc->base);
	if (pc->cpu >= m->cpu_count)
		report(p, pc, "cpu %u does not exist: %u CPUs are online", pc->cpu, m->cpu_count);
	if (!config_in_usable_ram(m->ram, m->ram_count, pc->base, end))
		report(p, pc, "%s is not inside usable RAM", mem);
	for (const struct partition_cfg *q = p->cfg->part; q < pc; q++)
		if (q->valid && q->cpu == pc->cpu)
			report(p, pc, "cpu %u is already owned by partition %s", pc->cpu, q->name);
	check_overlaps(p, pc, pc->name, mem, pc->base, end);
	check_images(p, pc);
}

/* Channel keys, the required one first; rw= is writer= by the name Bao and ivshmem users know. */
enum chan_key { CHAN_SIZE, CHAN_BASE, CHAN_WRITER, CHAN_RW, CHAN_READER, CHAN_EXEC, CHAN_VECTOR };
static const char *const chan_key_names[] = { "size", "base", "writer", "rw", "reader", "exec", "vector" };

/* Partition names, each declared on an earlier line, separated by commas, into *set; none in taken. */
static const char *parse_endpoints(struct parser *p, const char *val, uint32_t *set, uint32_t taken)
{
	const char *s = val, *end;

	do {
		char name[CFG_NAME_MAX + 1];
		size_t n = (size_t)((end = find_char(s, ',')) - s);
		unsigned i = 0;
		bool known;

		ksnprintf(name, n < sizeof(name) ? n + 1 : sizeof(name), "%s", s);
		while (i < p->cfg->count && (n > CFG_NAME_MAX || strcmp(p->cfg->part[i].name, name)))
			i++;
		known = i < p->cfg->count;
		if (!known || ((*set | taken) & BIT(i))) {
			ksnprintf(p->why, sizeof(p->why), "%s'%s'%s", known ? "partition " : "no partition ", name,
				  known ? " is listed twice" : " on an earlier line");
			return p->why;
		}
		*set |= BIT(i);
		s = end + 1;
	} while (*end);
	return NULL;
}

static const char *set_channel(struct parser *p, void *item, unsigned k, const char *val)
{
	struct channel_cfg *c = item;
	const char *why;
	uint64_t v;

	switch ((enum chan_key)k) {
	case CHAN_SIZE:
	case CHAN_BASE:
		if ((why = parse_num(val, val + strlen(val), true, &v)))
			return why;
		*(k == CHAN_SIZE ? &c->size : &c->base) = v;
		return v == 0 || v % CFG_CHANNEL_ALIGN ? "must be a nonzero multiple of 4 KiB" : NULL;
	case CHAN_WRITER:
	case CHAN_RW:
		return parse_endpoints(p, val, &c->writers, c->readers);
	case CHAN_READER:
		return parse_endpoints(p, val, &c->readers, c->writers);
	case CHAN_EXEC:
		return parse_endpoints(p, val, &c->exec, 0);
	case CHAN_VECTOR:
		if ((why = parse_small(val, &c->vector)))
			return why;
		return c->vector < CFG_FIRST_VECTOR || c->vector > CFG_LAST_VECTOR ? "must be 32-255" : NULL;
	}
	return NULL;
}

/* Two endpoints or more, exec= among them, and room: its own, or the lowest free RAM that fits. */
static bool validate_channel(struct parser *p, struct channel_cfg *c)
{
	uint32_t ends = c->writers | c->readers;
	char what[CFG_NAME_MAX + 16];
	uint64_t room;

	if (endpoint_count(ends) < 2)
		return report(p, NULL, "channel %s has fewer than two endpoints (writer=, reader=)", c->name);
	if (c->exec & ~ends)
		return report(p, NULL, "channel %s: exec= names a partition that is not its writer or reader", c->name);
	if (c->base > UINT64_MAX - c->size)
		return report(p, NULL, "channel %s: base + size overflows 64 bits", c->name);
	if (!c->base && !(c->base = config_find_free(p->m, p->cfg, c->size, &room), room))
		return report(p, NULL, "channel %s: no free usable RAM holds 0x%lx bytes", c->name, c->size);
	if (!config_in_usable_ram(p->m->ram, p->m->ram_count, c->base, c->base + c->size))
		return report(p, NULL, "channel %s [0x%lx, 0x%lx) is not inside usable RAM", c->name, c->base,
			      c->base + c->size);
	ksnprintf(what, sizeof(what), "channel %s", c->name);
	return check_overlaps(p, NULL, NULL, what, c->base, c->base + c->size);
}

static void parse_channel(struct parser *p, char **tok, unsigned ntok)
{
	static const struct key_set keys = { chan_key_names, ARRAY_SIZE(chan_key_names), CHAN_SIZE + 1,
					     set_channel };
	struct config *cfg = p->cfg;
	struct channel_cfg *c = &cfg->chan[cfg->channel_count];

	*c = (struct channel_cfg){ .vector = CFG_DEFAULT_VECTOR, .line = p->line };
	if (!parse_name(p, NULL, tok, ntok, c->name))
		return;
	for (const struct channel_cfg *q = cfg->chan; q < c; q++)
		if (!strcmp(q->name, c->name))
			return (void)report(p, NULL, "channel name %s is already used on line %u", c->name, q->line);
	c->valid = parse_fields(p, NULL, tok, ntok, &keys, c) && validate_channel(p, c);
	cfg->channel_count++; /* only now a blocker for the next ones */
}

static struct partition_cfg *new_partition(struct config *cfg, unsigned line)
{
	struct partition_cfg *pc = &cfg->part[cfg->count++];

	*pc = (struct partition_cfg){ .on_fault = FAULT_PARK, .restarts = CFG_DEFAULT_RESTARTS,
				      .module = -1, .initrd_module = -1, .line = line, .valid = true };
	return pc;
}

/* Printable ASCII and tabs only, before any '#': a comment may hold anything. */
static bool check_bytes(struct parser *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c >= ASCII_LIMIT || ((c < ASCII_SPACE || c == ASCII_DEL) && c != '\t'))
			return report(p, NULL, "%s byte 0x%02x in column %zu",
				      c >= ASCII_LIMIT ? "non-ASCII" : "control", c, i + 1);
	}
	return n <= CFG_LINE_MAX || report(p, NULL, "line is longer than %u characters", CFG_LINE_MAX);
}

/* Cuts s into words in place; returns how many there were, storing at most CFG_MAX_FIELDS + 1. */
static unsigned split(char *s, char **tok)
{
	unsigned n = 0;

	for (; *s; s++) {
		if (*s == ' ' || *s == '\t')
			*s = '\0';
		else if (s[-1] == '\0' && n++ <= CFG_MAX_FIELDS)
			tok[n - 1] = s;
	}
	return n;
}

static void parse_line(struct parser *p, const char *s, size_t n)
{
	char buf[CFG_LINE_MAX + 2] = "", *tok[CFG_MAX_FIELDS + 1];
	unsigned ntok;

	for (size_t i = 0; i < n; i++)
		if (s[i] == '#')
			n = i;
	if (n && s[n - 1] == '\r')
		n--;
	if (!check_bytes(p, s, n))
		return;
	memcpy(buf + 1, s, n); /* buf[0] and buf[n + 1] stay NUL: split finds word starts by the byte before */
	ntok = split(buf + 1, tok);
	if (ntok == 0)
		return;
	if (strcmp(tok[0], "partition") && strcmp(tok[0], "channel"))
		report(p, NULL, "expected 'partition <name> key=value...' or 'channel <name> key=value...', got '%s'",
		       tok[0]);
	else if (ntok > CFG_MAX_FIELDS)
		report(p, NULL, "more than %u fields", CFG_MAX_FIELDS);
	else if (!strcmp(tok[0], "channel") && p->cfg->channel_count == CFG_MAX_CHANNELS)
		report(p, NULL, "too many channels: at most %u", CFG_MAX_CHANNELS);
	else if (!strcmp(tok[0], "channel"))
		parse_channel(p, tok, ntok);
	else if (p->cfg->count == CFG_MAX_PARTITIONS)
		report(p, NULL, "too many partitions: at most %u", CFG_MAX_PARTITIONS);
	else if (parse_partition(p, new_partition(p->cfg, p->line), tok, ntok))
		validate(p, &p->cfg->part[p->cfg->count - 1]);
}

static unsigned count_valid(const struct config *cfg)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->count; i++)
		n += cfg->part[i].valid;
	return n;
}

unsigned config_parse(struct config *cfg, const char *file, const char *text, size_t len,
		      const struct machine_desc *m, config_report_fn report_fn, void *ctx)
{
	struct parser p = { cfg, m, file, 1, report_fn, ctx, "" };

	memset(cfg, 0, sizeof(*cfg));
	for (size_t pos = 0, n; pos < len; pos += n + 1, p.line++) {
		for (n = 0; pos + n < len && text[pos + n] != '\n'; n++)
			;
		parse_line(&p, text + pos, n);
	}
	p.line = 0; /* a message about the whole file names no line */
	if (cfg->count == 0 && cfg->errors == 0) /* an empty file: say so, as nothing will run */
		report(&p, NULL, "no partitions");
	return count_valid(cfg);
}

/* The free stretch from *start (aligned up) to the next blocker or the end of r: its length, or 0. */
static uint64_t free_from(const struct machine_desc *m, const struct config *cfg, const struct mem_range *r,
			  uint64_t *start)
{
	uint64_t end = r->base + r->len;

	if (r->type != MEM_USABLE || *start < r->base || *start >= end)
		return 0;
	for (unsigned i = 0; i < blocker_count(m, cfg); i++) {
		struct blocker b = blocker(m, cfg, i);

		if (b.start <= *start && *start < b.end)
			return 0;
		end = b.start > *start && b.start < end ? b.start : end;
	}
	*start = ALIGN_UP(*start, CFG_SLICE_ALIGN);
	end = ALIGN_DOWN(end, CFG_SLICE_ALIGN);
	return *start < end ? end - *start : 0;
}

/* Free stretches begin at the start of a usable RAM range or at the end of a blocker. */
uint64_t config_find_free(const struct machine_desc *m, const struct config *cfg, uint64_t want,
			  uint64_t *size)
{
	uint64_t best = 0;

	*size = 0;
	for (unsigned i = 0; i < m->ram_count; i++) {
		for (unsigned j = 0; j <= blocker_count(m, cfg); j++) {
			uint64_t at = j ? blocker(m, cfg, j - 1).end : m->ram[i].base;
			uint64_t len = free_from(m, cfg, &m->ram[i], &at);

			if (want ? len >= want && (!*size || at < best) : len > *size)
				best = at, *size = len;
		}
	}
	return best;
}

unsigned config_default(struct config *cfg, const char *image, const struct machine_desc *m,
			config_report_fn report_fn, void *ctx)
{
	struct parser p = { cfg, m, "default config", 0, report_fn, ctx, "" };
	unsigned n = m->cpu_count < CFG_MAX_PARTITIONS ? m->cpu_count : CFG_MAX_PARTITIONS;
	uint64_t base, size;

	memset(cfg, 0, sizeof(*cfg));
	base = config_find_free(m, NULL, 0, &size);
	if (n == 0 || size / n < CFG_SLICE_ALIGN)
		return report(&p, NULL, "no room for %u slices of 2 MiB: largest free RAM is 0x%lx bytes",
			      n, size);
	size = ALIGN_DOWN(size / n, CFG_SLICE_ALIGN);
	for (unsigned i = 0; i < n; i++) {
		struct partition_cfg *pc = new_partition(cfg, 0);

		ksnprintf(pc->name, sizeof(pc->name), "p%u", i);
		ksnprintf(pc->console, sizeof(pc->console), "p%u", i);
		ksnprintf(pc->image, sizeof(pc->image), "%s", image);
		pc->cpu = i;
		pc->base = base + i * size;
		pc->size = size;
		validate(&p, pc);
	}
	return count_valid(cfg);
}

int config_find_module(const struct machine_desc *m, const char *image)
{
	size_t len = strlen(image);

	for (unsigned i = 0; i < m->module_count; i++) {
		const char *path = m->modules[i].name, *end = find_char(path, ' '), *base = end;

		while (base > path && base[-1] != '/')
			base--;
		if (((size_t)(end - path) == len && !strncmp(path, image, len)) ||
		    ((size_t)(end - base) == len && !strncmp(base, image, len)))
			return (int)i;
	}
	return -1;
}

int config_format_row(char *buf, size_t size, const struct partition_cfg *p)
{
	char mem[CFG_MEM_STR];

	if (!p)
		return ksnprintf(buf, size, "%-15s %3s  %-24s %-20s %s", "partition", "cpu", "slice",
				 "image", "state");
	/* A line with errors may be half parsed: show where it is, not what it half said. */
	if (!p->valid)
		return ksnprintf(buf, size, "%-15s %3s  %-24s %-20s invalid (line %u)", p->name, "-", "-", "-",
				 p->line);
	format_mem(mem, sizeof(mem), p->size, p->base);
	return ksnprintf(buf, size, "%-15s %3u  %-24s %-20s valid", p->name, p->cpu, mem, p->image);
}

/* The names in mask, joined by commas, or "-". */
static void format_names(char *buf, size_t size, const struct config *cfg, uint32_t mask)
{
	size_t n = 0;

	for (unsigned i = 0; i < cfg->count; i++)
		if ((mask & BIT(i)) && n < size)
			n += (size_t)ksnprintf(buf + n, size - n, "%s%s", n ? "," : "", cfg->part[i].name);
	if (!n)
		ksnprintf(buf, size, "-");
}

int config_format_channel(char *buf, size_t size, const struct config *cfg, const struct channel_cfg *c)
{
	char mem[CFG_MEM_STR], w[CFG_NAMES_STR], r[CFG_NAMES_STR], x[CFG_NAMES_STR];

	if (!c->valid)
		return ksnprintf(buf, size, "channel %s invalid (line %u)", c->name, c->line);
	format_mem(mem, sizeof(mem), c->size, c->base);
	format_names(w, sizeof(w), cfg, c->writers);
	format_names(r, sizeof(r), cfg, c->readers);
	format_names(x, sizeof(x), cfg, c->exec);
	return ksnprintf(buf, size, "channel %s %s writer %s reader %s exec %s vector 0x%x", c->name, mem, w, r,
			 x, c->vector);
}
