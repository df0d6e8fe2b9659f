/* Starting the other cores through the real-mode trampoline. */
#ifndef ARCH_X86_SMP_H
#define ARCH_X86_SMP_H

#include "../../hv/bootinfo.h"

struct cpu;


#endif
