/* Shared by the fuzz targets: the libFuzzer entry point and a check that aborts with a reason. */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken output invariant: say which, then abort() so libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                        \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz: %s:%d: invariant broken: ", __FILE__, \
				__LINE__);                                           \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* With FUZZ_VERBOSE set in the environment, say what happened to each input (for seeds). */
#define FUZZ_SAY(...)                                                                \
	do {                                                                         \
		if (fuzz_verbose())                                                  \
			fprintf(stderr, "fuzz: " __VA_ARGS__);                       \
	} while (0)

static inline bool fuzz_verbose(void)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	return verbose;
}

/* Every rejection must name what is wrong: a non-empty, terminated message. */
static inline void fuzz_check_error(const err_t *e)
{
	FUZZ_CHECK(memchr(e->msg, '\0', sizeof(e->msg)), "error message is not NUL-terminated");
	FUZZ_CHECK(e->msg[0], "input rejected without a message");
	FUZZ_SAY("rejected: %s\n", e->msg);
}

/* s holds a NUL within its cap bytes. */
static inline bool fuzz_terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

#endif
