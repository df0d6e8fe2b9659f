/* The few C string and memory functions the hypervisor uses: libc on the host, hv/string.c inside. */
#if __STDC_HOSTED__
/*
 * Host tests build with -Ihv, so <string.h> anywhere lands here: hand over to the C library's
 * header, which declares these same functions and the rest (strstr, strchr) that tests use.
 * No guard of our own here, so a second pass (the quoted include, then -Ihv) reaches libc too.
 */
#include_next <string.h>
#elif !defined(HV_STRING_H)
#define HV_STRING_H

#include "types.h"

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
