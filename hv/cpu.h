/* Per-CPU state: one page-aligned struct per core, reached through this_cpu(). */
#ifndef HV_CPU_H
#define HV_CPU_H

#include "arch.h"
#include "types.h"

struct partition;

#define CPU_STACK_SIZE KiB(16)

struct cpu {
	struct cpu *self; /* first: this_cpu() reads it at offset 0 of the GS base */
	unsigned index;   /* logical CPU number: 0 is the boot CPU, then MADT order */
	uint32_t apic_id;
	volatile bool online;
	bool vmx_on;
	struct partition *partition; /* the guest this core runs, or NULL: idle */
	struct cpu_arch arch;
	uint8_t stack[CPU_STACK_SIZE] __attribute__((aligned(PAGE_SIZE)));
};

extern struct cpu cpus[HV_MAX_CPUS];
extern unsigned cpu_count; /* CPUs found in the MADT (and kept) */

static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

static inline void *cpu_stack_top(struct cpu *c) { return c->stack + CPU_STACK_SIZE; }

#endif
