/* The local APIC: this core's id, and INIT/SIPI to start the others (xAPIC or x2APIC mode). */
#ifndef ARCH_X86_APIC_H
#define ARCH_X86_APIC_H

#include "../../hv/types.h"

void apic_init(uint64_t mmio_base);
uint32_t apic_id(void);
/* Sends INIT, waits, then two start-up IPIs for the real-mode page at vector_page (SDM Vol 3A 9.4.4.1). */
void apic_start_ap(uint32_t apic_id, uint64_t vector_page);

/* TSC ticks per millisecond, measured against the PIT once on the boot CPU. */
extern uint64_t tsc_per_ms;

#endif
