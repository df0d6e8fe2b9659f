/* The hypervisor console: COM1, whole lines, each core's in turn, never interleaved. */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H

#include "types.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define CONSOLE_BAUD 115200
#define CONSOLE_FRAME_BITS 10 /* start bit, 8 data bits, stop bit */
#define CONSOLE_BYTE_NS (NS_PER_S * CONSOLE_FRAME_BITS / CONSOLE_BAUD) /* one byte on the wire */

void console_init(void);
/* How long the UART takes to send all it holds: when to come back to give it more. */
uint64_t console_refill_ns(void);
/* Formats a whole line and waits until it is on the wire, after this core's queued lines. */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Queues a whole line for the UART without waiting; false if this core's share is full. */
bool console_queue(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sends what the UART takes now, without waiting; true while this core's lines still wait. */
bool console_pump(void);
/* True while this core's queue has room for a whole line more. */
bool console_room(void);
/* Waits until this core's queued lines (or every core's) are on the wire. */
void console_flush(bool every_core);
/* Waits until the UART has sent every byte, so nothing is lost when the machine ends. */
void console_drain(void);

#endif
