/* VM exits: the bitmaps that decide which guest actions exit, the launch, and exit reason names. */
#ifndef ARCH_X86_EXITS_H
#define ARCH_X86_EXITS_H

#include "../../hv/err.h"
#include "vmcs.h"

struct partition;

struct exit_bitmaps {
	uint8_t *io_a, *io_b; /* ports 0x0000-0x7fff and 0x8000-0xffff: a set bit exits */
	uint8_t *msr;         /* read-low, read-high, write-low, write-high: a set bit exits */
};
extern struct exit_bitmaps exit_bitmaps;

/* Builds the I/O and MSR bitmaps every partition shares (the exit policy in DESIGN.md). */
int exits_init(err_t *e);
void vmx_launch(struct guest_regs *regs) __attribute__((noreturn));
/* Arms the VMX-preemption timer: the next part of p's run-time budget, sooner while its console lines wait. */
void budget_arm(struct partition *p, bool output_waits);

/* The bits the guest may not change in CR0 and CR4, as vmcs.c set them up. */
extern uint64_t guest_cr0_fixed1, guest_cr0_forced, guest_cr4_forced;

#endif
