/* COM1 16550 driver and printk: each call formats a whole line, then emits it under a lock. */
#include "console.h"
#include "../arch/x86/x86.h"
#include "cpu.h"
#include "fmt.h"

#define COM1 0x3f8
/* 16550 registers (offsets from the base port) and bits. */
#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_DLL 0 /* with LCR.DLAB set */
#define UART_DLM 1
#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20 /* transmit holding register empty: room for a byte */
#define LSR_TEMT 0x40 /* transmitter empty: every byte is on the wire */
#define BAUD_DIVISOR_115200 1

#define LINE_MAX 256
#define NO_OWNER (~0u)

static volatile unsigned console_owner = NO_OWNER;

void console_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, BAUD_DIVISOR_115200);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void uart_putc(char ch)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		cpu_relax();
	outb(COM1 + UART_DATA, ch);
}

void console_drain(void)
{
	while (!(inb(COM1 + UART_LSR) & LSR_TEMT))
		cpu_relax();
}

/*
 * The lock is taken by CPU index, so a core that faults while printing (and reports the fault)
 * does not deadlock on itself.
 */
static bool console_lock(void)
{
	unsigned me = this_cpu()->index;

	if (console_owner == me)
		return false;
	while (!__sync_bool_compare_and_swap(&console_owner, NO_OWNER, me))
		cpu_relax();
	return true;
}

void printk(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;
	bool locked;

	va_start(ap, fmt);
	kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	locked = console_lock();
	for (const char *p = line; *p; p++) {
		if (*p == '\n')
			uart_putc('\r');
		uart_putc(*p);
	}
	if (locked)
		__atomic_store_n(&console_owner, NO_OWNER, __ATOMIC_RELEASE);
}
