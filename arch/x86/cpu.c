/* Per-CPU descriptor tables (GDT, TSS, IDT) and the exception report. */
#include "cpu.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/cpu.h"
#include "../../hv/power.h"
#include "msr.h"
#include "x86.h"

#define DESC_TSS_AVAILABLE 0x89ull /* present, DPL 0, type 9: 64-bit TSS (available) */
#define GATE_INTERRUPT 0x8e         /* present, DPL 0, type 14: 64-bit interrupt gate */

/* Exceptions that may arrive on a broken stack get a known-good one (SDM Vol 3A 6.14.5). */
#define IST_INDEX 1

extern const uint64_t isr_table[NUM_EXCEPTIONS];

static const char *const exception_names[NUM_EXCEPTIONS] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
	"#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
	"#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
	"#XM SIMD error", "#VE virtualization", "#CP control protection",
};

static void gdt_init(struct cpu_arch *a)
{
	uint64_t base = (uint64_t)&a->tss;
	uint64_t limit = sizeof(a->tss) - 1;

	a->gdt[GDT_NULL] = 0;
	a->gdt[GDT_CS] = DESC_CODE64;
	a->gdt[GDT_DS] = DESC_DATA;
	/* A system descriptor spreads its base over both slots (SDM Vol 3A Figure 8-4). */
	a->gdt[GDT_TSS] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (DESC_TSS_AVAILABLE << 40) |
			  (((base >> 24) & 0xff) << 56);
	a->gdt[GDT_TSS_HI] = base >> 32;
	a->tss.ist[IST_INDEX - 1] = (uint64_t)a->ist_stack + IST_STACK_SIZE;
	a->tss.iomap_base = sizeof(a->tss); /* no I/O permission bitmap */
}

static void idt_init(struct cpu_arch *a)
{
	for (unsigned v = 0; v < NUM_EXCEPTIONS; v++) {
		uint64_t off = isr_table[v];
		struct idt_gate *g = &a->idt[v];

		g->offset_lo = off & 0xffff;
		g->offset_mid = (off >> 16) & 0xffff;
		g->offset_hi = off >> 32;
		g->selector = SEL_CS;
		g->type_attr = GATE_INTERRUPT;
		g->ist = (v == VECTOR_NMI || v == VECTOR_DF) ? IST_INDEX : 0;
	}
}

/* Load this CPU's own GDT, TSS and IDT, and point GS at its struct cpu. */
void arch_cpu_init(struct cpu *c)
{
	struct cpu_arch *a = &c->arch;
	struct desc_ptr gdtr = { sizeof(a->gdt) - 1, (uint64_t)a->gdt };
	struct desc_ptr idtr = { sizeof(a->idt) - 1, (uint64_t)a->idt };

	c->self = c;
	gdt_init(a);
	idt_init(a);
	lgdt(&gdtr);
	__asm__ volatile("pushq %0\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1: mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "mov %1, %%ss\n\t" ::"i"(SEL_CS),
			 "r"(SEL_DS)
			 : "rax", "memory");
	ltr(SEL_TSS);
	lidt(&idtr);
	wrmsr(IA32_GS_BASE, (uint64_t)c);
}

/* A fault of an instruction run for a guest (x86.h GUEST_SAFE) resumes after it, vector in R11. */
static bool fixup(struct exception_frame *f)
{
	extern const struct fixup __fixup_start[], __fixup_end[];

	/* An NMI or machine check is not the instruction's fault, even if it interrupted there. */
	if (f->vector == VECTOR_NMI || f->vector == VECTOR_MC)
		return false;
	for (const struct fixup *x = __fixup_start; x < __fixup_end; x++)
		if (x->insn == f->rip) {
			f->rip = x->resume;
			f->r11 = f->vector;
			return true;
		}
	return false;
}

/* Any other hypervisor exception is a hypervisor bug: report everything, then end the machine. */
void exception_handler(struct exception_frame *f)
{
	const char *name = f->vector < ARRAY_SIZE(exception_names) && exception_names[f->vector]
				   ? exception_names[f->vector]
				   : "reserved";

	if (fixup(f))
		return;
	printk("slicehv: cpu %u: exception %s (vector %lu) error 0x%lx at rip 0x%lx cr2 0x%lx\n",
	       this_cpu()->index, name, f->vector, f->error, f->rip, read_cr2());
	printk("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	printk("  rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", f->rsi, f->rdi, f->rbp, f->rsp);
	printk("  r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", f->r8, f->r9, f->r10, f->r11);
	printk("  r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", f->r12, f->r13, f->r14, f->r15);
	printk("  cs 0x%lx ss 0x%lx rflags 0x%lx cr0 0x%lx cr3 0x%lx cr4 0x%lx\n", f->cs, f->ss, f->rflags,
	       read_cr0(), read_cr3(), read_cr4());
	machine_exit(HV_EXIT_PANIC);
}
