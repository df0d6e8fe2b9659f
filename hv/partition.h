/* Partitions at run time: one guest per core in its slice, its console, its exits and its end. */
#ifndef HV_PARTITION_H
#define HV_PARTITION_H

#include "arch.h"
#include "channel.h"
#include "config.h"
#include "elf.h"

#define CONSOLE_LINE_MAX 200
#define PRINTED_DENIALS_MAX 8 /* denied accesses reported one by one; the rest only counted */

enum partition_state {
	PARTITION_READY,   /* built, not yet launched */
	PARTITION_RUNNING,
	PARTITION_DONE,    /* said so with HC_DONE */
	PARTITION_HALTED,  /* HLT with nothing that could ever wake it */
	PARTITION_PARKED,  /* stopped on a fault; reason says which */
};

struct partition {
	const struct partition_cfg *cfg; /* name, cpu, slice, image */
	const struct boot_module *module; /* its image, reloaded on a restart */
	const struct boot_module *initrd; /* a Linux kernel's initramfs, or NULL */
	bool is_linux;                   /* the image is a Linux kernel (arch/x86/linux.h) */
	struct linux_entry boot;         /* and how it starts */
	unsigned index;
	unsigned restarts;               /* done so far, up to cfg->restarts */
	enum partition_state state;
	int64_t status;                  /* HC_DONE's status, the guest's whole RDI */
	uint64_t gpa_base;               /* guest-physical address of its slice's first byte (below) */
	struct ept ept;
	struct elf_image image;
	uint64_t bootinfo;               /* guest-physical address of its multiboot2 information */
	char line[CONSOLE_LINE_MAX];     /* its console's unfinished line */
	unsigned line_len;
	uint8_t uart[UART_STATE];        /* its virtual COM1's registers (arch/x86/uart.c) */
	uint32_t exits[EXIT_REASON_COUNT];
	uint64_t exits_total;            /* every reason, for HC_EXIT_COUNT without a loop */
	uint32_t denied;                 /* port and MSR accesses refused */
	uint64_t console_dropped;        /* console bytes beyond its share of the UART */
	uint64_t budget_left;            /* budget=: TSC ticks of run time left, guest and exits alike */
	uint64_t budget_since;           /* TSC at its last entry (or launch): charged up to there */
	uint64_t tsc_launched, tsc_first_output, tsc_stopped; /* TSC ticks since slicehv's first instruction */
	uint64_t ept_build_ticks;
	struct partition_channel chan[CFG_MAX_CHANNELS]; /* its channels, in config order */
	unsigned chan_count;
};

extern struct partition partitions[HV_MAX_CPUS];
extern unsigned partition_count;

/*
 * Builds the EPT (the slice and p's channels of cfg) and loads the image (of mods, the boot
 * modules) and boot information into the slice.
 */
int partition_prepare(struct partition *p, const struct config *cfg, const struct boot_module *mods,
		      uint64_t max_leaf, err_t *e);
/* Puts a clean image and boot information back into the slice (the EPT stays). */
int partition_load(struct partition *p, err_t *e);
/*
 * Guest-physical [gpa, gpa + len) in the hypervisor's map, or NULL unless it lies inside the
 * partition's slice. A toy sees its slice at its host address (gpa_base == base), Linux at 0.
 */
void *partition_mem(const struct partition *p, uint64_t gpa, uint64_t len);
/* Its virtual COM1: buffers a character, queueing whole lines as "[<name>] <line>". */
void partition_console_putc(struct partition *p, char ch);
/* Queues its unfinished console line, if any; beyond its share of the UART it is dropped and counted. */
void partition_console_flush(struct partition *p);
/* Reports an access refused; the first few are printed, all are counted. */
void partition_deny(struct partition *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The partition stops for good (done, halted or parked): this core idles; the last one ends the
 * run. partition_park first restarts it from a clean image when its config says on-fault=restart
 * and restarts are left.
 */
void partition_stop(struct partition *p, enum partition_state why) __attribute__((noreturn));
void partition_park(struct partition *p, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
const char *partition_state_name(enum partition_state s);
/* TSC ticks since slicehv's first instruction. */
uint64_t boot_ticks(void);
/*
 * Before any launch: how many partitions must stop before the run ends, and whether config
 * problems (errors, partitions not started) make the run fail even if they all finish cleanly.
 */
void partition_expect(unsigned running, bool failed_config);

/* VMCALL: number and arguments from the guest's registers; the result goes back in its RAX. */
int64_t hypercall(struct partition *p, uint64_t nr, uint64_t a0, uint64_t a1);

#endif
