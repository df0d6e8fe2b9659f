/* Fuzz the guest ELF loader: the input is the file, loaded into a slice of fake memory. */
#include "elf.h"
#include "fuzz.h"
#include "fuzzmem.h"

/* Where partition_load puts a guest: a 2 MiB slice, the image at slice base + 1 MiB. */
#define SLICE_BASE  GiB(1)
#define SLICE_SIZE  MiB(2)
#define SLICE_END   (SLICE_BASE + SLICE_SIZE)
#define LOAD_BASE   (SLICE_BASE + MiB(1))
/* Accessible memory either side of the slice, as real RAM would be: a write there is an escape. */
#define GUARD       KiB(64)
#define MEM_BASE    (SLICE_BASE - GUARD)
#define MEM_SIZE    (GUARD + SLICE_SIZE + GUARD)
#define POISON      0xa5

static uint8_t *mem;   /* fake physical memory [MEM_BASE, MEM_BASE + MEM_SIZE) */
static uint8_t *clean; /* what mem holds before every load: POISON everywhere */

static uint8_t *at(uint64_t addr)
{
	return mem + (addr - MEM_BASE);
}

/* [addr, addr + len) of fake memory still holds POISON. */
static bool untouched(uint64_t addr, uint64_t len)
{
	return memcmp(at(addr), clean, len) == 0;
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* The program header i, read independently of the loader (which accepted the file). */
static struct elf64_phdr phdr(const uint8_t *file, unsigned i)
{
	struct elf64_ehdr eh;
	struct elf64_phdr ph;

	memcpy(&eh, file, sizeof(eh));
	memcpy(&ph, file + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
	return ph;
}

/* Each PT_LOAD's bytes sit at load base + its offset from the lowest p_paddr: file bytes, zeros. */
static void check_contents(const uint8_t *file, const struct elf_image *img)
{
	struct elf64_ehdr eh;
	uint64_t low = UINT64_MAX;
	bool entry_found = false;

	memcpy(&eh, file, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		struct elf64_phdr ph = phdr(file, i);

		if (ph.p_type == PT_LOAD && ph.p_memsz && ph.p_paddr < low)
			low = ph.p_paddr;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		struct elf64_phdr ph = phdr(file, i);
		uint64_t dst = img->start + (ph.p_paddr - low);

		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		FUZZ_CHECK(dst >= img->start && dst <= img->end && ph.p_memsz <= img->end - dst,
			   "segment %u at 0x%lx+0x%lx is outside [0x%lx, 0x%lx)", i, dst, ph.p_memsz,
			   img->start, img->end);
		FUZZ_CHECK(memcmp(at(dst), file + ph.p_offset, ph.p_filesz) == 0,
			   "segment %u: file bytes not copied", i);
		FUZZ_CHECK(all_zero(at(dst + ph.p_filesz), ph.p_memsz - ph.p_filesz),
			   "segment %u: bytes past p_filesz not zeroed", i);
		entry_found |= img->entry >= dst && img->entry - dst < ph.p_memsz;
	}
	FUZZ_CHECK(entry_found, "entry 0x%lx is in no loaded segment", img->entry);
}

static void check_loaded(const uint8_t *file, const struct elf_image *img)
{
	FUZZ_CHECK(img->start == LOAD_BASE, "start 0x%lx is not the load base", img->start);
	FUZZ_CHECK(img->start < img->end && img->end <= SLICE_END,
		   "[0x%lx, 0x%lx) is not inside the slice [0x%lx, 0x%lx)", img->start, img->end,
		   SLICE_BASE, SLICE_END);
	FUZZ_CHECK(img->entry >= img->start && img->entry < img->end,
		   "entry 0x%lx is outside [0x%lx, 0x%lx)", img->entry, img->start, img->end);
	FUZZ_CHECK(untouched(MEM_BASE, img->start - MEM_BASE) &&
		   untouched(img->end, MEM_BASE + MEM_SIZE - img->end),
		   "bytes outside [0x%lx, 0x%lx) were written", img->start, img->end);
	check_contents(file, img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img = { 0 };
	err_t e = { "" };

	if (!mem) {
		mem = malloc(MEM_SIZE);
		clean = malloc(MEM_SIZE);
		if (!mem || !clean)
			abort();
		memset(mem, POISON, MEM_SIZE);
		memset(clean, POISON, MEM_SIZE);
	}
	fuzzmem_map(MEM_BASE, mem, MEM_SIZE, FUZZMEM_DIRECT);
	if (elf_load(data, size, SLICE_BASE, SLICE_SIZE, LOAD_BASE, &img, &e) == 0) {
		check_loaded(data, &img);
		FUZZ_SAY("loaded [0x%lx, 0x%lx), entry 0x%lx\n", img.start, img.end, img.entry);
		memset(at(img.start), POISON, img.end - img.start);
	} else {
		fuzz_check_error(&e);
		/* Everything is checked before anything is written. Memory is reached only through
		 * phys_ptr, so without a lookup there is nothing to scan. */
		FUZZ_CHECK(!fuzzmem_lookups() || untouched(MEM_BASE, MEM_SIZE),
			   "a rejected file wrote to memory: %s", e.msg);
	}
	fuzzmem_reset();
	return 0;
}
