/* err_set: fills an error report and returns -1, so a failing path is one `return` line. */
#include "err.h"
#include "fmt.h"

int err_set(err_t *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	kvsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}
