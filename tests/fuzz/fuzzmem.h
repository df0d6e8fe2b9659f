/* Fake physical memory for fuzz targets: phys_ptr() over a few regions at chosen addresses. */
#ifndef TESTS_FUZZ_FUZZMEM_H
#define TESTS_FUZZ_FUZZMEM_H

#include "types.h"

enum fuzzmem_mode {
	/*
	 * Read-only and strict: every phys_ptr(addr, len) answer is a fresh heap copy of exactly
	 * len bytes (with addr's alignment modulo 16), so ASan reports any read past the length
	 * the parser asked for, not only past the end of the region. For the parsers that only read.
	 */
	FUZZMEM_COPY,
	/* Pointers into the region itself, so writes land there: for the ELF loader. */
	FUZZMEM_DIRECT,
};

/* Make [addr, addr + len) readable at bytes; the caller keeps bytes alive until fuzzmem_reset. */
void fuzzmem_map(uint64_t addr, void *bytes, size_t len, enum fuzzmem_mode mode);

/* phys_ptr calls since the last reset: with none, the code under test reached no fake memory. */
unsigned fuzzmem_lookups(void);

/* Unmap every region and free every copy handed out: call once per fuzz input. */
void fuzzmem_reset(void);

#endif
