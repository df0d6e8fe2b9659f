/* The partition's own local APIC: handed over in x2APIC mode, the MSR-bitmap policy for its registers, trapped writes. */
#ifndef ARCH_X86_LAPIC_H
#define ARCH_X86_LAPIC_H

#include "../../hv/types.h"

/* What a trapped x2APIC write came to: exits.c resumes the guest, reports, or injects #GP. */
enum lapic_verdict {
	LAPIC_DONE,    /* carried out as written */
	LAPIC_MASKED,  /* an LVT entry with NMI, SMI, INIT or ExtINT delivery: written masked, reported */
	LAPIC_REFUSED, /* not carried out: #GP, reported */
};

/*
 * Before launch: this core's APIC in x2APIC mode, its timer stopped, its LVT inputs masked, nothing
 * in service. True if vectors a previous run left in its IRR must still be drained: then the entry
 * exits on each external interrupt, acknowledged, and lapic_drained ends each until it says done.
 */
bool lapic_hand_over(void);
/* After an exit that acknowledged one drained vector: whether the IRR is now empty (APIC as at reset). */
bool lapic_drained(void);

/* Whether the guest reaches MSR msr directly (no exit) for a read or a write. */
bool lapic_msr_passthrough(uint32_t msr, bool write);

/* The vector of an ICR value that is a fixed, edge-triggered IPI to this core only (by shorthand,
 * physical id or logical id), else -1. */
int lapic_icr_self_vector(uint64_t icr, uint32_t self_id, uint32_t self_ldr);

/* An LVT entry with a delivery mode (CMCI, thermal, PMC, LINT0, LINT1), given the APIC's max LVT index. */
enum lapic_verdict lapic_lvt_check(uint32_t msr, uint64_t val, unsigned max_lvt);

/* A trapped WRMSR to an x2APIC register (ICR or an LVT with a delivery mode), carried out as policy allows. */
enum lapic_verdict lapic_wrmsr(uint32_t msr, uint64_t val, uint32_t self_id);

#endif
