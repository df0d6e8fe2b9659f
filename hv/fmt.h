/* A small printf engine of our own: %d %u %x %s %c %%, with l/ll/z, width, '0' and '-'. */
#ifndef HV_FMT_H
#define HV_FMT_H

#include "types.h"

/* Like vsnprintf: always NUL-terminates when size > 0, returns the length it wanted to write. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
