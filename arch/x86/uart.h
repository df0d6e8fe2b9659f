/* Each partition's virtual COM1: a 16550A as Linux's 8250 driver probes it, output by whole lines. */
#ifndef ARCH_X86_UART_H
#define ARCH_X86_UART_H

#include "../../hv/types.h"

#define COM1_BASE 0x3f8
#define COM1_PORTS 8

/* 16550 registers, by offset from the base (with LCR.DLAB set the first two are the divisor latch),
 * and the bits both the real UART's driver (hv/console.c) and the virtual one (uart.c) use. */
enum { UART_RBR_THR, UART_IER, UART_IIR_FCR, UART_LCR, UART_MCR, UART_LSR, UART_MSR, UART_SCR };
#define UART_LCR_DLAB   0x80
#define UART_IIR_FIFOS  0xc0 /* FIFOs enabled: a 16550A */
#define UART_LSR_THRE   0x20 /* transmit holding register empty (virtual: its queue takes a whole line more) */
#define UART_LSR_TEMT   0x40 /* transmitter empty: every byte (virtual: every queued line) is on the wire */

/* What the guest wrote to its registers: indexed by port offset, the divisor latch after them. */
enum { UART_LATCH_LOW = COM1_PORTS, UART_LATCH_HIGH, UART_STATE };

struct partition;
uint8_t uart_read(struct partition *p, unsigned reg);
void uart_write(struct partition *p, unsigned reg, uint8_t val);

#endif
