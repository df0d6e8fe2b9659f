/* W^X for the hypervisor itself: after start-up no page of its address space is writable and executable. */
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/heap.h"
#include "../../hv/phys.h"
#include "exits.h"
#include "msr.h"
#include "x86.h"

#define MAPPED_MIN GiB(4) /* the boot map's reach: the LAPIC and firmware lie below it */
#define MAPPED_MAX GiB(PT_ENTRIES) /* one PDPT */

extern uint8_t __image_start[], __text_end[], __rodata_end[];

static uint64_t hardened_cr3;

/* The rights of one 4 KiB page of the image: text executes, rodata is read-only, the rest is data. */
static uint64_t image_page_rights(uint64_t addr)
{
	if (addr >= (uint64_t)__image_start && addr < (uint64_t)__text_end)
		return PTE_PRESENT;
	if (addr >= (uint64_t)__text_end && addr < (uint64_t)__rodata_end)
		return PTE_PRESENT | PTE_NX;
	return PTE_PRESENT | PTE_WRITE | PTE_NX;
}

static uint64_t *table(void) { return heap_alloc_page(NULL); }

/* A 2 MiB region holding part of the image gets 4 KiB pages; every other one is a RW, NX large page. */
static int map_2m(uint64_t *pd_entry, uint64_t region, err_t *e)
{
	uint64_t *pt;

	if (region + MiB(2) <= (uint64_t)__image_start || region >= (uint64_t)__rodata_end) {
		*pd_entry = region | PTE_PRESENT | PTE_WRITE | PTE_LARGE | PTE_NX;
		return 0;
	}
	if (!(pt = table()))
		return err_set(e, "no heap page for the hypervisor's page tables");
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		pt[i] = (region + (uint64_t)i * PAGE_SIZE) | image_page_rights(region + (uint64_t)i * PAGE_SIZE);
	*pd_entry = (uint64_t)pt | PTE_PRESENT | PTE_WRITE;
	return 0;
}

/* Counts leaves that are both writable and executable, walking what the CPU will walk. */
static unsigned count_wx(const uint64_t *t, unsigned level)
{
	unsigned n = 0;

	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t entry = t[i];

		if (!(entry & PTE_PRESENT))
			continue;
		if (level == 1 || (level < 4 && (entry & PTE_LARGE)))
			n += (entry & PTE_WRITE) && !(entry & PTE_NX);
		else
			n += count_wx((const uint64_t *)(uintptr_t)(entry & PTE_ADDR_MASK), level - 1);
	}
	return n;
}

/*
 * Tables from the heap for [0, top) (at least 4 GiB, whole GiBs, at most 512 GiB): text RX, rodata
 * R, everything else RW and NX; phys_ptr reaches that far once they are loaded.
 */
int arch_memory_init(uint64_t top, err_t *e)
{
	uint64_t *pml4 = table(), *pdpt = table();
	unsigned wx, gib;

	if (!cpu_has_nx())
		return err_set(e, "this CPU has no NX bit: W^X cannot be enforced");
	if (!pml4 || !pdpt)
		return err_set(e, "no heap page for the hypervisor's page tables");
	if (top > MAPPED_MAX)
		return err_set(e, "RAM reaches 0x%lx, beyond the 0x%lx the hypervisor maps", top, MAPPED_MAX);
	gib = (unsigned)(ALIGN_UP(top > MAPPED_MIN ? top : MAPPED_MIN, GiB(1)) / GiB(1));
	pml4[0] = (uint64_t)pdpt | PTE_PRESENT | PTE_WRITE;
	for (unsigned g = 0; g < gib; g++) {
		uint64_t *pd = table();

		if (!pd)
			return err_set(e, "no heap page for the hypervisor's page tables");
		pdpt[g] = (uint64_t)pd | PTE_PRESENT | PTE_WRITE;
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (map_2m(&pd[i], GiB(g) + MiB(2) * i, e) < 0)
				return -1;
	}
	wx = count_wx(pml4, 4);
	printk("slicehv: hardening: hypervisor page tables: %u pages writable and executable; text "
	       "[0x%lx-0x%lx) read-execute, the rest no-execute\n",
	       wx, (uint64_t)__image_start, (uint64_t)__text_end);
	if (wx)
		return err_set(e, "%u hypervisor pages are writable and executable", wx);
	hardened_cr3 = (uint64_t)pml4;
	phys_mapped_end = GiB(gib);
	arch_paging_load();
	return exits_init(e);
}

void arch_paging_load(void)
{
	if (!hardened_cr3)
		return;
	wrmsr(IA32_EFER, rdmsr(IA32_EFER) | IA32_EFER_NXE);
	write_cr3(hardened_cr3);
}
