/* Starting the other cores through the real-mode trampoline. */
#ifndef ARCH_X86_SMP_H
#define ARCH_X86_SMP_H

#include "../../hv/bootinfo.h"

struct cpu;

/* Copies the trampoline to a free page below 1 MiB, avoiding the image, modules and boot info. */
int smp_place_trampoline(const struct boot_info *bi, uint64_t image_start, uint64_t image_end, err_t *e);
/* The page the trampoline occupies, so partitions never get it. */
uint64_t smp_trampoline_page(void);
/* Starts c (INIT-SIPI-SIPI) running entry(c->index) on its own stack; false if it never reports online. */
bool smp_start_cpu(struct cpu *c, void (*entry)(unsigned index));

#endif
