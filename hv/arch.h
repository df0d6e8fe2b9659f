/*
 * The architecture as the core sees it: every hook hv/ calls, declared here and nowhere else
 * (Bao's arch interface), and the architecture's headers for the types and primitives the core
 * holds. No other hv/ file includes an arch header; arch/ implements these and may use every hv/
 * service.
 */
#ifndef HV_ARCH_H
#define HV_ARCH_H

#include "../arch/x86/cpu.h"   /* struct cpu_arch */
#include "../arch/x86/ept.h"   /* struct ept, EPT_PAGE_*, ept_build, ept_for_each_leaf */
#include "../arch/x86/exits.h" /* EXIT_REASON_COUNT */
#include "../arch/x86/linux.h" /* struct linux_entry, linux_probe, linux_load */
#include "../arch/x86/uart.h"  /* UART_STATE, the 16550's registers */
#include "../arch/x86/x86.h"   /* cli, hlt, cpu_relax, rdtsc, inb, outb */
#include "bootinfo.h"
#include "err.h"

struct cpu;
struct partition;

/* Boot CPU, in this order. */
/* This core's descriptor tables: from here on an exception is reported, not a triple fault. */
void arch_cpu_init(struct cpu *c);
/* The cores from the firmware's tables into cpus[] (CPU 0 the boot CPU, then table order). */
int arch_cpus_find(const struct boot_info *bi, err_t *e);
/* Whether this CPU can run partitions; fails naming what is missing. */
int arch_virt_probe(err_t *e);
/* The timer every core counts run time with (TSC ticks per millisecond). */
void arch_timer_calibrate(void);
/* Places the code other cores start in, avoiding the image, the modules and the boot information. */
int arch_smp_prepare(const struct boot_info *bi, uint64_t image_start, uint64_t image_end, err_t *e);
/* The page that code occupies, so no slice gets it. */
uint64_t arch_smp_page(void);
/* Starts c running entry(c->index) on its own stack; false if it never reports online. */
bool arch_cpu_start(struct cpu *c, void (*entry)(unsigned index));
/* The hypervisor's own W^X map of [0, ram_top), loaded here, and the exit policy's bitmaps. */
int arch_memory_init(uint64_t ram_top, err_t *e);
/* The largest page the second-stage tables may map a slice with. */
uint64_t arch_largest_leaf(void);

/* Every core. */
/* Virtualization on (VMX operation on x86). */
int arch_virt_enable(struct cpu *c, err_t *e);
/* The hypervisor's map on this core, once arch_memory_init built it. */
void arch_paging_load(void);
/* Sets up this core for p and enters the guest; returns only if that fails before the entry. */
int arch_partition_launch(struct cpu *c, struct partition *p, err_t *e);
/* A fixed interrupt at vector to the core with this APIC id (a doorbell); false if it cannot be sent. */
bool arch_send_ipi(uint32_t apic_id, unsigned vector);
/* Timer (rdtsc) ticks per millisecond, from arch_timer_calibrate. */
extern uint64_t tsc_per_ms;
/* An exit reason's name, for the stats line. */
const char *arch_exit_reason_name(unsigned reason);

#endif
