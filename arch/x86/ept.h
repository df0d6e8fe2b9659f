/* Extended page tables: a 4-level map of one partition's slice, and a software walk. */
#ifndef ARCH_X86_EPT_H
#define ARCH_X86_EPT_H

#include "../../hv/err.h"

/* EPT paging-structure entry bits (SDM Vol 3C 29.3.2, Tables 29-1 to 29-6). */
#define EPT_READ            BIT(0)
#define EPT_WRITE           BIT(1)
#define EPT_EXEC            BIT(2) /* supervisor-mode execute */
#define EPT_RWX             (EPT_READ | EPT_WRITE | EPT_EXEC)
#define EPT_MEMTYPE_SHIFT   3      /* leaf bits 5:3: EPT memory type (SDM 29.3.7.2) */
#define EPT_MEMTYPE_WB      6ull   /* write-back, as in the IA32_PAT encodings */
#define EPT_IGNORE_PAT      BIT(6) /* IPAT: left clear so the guest's PAT still applies */
#define EPT_LEAF            BIT(7) /* in a PDPTE or PDE: maps a 1 GiB or 2 MiB page */
#define EPT_ADDR_MASK       0x000ffffffffff000ull /* bits 51:12: next table or page frame */

/* EPTP fields (SDM Vol 3C 25.6.11, "Extended-Page-Table Pointer"; 24.6.11 in older editions). */
#define EPTP_MEMTYPE_WB     6ull   /* bits 2:0: memory type used to read the EPT tables */
#define EPTP_WALK_SHIFT     3      /* bits 5:3: page-walk length minus one */
#define EPT_LEVELS          4

/* 4-level EPT translates 48-bit guest-physical addresses. */
#define EPT_GPA_LIMIT       BIT(48)
#define EPT_PAGE_4K         KiB(4)
#define EPT_PAGE_2M         MiB(2)
#define EPT_PAGE_1G         GiB(1)

/* Returns a zeroed, 4 KiB-aligned page whose pointer value is its physical address, or NULL. */
typedef void *(*ept_alloc_fn)(void *ctx);

struct ept_stats {
	unsigned tables;  /* 4 KiB table pages, the PML4 included */
	uint64_t leaves_4k, leaves_2m, leaves_1g;
};

struct ept {
	uint64_t *pml4;
	struct ept_stats stats;
	uint64_t max_leaf; /* EPT_PAGE_4K, _2M or _1G: what the CPU offers and the caller wants */
	ept_alloc_fn alloc;
	void *ctx;
};

/*
 * Build tables mapping guest-physical [gpa, gpa + size) to host-physical [hpa, hpa + size),
 * read/write/execute, write-back, with the largest leaves the alignment of both allows up to
 * max_leaf. gpa, hpa and size must be 4 KiB multiples. Nothing else is mapped. On failure, pages
 * already taken from alloc are not given back.
 */
int ept_build(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t max_leaf,
	      ept_alloc_fn alloc, void *ctx, err_t *e);
/* Adds guest-physical [gpa, gpa + size) -> [hpa, ...) with rights (EPT_READ, _WRITE, _EXEC); refuses an overlap. */
int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t rights, err_t *e);

/* The VMCS EPT pointer for these tables: write-back walks, 4 levels, no accessed/dirty flags. */
uint64_t ept_pointer(const struct ept *ept);

/* Walk the tables in software: true and the host address and leaf size if gpa is mapped. */
bool ept_translate(const uint64_t *pml4, uint64_t gpa, uint64_t *hpa, uint64_t *leaf_size);

/* Every present leaf, in address order: fn returns -1 to stop the walk (which then returns -1). */
typedef int (*ept_leaf_fn)(void *ctx, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t entry);
int ept_for_each_leaf(const uint64_t *pml4, ept_leaf_fn fn, void *ctx);

#endif
