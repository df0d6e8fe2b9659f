/* Guest ELF loader: validate every header and segment first, then copy and zero into the slice. */
#include "elf.h"
#include "phys.h"
#include "string.h"

struct elf_file {
	const uint8_t *data;
	uint64_t size;
	struct elf64_ehdr eh;
	uint64_t low, high; /* lowest p_paddr and highest p_paddr + p_memsz of the PT_LOADs */
};

/* Headers are copied out: the file need not be aligned for them. */
static void read_phdr(const struct elf_file *f, unsigned i, struct elf64_phdr *ph)
{
	memcpy(ph, f->data + f->eh.e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/* Empty PT_LOADs occupy nothing and are skipped everywhere. */
static bool read_load(const struct elf_file *f, unsigned i, struct elf64_phdr *ph)
{
	read_phdr(f, i, ph);
	return ph->p_type == PT_LOAD && ph->p_memsz != 0;
}

static int check_header(struct elf_file *f, err_t *e)
{
	const struct elf64_ehdr *eh = &f->eh;
	uint64_t table;

	if (f->size < sizeof(*eh))
		return err_set(e, "elf: %lu bytes is shorter than an ELF header", f->size);
	memcpy(&f->eh, f->data, sizeof(f->eh));
	table = (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr);
	if (memcmp(eh->e_ident, ELF_MAGIC, ELF_MAGIC_LEN))
		return err_set(e, "elf: bad magic: not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return err_set(e, "elf: class %u is not ELFCLASS64", eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(e, "elf: data encoding %u is not little-endian", eh->e_ident[EI_DATA]);
	if (eh->e_machine != EM_X86_64)
		return err_set(e, "elf: machine %u is not x86-64 (%u)", eh->e_machine, EM_X86_64);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return err_set(e, "elf: type %u is not ET_EXEC or ET_DYN", eh->e_type);
	if (eh->e_phentsize != sizeof(struct elf64_phdr))
		return err_set(e, "elf: e_phentsize %u is not %zu", eh->e_phentsize,
			       sizeof(struct elf64_phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHNUM)
		return err_set(e, "elf: e_phnum %u is not in 1..%u", eh->e_phnum, ELF_MAX_PHNUM);
	if (eh->e_phoff > f->size || table > f->size - eh->e_phoff)
		return err_set(e, "elf: program headers at 0x%lx+0x%lx are outside the file (%lu bytes)",
			       eh->e_phoff, table, f->size);
	return 0;
}

static int check_segment(const struct elf_file *f, unsigned i, const struct elf64_phdr *ph, err_t *e)
{
	if (ph->p_filesz > ph->p_memsz)
		return err_set(e, "elf: segment %u: p_filesz 0x%lx is larger than p_memsz 0x%lx", i,
			       ph->p_filesz, ph->p_memsz);
	if (ph->p_offset > f->size || ph->p_filesz > f->size - ph->p_offset)
		return err_set(e, "elf: segment %u: file bytes 0x%lx+0x%lx run past the end of the file "
			       "(%lu bytes): truncated", i, ph->p_offset, ph->p_filesz, f->size);
	if (ph->p_paddr > UINT64_MAX - ph->p_memsz || ph->p_vaddr > UINT64_MAX - ph->p_memsz)
		return err_set(e, "elf: segment %u: address + p_memsz 0x%lx overflows 64 bits", i,
			       ph->p_memsz);
	return 0;
}

/* Each segment on its own, then every pair: PT_LOADs must not share a physical byte. */
static int check_segments(struct elf_file *f, err_t *e)
{
	struct elf64_phdr a, b;

	f->low = UINT64_MAX;
	f->high = 0;
	for (unsigned i = 0; i < f->eh.e_phnum; i++) {
		if (!read_load(f, i, &a))
			continue;
		if (check_segment(f, i, &a, e))
			return -1;
		f->low = MIN(a.p_paddr, f->low);
		f->high = MAX(a.p_paddr + a.p_memsz, f->high);
		for (unsigned j = 0; j < i; j++) {
			if (read_load(f, j, &b) &&
			    range_overlaps(a.p_paddr, a.p_paddr + a.p_memsz, b.p_paddr, b.p_paddr + b.p_memsz))
				return err_set(e, "elf: segment %u overlaps segment %u", i, j);
		}
	}
	if (f->high == 0) /* every PT_LOAD kept has p_memsz > 0, so high > 0 once one is seen */
		return err_set(e, "elf: no PT_LOAD segment");
	return 0;
}

/*
 * Where each PT_LOAD goes: its offset from the lowest p_paddr, added to load_base. One pass checks
 * every segment, a second (copy) writes them, from the same address.
 */
static int place_segments(const struct elf_file *f, uint64_t slice_end, uint64_t load_base, bool copy,
			  err_t *e)
{
	struct elf64_phdr ph;

	for (unsigned i = 0; i < f->eh.e_phnum; i++) {
		uint64_t span, at;
		uint8_t *dst;

		if (!read_load(f, i, &ph))
			continue;
		span = ph.p_paddr - f->low + ph.p_memsz;
		at = load_base + span - ph.p_memsz;
		if (!copy && span > slice_end - load_base)
			return err_set(e, "elf: segment %u: ends at load base 0x%lx + 0x%lx, outside the slice "
				       "(ends 0x%lx)", i, load_base, span, slice_end);
		if (!(dst = phys_ptr(at, ph.p_memsz)))
			return err_set(e, "elf: segment %u: 0x%lx+0x%lx is not accessible memory", i, at,
				       ph.p_memsz);
		if (copy) {
			memcpy(dst, f->data + ph.p_offset, ph.p_filesz);
			memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		}
	}
	return 0;
}

/* e_entry by the segment whose virtual range holds it, else the one whose physical range does. */
static int find_entry(const struct elf_file *f, uint64_t load_base, uint64_t *entry, err_t *e)
{
	struct elf64_phdr ph;
	uint64_t va = f->eh.e_entry;

	for (unsigned physical = 0; physical < 2; physical++) {
		for (unsigned i = 0; i < f->eh.e_phnum; i++) {
			uint64_t start;

			if (!read_load(f, i, &ph))
				continue;
			start = physical ? ph.p_paddr : ph.p_vaddr;
			if (va >= start && va - start < ph.p_memsz) {
				*entry = load_base + (ph.p_paddr - f->low) + (va - start);
				return 0;
			}
		}
	}
	return err_set(e, "elf: entry point 0x%lx is in no PT_LOAD segment", va);
}

int elf_load(const void *file, uint64_t size, uint64_t slice_base, uint64_t slice_size,
	     uint64_t load_base, struct elf_image *out, err_t *e)
{
	struct elf_file f = { .data = file, .size = size };
	uint64_t entry = 0;

	if (check_header(&f, e) || check_segments(&f, e) ||
	    place_segments(&f, slice_base + slice_size, load_base, false, e) ||
	    find_entry(&f, load_base, &entry, e))
		return -1;
	place_segments(&f, slice_base + slice_size, load_base, true, e);
	out->entry = entry;
	out->start = load_base;
	out->end = load_base + (f.high - f.low);
	return 0;
}

/* Notes are padded to 4 bytes, or 8 in a segment aligned to 8 (as binutils reads them). */
#define ELF_NOTE_ALIGN 4
#define ELF_NOTE_ALIGN_WIDE 8

/* 1 with *desc and *descsz set when segment ph holds the note, 0 when not, -1 when truncated. */
static int note_in(const uint8_t *seg, const struct elf64_phdr *ph, const char *owner,
		   uint32_t type, const uint8_t **desc, uint32_t *descsz)
{
	uint64_t align = ph->p_align == ELF_NOTE_ALIGN_WIDE ? ELF_NOTE_ALIGN_WIDE : ELF_NOTE_ALIGN;
	uint64_t namesz = strlen(owner) + 1;
	struct elf64_nhdr n;

	for (uint64_t off = 0; off < ph->p_filesz && ph->p_filesz - off >= sizeof(n);) {
		uint64_t name = off + sizeof(n), d;

		memcpy(&n, seg + off, sizeof(n));
		d = name + ALIGN_UP((uint64_t)n.n_namesz, align);
		if (d > ph->p_filesz || n.n_descsz > ph->p_filesz - d)
			return -1;
		if (n.n_type == type && n.n_namesz == namesz && !memcmp(seg + name, owner, namesz)) {
			*desc = seg + d;
			*descsz = n.n_descsz;
			return 1;
		}
		off = d + ALIGN_UP((uint64_t)n.n_descsz, align);
	}
	return 0;
}

int elf_span(const void *file, uint64_t size, const char *owner, uint32_t type, struct elf_span *out,
	     err_t *e)
{
	struct elf_file f = { .data = file, .size = size };
	struct elf64_phdr ph;

	if (check_header(&f, e) || check_segments(&f, e))
		return -1;
	*out = (struct elf_span){ .low = f.low, .high = f.high };
	for (unsigned i = 0; owner && i < f.eh.e_phnum; i++) {
		int found;

		read_phdr(&f, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return err_set(e, "elf: note segment %u: 0x%lx+0x%lx runs past the end of the file "
				       "(%lu bytes)", i, ph.p_offset, ph.p_filesz, size);
		found = note_in(f.data + ph.p_offset, &ph, owner, type, &out->note, &out->note_size);
		if (found < 0)
			return err_set(e, "elf: note segment %u: a note runs past the segment's 0x%lx bytes",
				       i, ph.p_filesz);
		if (found)
			return 0;
	}
	return owner ? err_set(e, "elf: no \"%s\" note of type %u in any PT_NOTE segment", owner, type) : 0;
}
