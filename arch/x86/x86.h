/* Privileged instructions as tiny inline functions, so the rest of the C carries no inline asm. */
#ifndef ARCH_X86_X86_H
#define ARCH_X86_X86_H

#include "../../hv/types.h"

/* Control-register bits (SDM Vol 3A 2.5). */
#define CR0_PE BIT(0)
#define CR0_MP BIT(1)
#define CR0_EM BIT(2)
#define CR0_TS BIT(3)
#define CR0_ET BIT(4)
#define CR0_NE BIT(5)
#define CR0_WP BIT(16)
#define CR0_AM BIT(18)
#define CR0_NW BIT(29)
#define CR0_CD BIT(30)
#define CR0_PG BIT(31)
#define CR4_PAE BIT(5)
#define CR4_OSFXSR BIT(9)
#define CR4_VMXE BIT(13)
#define CR4_OSXSAVE BIT(18)

/* 4-level paging entries (SDM Vol 3A 4.5, Tables 4-15 to 4-20). */
#define PTE_PRESENT BIT(0)
#define PTE_WRITE BIT(1)
#define PTE_LARGE BIT(7)
#define PTE_NX BIT(63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define PT_ENTRIES 512

/* Flat descriptors (SDM Vol 3A 3.4.5): present, DPL 0, limit 0xFFFFF in 4 KiB units. */
#define DESC_CODE64 0x00af9a000000ffffull /* code execute/read, L */
#define DESC_DATA 0x00cf92000000ffffull   /* data read/write, D/B */

/* RFLAGS bits (SDM Vol 1 3.4.3). */
#define RFLAGS_FIXED1 BIT(1) /* always 1 */
#define RFLAGS_IF BIT(9)

/* CPUID leaf 1 ECX feature bits (SDM Vol 2A, CPUID). */
#define CPUID_1_ECX_VMX BIT(5)
#define CPUID_1_ECX_XSAVE BIT(26)
#define CPUID_1_ECX_HYPERVISOR BIT(31)

#define CPUID_XSAVE 0xd /* leaf: XSAVE components (sub-leaf 0: those XCR0 may enable) */

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
	return r;
}

/* Physical-address width, CPUID.80000008H:EAX[7:0] (SDM Vol 2A, CPUID). */
#define CPUID_ADDR_SIZES 0x80000008u
static inline unsigned cpu_phys_addr_bits(void) { return cpuid(CPUID_ADDR_SIZES, 0).eax & 0xff; }

/* Execute-disable: CPUID.80000001H:EDX.NX[bit 20] (SDM Vol 2A, CPUID). */
#define CPUID_EXT_FEATURES 0x80000001u
#define CPUID_EXT_EDX_NX BIT(20)
static inline bool cpu_has_nx(void) { return cpuid(CPUID_EXT_FEATURES, 0).edx & CPUID_EXT_EDX_NX; }

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR(n)                                                               \
	static inline uint64_t read_cr##n(void)                                    \
	{                                                                          \
		uint64_t v;                                                        \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                  \
		return v;                                                          \
	}                                                                          \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
DEFINE_CR(8)
#undef DEFINE_CR

#define DEFINE_DR(n) \
	static inline void write_dr##n(uint64_t v) { __asm__ volatile("mov %0, %%dr" #n ::"r"(v)); }
DEFINE_DR(0)
DEFINE_DR(1)
DEFINE_DR(2)
DEFINE_DR(3)
DEFINE_DR(6)
#undef DEFINE_DR

/*
 * Instructions slicehv runs with a guest's operands run under a fixup: a fault at label 1 resumes
 * at label 2 with its vector in R11 (arch/x86/cpu.c exception_handler) instead of ending the
 * machine, and the caller injects it into the guest. The SDM's rules are checked first all the
 * same; the fixup is for the rule a CPU has that slicehv did not know of.
 */
#define FAULT_NONE (-1)
struct fixup {
	uint64_t insn, resume;
};
#define FIXUP_ENTRY ".pushsection .fixup_table, \"a\"\n\t.balign 8\n\t.quad 1b, 2b\n\t.popsection\n\t"
#define GUEST_SAFE(insn, ...)                                                               \
	({                                                                                  \
		register uint64_t fault_ __asm__("r11") = (uint64_t)FAULT_NONE;             \
		__asm__ volatile("1: " insn "\n2:\n\t" FIXUP_ENTRY : "+r"(fault_) : __VA_ARGS__ : "memory"); \
		(int)fault_;                                                                \
	})

/* XCR0 (SDM Vol 1 13.3): x87 state must always stay enabled. */
#define XCR0_X87 BIT(0)
static inline void xsetbv(uint32_t index, uint64_t v)
{
	__asm__ volatile("xsetbv" ::"c"(index), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
/* Restores the x87/SSE/AVX/... components in mask from a 64-byte-aligned XSAVE area. */
static inline void xrstor(const void *area, uint64_t mask)
{
	__asm__ volatile("xrstor64 %0" ::"m"(*(const uint8_t(*)[576])area), "a"((uint32_t)mask),
			 "d"((uint32_t)(mask >> 32)));
}
static inline void fxrstor(const void *area) { __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[512])area)); }

/* The fault vector, or FAULT_NONE. */
static inline int xsetbv_safe(uint32_t index, uint64_t v)
{
	return GUEST_SAFE("xsetbv", "c"(index), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};
static inline void lgdt(const struct desc_ptr *p) { __asm__ volatile("lgdt %0" ::"m"(*p)); }
static inline void lidt(const struct desc_ptr *p) { __asm__ volatile("lidt %0" ::"m"(*p)); }
static inline void ltr(uint16_t sel) { __asm__ volatile("ltr %0" ::"r"(sel)); }

#endif
