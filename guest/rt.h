/* The guests' tiny runtime: COM1 output, boot information, CPU helpers, hypercalls, ending the run. */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include "../arch/x86/x86.h" /* port I/O, CPUID, MSRs, TSC: the same wrappers slicehv uses */
#include <stdbool.h>
#include <stdint.h>
#include "../hv/hypercall.h"

#define GUEST_NAME_LEN 16 /* as struct hc_partition_info's name */
#define GUEST_CMDLINE_LEN 160 /* slicehv's "name=<name>" plus a module's GRUB arguments */

/* What the multiboot2 information told us (the slicehv start state, or GRUB's). */
struct boot_info {
	char name[GUEST_NAME_LEN];  /* "name=<name>" from the command line, else "bare" */
	char cmdline[GUEST_CMDLINE_LEN]; /* the whole command line (truncated), else "" */
	uint64_t slice_base;        /* the usable mmap range holding the image */
	uint64_t slice_end;         /* exclusive */
	uint64_t info_base;         /* the multiboot2 information itself */
	uint64_t info_end;          /* exclusive */
};

/* The image as linked (guest/guest.ld), seen at its run-time address. */
extern char __image_start[], __image_end[];

/* Entry from guest/entry.asm, in 64-bit mode with [0, 64 GiB) identity-mapped. */
void guest_main(uint32_t info);

/* Call first: finds out whether slicehv runs us (true) and readies COM1. */
bool rt_init(void);
void kprint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int boot_parse(uint32_t info, struct boot_info *bi);
/* The value of the first "<key>=" word of the command line into val (size bytes); false if none. */
bool boot_arg(const struct boot_info *bi, const char *key, char *val, int size);
/* key=<decimal or 0x hex> as a number; fallback when absent or not a number. */
uint64_t boot_arg_number(const struct boot_info *bi, const char *key, uint64_t fallback);
uint32_t cpu_apic_id(void);
void tsc_wait(uint64_t ticks);
/*
 * Waits until every byte written to COM1 is out (LSR.TEMT). In a partition that is when slicehv
 * has sent the lines it queued for us: until then it may come back to send them (exits).
 */
void console_drain(void);
int64_t hypercall(uint64_t nr, uint64_t a0);
int64_t hypercall2(uint64_t nr, uint64_t a0, uint64_t a1);
/* HC_EXIT_COUNT: the VM exits this partition has taken, this call included (0 bare). */
uint64_t hc_exit_count(void);

/*
 * Interrupts. idt_install: exceptions end the run ("<what>: unexpected exception"), vector
 * IRQ_SPURIOUS_VECTOR returns at once, every other vector is counted in irq_unexpected and
 * acknowledged; idt_set then points a vector at an IRQ_STUB. Interrupt gates: IF is clear inside.
 */
#define IRQ_SPURIOUS_VECTOR 0xff
extern volatile uint64_t irq_unexpected;
void idt_install(const char *what);
void idt_set(unsigned vector, const char *stub);
/*
 * IRQ_STUB(stub, fn): an interrupt entry named stub that reads the TSC first, then calls
 * void fn(uint64_t tsc) with the caller-saved registers kept, and returns with iretq; fn sends
 * the EOI. Used at file scope; declare `extern char stub[];` to pass it to idt_set.
 */
#define IRQ_STUB(stub, fn)                                                          \
	__asm__(".text\n" #stub ":\n"                                              \
		"  push %rax; push %rdx\n"                                           \
		"  rdtsc\n"                                                          \
		"  shl $32, %rdx\n"                                                  \
		"  or %rdx, %rax\n"                                                  \
		"  push %rcx; push %rsi; push %rdi; push %r8; push %r9; push %r10; push %r11\n" \
		"  mov %rax, %rdi\n"                                                 \
		"  call " #fn "\n"                                                   \
		"  pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rcx\n" \
		"  pop %rdx; pop %rax\n"                                             \
		"  iretq\n")
/*
 * The local APIC in x2APIC mode (switched on from xAPIC where the CPU has it; slicehv hands it
 * over on), software-enabled with IRQ_SPURIOUS_VECTOR and TPR 0. *how: "on" or "switched on";
 * false if the CPU has no x2APIC.
 */
bool apic_x2_enable(const char **how);
/* HLT with interrupts on until *flag differs from seen (STI's shadow makes the check atomic). */
void wait_change_hlt(const volatile uint64_t *flag, uint64_t seen);
__attribute__((noreturn)) void guest_finish(int status);

#endif
