/* Each partition's virtual COM1: a 16550A as Linux's 8250 driver probes it, output by whole lines. */
#ifndef ARCH_X86_UART_H
#define ARCH_X86_UART_H

#include "../../hv/types.h"

#define COM1_BASE 0x3f8
#define COM1_PORTS 8

/* What the guest wrote to its registers: indexed by port offset, the divisor latch after them. */
enum { UART_DLL = COM1_PORTS, UART_DLM, UART_STATE };

struct partition;
uint8_t uart_read(struct partition *p, unsigned reg);
void uart_write(struct partition *p, unsigned reg, uint8_t val);

#endif
