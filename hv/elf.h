/* Guest ELF loader: copies an ELF64 x86-64 image's PT_LOAD segments into a slice, relative to it. */
#ifndef HV_ELF_H
#define HV_ELF_H

#include "err.h"

/* The ELF64 file header and program header (System V ABI, "ELF-64 Object File Format"). */
#define ELF_NIDENT      16
#define ELF_MAGIC       "\177ELF"
#define ELF_MAGIC_LEN   4
#define EI_CLASS        4
#define EI_DATA         5
#define ELFCLASS64      2
#define ELFDATA2LSB     1
#define ET_EXEC         2
#define ET_DYN          3
#define EM_X86_64       62
#define PT_LOAD         1
#define PT_NOTE         4

/* More program headers than any guest needs: a bound on work and on absurd input. */
#define ELF_MAX_PHNUM   64

struct elf64_ehdr {
	uint8_t e_ident[ELF_NIDENT];
	uint16_t e_type, e_machine;
	uint32_t e_version;
	uint64_t e_entry, e_phoff, e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type, p_flags;
	uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};

/* An ELF note's header; its name and descriptor follow, each padded to the segment's alignment. */
struct elf64_nhdr {
	uint32_t n_namesz, n_descsz, n_type;
};

struct elf_image {
	uint64_t entry;      /* guest-physical address to start at */
	uint64_t start, end; /* [start, end): what the segments span in the slice */
};

/*
 * Load the ELF file [file, file + size) into the slice [slice_base, slice_base + slice_size):
 * the lowest PT_LOAD p_paddr lands at load_base and every segment keeps its offset from it;
 * bytes past p_filesz are zeroed. e_entry is translated through the PT_LOAD segment whose
 * virtual range holds it, else the one whose physical range does (a Linux vmlinux's ENTRY is the
 * physical phys_startup_64). Everything is checked before anything is written (through phys_ptr).
 * load_base lies inside the slice, a partition's that hv/config.c has checked does not wrap.
 */
int elf_load(const void *file, uint64_t size, uint64_t slice_base, uint64_t slice_size,
	     uint64_t load_base, struct elf_image *out, err_t *e);

/* What elf_span finds in one walk of the headers. */
struct elf_span {
	uint64_t low, high;      /* the lowest p_paddr and the highest p_paddr + p_memsz of the PT_LOADs */
	const uint8_t *note;     /* the descriptor of the note asked for: it points into the file */
	uint32_t note_size;
};

/*
 * Check the file's headers and PT_LOADs as elf_load does, without loading. With owner set, also
 * find the first note named owner with type n_type in the PT_NOTE segments (none is an error),
 * every offset and size checked against its segment and the file.
 */
int elf_span(const void *file, uint64_t size, const char *owner, uint32_t type, struct elf_span *out,
	     err_t *e);

#endif
