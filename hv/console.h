/* The hypervisor console: COM1, one whole line at a time, never interleaved between cores. */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H

#include "types.h"

void console_init(void);
/* Formats and writes atomically with respect to other cores' printk calls. */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Waits until the UART has sent every byte, so nothing is lost when the machine ends. */
void console_drain(void);

#endif
