/*
 * The virtual COM1 (PC16550D data sheet; Linux drivers/tty/serial/8250 probes exactly these):
 * transmit goes to the partition's console line by line, paced by the real UART; nothing is ever
 * received; no interrupts are raised (IIR always reads "none pending"). The registers a driver
 * writes read back, the modem lines read as a connected terminal, and loopback mode (MCR LOOP)
 * reflects MCR into MSR as the chip does, so the driver's probe finds a 16550A.
 */
#include "uart.h"
#include "../../hv/console.h"
#include "../../hv/partition.h"

#define UART_IER_MASK   0x0f /* the four interrupt enables; the upper bits read as zero */
#define UART_IIR_NONE   0x01 /* no interrupt pending */
#define UART_FCR_ENABLE 0x01
#define UART_MCR_MASK   0x1f
#define UART_MCR_LOOP   0x10
#define UART_MSR_SHIFT  4    /* in loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
#define UART_MSR_IDLE   0xb0 /* DCD, DSR and CTS: a terminal is connected and ready */

static unsigned msr_from_mcr(uint8_t mcr)
{
	/* MCR bits DTR, RTS, OUT1, OUT2 become MSR's DSR, CTS, RI, DCD: swap the first two. */
	unsigned lines = mcr & 0x0f;

	return ((lines & 0x0c) | ((lines & 1) << 1) | ((lines >> 1) & 1)) << UART_MSR_SHIFT;
}

uint8_t uart_read(struct partition *p, unsigned reg)
{
	const uint8_t *r = p->uart;
	bool dlab = r[UART_LCR] & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR: return dlab ? r[UART_LATCH_LOW] : 0;
	case UART_IER:     return dlab ? r[UART_LATCH_HIGH] : r[UART_IER];
	case UART_IIR_FCR: return UART_IIR_NONE | (r[UART_IIR_FCR] & UART_FCR_ENABLE ? UART_IIR_FIFOS : 0);
	case UART_LSR:     return (console_pump() ? 0 : UART_LSR_TEMT) | (console_room() ? UART_LSR_THRE : 0);
	case UART_MSR:     return r[UART_MCR] & UART_MCR_LOOP ? msr_from_mcr(r[UART_MCR]) : UART_MSR_IDLE;
	default:           return r[reg];
	}
}

void uart_write(struct partition *p, unsigned reg, uint8_t val)
{
	uint8_t *r = p->uart;
	bool dlab = r[UART_LCR] & UART_LCR_DLAB;

	if (reg == UART_RBR_THR && !dlab)
		partition_console_putc(p, (char)val);
	else if (reg == UART_RBR_THR || reg == UART_IER)
		r[dlab ? UART_LATCH_LOW + reg : reg] = reg == UART_IER && !dlab ? val & UART_IER_MASK : val;
	else if (reg == UART_MCR)
		r[reg] = val & UART_MCR_MASK;
	else if (reg != UART_LSR && reg != UART_MSR) /* those two are read-only */
		r[reg] = val;
}
