/* Error reports: a fallible function fills an err_t with one line naming what is wrong and where. */
#ifndef HV_ERR_H
#define HV_ERR_H

#include "types.h"

typedef struct {
	char msg[160];
} err_t;

/* Formats the message into e (if e is not NULL) and returns -1, so callers can `return err_set(...)`. */
int err_set(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
