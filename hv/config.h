/* Partition config: parse partition.cfg (or make the default one) and check it against the machine. */
#ifndef HV_CONFIG_H
#define HV_CONFIG_H

#include "bootinfo.h"

#define CFG_NAME_MAX        15          /* partition and console names: 1-15 of [a-z0-9_-] */
#define CFG_LINE_MAX        255         /* longer lines are refused, not cut */
#define CFG_MAX_PARTITIONS  HV_MAX_CPUS /* one core each */
#define CFG_SLICE_ALIGN     MiB(2)      /* slices start and end on 2 MiB pages: large EPT leaves */
#define CFG_DEFAULT_RESTARTS 3
#define CFG_MAX_CHANNELS    8
#define CFG_CHANNEL_ALIGN   KiB(4)      /* a channel is whole EPT pages */
#define CFG_DEFAULT_VECTOR  0x50        /* a channel's doorbell vector without vector= */
#define CFG_FIRST_VECTOR    32          /* 0-31 are exceptions */
#define CFG_LAST_VECTOR     255
#define HV_CONSOLE_NAME     "slicehv"   /* the prefix of the hypervisor's own lines */

enum fault_policy { FAULT_PARK, FAULT_RESTART };

struct partition_cfg {
	char name[CFG_NAME_MAX + 1];
	char console[CFG_NAME_MAX + 1];   /* defaults to the name */
	char image[BOOT_NAME_LEN];        /* module name, see config_find_module */
	char initrd[BOOT_NAME_LEN];       /* a Linux kernel's initramfs module, or "" */
	unsigned cpu;                     /* logical CPU: 0 = boot CPU, then MADT order */
	uint64_t base, size;              /* the slice [base, base + size) */
	enum fault_policy on_fault;       /* defaults to FAULT_PARK */
	unsigned restarts;                /* with FAULT_RESTART; defaults to CFG_DEFAULT_RESTARTS */
	unsigned budget_ms;               /* guest run time before it is parked; 0: no limit */
	int module;                       /* index of the image in machine_desc.modules, or -1 */
	int initrd_module;                /* and of the initrd, or -1 */
	unsigned line;                    /* config line, 0 for a default partition */
	bool valid;                       /* false: reported, and never started */
};

/*
 * A channel: memory shared by endpoints (partitions, as bits of their index in config.part),
 * outside every slice. Writers map it read-write, readers read-only; exec= adds execute.
 */
struct channel_cfg {
	char name[CFG_NAME_MAX + 1];
	uint64_t base, size;              /* host-physical [base, base + size) */
	uint32_t writers, readers, exec;  /* endpoint masks */
	unsigned vector;                  /* its doorbell's interrupt vector */
	unsigned line;
	bool valid;
};

/* How many partitions an endpoint mask names. */
static inline unsigned endpoint_count(uint32_t mask)
{
	unsigned n = 0;

	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

/* Memory no slice may touch: the hypervisor image and heap, the AP trampoline, the first MiB. */
struct reserved_range {
	uint64_t start, end;              /* [start, end) */
	const char *name;                 /* for messages: "overlaps hypervisor image [...)" */
};

struct machine_desc {
	const struct mem_range *ram;      /* the memory map: only MEM_USABLE entries count */
	unsigned ram_count;
	const struct reserved_range *reserved;
	unsigned reserved_count;
	const struct boot_module *modules; /* reserved too, without being listed above */
	unsigned module_count;
	unsigned cpu_count;               /* online CPUs */
};

struct config {
	struct partition_cfg part[CFG_MAX_PARTITIONS];
	unsigned count;                   /* partitions, valid or not */
	struct channel_cfg chan[CFG_MAX_CHANNELS];
	unsigned channel_count;           /* channels, valid or not */
	unsigned errors;                  /* messages reported */
};

/* Receives each error as one line: "partition.cfg:3: mem 64M@0x8000000 overlaps partition rt0". */
typedef void (*config_report_fn)(void *ctx, const char *msg);

/*
 * Parse the config text [text, text + len) named file and validate each partition against m.
 * A partition with an error is reported and marked invalid; the others stay valid. Returns the
 * number of valid partitions.
 */
unsigned config_parse(struct config *cfg, const char *file, const char *text, size_t len,
		      const struct machine_desc *m, config_report_fn report, void *ctx);

/*
 * Without a config module: one partition per online CPU (p0, p1, ...) running image, with equal
 * 2 MiB-aligned slices of the largest free usable region. Validated like a parsed config.
 */
unsigned config_default(struct config *cfg, const char *image, const struct machine_desc *m,
			config_report_fn report, void *ctx);

/* Is [at, end) covered by usable RAM? Adjacent entries count as one: firmware splits ranges freely. */
bool config_in_usable_ram(const struct mem_range *ram, unsigned count, uint64_t at, uint64_t end);

/*
 * A 2 MiB-aligned range of usable RAM that no reserved range or module uses, nor (cfg not NULL)
 * a valid slice or channel of cfg: with want 0 the largest, else the lowest that holds want
 * bytes. Returns its base; *size is its length, 0 if none.
 */
uint64_t config_find_free(const struct machine_desc *m, const struct config *cfg, uint64_t want,
			  uint64_t *size);

/*
 * The module an image= names: the first word of the module's command line, either whole or its
 * basename, so image=toy.elf matches "/boot/toy.elf" and "toy.elf". Returns its index or -1.
 */
int config_find_module(const struct machine_desc *m, const char *image);

/* One row of the partition table into buf (p == NULL: the header row); returns ksnprintf's. */
int config_format_row(char *buf, size_t size, const struct partition_cfg *p);
/* A channel's row: "channel telemetry 64K@0x9000000 writer rt0 reader gp0 vector 0x50". */
int config_format_channel(char *buf, size_t size, const struct config *cfg, const struct channel_cfg *c);

#endif
