/* Fake physical memory for host unit tests: phys_ptr() over a static buffer, plus writers. */
#ifndef TESTS_UNIT_FAKEMEM_H
#define TESTS_UNIT_FAKEMEM_H

#include "types.h"

/* What phys_ptr reaches by default: the BIOS area (up to 1 MiB) and tables placed just above it. */
#define FAKEMEM_SIZE MiB(2)
/* The most a test can ask for with fakemem_set_size: a Linux slice from 16 MiB up. */
#define FAKEMEM_MAX MiB(32)

/* Make fake memory [0, size) accessible, size at most FAKEMEM_MAX (FAKEMEM_SIZE until called). */
void fakemem_set_size(uint64_t size);

/* Zero the whole fake memory. */
void fakemem_reset(void);

/* Copy len bytes to fake physical address addr; aborts the test if it does not fit. */
void fakemem_write(uint64_t addr, const void *src, size_t len);
void fakemem_w8(uint64_t addr, uint8_t v);
void fakemem_w16(uint64_t addr, uint16_t v);
void fakemem_w32(uint64_t addr, uint32_t v);
void fakemem_w64(uint64_t addr, uint64_t v);

/* The fake physical address of a pointer into fake memory (for checking returned pointers). */
uint64_t fakemem_addr(const void *p);

#endif
