/* Basic types: freestanding headers only, so every file also compiles for the host. */
#ifndef HV_TYPES_H
#define HV_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

#define PAGE_SIZE 4096u
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define BIT(n) (1ull << (n))
/* Arguments without side effects: each is evaluated twice. */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Most cores slicehv drives; Bochs tops out at 8, real boxes at more. */
#define HV_MAX_CPUS 16

/* Half-open ranges [a, a_end) and [b, b_end) share at least one byte. */
static inline bool range_overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end)
{
	return a < b_end && b < a_end;
}

#endif
