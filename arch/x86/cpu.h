/* x86 per-CPU state: descriptor tables, TSS, VMX regions, and the exception frame. */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H

#include "../../hv/types.h"

#define NUM_EXCEPTIONS 32
/* The exception vectors slicehv names (SDM Vol 3A Table 6-1). */
enum exception_vector { VECTOR_NMI = 2, VECTOR_UD = 6, VECTOR_DF = 8, VECTOR_GP = 13, VECTOR_MC = 18 };
#define IST_STACK_SIZE PAGE_SIZE

/* The 64-bit TSS (SDM Vol 3A 8.7): only the IST stacks matter to us. */
struct __attribute__((packed)) tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};

/* A 64-bit interrupt gate (SDM Vol 3A 6.14.1). */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
};

/* GDT slots: the TSS descriptor takes two (SDM Vol 3A 8.2.3). */
enum gdt_slot { GDT_NULL, GDT_CS, GDT_DS, GDT_TSS, GDT_TSS_HI, GDT_ENTRIES };
#define SEL_CS (GDT_CS * 8)
#define SEL_DS (GDT_DS * 8)
#define SEL_TSS (GDT_TSS * 8)

struct cpu_arch {
	uint8_t vmxon[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	uint8_t vmcs[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
	uint8_t ist_stack[IST_STACK_SIZE] __attribute__((aligned(PAGE_SIZE)));
	struct idt_gate idt[NUM_EXCEPTIONS];
	uint64_t gdt[GDT_ENTRIES];
	struct tss tss;
	bool lapic_refusal_reported; /* its partition's first refused APIC write was reported */
	bool x2apic;                 /* lapic_hand_over left its APIC in x2APIC mode: it can ring doorbells */
};

/* What isr.asm pushes, lowest address first. */
struct exception_frame {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15; /* boot.inc GPRS */
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

void exception_handler(struct exception_frame *f);

#endif
