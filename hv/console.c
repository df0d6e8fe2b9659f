/* COM1 16550 driver and printk; each core's lines wait in its own queue and share the UART in turn. */
#include "console.h"
#include "arch.h"
#include "cpu.h"
#include "fmt.h"

/* COM1, a 16550 (registers and bits: arch/x86/uart.h). */
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR 0x07
#define UART_FIFO_BYTES 16  /* its transmit FIFO, empty whenever LSR.THRE is set */
#define MCR_DTR_RTS 0x03
#define BAUD_DIVISOR_115200 1

#define LINE_MAX 256
#define NO_OWNER (~0u)
#define CONSOLE_SHARE 1024 /* bytes of whole lines one core may have waiting for the UART */

/*
 * The lines one core printed (its partition's, then slicehv's about it), waiting for their turn on
 * the UART: only that core queues, any core holding the lock sends.
 */
static struct console_queue {
	char buf[CONSOLE_SHARE];
	uint32_t head, tail; /* free-running: bytes sent, bytes queued */
} queues[HV_MAX_CPUS];
static unsigned turn;  /* the core whose line is on the wire, or next: one line each in turn */
static bool mid_line;  /* the wire is inside one of turn's lines */
static unsigned fifo_bytes = 1; /* bytes the UART takes at once when LSR.THRE is set */
static volatile unsigned console_owner = NO_OWNER;

void console_init(void)
{
	outb(COM1_BASE + UART_IER, 0);
	outb(COM1_BASE + UART_LCR, UART_LCR_DLAB);
	outb(COM1_BASE + UART_RBR_THR, BAUD_DIVISOR_115200);
	outb(COM1_BASE + UART_IER, 0);
	outb(COM1_BASE + UART_LCR, LCR_8N1);
	outb(COM1_BASE + UART_IIR_FCR, FCR_ENABLE_CLEAR);
	outb(COM1_BASE + UART_MCR, MCR_DTR_RTS);
	if ((inb(COM1_BASE + UART_IIR_FCR) & UART_IIR_FIFOS) == UART_IIR_FIFOS)
		fifo_bytes = UART_FIFO_BYTES;
}

uint64_t console_refill_ns(void) { return fifo_bytes * CONSOLE_BYTE_NS; }

void console_drain(void)
{
	while (!(inb(COM1_BASE + UART_LSR) & UART_LSR_TEMT))
		cpu_relax();
}

static struct console_queue *own_queue(void) { return &queues[this_cpu()->index]; }

static bool queue_empty(const struct console_queue *q)
{
	return __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) == __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
}

/*
 * Sends queued lines, one line of each core's queue in turn, never leaving one half sent: until
 * every queue is empty (done NULL) or done's is; without wait, also as soon as the UART is full
 * (its FIFO's worth sent since LSR.THRE was last set). The console lock is held.
 */
static void queues_send(const struct console_queue *done, bool wait)
{
	unsigned room = 0;

	for (unsigned empty = 0; empty < HV_MAX_CPUS && !(done && !mid_line && queue_empty(done));) {
		struct console_queue *q = &queues[turn];
		char ch;

		if (queue_empty(q)) {
			turn = (turn + 1) % HV_MAX_CPUS;
			empty++;
		} else if (room || (inb(COM1_BASE + UART_LSR) & UART_LSR_THRE)) {
			room = (room ? room : fifo_bytes) - 1;
			ch = q->buf[q->head % CONSOLE_SHARE];
			outb(COM1_BASE + UART_RBR_THR, ch);
			__atomic_store_n(&q->head, q->head + 1, __ATOMIC_RELEASE);
			mid_line = ch != '\n';
			turn = mid_line ? turn : (turn + 1) % HV_MAX_CPUS;
			empty = 0;
		} else if (wait) {
			cpu_relax();
		} else {
			return;
		}
	}
}

/* Appends a whole line to this core's queue ('\n' sent as "\r\n"); false if it does not fit. */
static bool queue_line(const char *line)
{
	struct console_queue *q = own_queue();
	uint32_t tail = q->tail, need = 0;

	for (const char *p = line; *p; p++)
		need += *p == '\n' ? 2 : 1;
	if (need > CONSOLE_SHARE - (tail - __atomic_load_n(&q->head, __ATOMIC_ACQUIRE)))
		return false;
	for (const char *p = line; *p; p++) {
		if (*p == '\n')
			q->buf[tail++ % CONSOLE_SHARE] = '\r';
		q->buf[tail++ % CONSOLE_SHARE] = *p;
	}
	__atomic_store_n(&q->tail, tail, __ATOMIC_RELEASE);
	return true;
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

static void console_unlock(void) { __atomic_store_n(&console_owner, NO_OWNER, __ATOMIC_RELEASE); }

bool console_queue(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return queue_line(line);
}

bool console_pump(void)
{
	if (queue_empty(own_queue()))
		return false;
	if (__sync_bool_compare_and_swap(&console_owner, NO_OWNER, this_cpu()->index)) {
		queues_send(NULL, false);
		console_unlock();
	}
	return !queue_empty(own_queue());
}

bool console_room(void)
{
	const struct console_queue *q = own_queue();

	return CONSOLE_SHARE - (q->tail - __atomic_load_n(&q->head, __ATOMIC_ACQUIRE)) >= LINE_MAX * 2;
}

void console_flush(bool every_core)
{
	bool locked = console_lock();

	queues_send(every_core ? NULL : own_queue(), true);
	if (locked)
		console_unlock();
}

/* Behind this core's queued lines, which caused it; other cores' lines keep their turns. */
void printk(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	console_flush(false);
	queue_line(line);
	console_flush(false);
}
