/* The hostile guest: one attack per run (attack=<name> on its command line) on its partition's walls. */
#include <stddef.h>
#include "rt.h"
#include "../arch/x86/msr.h"

/*
 * Every probe prints what it tries, then what happened, as lines the isolation tests assert on
 * (tests/boot/isolation.py):
 *   hostile: <name> apic <id> slice 0x<base>-0x<end>
 *   hostile: attack <attack>
 *   hostile: <attack>: <probe>: refused with #GP          (a fault, the one expected)
 *   hostile: <attack>: <probe>: refused: returned -2      (a hypercall error code)
 *   hostile: <attack>: <probe>: read 0xff (all ones)      (a denied port read)
 *   hostile: <attack>: <probe>: NOT CONTAINED: <what>     (the partition's wall gave way)
 *   hostile: <attack>: done, <n> not contained
 * An attack that the hypervisor ends by parking the partition prints its probe line and nothing
 * after it. The run ends with HC_DONE whose status is the number of probes not contained.
 */

/*
 * The attacks: name, and whether attack=all leaves it out: it can only end with the partition
 * parked (one per run), it needs a peer on a channel (the chan- roles, whose configs name both
 * sides), or it is noise for a neighbour that runs rounds= times (the GRUB menu's rt entry).
 * attack=all runs the others in this order, then ALL_LAST. The last three probe the hypervisor's
 * emulation of EFER, CR0 and XCR0, where a mistake ends the run early, so they come late.
 */
#define ATTACKS(X)                                                                          \
	X(MEM_BELOW, "mem-below", true)          /* the word just below the slice */        \
	X(MEM_ABOVE, "mem-above", true)          /* the word at the slice's end */          \
	X(MEM_HV, "mem-hv", true)                /* the hypervisor image at 1 MiB */        \
	X(MEM_NEIGHBOUR, "mem-neighbour", true)  /* target=: another partition's slice */   \
	X(MEM_HIGH, "mem-high", true)            /* above RAM: 60 GiB */                    \
	X(MEM_LOW, "mem-low", true)              /* the first MiB: BIOS, AP trampoline */   \
	X(MEM_LAPIC, "mem-lapic", true)          /* the local APIC's MMIO page */           \
	X(MEM_IOAPIC, "mem-ioapic", true)        /* the I/O APIC's MMIO page */             \
	X(CR3_OUTSIDE, "cr3-outside", true)      /* CR3 at the hypervisor image */          \
	X(PT_OUTSIDE, "pt-outside", true)        /* a PML4 entry pointing outside */        \
	X(IO_PIC, "io-pic", false)                                                          \
	X(IO_PIT, "io-pit", false)                                                          \
	X(IO_PCI, "io-pci", false)                                                          \
	X(IO_RESET, "io-reset", false)                                                      \
	X(IO_COM2, "io-com2", false)                                                        \
	X(IO_SHUTDOWN, "io-shutdown", false)                                                \
	X(IO_SMI, "io-smi", false)                                                          \
	X(IO_CMOS, "io-cmos", false)                                                        \
	X(IO_COM1_WIDE, "io-com1-wide", false)   /* COM1 by word and dword */               \
	X(IO_STRING, "io-string", true)          /* REP OUTSB to COM1 */                    \
	X(MSR_FEATURE_CONTROL, "msr-feature-control", false)                                \
	X(MSR_APIC_BASE, "msr-apic-base", false)                                            \
	X(MSR_VMX, "msr-vmx", false)                                                        \
	X(MSR_MTRR, "msr-mtrr", false)                                                      \
	X(MSR_PAT, "msr-pat", false)                                                        \
	X(MSR_DEBUGCTL, "msr-debugctl", false)                                              \
	X(MSR_UNDEFINED, "msr-undefined", false)                                            \
	X(MSR_MICROCODE, "msr-microcode", false)                                            \
	X(MSR_TSC, "msr-tsc", false)                                                        \
	X(CR4_VMXE, "cr4-vmxe", false)                                                      \
	X(CR4_PAE, "cr4-pae", false)             /* CR4.PAE off in long mode */             \
	X(DEBUG_REGS, "debug-regs", false)       /* dr0=, dr1=: breakpoints in the host */  \
	X(VMX_VMXON, "vmx-vmxon", false)                                                    \
	X(VMX_VMCALL, "vmx-vmcall", false)       /* garbage in every register */            \
	X(VMX_VMREAD, "vmx-vmread", false)                                                  \
	X(VMX_INVEPT, "vmx-invept", false)                                                  \
	X(VMX_VMLAUNCH, "vmx-vmlaunch", false)                                              \
	X(VMX_REST, "vmx-rest", false)           /* every other VMX instruction */          \
	X(VMX_GETSEC, "vmx-getsec", false)                                                  \
	X(VMX_INVD, "vmx-invd", true)                                                       \
	X(IPI_INIT, "ipi-init", true)            /* xAPIC ICR, all but self */              \
	X(IPI_SIPI, "ipi-sipi", true)                                                       \
	X(IPI_NMI, "ipi-nmi", true)                                                         \
	X(IPI_FIXED, "ipi-fixed", true)                                                     \
	X(IPI_X2APIC, "ipi-x2apic", false)       /* the same four through MSR 0x830 */      \
	X(APIC_OWN, "apic-own", false)           /* LVT delivery modes, self-IPIs, x2APIC off */ \
	X(ICR_MATRIX, "icr-matrix", false)       /* every ICR mode at every destination */    \
	X(LVT_MODES, "lvt-modes", false)         /* every LVT entry with every mode, LINT0/1 */ \
	X(APIC_SVR, "apic-svr", false)           /* spurious vector < 16, software disable */ \
	X(EOI_STORM, "eoi-storm", false)         /* 50,000 EOIs with nothing in service */    \
	X(TPR_CR8, "tpr-cr8", false)             /* TPR 15, CR8 and TPR reserved bits */      \
	X(HC_CONSOLE, "hc-console", false)                                                  \
	X(HC_INFO, "hc-info", false)                                                        \
	X(HC_UNKNOWN, "hc-unknown", false)                                                  \
	X(CHAN_RING_STRANGER, "chan-ring-stranger", false) /* a doorbell past its channels, an IPI */ \
	X(CONSOLE_SPOOF, "console-spoof", false) /* fake hypervisor lines */                \
	X(FAULT_STORM, "fault-storm", false)     /* #UD, #BP and #GP by the 100,000 */      \
	X(MSR_EFER, "msr-efer", false)           /* EFER.LME off while paging */            \
	X(CR0_PG, "cr0-pg", false)               /* CR0.PG off in long mode */              \
	X(XSETBV, "xsetbv", false)               /* and every XCR0 rule of XSETBV */       \
	X(CR0_CACHE, "cr0-cache", false)         /* CR0.CD and NW */                        \
	X(PAE32, "pae32", false)                 /* PAE paging outside long mode, and back */ \
	X(RESTART_STATE, "restart-state", true)  /* on-fault=restart: what survives? */     \
	X(HC_DONE_HIGH, "hc-done-high", true)    /* HC_DONE with only bit 32 set */         \
	X(TRIPLE_FAULT, "triple-fault", true)                                               \
	X(HALT, "halt", true)                    /* CLI; HLT */                             \
	X(HALT_STI, "halt-sti", true)            /* STI; HLT with nothing armed */          \
	X(LOOP_CLI, "loop-cli", true)            /* CLI; a loop that never ends */          \
	X(WEDGE, "wedge", true)                  /* IF=0, TPR 15, LVTs masked, no IDT */    \
	X(CONSOLE_FLOOD, "console-flood", true)  /* 4000-byte console writes, forever */    \
	X(NOISE_CONSOLE, "noise-console", true)  /* rounds= console lines */                \
	X(NOISE_EXITS, "noise-exits", true)      /* rounds= CPUID, port and ICR exits */    \
	X(CHAN_WRITE_RO, "chan-write-ro", true)  /* a write to a channel it only reads */   \
	X(CHAN_EXEC, "chan-exec", true)          /* a call into a channel without exec= */  \
	X(CHAN_DEPUTY, "chan-deputy", true)      /* hypercalls told to write into a channel */ \
	X(CHAN_BELOW, "chan-below", true)        /* the word just below its first channel */ \
	X(CHAN_ABOVE, "chan-above", true)        /* the word at that channel's end */       \
	X(CHAN_STORM, "chan-storm", true)        /* rings= doorbells back to back */        \
	X(CHAN_RESTART, "chan-restart", true)    /* on-fault=restart: a pattern left, found again */ \
	X(CHAN_KEEPER, "chan-keeper", true)      /* the peer: its pattern kept while the attacker ends */ \
	X(CHAN_TARGET, "chan-target", true)      /* the storm's peer: its timer and doorbells counted */ \
	X(CHAN_SURVIVOR, "chan-survivor", true)  /* chan-restart's peer: told of each park */ \
	X(CHAN_ECHO, "chan-echo", true)          /* a storm's second peer: every ring answered */

#define ATTACK_ID(id, name, fatal) ATTACK_##id,
#define ATTACK_ENTRY(id, name, fatal) { name, fatal },
enum attack_id { ATTACKS(ATTACK_ID) ATTACK_COUNT };
/* Names are arrays, not pointers: the image may hold no absolute address (guest/norelocs.sh). */
static const struct attack {
	char name[24];
	bool fatal;
} attacks[ATTACK_COUNT] = { ATTACKS(ATTACK_ENTRY) };

/* attack=all runs every attack that lets the partition go on, then this one. */
#define ALL_LAST ATTACK_MEM_HV

/* Physical addresses outside any slice (README memory map; Intel's default APIC bases). */
#define HV_IMAGE 0x100000ul
#define LOW_MEMORY 0x8000ul
#define ABOVE_RAM 0xf00000000ul /* 60 GiB: inside entry.asm's 64 GiB map */
#define LAPIC_BASE 0xfee00000ul
#define IOAPIC_BASE 0xfec00000ul
#define LAPIC_ICR_LOW 0x300
#define LAPIC_VERSION 0x30

/* Exception vectors (SDM Vol 3A Table 6-1) and this guest's IDT. */
#define VECTOR_BP 3
#define VECTOR_UD 6
#define VECTOR_GP 13
#define VECTORS 32
#define IDT_VECTORS 256 /* 32-255: interrupts, counted by irq_stub */
#define NO_FAULT (-1)
#define IDT_INTERRUPT_GATE 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define ISR_STUB_SIZE 16

/* MSRs (SDM Vol 4). */
#define MSR_TSC 0x10
#define MSR_APIC_BASE 0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_TSC_ADJUST 0x3b
#define MSR_BIOS_UPDT_TRIG 0x79
#define MSR_SMM_MONITOR_CTL 0x9b
#define MSR_MTRR_PHYSBASE0 0x200
#define MSR_MTRR_PHYSMASK0 0x201
#define MSR_PAT 0x277
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_DEBUGCTL 0x1d9
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PROCBASED_CTLS2 0x48b
#define MSR_EFER 0xc0000080
#define MSR_UNDEFINED 0x12345678
#define MSR_AMD_RANGE 0xc0011000
#define MSR_HYPERV_RANGE 0x40000000
#define APIC_BASE_EXTD (1ul << 10)
#define APIC_BASE_EN (1ul << 11)
#define FEATURE_CONTROL_VMX_BITS 0x6ul /* VMX inside and outside SMX */
#define EFER_LME (1ul << 8)
#define PAT_INVALID 0x0202020202020202ul /* memory type 2 is reserved */

/* ICR low words, destination shorthand "all excluding self" (SDM Vol 3A 11.6.1). */
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_ASSERT (1u << 14)
#define ICR_INIT (ICR_ALL_BUT_SELF | ICR_ASSERT | (5u << 8))
#define ICR_SIPI (ICR_ALL_BUT_SELF | ICR_ASSERT | (6u << 8) | 0x08) /* start at 0x8000 */
#define ICR_NMI (ICR_ALL_BUT_SELF | ICR_ASSERT | (4u << 8))
#define ICR_FIXED (ICR_ALL_BUT_SELF | ICR_ASSERT | 0x40)
#define COM1_SCRATCH 0x3ff /* slicehv's virtual COM1 ignores writes here */
#define ICR_SELF (1u << 18) /* destination shorthand "self" */
#define SELF_IPI_VECTOR 0x41
/* x2APIC LVT entries with a delivery mode, and those modes (SDM Vol 3A 11.5.1). */
#define LVT_MASKED (1u << 16)
#define DELIVERY_SMI (2u << 8)
#define DELIVERY_NMI (4u << 8)
#define DELIVERY_INIT (5u << 8)
#define DELIVERY_EXTINT (7u << 8)
#define DELIVERY_SHIFT 8
#define DELIVERY_FIELD 7
#define DELIVERY_MODES 8
#define LVT_VECTOR 0x50
#define LVT_ACTIVE_LOW (1u << 13)
#define LVT_LEVEL (1u << 15)
#define LVT_RESERVED_BIT17 (1u << 17) /* above the mask bit: reserved but in the timer */
/* More of the ICR (SDM Vol 3A 11.6.1, 11.12.9): every mode, shorthand and destination. */
#define ICR_VECTOR_FIELD 0xffu
#define ICR_LOGICAL (1u << 11)
#define ICR_RESERVED_BIT13 (1u << 13)
#define ICR_LEVEL (1u << 15)
#define ICR_ALL (2u << 18)    /* destination shorthand "all including self" */
#define ICR_BROADCAST 0xffffffffu
#define ICR_FIRST_VECTOR 0x40 /* + the destination's row in icr_targets */
#define ILLEGAL_VECTOR 5      /* vectors 0-15 are illegal (SDM Vol 3A 11.5.2) */
#define ILLEGAL_VECTOR_MAX 15
#define SVR_ENABLED (1u << 8) /* APIC software enable */
#define SVR_DISABLED 0xffu    /* disabled, spurious vector 0xff */
#define SPURIOUS_VECTOR 0xffu
#define TIMER_SHORT 1000      /* apic-svr's one-shot count */
#define TIMER_WAIT 16         /* enough TSC ticks per count at any divide */
#define EOI_STORM 50000
/* TPR: priority class in bits 7:4, CR8 its mirror (SDM Vol 3A 11.8.3.1, 10.8.6.1). */
#define TPR_CLASS(c) ((uint32_t)(c) << 4)
#define TPR_MAX 15ul
#define TPR_HELD_VECTOR 0x60  /* class 6: held back by TPR 15 */
#define TPR_RESERVED_BIT8 0x100ul
#define TPR_RESERVED_BIT32 (1ul << 32)
#define CR8_RESERVED_BIT4 0x10ul
#define CR8_RESERVED_BIT63 (1ul << 63)
#define NOISE_ROUNDS 1000

/* Control register and CPUID bits come from arch/x86/x86.h, through rt.h. */
#define XCR0_X87_SSE 0x3ul
#define XCR0_SSE_ONLY 0x2ul /* x87 clear: invalid */

/* Debug registers (SDM Vol 3B 18.2.4): DR0 and DR1 global-enabled, instruction breakpoints. */
#define DR7_G0_G1 0x0000000aul

#define PTE_PRESENT_WRITE 0x3ul
#define PT_ENTRIES 512
#define PML4_SLOT1 (1ul << 39) /* the first address PML4 entry 1 translates */

#define STORM_UD 100000
#define STORM_BP 100000
#define STORM_GP 20000
#define FLOOD_BYTES 4000 /* console-flood: one HC_CONSOLE_WRITE */
#define FLOOD_LINE 100   /* its lines, newline included */
#define POISON 0x6b6b6b6b6b6b6b6bul
#define SETTLE_TICKS 1000000 /* time for a reset or power-off to take effect, had it got out */
#define ARG_LEN 24

struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct idt_gate {
	uint16_t offset_low, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_high, reserved;
} __attribute__((packed));

struct table_register {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static const char vector_names[VECTORS][5] = {
	"#DE", "#DB", "#NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

static struct boot_info bi;
static const char *current;           /* the attack running: every line names it */
static unsigned escapes;               /* probes the hypervisor let through */
static struct idt_gate idt[IDT_VECTORS];
static uint64_t scratch[PT_ENTRIES] __attribute__((aligned(PAGE_SIZE))); /* VMXON region, PML4 copy */
static struct hc_partition_info info;

/* Fault recovery: a probe stores where to go on; the handler resumes there and records the fault. */
static volatile uint64_t recover_rip;
static volatile int fault_vector;

/* An instruction whose fault resumes after it: label 1 is the recovery address. */
#define RECOVERABLE(insn) \
	"push %%rax\n\tlea 1f(%%rip), %%rax\n\tmov %%rax, %[rec]\n\tpop %%rax\n\t" insn "\n1:\n\t"
#define REC [rec] "=m"(recover_rip)
/* Runs one such asm statement (its operands as arguments); the vector it faulted with, or NO_FAULT. */
#define TRY(...) (arm(), ({ __asm__ volatile(__VA_ARGS__); }), disarm())

void hostile_exception(struct frame *f);
extern const char isr_stubs[], irq_stub[], bell_stub[];
volatile unsigned hostile_irqs;  /* interrupts taken at vectors 32-255 (irq_stub), each EOIed */
volatile unsigned hostile_bells; /* doorbells taken at a channel's vector (bell_stub), likewise */

/* 32 stubs, 16 bytes apart: an error code (or 0 where the CPU pushes none), the vector, then C. */
__asm__(".pushsection .text\n"
	".balign 16\n"
	"isr_stubs:\n"
	".irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	".balign 16\n"
	".if (\\v <> 8) && (\\v <> 10) && (\\v <> 11) && (\\v <> 12) && (\\v <> 13) && (\\v <> 14) && "
	"(\\v <> 17) && (\\v <> 21) && (\\v <> 29) && (\\v <> 30)\n"
	"pushq $0\n"
	".endif\n"
	"pushq $\\v\n"
	"jmp isr_common\n"
	".endr\n"
	"isr_common:\n"
	"push %rax\n push %rbx\n push %rcx\n push %rdx\n push %rsi\n push %rdi\n push %rbp\n"
	"push %r8\n push %r9\n push %r10\n push %r11\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"mov %rsp, %rdi\n"
	"cld\n"
	"call hostile_exception\n"
	"pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %r11\n pop %r10\n pop %r9\n pop %r8\n"
	"pop %rbp\n pop %rdi\n pop %rsi\n pop %rdx\n pop %rcx\n pop %rbx\n pop %rax\n"
	"add $16, %rsp\n"
	"iretq\n"
	".macro counting_stub name, counter\n"
	"\\name:\n"
	"push %rax\n push %rcx\n push %rdx\n"
	"incl \\counter(%rip)\n"
	"mov $0x80b, %ecx\n xor %eax, %eax\n xor %edx, %edx\n wrmsr\n" /* X2APIC_EOI */
	"pop %rdx\n pop %rcx\n pop %rax\n"
	"iretq\n"
	".endm\n"
	"counting_stub irq_stub, hostile_irqs\n"
	"counting_stub bell_stub, hostile_bells\n"
	".popsection\n");


static uint32_t in_port(unsigned size, uint16_t port)
{
	uint32_t v = 0;

	if (size == 1)
		__asm__ volatile("inb %1, %b0" : "+a"(v) : "Nd"(port));
	else if (size == 2)
		__asm__ volatile("inw %1, %w0" : "+a"(v) : "Nd"(port));
	else
		__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static int64_t vmcall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	int64_t ret;

	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
	return ret;
}

void hostile_exception(struct frame *f)
{
	if (recover_rip) {
		fault_vector = (int)f->vector;
		f->rip = recover_rip;
		recover_rip = 0;
		return;
	}
	kprint("hostile: %s: unexpected %s error 0x%lx at rip 0x%lx\n", current,
	       f->vector < VECTORS ? vector_names[f->vector] : "interrupt", f->error, f->rip);
	guest_finish(1);
}

static void gate_set(unsigned v, uint64_t at)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[v] = (struct idt_gate){ (uint16_t)at, cs, 0, IDT_INTERRUPT_GATE, (uint16_t)(at >> 16), (uint32_t)(at >> 32), 0 };
}

static void idt_init(void)
{
	struct table_register idtr = { sizeof(idt) - 1, (uintptr_t)idt };

	for (unsigned v = 0; v < IDT_VECTORS; v++)
		gate_set(v, v < VECTORS ? (uintptr_t)isr_stubs + v * ISR_STUB_SIZE : (uintptr_t)irq_stub);
	__asm__ volatile("lidt %0" ::"m"(idtr));
}

static void arm(void) { fault_vector = NO_FAULT; }

static int disarm(void)
{
	recover_rip = 0;
	return fault_vector;
}

/* ---- Reporting: every line starts "hostile: <attack>: ". */

static void head(void) { kprint("hostile: %s: ", current); }

static void escaped(const char *what)
{
	kprint("NOT CONTAINED: %s\n", what);
	escapes++;
}

/* The end of a probe that should fault with vector want. */
static void expect_fault(int got, int want)
{
	if (got == want)
		kprint("refused with %s\n", vector_names[want]);
	else if (got == NO_FAULT)
		escaped("no fault");
	else
		kprint("refused with %s (expected %s)\n", vector_names[got], vector_names[want]);
}

static void expect_error(int64_t got, int64_t want)
{
	if (got == want)
		kprint("refused: returned %ld\n", got);
	else if (got >= 0)
		escaped("the hypercall succeeded");
	else
		kprint("refused: returned %ld (expected %ld)\n", got, want);
}

/* ---- Probes. */

static int try_wrmsr(uint32_t msr, uint64_t val)
{
	return TRY(RECOVERABLE("wrmsr") : REC : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
}

static int try_rdmsr(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	int got = TRY(RECOVERABLE("rdmsr") : REC, "+a"(lo), "+d"(hi) : "c"(msr) : "memory");

	*val = ((uint64_t)hi << 32) | lo;
	return got;
}

static void wrmsr_refused(uint32_t msr, uint64_t val, const char *why)
{
	head();
	kprint("wrmsr 0x%x <- 0x%lx (%s): ", msr, val, why);
	expect_fault(try_wrmsr(msr, val), VECTOR_GP);
}

static void rdmsr_refused(uint32_t msr, const char *why)
{
	uint64_t val;
	int got = try_rdmsr(msr, &val);

	head();
	kprint("rdmsr 0x%x (%s): ", msr, why);
	if (got == NO_FAULT)
		kprint("read 0x%lx, ", val);
	expect_fault(got, VECTOR_GP);
}

static int try_mov_cr(unsigned cr, uint64_t val)
{
	if (cr == 0)
		return TRY(RECOVERABLE("mov %[v], %%cr0") : REC : [v] "r"(val) : "memory");
	return TRY(RECOVERABLE("mov %[v], %%cr4") : REC : [v] "r"(val) : "memory");
}

static void out_port(unsigned size, uint16_t port, uint32_t val, const char *what)
{
	head();
	kprint("out 0x%x <- 0x%x (%s)\n", port, val, what);
	if (size == 1)
		outb(port, (uint8_t)val);
	else if (size == 2)
		outw(port, (uint16_t)val);
	else
		outl(port, val);
}

/* A denied read floats high: anything else came from a device. */
static void in_port_denied(unsigned size, uint16_t port, const char *what)
{
	uint32_t ones = size == 4 ? ~0u : (1u << (size * 8)) - 1, v = in_port(size, port);

	head();
	kprint("in 0x%x (%s): ", port, what);
	if (v == ones)
		kprint("read 0x%x (all ones)\n", v);
	else
		escaped("a device answered");
}

/* After a probe that would have reset or powered off the machine. */
static void still_running(void)
{
	tsc_wait(SETTLE_TICKS);
	head();
	kprint("still running\n");
}

/* ---- Memory outside the slice: each access is the last thing this partition does. */

static uint64_t arg_number(const char *key, uint64_t fallback)
{
	return boot_arg_number(&bi, key, fallback);
}

static void touch(uint64_t addr, const char *what)
{
	char access[ARG_LEN] = "write";
	uint64_t v = 0;
	int fault = NO_FAULT;

	boot_arg(&bi, "access", access, sizeof(access));
	addr = arg_number("target", addr);
	head();
	kprint("%s 0x%lx (%s)\n", access, addr, what);
	if (access[0] == 'r')
		__asm__ volatile("mov (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	else if (access[0] == 'e')
		fault = TRY(RECOVERABLE("jmp *%[a]") : REC : [a] "r"(addr) : "memory", "cc");
	else
		__asm__ volatile("movq %0, (%1)" ::"r"(POISON), "r"(addr) : "memory");
	head();
	if (fault != NO_FAULT) {
		kprint("exec 0x%lx: %s in the guest, not an EPT violation\n", addr, vector_names[fault]);
		return;
	}
	kprint("%s 0x%lx read 0x%lx: ", access, addr, v);
	escaped("the access went through");
}

static void cr3_outside(void)
{
	uint64_t at = arg_number("target", HV_IMAGE);

	head();
	kprint("cr3 <- 0x%lx (the hypervisor image as page tables)\n", at);
	__asm__ volatile("mov %0, %%cr3" ::"r"(at) : "memory");
	head();
	escaped("ran on page tables outside the slice");
}

/* A copy of our PML4 whose second entry names a PDPT outside the slice, then a walk through it. */
static void pt_outside(void)
{
	const uint64_t *pml4 = (const uint64_t *)(read_cr3() & ~(uint64_t)(PAGE_SIZE - 1));
	uint64_t at = arg_number("target", HV_IMAGE), v;

	for (unsigned i = 0; i < PT_ENTRIES; i++)
		scratch[i] = pml4[i];
	scratch[1] = at | PTE_PRESENT_WRITE;
	__asm__ volatile("mov %0, %%cr3" ::"r"((uintptr_t)scratch) : "memory");
	head();
	kprint("read 0x%lx through a PDPT at 0x%lx\n", PML4_SLOT1, at);
	v = *(volatile uint64_t *)PML4_SLOT1;
	head();
	kprint("read 0x%lx: ", v);
	escaped("walked page tables outside the slice");
}

static void ipi_xapic(uint32_t icr, const char *what)
{
	head();
	kprint("xAPIC ICR 0x%lx <- 0x%x (%s to all but self)\n", LAPIC_BASE + LAPIC_ICR_LOW, icr, what);
	*(volatile uint32_t *)(LAPIC_BASE + LAPIC_ICR_LOW) = icr;
	tsc_wait(SETTLE_TICKS);
	head();
	escaped("the IPI was sent");
}

/* ---- Ports and MSRs: every port but COM1 (bytes) is denied, reads floating high; MSRs #GP. */

/* A port or MSR access: plain data, no pointers (guest/norelocs.sh). */
enum probe_op { OUT, IN, WRMSR, RDMSR };
enum probe_value {
	VALUE,        /* val itself */
	SET_BITS,     /* the MSR's value with val's bits set */
	CLEAR_BITS,   /* the MSR's value with val's bits clear */
	SLICE_BASE,   /* our slice's base, plus the MSR's value under the mask val */
};

static const struct probe {
	uint8_t attack, op, size, value; /* size: a port access's bytes */
	uint32_t where;                  /* port or MSR */
	uint64_t val;
	char what[40];
} probes[] = {
	{ ATTACK_IO_PIC, OUT, 1, VALUE, 0x20, 0x11, "master PIC ICW1" },
	{ ATTACK_IO_PIC, OUT, 1, VALUE, 0x21, 0xff, "master PIC mask all" },
	{ ATTACK_IO_PIC, OUT, 1, VALUE, 0xa0, 0x11, "slave PIC ICW1" },
	{ ATTACK_IO_PIC, OUT, 1, VALUE, 0xa1, 0xff, "slave PIC mask all" },
	{ ATTACK_IO_PIC, IN, 1, VALUE, 0x21, 0, "master PIC mask" },
	{ ATTACK_IO_PIC, IN, 1, VALUE, 0xa1, 0, "slave PIC mask" },
	{ ATTACK_IO_PIT, OUT, 1, VALUE, 0x43, 0x30, "PIT channel 0 one-shot" },
	{ ATTACK_IO_PIT, OUT, 1, VALUE, 0x40, 0x00, "PIT channel 0 count low" },
	{ ATTACK_IO_PIT, OUT, 1, VALUE, 0x40, 0x00, "PIT channel 0 count high" },
	{ ATTACK_IO_PIT, OUT, 1, VALUE, 0x42, 0xff, "PIT channel 2" },
	{ ATTACK_IO_PIT, IN, 1, VALUE, 0x40, 0, "PIT channel 0" },
	{ ATTACK_IO_PIT, IN, 1, VALUE, 0x41, 0, "PIT channel 1" },
	{ ATTACK_IO_PCI, OUT, 4, VALUE, 0xcf8, 0x80000004, "PCI 0:0.0 command register" },
	{ ATTACK_IO_PCI, IN, 4, VALUE, 0xcfc, 0, "PCI config data" },
	{ ATTACK_IO_PCI, OUT, 4, VALUE, 0xcfc, 0, "PCI decoding off" },
	{ ATTACK_IO_PCI, OUT, 4, VALUE, 0xcf8, 0x80000000, "PCI 0:0.0 vendor" },
	{ ATTACK_IO_PCI, IN, 4, VALUE, 0xcfc, 0, "PCI config data" },
	{ ATTACK_IO_RESET, OUT, 1, VALUE, 0xcf9, 0x06, "PCI reset control: hard reset" },
	{ ATTACK_IO_RESET, OUT, 1, VALUE, 0x64, 0xfe, "keyboard controller: pulse reset" },
	{ ATTACK_IO_RESET, OUT, 1, VALUE, 0x92, 0x01, "system control port A: fast reset" },
	{ ATTACK_IO_COM2, OUT, 1, VALUE, 0x2fb, 0x03, "COM2 line control" },
	{ ATTACK_IO_COM2, OUT, 1, VALUE, 0x2f8, 'X', "COM2 data" },
	{ ATTACK_IO_COM2, IN, 1, VALUE, 0x2fd, 0, "COM2 line status" },
	{ ATTACK_IO_SHUTDOWN, OUT, 4, VALUE, 0xf4, 0, "QEMU isa-debug-exit" },
	{ ATTACK_IO_SHUTDOWN, OUT, 2, VALUE, 0x604, 0x2000, "QEMU ACPI PM1a control: S5" },
	{ ATTACK_IO_SHUTDOWN, OUT, 2, VALUE, 0xb004, 0x2000, "Bochs ACPI PM1a control: S5" },
	{ ATTACK_IO_SMI, OUT, 1, VALUE, 0xb2, 0x00, "APM control: raise an SMI" },
	{ ATTACK_IO_SMI, OUT, 1, VALUE, 0xb3, 0x00, "APM status" },
	{ ATTACK_IO_CMOS, OUT, 1, VALUE, 0x70, 0x8f, "CMOS index 0xf, NMI off" },
	{ ATTACK_IO_CMOS, OUT, 1, VALUE, 0x71, 0x0a, "CMOS shutdown status: jump on reset" },
	{ ATTACK_IO_CMOS, IN, 1, VALUE, 0x71, 0, "CMOS data" },
	{ ATTACK_IO_COM1_WIDE, OUT, 2, VALUE, 0x3f8, 0x4141, "COM1 data by word" },
	{ ATTACK_IO_COM1_WIDE, OUT, 4, VALUE, 0x3f8, 0x41414141, "COM1 data by dword" },
	{ ATTACK_IO_COM1_WIDE, IN, 2, VALUE, 0x3fd, 0, "COM1 line status by word" },
	{ ATTACK_MSR_FEATURE_CONTROL, WRMSR, 0, VALUE, MSR_FEATURE_CONTROL, 0x5, "lock with VMX on" },
	{ ATTACK_MSR_APIC_BASE, WRMSR, 0, SET_BITS, MSR_APIC_BASE, APIC_BASE_EXTD, "x2APIC on" },
	{ ATTACK_MSR_APIC_BASE, WRMSR, 0, CLEAR_BITS, MSR_APIC_BASE, APIC_BASE_EN, "local APIC off" },
	{ ATTACK_MSR_APIC_BASE, WRMSR, 0, SLICE_BASE, MSR_APIC_BASE, PAGE_SIZE - 1, "APIC moved into the slice" },
	{ ATTACK_MSR_VMX, RDMSR, 0, VALUE, MSR_VMX_BASIC, 0, "IA32_VMX_BASIC" },
	{ ATTACK_MSR_VMX, RDMSR, 0, VALUE, MSR_VMX_PROCBASED_CTLS2, 0, "IA32_VMX_PROCBASED_CTLS2" },
	{ ATTACK_MSR_VMX, WRMSR, 0, VALUE, MSR_VMX_BASIC, 0, "IA32_VMX_BASIC" },
	{ ATTACK_MSR_MTRR, WRMSR, 0, VALUE, MSR_MTRR_DEF_TYPE, 0, "MTRRs off: all uncached" },
	{ ATTACK_MSR_MTRR, WRMSR, 0, VALUE, MSR_MTRR_PHYSBASE0, 0, "range 0 uncached from 0" },
	{ ATTACK_MSR_MTRR, WRMSR, 0, VALUE, MSR_MTRR_PHYSMASK0, 0xff00000800ul, "range 0 mask" },
	{ ATTACK_MSR_PAT, WRMSR, 0, VALUE, MSR_PAT, PAT_INVALID, "reserved memory type" },
	{ ATTACK_MSR_DEBUGCTL, WRMSR, 0, VALUE, MSR_DEBUGCTL, 0x1, "last branch records" },
	{ ATTACK_MSR_DEBUGCTL, WRMSR, 0, VALUE, MSR_DEBUGCTL, 0x2, "branch single-step" },
	{ ATTACK_MSR_UNDEFINED, RDMSR, 0, VALUE, MSR_UNDEFINED, 0, "undefined" },
	{ ATTACK_MSR_UNDEFINED, WRMSR, 0, VALUE, MSR_UNDEFINED, 1, "undefined" },
	{ ATTACK_MSR_UNDEFINED, RDMSR, 0, VALUE, MSR_AMD_RANGE, 0, "AMD range" },
	{ ATTACK_MSR_UNDEFINED, RDMSR, 0, VALUE, MSR_HYPERV_RANGE, 0, "Hyper-V range" },
	{ ATTACK_MSR_MICROCODE, WRMSR, 0, SLICE_BASE, MSR_BIOS_UPDT_TRIG, 0, "microcode update from the slice" },
	{ ATTACK_MSR_MICROCODE, WRMSR, 0, VALUE, MSR_SMM_MONITOR_CTL, 1, "SMM monitor" },
	{ ATTACK_MSR_TSC, WRMSR, 0, VALUE, MSR_TSC, 0, "TSC to 0" },
	{ ATTACK_MSR_TSC, WRMSR, 0, VALUE, MSR_TSC_ADJUST, 1ul << 40, "TSC adjust" },
	{ ATTACK_MSR_EFER, WRMSR, 0, CLEAR_BITS, MSR_EFER, EFER_LME, "long mode off while paging" },
	{ ATTACK_IPI_X2APIC, WRMSR, 0, SET_BITS, MSR_APIC_BASE, APIC_BASE_EXTD, "x2APIC on" },
	{ ATTACK_IPI_X2APIC, WRMSR, 0, VALUE, X2APIC_ICR, ICR_INIT, "INIT to all but self" },
	{ ATTACK_IPI_X2APIC, WRMSR, 0, VALUE, X2APIC_ICR, ICR_SIPI, "SIPI to all but self" },
	{ ATTACK_IPI_X2APIC, WRMSR, 0, VALUE, X2APIC_ICR, ICR_NMI, "NMI to all but self" },
	{ ATTACK_IPI_X2APIC, WRMSR, 0, VALUE, X2APIC_ICR, ICR_FIXED, "vector 0x40 to all but self" },
	{ ATTACK_EOI_STORM, WRMSR, 0, VALUE, X2APIC_EOI, 1, "EOI with a non-zero value" },
	{ ATTACK_TPR_CR8, WRMSR, 0, VALUE, X2APIC_TPR, TPR_RESERVED_BIT8, "TPR, reserved bit 8" },
	{ ATTACK_TPR_CR8, WRMSR, 0, VALUE, X2APIC_TPR, TPR_RESERVED_BIT32, "TPR, reserved bit 32" },
};

/* The value a WRMSR probe writes; reading the MSR first only where the value depends on it. */
static uint64_t probe_value(const struct probe *p)
{
	uint64_t now = 0;

	if (p->value != VALUE && p->val)
		try_rdmsr(p->where, &now);
	if (p->value == SET_BITS)
		return now | p->val;
	if (p->value == CLEAR_BITS)
		return now & ~p->val;
	return p->value == SLICE_BASE ? bi.slice_base | (now & p->val) : p->val;
}

static void probe_run(const struct probe *p)
{
	uint64_t v = probe_value(p);

	if (p->op == OUT)
		out_port(p->size, (uint16_t)p->where, (uint32_t)v, p->what);
	else if (p->op == IN)
		in_port_denied(p->size, (uint16_t)p->where, p->what);
	else if (p->op == WRMSR)
		wrmsr_refused(p->where, v, p->what);
	else
		rdmsr_refused(p->where, p->what);
}

static void eoi_storm(void);
static void tpr_cr8(void);

/* Every probe of the attack in table order, after what the table cannot say. */
static void probe_attack(enum attack_id id)
{
	uint64_t v = 0;

	if (id == ATTACK_MSR_FEATURE_CONTROL) {
		head();
		if (try_rdmsr(MSR_FEATURE_CONTROL, &v) != NO_FAULT)
			kprint("rdmsr 0x3a: refused\n");
		else if (v & FEATURE_CONTROL_VMX_BITS)
			escaped("IA32_FEATURE_CONTROL reads with VMX on");
		else
			kprint("rdmsr 0x3a: 0x%lx, VMX off\n", v);
	}
	if (id == ATTACK_EOI_STORM)
		eoi_storm();
	if (id == ATTACK_TPR_CR8)
		tpr_cr8();
	if (id == ATTACK_IO_SHUTDOWN)
		for (const char *s = "Shutdown"; *s; s++)
			out_port(1, 0x8900, (uint8_t)*s, "Bochs shutdown port");
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (probes[i].attack == id)
			probe_run(&probes[i]);
	if (id == ATTACK_IO_RESET || id == ATTACK_IO_SHUTDOWN || id == ATTACK_IO_SMI)
		still_running();
}

static void io_string(void)
{
	static const char msg[] = "hostile: io-string: REP OUTSB got through\n";
	const char *p = msg;
	uint64_t n = sizeof(msg) - 1;

	head();
	kprint("rep outsb %lu bytes to COM1\n", n);
	__asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(0x3f8) : "memory");
	head();
	kprint("rep outsb returned\n");
}

/* ---- Control registers and XSETBV: the hypervisor sees some of these, the CPU the rest. */

static void cr_attack(enum attack_id id)
{
	uint64_t cr0 = read_cr0(), cr4 = read_cr4();
	unsigned cr = id == ATTACK_CR0_PG ? 0 : 4;
	uint64_t val = id == ATTACK_CR4_VMXE ? cr4 | CR4_VMXE : id == ATTACK_CR4_PAE ? cr4 & ~CR4_PAE : cr0 & ~CR0_PG;
	/* Had the write gone through (CR0.PG off), no 64-bit code would run after it: try first. */
	int got = try_mov_cr(cr, val);

	head();
	kprint("mov cr%u <- 0x%lx (%s): ", cr, val,
	       id == ATTACK_CR4_VMXE ? "VMXE on" : id == ATTACK_CR4_PAE ? "PAE off in long mode" : "PG off in long mode");
	expect_fault(got, VECTOR_GP);
}

static int try_xsetbv(uint32_t xcr, uint64_t xcr0)
{
	return TRY(RECOVERABLE("xsetbv") : REC : "c"(xcr), "a"((uint32_t)xcr0), "d"((uint32_t)(xcr0 >> 32)) : "memory");
}

/* XSETBV values each rule of the instruction refuses (SDM Vol 2D XSETBV): a CPU raises #GP. */
static const struct {
	uint32_t xcr;
	uint64_t xcr0;
	char what[28];
} xcr0_illegal[] = {
	{ 0, 0x5, "AVX without SSE" },
	{ 0, 0x27, "opmask without ZMM" },
	{ 0, 0xe3, "AVX-512 without AVX" },
	{ 0, 0x9, "BNDREGS without BNDCSR" },
	{ 0, 0x20003, "TILECFG without TILEDATA" },
	{ 1, 0x3, "XCR1" },
};

/* XSETBV exits always; the hypervisor checks the value and sets XCR0 for us. */
static void attack_xsetbv(void)
{
	uint32_t eax = 1, ecx = 0;

	__asm__ volatile("cpuid" : "+a"(eax), "+c"(ecx) : : "ebx", "edx");
	if (!(ecx & CPUID_1_ECX_XSAVE)) {
		head();
		kprint("no XSAVE on this CPU\n");
		return;
	}
	__asm__ volatile("mov %0, %%cr4" ::"r"(read_cr4() | CR4_OSXSAVE));
	head();
	kprint("xsetbv xcr0 <- 0x%lx (x87 off): ", XCR0_SSE_ONLY);
	expect_fault(try_xsetbv(0, XCR0_SSE_ONLY), VECTOR_GP);
	for (unsigned i = 0; i < ARRAY_SIZE(xcr0_illegal); i++) {
		head();
		kprint("xsetbv xcr%u <- 0x%lx (%s): ", xcr0_illegal[i].xcr, xcr0_illegal[i].xcr0, xcr0_illegal[i].what);
		expect_fault(try_xsetbv(xcr0_illegal[i].xcr, xcr0_illegal[i].xcr0), VECTOR_GP);
	}
	head();
	kprint("xsetbv xcr0 <- 0x%lx (x87, SSE): ", XCR0_X87_SSE);
	if (try_xsetbv(0, XCR0_X87_SSE) == NO_FAULT)
		kprint("accepted\n");
	else
		kprint("refused\n");
}

/* CR0.CD and NW: caching on from the start, NW without CD refused, CD the guest's own to set. */
static void cr0_cache(void)
{
	uint64_t cr0 = read_cr0(), nw = (cr0 & ~CR0_NE) | CR0_NW, cd = cr0 | CR0_CD;
	int got;

	head();
	kprint("cr0 0x%lx at start: ", cr0);
	if (cr0 & (CR0_CD | CR0_NW))
		escaped("caching disabled");
	else
		kprint("caching on\n");
	/* Clearing NE (slicehv's) makes the write exit, so slicehv's emulation must refuse it. */
	got = try_mov_cr(0, nw);
	head();
	kprint("mov cr0 <- 0x%lx (NW without CD): ", nw);
	expect_fault(got, VECTOR_GP);
	got = try_mov_cr(0, cd);
	head();
	kprint("mov cr0 <- 0x%lx (CD on): ", cd);
	if (got != NO_FAULT)
		kprint("refused with %s\n", vector_names[got]);
	else
		kprint("%s\n", (read_cr0() & CR0_CD) ? "accepted" : "CD reads back clear");
	got = try_mov_cr(0, cr0);
	head();
	kprint("mov cr0 <- 0x%lx (CD off): %s\n", cr0, got == NO_FAULT && !(read_cr0() & CR0_CD) ? "accepted" : "refused");
}

/*
 * PAE paging outside long mode, as a 32-bit kernel runs: from compatibility mode paging off,
 * EFER.LME off, CR3 at a PDPT, paging on (slicehv must load the PDPTEs). Then long mode back on,
 * first with a code segment whose L bit is set, which a CPU refuses with #GP (a 32-bit IDT
 * catches it), then properly. pae32.s in asm below; the results land in struct pae32_result.
 */
#define SEL_CODE32 0x18
#define SEL_CODE_LONG_DB 0x20 /* L = 1 and D = 1: never a legal code segment for long mode */
#define PDE_2M_PAGE 0x83ul    /* present, writable, 2 MiB page */
#define PDPTE_PRESENT 0x1ul
#define PAE_PDPTES 4

static uint64_t pae_pdpt[PAE_PDPTES] __attribute__((aligned(32)));
static uint64_t pae_pd[PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static const uint64_t gdt_pae32[] = { 0, 0x00af9a000000fffful, 0x00cf92000000fffful, 0x00cf9a000000fffful,
				      0x00ef9a000000fffful };
static struct __attribute__((packed)) {
	uint16_t off_low, selector;
	uint8_t zero, type;
	uint16_t off_high;
} idt32[VECTOR_GP + 1];
static struct __attribute__((packed)) pae32_result {
	uint32_t paged, long_cs_vector; /* 1 once running under PAE paging; #GP's vector, or 1 */
	uint16_t idt_limit;
	uint32_t idt_base;
} pae32_res;

extern const char pae32_enter[], pae32_gp[];
__asm__(".pushsection .text\n"
	".code32\n"
	"pae32_enter:\n"               /* compatibility mode; esi PDPT, edi PML4, ebx return, ebp results */
	"mov %cr0, %eax\n and $0x7fffffff, %eax\n mov %eax, %cr0\n"
	"mov $0xc0000080, %ecx\n rdmsr\n and $0xfffffeff, %eax\n wrmsr\n"
	"mov %esi, %cr3\n"
	"mov %cr0, %eax\n or $0x80000000, %eax\n mov %eax, %cr0\n"
	"movl $1, (%ebp)\n"             /* PAE paging on, and this ran */
	"mov %cr0, %eax\n and $0x7fffffff, %eax\n mov %eax, %cr0\n"
	"mov $0xc0000080, %ecx\n rdmsr\n or $0x100, %eax\n wrmsr\n"
	"mov %edi, %cr3\n"
	"lidt 8(%ebp)\n"
	"call 1f\n1: pop %edx\n add $(2f - 1b), %edx\n"
	"push $0x20\n push %edx\n lret\n"
	"2: mov %cr0, %eax\n or $0x80000000, %eax\n mov %eax, %cr0\n"
	"movl $1, 4(%ebp)\n jmp 3f\n"
	"pae32_gp:\n add $16, %esp\n movl $13, 4(%ebp)\n" /* error code, EIP, CS, EFLAGS */
	"3: call 4f\n4: pop %edx\n add $(5f - 4b), %edx\n"
	"push $0x18\n push %edx\n lret\n"
	"5: mov %cr0, %eax\n or $0x80000000, %eax\n mov %eax, %cr0\n"
	"push $0x08\n push %ebx\n lret\n"
	".code64\n"
	".popsection\n");

static void pae32(void)
{
	struct table_register gdtr = { sizeof(gdt_pae32) - 1, (uintptr_t)gdt_pae32 };
	uint64_t gp = (uintptr_t)pae32_gp;

	for (unsigned i = 0; i < PT_ENTRIES; i++)
		pae_pd[i] = ((uint64_t)i << 21) | PDE_2M_PAGE;
	pae_pdpt[0] = (uintptr_t)pae_pd | PDPTE_PRESENT;
	idt32[VECTOR_GP] = (typeof(idt32[0])){ (uint16_t)gp, SEL_CODE32, 0, IDT_INTERRUPT_GATE, (uint16_t)(gp >> 16) };
	pae32_res = (struct pae32_result){ 0, 0, sizeof(idt32) - 1, (uint32_t)(uintptr_t)idt32 };
	head();
	kprint("32-bit PAE paging at pdpt 0x%lx, then long mode with an L=1 D=1 code segment\n", (uintptr_t)pae_pdpt);
	__asm__ volatile("lgdt %[gdtr]\n\t"
			 "cli\n\t"
			 "push %%rbp\n\t"
			 "mov %[res], %%rbp\n\t"
			 "lea 1f(%%rip), %%rbx\n\t"
			 "push $0x18\n\t"
			 "lea pae32_enter(%%rip), %%rax\n\t"
			 "push %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "pop %%rbp"
			 :
			 : [gdtr] "m"(gdtr), [res] "r"(&pae32_res), "S"(pae_pdpt), "D"(read_cr3())
			 : "rax", "rbx", "rcx", "rdx", "memory");
	idt_init();
	head();
	kprint("pae paging: %s\n", pae32_res.paged ? "ran" : "never ran");
	head();
	kprint("long mode with L=1 D=1 code: ");
	expect_fault(pae32_res.long_cs_vector == VECTOR_GP ? VECTOR_GP : NO_FAULT, VECTOR_GP);
}

/*
 * on-fault=restart must start the guest as from reset. The first run leaves values behind in
 * everything the VMCS does not hold and faults; the restarted run (told by a word at its slice's
 * end, RAM being kept) checks each. Their reset values: SDM Vol 3A Table 9-1.
 */
#define RESTART_MARK 0x7265737461727431ul /* "restart1" */
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103
#define DR6_RESET 0xffff0ff0ul
#define FCW_RESET 0x37f
#define MXCSR_RESET 0x1f80
#define RESTART_MARKER 0x5a5a5a5a00ul

#define TIMER_DIVIDE_BY_16 0x3
#define PENDING_VECTOR 0x30 /* priority class 3: held in the IRR below CR8's class 5 */

/* MSRs left dirty, in this order, and their reset values (the APIC's: SDM Vol 3A 11.4.7.1). */
static const struct {
	uint32_t msr;
	uint64_t dirty, reset;
	char name[16];
} restart_msrs[] = {
	{ MSR_STAR, RESTART_MARKER, 0, "star" },
	{ MSR_LSTAR, RESTART_MARKER + 1, 0, "lstar" },
	{ MSR_CSTAR, RESTART_MARKER + 2, 0, "cstar" },
	{ MSR_FMASK, RESTART_MARKER + 3, 0, "fmask" },
	{ MSR_KERNEL_GS_BASE, RESTART_MARKER + 4, 0, "kernel-gs-base" },
	{ MSR_TSC_AUX, RESTART_MARKER + 5, 0, "tsc-aux" },
	/* software-enabled first, or the LVT entries would stay masked */
	{ X2APIC_SVR, SVR_ENABLED | ILLEGAL_VECTOR, SVR_DISABLED, "apic-svr" },
	{ X2APIC_LVT_THERMAL, LVT_VECTOR, LVT_MASKED, "lvt-thermal" },
	{ X2APIC_LVT_PMC, LVT_VECTOR, LVT_MASKED, "lvt-pmc" },
	{ X2APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16, 0, "apic-divide" },
};

static void triple_fault(void);

static void leave_state_behind(void)
{
	uint64_t v = RESTART_MARKER;
	uint16_t fcw = 0x27f;
	uint32_t mxcsr = 0x9f80;

	for (unsigned i = 0; i < ARRAY_SIZE(restart_msrs); i++)
		try_wrmsr(restart_msrs[i].msr, restart_msrs[i].dirty);
	__asm__ volatile("mov %0, %%dr0\n\tmov %0, %%dr1\n\tmov %0, %%dr2\n\tmov %0, %%dr3\n\t"
			 "mov %0, %%cr2\n\tmov %1, %%cr8\n\t"
			 "movq %0, %%xmm0\n\tfldcw %2\n\tldmxcsr %3" ::"r"(v), "r"(5ul), "m"(fcw), "m"(mxcsr)
			 : "memory");
	__asm__ volatile("mov %0, %%dr6" ::"r"(0ul));
	try_wrmsr(X2APIC_SELF_IPI, PENDING_VECTOR);
}

/* One register's value in the restarted run: as after reset, or kept from the run before. */
static unsigned check_reset(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return 1;
	head();
	kprint("%s 0x%lx after restart, reset value 0x%lx: ", what, got, want);
	escaped("kept from the run before");
	return 0;
}

static void restart_state(void)
{
	volatile uint64_t *mark = (uint64_t *)(bi.slice_end - sizeof(uint64_t));
	uint64_t v, dr[5], cr2, cr8, xmm0;
	uint16_t fcw;
	uint32_t mxcsr;
	unsigned ok = 0;

	__asm__ volatile("mov %0, %%cr4" ::"r"(read_cr4() | CR4_OSFXSR));
	if (*mark != RESTART_MARK) {
		*mark = RESTART_MARK;
		leave_state_behind();
		head();
		kprint("state left in MSRs, the APIC (a vector pending in its IRR), DR0-3, DR6, CR2, CR8, XMM0, FCW, MXCSR; then a triple fault\n");
		triple_fault();
	}
	*mark = 0;
	__asm__ volatile("mov %%dr0, %0\n\tmov %%dr1, %1\n\tmov %%dr2, %2\n\tmov %%dr3, %3\n\tmov %%dr6, %4"
			 : "=r"(dr[0]), "=r"(dr[1]), "=r"(dr[2]), "=r"(dr[3]), "=r"(dr[4]));
	__asm__ volatile("mov %%cr2, %0\n\tmov %%cr8, %1\n\tmovq %%xmm0, %2\n\tfnstcw %3\n\tstmxcsr %4"
			 : "=r"(cr2), "=r"(cr8), "=r"(xmm0), "=m"(fcw), "=m"(mxcsr));
	for (unsigned i = 0; i < ARRAY_SIZE(restart_msrs); i++) {
		try_rdmsr(restart_msrs[i].msr, &v);
		ok += check_reset(restart_msrs[i].name, v, restart_msrs[i].reset);
	}
	try_rdmsr(X2APIC_IRR0 + PENDING_VECTOR / 32, &v);
	ok += check_reset("apic-irr", v, 0);
	for (unsigned i = 0; i < 4; i++)
		ok += check_reset("dr0-3", dr[i], 0);
	ok += check_reset("dr6", dr[4], DR6_RESET) + check_reset("cr2", cr2, 0) + check_reset("cr8", cr8, 0) +
	      check_reset("xmm0", xmm0, 0) + check_reset("fcw", fcw, FCW_RESET) + check_reset("mxcsr", mxcsr, MXCSR_RESET);
	head();
	kprint("restarted: %u of %lu registers as after reset\n", ok, ARRAY_SIZE(restart_msrs) + 11);
}

/* HC_DONE's status is the whole register: 1 << 32 is not success. */
static void hc_done_high(void)
{
	head();
	kprint("done with status 0x100000000\n");
	vmcall3(HC_DONE, 1ul << 32, 0, 0);
}

/* Instruction breakpoints on hypervisor code (dr0=, dr1=), then exits: the host must not see them. */
static void debug_regs(void)
{
	uint64_t dr0 = arg_number("dr0", HV_IMAGE), dr1 = arg_number("dr1", HV_IMAGE);

	__asm__ volatile("mov %0, %%dr0\n\tmov %1, %%dr1\n\tmov %2, %%dr7" ::"r"(dr0), "r"(dr1), "r"(DR7_G0_G1));
	head();
	kprint("breakpoints at 0x%lx and 0x%lx, then exits\n", dr0, dr1);
	for (int i = 0; i < 3; i++)
		vmcall3(HC_PARTITION_INFO, (uintptr_t)&info, 0, 0);
	__asm__ volatile("mov %0, %%dr7" ::"r"(0ul));
	still_running();
}

/* ---- VMX instructions: a CPU without VMX says #UD. */

static int try_vmx(enum attack_id id)
{
	uint64_t region = (uintptr_t)scratch, field = 0, val = 0;
	struct { uint64_t eptp, reserved; } desc = { 0, 0 };

	scratch[0] = 0; /* a revision id, as if it mattered */
	if (id == ATTACK_VMX_VMXON)
		return TRY(RECOVERABLE("vmxon %[m]") : REC : [m] "m"(region) : "memory", "cc");
	if (id == ATTACK_VMX_VMREAD)
		return TRY(RECOVERABLE("vmread %[f], %[v]") : REC, [v] "=r"(val) : [f] "r"(field) : "memory", "cc");
	if (id == ATTACK_VMX_INVEPT)
		return TRY(RECOVERABLE("invept %[d], %[t]") : REC : [d] "m"(desc), [t] "r"(2ul) : "memory", "cc");
	if (id == ATTACK_VMX_VMLAUNCH)
		return TRY(RECOVERABLE("vmlaunch") : REC : : "memory", "cc");
	return TRY(RECOVERABLE("getsec") : REC : "a"(0), "b"(0) : "memory", "cc");
}

static void vmx_one(enum attack_id id, const char *what)
{
	int got = try_vmx(id);

	head();
	kprint("%s: ", what);
	expect_fault(got, VECTOR_UD);
}

/* The VMX instructions not tested one by one, each expected to #UD. */
static void vmx_rest(void)
{
	static const char names[8][9] = { "vmclear", "vmptrld", "vmptrst", "vmwrite",
					  "vmresume", "vmxoff", "invvpid", "vmfunc" };
	uint64_t region = (uintptr_t)scratch, out = 0, val = 0;
	struct { uint64_t vpid, addr; } desc = { 1, 0 };
	int got[8] = {
		TRY(RECOVERABLE("vmclear %[m]") : REC : [m] "m"(region) : "memory", "cc"),
		TRY(RECOVERABLE("vmptrld %[m]") : REC : [m] "m"(region) : "memory", "cc"),
		TRY(RECOVERABLE("vmptrst %[m]") : REC, [m] "=m"(out) : : "memory", "cc"),
		TRY(RECOVERABLE("vmwrite %[v], %[f]") : REC : [v] "r"(val), [f] "r"(0x681eul) : "memory", "cc"),
		TRY(RECOVERABLE("vmresume") : REC : : "memory", "cc"),
		TRY(RECOVERABLE("vmxoff") : REC : : "memory", "cc"),
		TRY(RECOVERABLE("invvpid %[d], %[t]") : REC : [d] "m"(desc), [t] "r"(0ul) : "memory", "cc"),
		TRY(RECOVERABLE("vmfunc") : REC : "a"(0), "c"(0) : "memory", "cc"),
	};

	for (int i = 0; i < 8; i++) {
		head();
		kprint("%s: ", names[i]);
		expect_fault(got[i], VECTOR_UD);
	}
}

/* VMCALL with garbage everywhere: an unknown hypercall, and the registers it must not read. */
static void vmcall_garbage(void)
{
	int64_t ret;

	__asm__ volatile("vmcall"
			 : "=a"(ret)
			 : "a"(0xdeadbeefcafef00dul), "b"(~0ul), "c"(~0ul), "d"(~0ul), "S"(~0ul), "D"(~0ul)
			 : "memory");
	head();
	kprint("vmcall rax 0xdeadbeefcafef00d, every argument ~0: ");
	expect_error(ret, HC_ERR_UNKNOWN_CALL);
}

static void vmx_invd(void)
{
	head();
	kprint("invd\n");
	__asm__ volatile("invd" ::: "memory");
	head();
	escaped("INVD ran");
}

/* ---- Hypercalls with every argument wrong. */

static void hc_console_bad(uint64_t buf, uint64_t len, int64_t want, const char *what)
{
	head();
	kprint("console write 0x%lx len 0x%lx (%s): ", buf, len, what);
	expect_error(vmcall3(HC_CONSOLE_WRITE, buf, len, 0), want);
}

static void hc_console(void)
{
	static const char hello[] = "hostile: hc-console: a good write still works\n";
	uint64_t msg = (uintptr_t)hello, end = bi.slice_end;
	int64_t ret;

	hc_console_bad(HV_IMAGE, 16, HC_ERR_BAD_ADDRESS, "the hypervisor image");
	hc_console_bad(bi.slice_base - 64, 64, HC_ERR_BAD_ADDRESS, "below the slice");
	hc_console_bad(end - 8, 16, HC_ERR_BAD_ADDRESS, "across the slice's end");
	hc_console_bad(0, 1, HC_ERR_BAD_ADDRESS, "address 0");
	hc_console_bad(~0ul - 15, 64, HC_ERR_BAD_ADDRESS, "wrapping past 2^64");
	hc_console_bad(msg, 0, HC_ERR_BAD_LENGTH, "zero length");
	hc_console_bad(msg, HC_CONSOLE_MAX + 1, HC_ERR_BAD_LENGTH, "one byte too long");
	hc_console_bad(msg, 1ul << 32, HC_ERR_BAD_LENGTH, "4 GiB");
	hc_console_bad(msg, ~0ul, HC_ERR_BAD_LENGTH, "2^64 - 1");
	ret = vmcall3(HC_CONSOLE_WRITE, msg, sizeof(hello) - 1, 0);
	head();
	kprint("console write of %lu bytes: returned %ld\n", sizeof(hello) - 1, ret);
}

static void hc_info_bad(uint64_t buf, const char *what)
{
	head();
	kprint("partition info to 0x%lx (%s): ", buf, what);
	expect_error(vmcall3(HC_PARTITION_INFO, buf, 0, 0), HC_ERR_BAD_ADDRESS);
}

#define EXIT_REASON_CPUID 10 /* SDM Vol 3C Appendix C */

static void hc_info(void)
{
	uint64_t end = bi.slice_end;
	int64_t ret;

	hc_info_bad(HV_IMAGE, "the hypervisor image");
	hc_info_bad(arg_number("target", bi.slice_base - PAGE_SIZE), "the neighbour");
	hc_info_bad(end - 8, "across the slice's end");
	hc_info_bad(end, "the slice's end");
	hc_info_bad(0, "address 0");
	hc_info_bad(~0ul - 15, "wrapping past 2^64");
	ret = vmcall3(HC_PARTITION_INFO, (uintptr_t)&info, 0, 0);
	head();
	kprint("partition info: returned %ld: %s %u/%u cpu %u slice 0x%lx+0x%lx\n", ret, info.name, info.index,
	       info.partitions, info.cpu, info.slice_base, info.slice_size);
	ret = vmcall3(HC_EXIT_REASON_COUNT, EXIT_REASON_CPUID, 0, 0);
	cpuid(0, 0);
	head();
	kprint("cpuid exits: %ld after one more CPUID\n", vmcall3(HC_EXIT_REASON_COUNT, EXIT_REASON_CPUID, 0, 0) - ret);
}

static void hc_unknown(void)
{
	/* 0, one far above any call, and console write and done with high bits set: no truncation. */
	static const uint64_t numbers[] = { 0, 0xffff, 0x100000001ul, 0x8000000000000003ul, ~0ul };

	for (unsigned i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		head();
		kprint("hypercall 0x%lx: ", numbers[i]);
		expect_error(vmcall3(numbers[i], ~0ul, ~0ul, ~0ul), HC_ERR_UNKNOWN_CALL);
	}
	/* Exit reasons past any the SDM defines, and one that wraps a 32-bit index. */
	for (unsigned i = 0; i < 2; i++) {
		head();
		kprint("exit count of reason 0x%lx: ", i ? ~0ul : 0x10000ul);
		expect_error(vmcall3(HC_EXIT_REASON_COUNT, i ? ~0ul : 0x10000ul, 0, 0), HC_ERR_BAD_ARGUMENT);
	}
}

/* Lines that look like the hypervisor's, by COM1 and by hypercall: they must come out prefixed. */
static void console_spoof(void)
{
	static const char fake[] = "\nslicehv: partition honest parked: spoofed\r\nslicehv: exit 0 (ok)\n";
	static const char escape[] = "\033[2J\033[H\a\b\b\bslicehv: all partitions done\n";

	kprint("slicehv: all partitions done\n");
	kprint("\rslicehv: exit 0 (ok)\n");
	vmcall3(HC_CONSOLE_WRITE, (uintptr_t)fake, sizeof(fake) - 1, 0);
	vmcall3(HC_CONSOLE_WRITE, (uintptr_t)escape, sizeof(escape) - 1, 0);
	char line[301];

	for (int i = 0; i < 300; i++)
		line[i] = (char)('a' + i % 26);
	line[300] = 0;
	kprint("%s\n", line);
	head();
	kprint("done spoofing\n");
}

/* ---- Faults. */

static void fault_storm(void)
{
	unsigned ud = 0, bp = 0, gp = 0;
	uint64_t v;

	for (int i = 0; i < STORM_UD; i++)
		ud += TRY(RECOVERABLE("ud2") : REC : : "memory") == VECTOR_UD;
	for (int i = 0; i < STORM_BP; i++)
		bp += TRY(RECOVERABLE("int3") : REC : : "memory") == VECTOR_BP;
	for (int i = 0; i < STORM_GP; i++)
		gp += try_rdmsr(MSR_UNDEFINED, &v) == VECTOR_GP;
	head();
	kprint("%u #UD, %u #BP, %u #GP (rdmsr exits) handled\n", ud, bp, gp);
}

static void triple_fault(void)
{
	struct table_register none = { 0, 0 };

	head();
	kprint("empty IDT, then ud2\n");
	__asm__ volatile("lidt %0\n\tud2" ::"m"(none) : "memory");
}

static void halt(void)
{
	head();
	kprint("cli; hlt\n");
	__asm__ volatile("cli\n\thlt" ::: "memory");
	head();
	escaped("woke from HLT with interrupts off");
}

/* ---- Noise for a neighbour: exits by the thousand, IPIs at the core of target= (an APIC id). */

static void noise_console(void)
{
	uint64_t rounds = arg_number("rounds", NOISE_ROUNDS);

	for (uint64_t i = 1; i <= rounds; i++) {
		head();
		kprint("line %lu of %lu, the console is shared\n", i, rounds);
	}
}

/* The IPIs go through every delivery mode, at target='s core, at all, at all but self: none may go out. */
static void noise_exits(void)
{
	static const uint32_t shorthands[] = { 0, ICR_ALL, ICR_ALL_BUT_SELF };
	uint64_t rounds = arg_number("rounds", NOISE_ROUNDS), dest = arg_number("target", 0) << 32;
	unsigned refused = 0;

	for (uint64_t i = 0; i < rounds; i++) {
		uint32_t shorthand = shorthands[i / DELIVERY_MODES % ARRAY_SIZE(shorthands)];
		uint64_t mode = i % DELIVERY_MODES << DELIVERY_SHIFT;

		cpuid(0, 0);
		outb(COM1_SCRATCH, (uint8_t)i);
		refused += try_wrmsr(X2APIC_ICR, (shorthand ? 0 : dest) | shorthand | mode | ICR_ASSERT | ICR_FIRST_VECTOR) ==
			   VECTOR_GP;
	}
	head();
	kprint("%lu rounds of CPUID, port and ICR exits; %u IPIs refused with #GP\n", rounds, refused);
}

static void halt_sti(void)
{
	head();
	kprint("sti; hlt with no interrupt armed\n");
	__asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
	head();
	kprint("woke from HLT with nothing armed\n");
}

/* ---- The partition's own local APIC: what stays on its core goes through, the rest does not. */

/* What a write to an LVT entry must come to (arch/x86/lapic.c's policy, or the CPU's own answer). */
enum lvt_expect {
	LVT_WRITTEN,   /* a fixed or masked entry: as written */
	LVT_FORCED,    /* NMI, SMI, INIT or ExtINT delivery: written masked */
	LVT_REFUSED,   /* a reserved delivery mode or bit, or no such entry: #GP */
	LVT_CPU,       /* passed through: whatever the CPU makes of it, reported */
};

/* Its expected fate by delivery mode (SDM Vol 3A 11.5.1): 1, 3 and 6 are reserved. */
static enum lvt_expect lvt_expected(uint32_t val)
{
	unsigned mode = (val >> DELIVERY_SHIFT) & DELIVERY_FIELD;

	if (mode == 1 || mode == 3 || mode == 6)
		return LVT_REFUSED;
	return mode == 0 || (val & LVT_MASKED) ? LVT_WRITTEN : LVT_FORCED;
}

static void lvt_probe(uint32_t msr, uint32_t val, enum lvt_expect want, const char *what)
{
	uint64_t back = 0;
	int got = try_wrmsr(msr, val);

	head();
	kprint("wrmsr 0x%x <- 0x%x (%s): ", msr, val, what);
	if (want == LVT_REFUSED) {
		expect_fault(got, VECTOR_GP);
		return;
	}
	if (got != NO_FAULT || try_rdmsr(msr, &back) != NO_FAULT)
		kprint("%srefused with %s\n", want == LVT_CPU ? "the CPU's: " : "unexpected: ", vector_names[got]);
	else if (want == LVT_CPU)
		kprint("the CPU's: reads 0x%lx\n", back);
	else if (want == LVT_FORCED && !(back & LVT_MASKED))
		escaped("written unmasked");
	else if (want == LVT_WRITTEN && back != val)
		kprint("unexpected: reads 0x%lx\n", back);
	else
		kprint("written%s, reads 0x%lx\n", want == LVT_FORCED ? " masked" : "", back);
}

/* One ICR write: a fixed, edge IPI with a legal vector to this core only must come out pending in
 * IRR (interrupts are off); anything else must be refused with #GP. */
static void icr_probe(uint64_t icr, bool allowed, const char *kind, const char *to)
{
	unsigned vector = icr & ICR_VECTOR_FIELD;
	uint64_t irr = 0;
	int got = try_wrmsr(X2APIC_ICR, icr);

	head();
	kprint("wrmsr 0x830 <- 0x%lx (%s %s): ", icr, kind, to);
	if (!allowed)
		expect_fault(got, VECTOR_GP);
	else if (got != NO_FAULT || try_rdmsr(X2APIC_IRR0 + vector / 32, &irr) != NO_FAULT)
		kprint("unexpected: refused with %s\n", vector_names[got]);
	else
		kprint("%s\n", irr >> (vector % 32) & 1 ? "sent, pending in IRR" : "unexpected: not pending");
}

/* Interrupts on for a moment: how many arrive (irq_stub counts and EOIs them). */
static unsigned irqs_on_sti(void)
{
	unsigned before = hostile_irqs;

	__asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");
	return hostile_irqs - before;
}

static void apic_own(void)
{
	lvt_probe(X2APIC_LVT_LINT0, DELIVERY_NMI, LVT_FORCED, "NMI on LINT0");
	lvt_probe(X2APIC_LVT_LINT1, DELIVERY_SMI, LVT_FORCED, "SMI on LINT1");
	lvt_probe(X2APIC_LVT_LINT0, DELIVERY_INIT, LVT_FORCED, "INIT on LINT0");
	lvt_probe(X2APIC_LVT_LINT0, DELIVERY_EXTINT, LVT_FORCED, "ExtINT on LINT0");
	lvt_probe(X2APIC_LVT_PMC, DELIVERY_NMI, LVT_FORCED, "NMI on the PMC entry");
	/* Interrupts stay off: the self-IPI waits in IRR, where it can be seen. */
	icr_probe(ICR_SELF | SELF_IPI_VECTOR, true, "fixed IPI", "to itself");
	icr_probe(ICR_SELF | DELIVERY_NMI, false, "NMI", "to itself");
	wrmsr_refused(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) & ~APIC_BASE_EXTD, "x2APIC off, back to xAPIC");
	irqs_on_sti(); /* the self-IPI, out of the way of the attacks after this one */
}

/* Where an ICR probe sends: a shorthand, or a destination (x2APIC: bits 63:32) in a mode. */
enum icr_dest { DEST_NONE, DEST_SELF_ID, DEST_OTHER_ID, DEST_SELF_LDR, DEST_OTHER_LDR, DEST_BOTH_LDR, DEST_ALL };
/* Delivery modes by number in the ICR and in an LVT entry (SDM Vol 3A 11.6.1, 11.5.1). */
static const char delivery_names[DELIVERY_MODES][10] = { "fixed", "lowest",   "SMI",    "mode 3",
							 "NMI",   "INIT",     "start-up", "mode 7" };
static const char lvt_mode_names[DELIVERY_MODES][8] = { "fixed", "mode 1", "SMI", "mode 3",
							"NMI",   "INIT",   "mode 6", "ExtINT" };
static const struct icr_target {
	uint32_t low;  /* shorthand, destination mode */
	uint8_t dest;  /* enum icr_dest */
	bool self;     /* this core only */
	char to[32];
} icr_targets[] = {
	{ 0, DEST_ALL, false, "to physical broadcast" }, /* first: slicehv's report must hold all of it */
	{ ICR_SELF, DEST_NONE, true, "to itself by shorthand" },
	{ ICR_ALL, DEST_NONE, false, "to all by shorthand" },
	{ ICR_ALL_BUT_SELF, DEST_NONE, false, "to all but self by shorthand" },
	{ 0, DEST_SELF_ID, true, "to its own APIC id" },
	{ 0, DEST_OTHER_ID, false, "to target's APIC id" },
	{ ICR_LOGICAL, DEST_SELF_LDR, true, "to its own logical id" },
	{ ICR_LOGICAL, DEST_OTHER_LDR, false, "to target's logical id" },
	{ ICR_LOGICAL, DEST_BOTH_LDR, false, "to both logical ids" },
	{ ICR_LOGICAL, DEST_ALL, false, "to logical broadcast" },
};

/* x2APIC logical id of APIC id: cluster in 31:16, one bit of 16 in 15:0 (SDM Vol 3A 11.12.10.2). */
static uint32_t x2apic_ldr(uint32_t id) { return (id >> 4) << 16 | 1u << (id & 15); }

/* Every delivery mode at every destination (target= the neighbour's APIC id), edge, then the level
 * and illegal-vector variants; the self-IPIs that went out are taken last. */
static void icr_matrix(void)
{
	uint32_t self = cpu_apic_id(), other = (uint32_t)arg_number("target", 0), ldr = (uint32_t)rdmsr(X2APIC_LDR);
	const uint32_t dests[] = { 0, self, other, ldr, x2apic_ldr(other), ldr | x2apic_ldr(other), ICR_BROADCAST };
	uint64_t esr = 0;

	for (unsigned t = 0; t < ARRAY_SIZE(icr_targets); t++)
		for (uint32_t mode = 0; mode < ARRAY_SIZE(delivery_names); mode++)
			icr_probe((uint64_t)dests[icr_targets[t].dest] << 32 | icr_targets[t].low | mode << DELIVERY_SHIFT |
					  ICR_ASSERT | (ICR_FIRST_VECTOR + t),
				  mode == 0 && icr_targets[t].self, delivery_names[mode], icr_targets[t].to);
	icr_probe(ICR_SELF | ICR_LEVEL | ICR_ASSERT | ICR_FIRST_VECTOR, false, "fixed level assert", "to itself");
	icr_probe(ICR_SELF | ICR_LEVEL | ICR_FIRST_VECTOR, false, "fixed level de-assert", "to itself");
	icr_probe(ICR_ALL | ICR_LEVEL | DELIVERY_INIT, false, "INIT level de-assert", "to all");
	icr_probe(ICR_SELF | ICR_RESERVED_BIT13 | ICR_FIRST_VECTOR, false, "fixed, reserved bit 13,", "to itself");
	icr_probe(ICR_SELF | ILLEGAL_VECTOR, false, "fixed vector 5", "to itself");
	icr_probe((uint64_t)self << 32 | ILLEGAL_VECTOR_MAX, false, "fixed vector 15", "to its own APIC id");
	head();
	kprint("%u self-IPIs taken on sti\n", irqs_on_sti());
	/* SELF_IPI passes through: an illegal vector is the CPU's to drop (ESR "send illegal vector"). */
	try_wrmsr(X2APIC_ESR, 0);
	head();
	kprint("wrmsr 0x83f <- 0x%x (SELF_IPI, illegal vector): ", ILLEGAL_VECTOR);
	if (try_wrmsr(X2APIC_SELF_IPI, ILLEGAL_VECTOR) != NO_FAULT)
		kprint("the CPU's: refused with a fault\n");
	else if (irqs_on_sti())
		escaped("an interrupt arrived");
	else if (try_wrmsr(X2APIC_ESR, 0), try_rdmsr(X2APIC_ESR, &esr) == NO_FAULT)
		kprint("not delivered, ESR 0x%lx\n", esr);
}

/*
 * The LVT entries, those with a delivery mode first; an entry exists when the version register's
 * max LVT index reaches it (SDM Vol 3A 11.5.1: CMCI from 6, thermal from 5, PMC from 4).
 */
static const struct {
	uint32_t msr;
	uint8_t min_lvt;
	bool mode; /* has a delivery mode */
} lvt_entries[] = {
	{ X2APIC_LVT_CMCI, 6, true }, { X2APIC_LVT_THERMAL, 5, true }, { X2APIC_LVT_PMC, 4, true },
	{ X2APIC_LVT_LINT0, 0, true }, { X2APIC_LVT_LINT1, 0, true }, { X2APIC_LVT_TIMER, 0, false },
	{ X2APIC_LVT_ERROR, 0, false },
};

static bool lvt_exists(unsigned e) { return APIC_VERSION_MAX_LVT(rdmsr(X2APIC_VERSION)) >= lvt_entries[e].min_lvt; }

/* Every LVT entry with a delivery mode, every mode, unmasked (the APIC software-enabled, or no
 * mask would clear); LINT0/1 level and low; then the passed-through timer and error entries with
 * delivery bits (reserved there). */
static void lvt_modes(void)
{
	try_wrmsr(X2APIC_SVR, SVR_ENABLED | SPURIOUS_VECTOR);
	for (unsigned e = 0; e < ARRAY_SIZE(lvt_entries) && lvt_entries[e].mode; e++) {
		uint32_t msr = lvt_entries[e].msr;
		bool exists = lvt_exists(e);

		for (uint32_t mode = 0; mode < ARRAY_SIZE(lvt_mode_names); mode++) {
			uint32_t val = mode << DELIVERY_SHIFT | LVT_VECTOR;

			lvt_probe(msr, val, exists ? lvt_expected(val) : LVT_REFUSED, lvt_mode_names[mode]);
		}
		lvt_probe(msr, LVT_MASKED, exists ? LVT_WRITTEN : LVT_REFUSED, "masked");
	}
	for (unsigned lint = X2APIC_LVT_LINT0; lint <= X2APIC_LVT_LINT1; lint++) {
		lvt_probe(lint, LVT_LEVEL | LVT_VECTOR, LVT_WRITTEN, "fixed, level");
		lvt_probe(lint, LVT_ACTIVE_LOW | LVT_VECTOR, LVT_WRITTEN, "fixed, active low");
		lvt_probe(lint, LVT_LEVEL | LVT_ACTIVE_LOW | DELIVERY_NMI, LVT_FORCED, "NMI, level, active low");
		lvt_probe(lint, LVT_LEVEL | DELIVERY_EXTINT, LVT_FORCED, "ExtINT, level");
		lvt_probe(lint, LVT_RESERVED_BIT17 | LVT_VECTOR, LVT_REFUSED, "fixed, reserved bit 17");
		lvt_probe(lint, LVT_MASKED, LVT_WRITTEN, "masked");
	}
	lvt_probe(X2APIC_LVT_TIMER, DELIVERY_NMI | LVT_VECTOR, LVT_CPU, "timer, NMI delivery bits");
	lvt_probe(X2APIC_LVT_ERROR, DELIVERY_NMI | LVT_VECTOR, LVT_CPU, "error, NMI delivery bits");
	try_wrmsr(X2APIC_LVT_TIMER, LVT_MASKED);
	try_wrmsr(X2APIC_LVT_ERROR, LVT_MASKED);
	head();
	kprint("%u interrupts on sti\n", irqs_on_sti());
}

/* The spurious-vector register passes through: a vector below 16, the APIC software-disabled
 * (every LVT entry held masked) and enabled again, then its timer still works. */
static void apic_svr(void)
{
	uint64_t back = 0;

	lvt_probe(X2APIC_SVR, SVR_ENABLED | ILLEGAL_VECTOR, LVT_CPU, "spurious vector 5");
	lvt_probe(X2APIC_SVR, SVR_DISABLED, LVT_CPU, "software-disabled");
	lvt_probe(X2APIC_LVT_LINT0, LVT_VECTOR, LVT_CPU, "LINT0 fixed, unmasked, while disabled");
	lvt_probe(X2APIC_LVT_TIMER, LVT_VECTOR, LVT_CPU, "timer unmasked, while disabled");
	lvt_probe(X2APIC_SVR, SVR_ENABLED | SPURIOUS_VECTOR, LVT_CPU, "enabled again");
	try_rdmsr(X2APIC_LVT_LINT0, &back);
	head();
	kprint("LINT0 after re-enable: reads 0x%lx\n", back);
	try_wrmsr(X2APIC_LVT_LINT0, LVT_MASKED);
	try_wrmsr(X2APIC_LVT_TIMER, LVT_VECTOR); /* one-shot */
	try_wrmsr(X2APIC_TIMER_INITIAL, TIMER_SHORT);
	tsc_wait(TIMER_SHORT * TIMER_WAIT);
	head();
	kprint("one-shot timer after re-enable: %u interrupt\n", irqs_on_sti());
	try_wrmsr(X2APIC_LVT_TIMER, LVT_MASKED);
}

/* EOI passes through: tens of thousands with nothing in service cost no exit and change nothing. */
static void eoi_storm(void)
{
	uint64_t isr = 0, v = 0, t = rdtsc();

	for (unsigned i = 0; i < EOI_STORM; i++)
		wrmsr(X2APIC_EOI, 0);
	t = rdtsc() - t;
	for (unsigned i = 0; i < X2APIC_ISR_COUNT; i++)
		isr |= try_rdmsr(X2APIC_ISR0 + i, &v) == NO_FAULT ? v : 0;
	head();
	kprint("%u EOIs with nothing in service: %lu ticks each, in service after: 0x%lx\n", EOI_STORM,
	       t / EOI_STORM, isr);
}

static int try_mov_cr8(uint64_t val)
{
	return TRY(RECOVERABLE("mov %[v], %%cr8") : REC : [v] "r"(val) : "memory");
}

/* TPR and CR8 pass through: TPR 15 holds a self-IPI back, reserved bits are the CPU's #GP. */
static void tpr_cr8(void)
{
	uint64_t tpr = 0, irr = 0;
	unsigned held, taken;

	try_wrmsr(X2APIC_TPR, TPR_CLASS(8));
	head();
	kprint("tpr <- 0x%x: cr8 reads 0x%lx\n", TPR_CLASS(8), read_cr8());
	try_mov_cr8(TPR_MAX);
	try_rdmsr(X2APIC_TPR, &tpr);
	head();
	kprint("cr8 <- 0x%lx: tpr reads 0x%lx\n", TPR_MAX, tpr);
	wrmsr(X2APIC_SELF_IPI, TPR_HELD_VECTOR);
	icr_probe(ICR_SELF | (TPR_HELD_VECTOR + 1), true, "fixed IPI", "to itself");
	held = irqs_on_sti();
	try_rdmsr(X2APIC_IRR0 + TPR_HELD_VECTOR / 32, &irr);
	write_cr8(0);
	taken = irqs_on_sti();
	head();
	kprint("two self-IPIs at tpr 15: %u taken, irr 0x%lx; at tpr 0: %u taken\n", held,
	       irr >> (TPR_HELD_VECTOR % 32) & 3, taken);
	head();
	kprint("mov cr8 <- 0x10 (reserved bit 4): ");
	expect_fault(try_mov_cr8(CR8_RESERVED_BIT4), VECTOR_GP);
	head();
	kprint("mov cr8 <- 0x8000000000000000 (reserved bit 63): ");
	expect_fault(try_mov_cr8(CR8_RESERVED_BIT63), VECTOR_GP);
}

/*
 * Everything that could keep an interrupt or an NMI from stopping it: interrupts off, TPR 15,
 * every LVT entry masked, the APIC software-disabled, no IDT; then a loop or (wait=hlt) STI; HLT.
 * Only budget= (the VMX-preemption timer, not an interrupt) can end it.
 */
static void wedge(void)
{
	struct table_register none = { 0, 0 };
	char wait[ARG_LEN] = "loop";

	boot_arg(&bi, "wait", wait, sizeof(wait));
	for (unsigned e = 0; e < ARRAY_SIZE(lvt_entries); e++)
		if (lvt_exists(e))
			try_wrmsr(lvt_entries[e].msr, LVT_MASKED);
	try_wrmsr(X2APIC_SVR, SVR_DISABLED);
	head();
	kprint("cli, tpr 15, every LVT masked, APIC disabled, empty IDT, then %s\n",
	       wait[0] == 'h' ? "sti; hlt" : "an endless loop");
	__asm__ volatile("cli\n\tmov %0, %%cr8\n\tlidt %1" ::"r"((uint64_t)TPR_MAX), "m"(none) : "memory");
	if (wait[0] == 'h')
		__asm__ volatile("1:\n\tsti\n\thlt\n\tjmp 1b" ::: "memory");
	__asm__ volatile("1:\n\tjmp 1b" ::: "memory");
}

static void loop_cli(void)
{
	head();
	kprint("cli; endless loop\n");
	__asm__ volatile("cli\n1:\n\tjmp 1b" ::: "memory");
}

/* Console writes without end: slicehv's time on them must count against the attacker's budget=. */
static void console_flood(void)
{
	static char flood[FLOOD_BYTES];

	for (unsigned i = 0; i < FLOOD_BYTES; i++)
		flood[i] = i % FLOOD_LINE == FLOOD_LINE - 1 ? '\n' : (char)('a' + i % FLOOD_LINE % 26);
	head();
	kprint("console write of %u-byte buffers, forever\n", FLOOD_BYTES);
	for (;;)
		vmcall3(HC_CONSOLE_WRITE, (uintptr_t)flood, FLOOD_BYTES, 0);
}

/* ---- Channels (README, hypercall.h): the memory a partition shares, and the doorbells it rings. */

/*
 * What the two sides of a channel agree on, in 64-bit words from its base: flags one side raises
 * for the other (a reader raises none), then a pattern of words its writer leaves there and
 * checks later. Every wait for a peer ends after CHAN_WAIT_TICKS: a peer that never comes fails
 * the run, it does not hang it.
 */
enum chan_word { CW_READY, CW_START, CW_END, CW_BACK, CW_ACK, CW_MARK, CW_PATTERN };
#define CHAN_PATTERN_WORDS 256
#define CHAN_PATTERN_BASE 0x6368616e00000000ul /* "chan", then the word's index */
#define CHAN_RESTART_MARK 0x6c6566742e2e2e31ul /* "left...1": chan-restart's first run was here */
#define CHAN_WAIT_TICKS 1000000000ul        /* 20 s of Bochs (50 M ticks a second), a few on hardware */
#define CHAN_POLL_TICKS 100000                /* between two HC_CHANNEL_INFO of a waiting peer */
#define CHAN_DEFAULT_VECTOR 0x50              /* a channel line's vector= when it names none */
#define RET_OPCODE 0xc3
#define STORM_RINGS 3000
#define STORM_CHANNELS 2 /* the target's, and an echo's */
/* chan-target's LAPIC timer: periodic at TIMER_VECTOR, counted by irq_stub (SDM Vol 3A 11.5.4). */
#define TIMER_VECTOR 0x40
#define LVT_TIMER_PERIODIC (1u << 17)
#define TIMER_DIVIDE_BY_1 0xb
#define TARGET_PERIOD 20000  /* timer counts between ticks */
#define TARGET_QUIET 4000000 /* TSC ticks of ticking before the storm, the rate to keep */

static struct hc_channel_info chan; /* the channel an attack works on, as HC_CHANNEL_INFO told */

static volatile uint64_t *chan_word(unsigned w) { return (volatile uint64_t *)chan.base + w; }

static void chan_get(uint64_t k)
{
	int64_t ret = vmcall3(HC_CHANNEL_INFO, k, (uintptr_t)&chan, 0);

	if (ret) {
		head();
		kprint("channel %lu: HC_CHANNEL_INFO returned %ld\n", k, ret);
		guest_finish(1);
	}
}

/* How many channels the caller has: HC_CHANNEL_INFO refuses the first index past them. */
static unsigned chan_count(void)
{
	struct hc_channel_info c;
	unsigned n = 0;

	while (vmcall3(HC_CHANNEL_INFO, n, (uintptr_t)&c, 0) == 0)
		n++;
	return n;
}

static __attribute__((noreturn)) void chan_timed_out(const char *what)
{
	head();
	kprint("timed out waiting for %s\n", what);
	guest_finish(1);
}

/* Until the peer raises flag w of the current channel. */
static void chan_wait(unsigned w, const char *what)
{
	uint64_t start = rdtsc();

	while (!*chan_word(w))
		if (rdtsc() - start > CHAN_WAIT_TICKS)
			chan_timed_out(what);
		else
			cpu_relax();
}

/* Until `running` peers of channel k run (rereading chan into chan): a peer parked or ended. */
static void chan_wait_running(uint64_t k, uint32_t running, const char *what)
{
	uint64_t start = rdtsc();

	for (chan_get(k); chan.peers_running != running; chan_get(k))
		if (rdtsc() - start > CHAN_WAIT_TICKS)
			chan_timed_out(what);
		else
			tsc_wait(CHAN_POLL_TICKS);
}

static void chan_fill(void)
{
	for (unsigned i = 0; i < CHAN_PATTERN_WORDS; i++)
		*chan_word(CW_PATTERN + i) = CHAN_PATTERN_BASE | i;
}

static unsigned chan_intact(void)
{
	unsigned same = 0;

	for (unsigned i = 0; i < CHAN_PATTERN_WORDS; i++)
		same += *chan_word(CW_PATTERN + i) == (CHAN_PATTERN_BASE | i);
	return same;
}

/* Doorbells on: the APIC software-enabled, bell_stub at the channel's vector, interrupts on. */
static void chan_listen(void)
{
	gate_set(chan.vector, (uintptr_t)bell_stub);
	wrmsr(X2APIC_SVR, SVR_ENABLED | SPURIOUS_VECTOR);
	__asm__ volatile("sti" ::: "memory");
}

/* chan-keeper, the peer of the attacks on channel memory: the pattern in every channel it writes,
 * then, once no peer runs any more, each channel as it finds it. */
static void chan_keeper(void)
{
	unsigned n = chan_count();

	for (unsigned k = 0; k < n; k++) {
		chan_get(k);
		chan_listen();
		if (chan.rights & HC_CHANNEL_WRITE) {
			chan_fill();
			*chan_word(CW_READY) = 1;
		}
	}
	head();
	kprint("%u channels, a pattern of %u words in each it writes\n", n, CHAN_PATTERN_WORDS);
	chan_wait_running(0, 0, "the attacker's end");
	for (unsigned k = 0; k < n; k++) {
		chan_get(k);
		head();
		kprint("channel %s: %u of %u words as written, generation %u, peers running %u\n", chan.name,
		       chan_intact(), CHAN_PATTERN_WORDS, chan.generation, chan.peers_running);
	}
	head();
	kprint("%u doorbells\n", hostile_bells);
}

/* The first channel with exactly these rights, once its writer has left the pattern there. */
static void chan_attack_first(uint32_t rights)
{
	unsigned k = 0, n = chan_count();

	while (k < n && (chan_get(k), chan.rights != rights))
		k++;
	head();
	if (k == n) {
		kprint("none of its %u channels has rights %u\n", n, rights);
		guest_finish(1);
	}
	kprint("channel %s at 0x%lx+0x%lx rights %u\n", chan.name, chan.base, chan.size, chan.rights);
	chan_wait(CW_READY, "the writer's pattern");
}

static void chan_write_ro(void)
{
	chan_attack_first(HC_CHANNEL_READ);
	touch((uintptr_t)chan_word(CW_PATTERN), "a channel it only reads");
}

/* The words on either side of a channel: outside it, and outside the slice. */
static void chan_edge(bool above)
{
	chan_attack_first(HC_CHANNEL_READ);
	if (above)
		touch(chan.base + chan.size, "just past the channel's end");
	else
		touch(chan.base - sizeof(uint64_t), "just below the channel");
}

/* A RET written into the last word of a channel it writes, then called: it must not run. */
static void chan_exec(void)
{
	volatile uint8_t *code;

	chan_attack_first(HC_CHANNEL_READ | HC_CHANNEL_WRITE);
	code = (volatile uint8_t *)(chan.base + chan.size - sizeof(uint64_t));
	*code = RET_OPCODE;
	head();
	kprint("call 0x%lx (a ret written into a channel mapped without exec=)\n", (uintptr_t)code);
	__asm__ volatile("call *%0" ::"r"(code) : "memory", "cc", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			 "r10", "r11");
	head();
	escaped("the code in the channel ran");
}

/*
 * The hypervisor as a deputy: its answers written into the read-only channel (and across the
 * slice's end), a console write read out of it. Every address must lie in the slice; the
 * writer's pattern stays as it was (chan-keeper checks).
 */
static void chan_deputy(void)
{
	struct hc_channel_info got = { 0 };
	uint64_t into;

	chan_attack_first(HC_CHANNEL_READ);
	into = (uintptr_t)chan_word(CW_PATTERN);
	head();
	kprint("channel info to 0x%lx (the channel it only reads): ", into);
	expect_error(vmcall3(HC_CHANNEL_INFO, 0, into, 0), HC_ERR_BAD_ADDRESS);
	head();
	kprint("channel info to 0x%lx (across the slice's end): ", bi.slice_end - sizeof(got) / 2);
	expect_error(vmcall3(HC_CHANNEL_INFO, 0, bi.slice_end - sizeof(got) / 2, 0), HC_ERR_BAD_ADDRESS);
	hc_info_bad(into, "the channel it only reads");
	hc_console_bad(into, sizeof(uint64_t), HC_ERR_BAD_ADDRESS, "out of the channel");
	head();
	kprint("channel info into its own memory: returned %ld, channel %s\n",
	       vmcall3(HC_CHANNEL_INFO, 0, (uintptr_t)&got, 0), got.name);
}

/* Rings that must not reach anyone: past its channels, and an IPI of its own to another core. */
static void chan_ring_stranger(void)
{
	uint64_t n = chan_count(), ids[] = { n, ~0ul };
	uint64_t icr = arg_number("target", cpu_apic_id() ^ 1) << 32 | CHAN_DEFAULT_VECTOR;

	for (unsigned i = 0; i < ARRAY_SIZE(ids); i++) {
		head();
		kprint("doorbell on channel %lu of %lu: ", ids[i], n);
		expect_error(vmcall3(HC_DOORBELL, ids[i], 0, 0), HC_ERR_BAD_ARGUMENT);
	}
	head();
	kprint("wrmsr 0x830 <- 0x%lx (a fixed IPI at another core): ", icr);
	expect_fault(try_wrmsr(X2APIC_ICR, icr), VECTOR_GP);
}

/* What the rings on one channel came to; the TSC before each accepted one gives the shortest and
 * longest gap between two (an unanswered ring's interval, within one ring's cost). */
struct ring_count {
	uint64_t accepted, rung, busy, last, least, most;
};

static void ring_counted(uint64_t k, struct ring_count *c)
{
	uint64_t now = rdtsc();
	int64_t ret = vmcall3(HC_DOORBELL, k, 0, 0);

	c->busy += ret == HC_ERR_BUSY;
	if (ret < 0)
		return;
	if (c->accepted++) {
		c->least = now - c->last < c->least ? now - c->last : c->least;
		c->most = now - c->last > c->most ? now - c->last : c->most;
	}
	c->last = now;
	c->rung += (uint64_t)ret;
}

/*
 * HC_DOORBELL rings= times back to back on each of its channels in turn (at most STORM_CHANNELS),
 * between the flags of its peers: channel 0's target, and an echo on channel 1 that answers
 * every ring, so the rings there are answers and not held back, while channel 0's still are.
 */
static void chan_storm(void)
{
	uint64_t rings = arg_number("rings", STORM_RINGS), start;
	unsigned n = chan_count();
	struct ring_count count[STORM_CHANNELS] = { 0 };

	n = n < STORM_CHANNELS ? n : STORM_CHANNELS;
	for (unsigned k = 0; k < n; k++) {
		chan_get(k);
		count[k].least = ~0ul;
		chan_wait(CW_READY, "a peer of the storm");
	}
	for (unsigned k = 0; k < n; k++) {
		chan_get(k);
		*chan_word(CW_START) = 1;
	}
	start = rdtsc();
	for (uint64_t i = 0; i < rings; i++)
		for (unsigned k = 0; k < n; k++)
			ring_counted(k, &count[k]);
	start = rdtsc() - start;
	for (unsigned k = 0; k < n; k++) {
		chan_get(k);
		*chan_word(CW_END) = 1;
		head();
		kprint("channel %s: %lu doorbells in %lu ticks: %lu accepted, %lu peers rung, %lu busy; accepted "
		       "%lu-%lu ticks apart\n", chan.name, rings, start, count[k].accepted, count[k].rung, count[k].busy,
		       count[k].least, count[k].most);
	}
}

/* chan-storm's echo: a ring back on its channel for every doorbell, until the storm ends. */
static void chan_echo(void)
{
	uint64_t start = rdtsc(), answered = 0, busy = 0;
	unsigned seen = 0;

	chan_get(0);
	chan_listen();
	*chan_word(CW_READY) = 1;
	while (!*chan_word(CW_END)) {
		int64_t ret;

		if (rdtsc() - start > CHAN_WAIT_TICKS)
			chan_timed_out("the storm's end");
		if (hostile_bells == seen) {
			cpu_relax();
			continue;
		}
		seen = hostile_bells;
		ret = vmcall3(HC_DOORBELL, 0, 0, 0);
		answered += ret >= 0;
		busy += ret == HC_ERR_BUSY;
	}
	head();
	kprint("%u doorbells, %lu answered, %lu busy\n", hostile_bells, answered, busy);
}

/* Timer ticks (irq_stub) until the peer raises flag w of the current channel, and their TSC span. */
static unsigned ticks_until(unsigned w, uint64_t *span)
{
	unsigned before = hostile_irqs;
	uint64_t start = rdtsc();

	chan_wait(w, "the storm's end");
	*span = rdtsc() - start;
	return hostile_irqs - before;
}

/* chan-storm's target: its own periodic timer, counted alone, then through the storm. */
static void chan_target(void)
{
	uint64_t quiet_span, storm_span;
	unsigned quiet, storm;

	chan_get(0);
	chan_listen();
	wrmsr(X2APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_1);
	wrmsr(X2APIC_LVT_TIMER, LVT_TIMER_PERIODIC | TIMER_VECTOR);
	wrmsr(X2APIC_TIMER_INITIAL, TARGET_PERIOD);
	quiet = hostile_irqs;
	quiet_span = rdtsc();
	tsc_wait(TARGET_QUIET);
	quiet = hostile_irqs - quiet;
	quiet_span = rdtsc() - quiet_span;
	*chan_word(CW_READY) = 1;
	chan_wait(CW_START, "the storm");
	storm = ticks_until(CW_END, &storm_span);
	wrmsr(X2APIC_LVT_TIMER, LVT_MASKED);
	__asm__ volatile("cli" ::: "memory");
	head();
	kprint("timer every %u counts: %u ticks in %lu quiet ticks, %u in %lu ticks of storm; %u doorbells\n",
	       TARGET_PERIOD, quiet, quiet_span, storm, storm_span, hostile_bells);
}

/* The first run leaves a pattern and faults; the restarted one finds it, then faults for good. */
static void chan_restart(void)
{
	chan_get(0);
	if (*chan_word(CW_MARK) != CHAN_RESTART_MARK) {
		chan_fill();
		*chan_word(CW_MARK) = CHAN_RESTART_MARK;
		head();
		kprint("a pattern of %u words left in channel %s, generation %u\n", CHAN_PATTERN_WORDS, chan.name,
		       chan.generation);
		chan_wait(CW_READY, "the survivor");
		triple_fault();
	}
	head();
	kprint("restarted: %u of %u words as left, generation %u, peers running %u\n", chan_intact(),
	       CHAN_PATTERN_WORDS, chan.generation, chan.peers_running);
	*chan_word(CW_BACK) = 1;
	chan_wait(CW_ACK, "the survivor's answer");
	triple_fault();
}

/* chan-restart's peer: what HC_CHANNEL_INFO and HC_DOORBELL tell it across the peer's two parks. */
static void chan_survivor(void)
{
	uint32_t first;

	chan_get(0);
	first = chan.generation;
	chan_listen();
	*chan_word(CW_READY) = 1;
	chan_wait(CW_BACK, "the peer's restart");
	chan_get(0);
	head();
	kprint("peer restarted: %u doorbells, generation %u -> %u, peers running %u of %u\n", hostile_bells, first,
	       chan.generation, chan.peers_running, chan.peers);
	head();
	kprint("doorbell to the running peer: returned %ld\n", vmcall3(HC_DOORBELL, 0, 0, 0));
	*chan_word(CW_ACK) = 1;
	chan_wait_running(0, 0, "the peer's second park");
	head();
	kprint("peer parked: %u doorbells, generation %u, peers running %u of %u\n", hostile_bells, chan.generation,
	       chan.peers_running, chan.peers);
	head();
	kprint("doorbell to the parked peer: returned %ld\n", vmcall3(HC_DOORBELL, 0, 0, 0));
}

/* ---- Dispatch. */

static void run(enum attack_id id)
{
	current = attacks[id].name;
	kprint("hostile: attack %s\n", current);
	switch (id) {
	case ATTACK_MEM_BELOW: touch(bi.slice_base - sizeof(uint64_t), "just below the slice"); break;
	case ATTACK_MEM_ABOVE: touch(bi.slice_end, "just above the slice"); break;
	case ATTACK_MEM_HV: touch(HV_IMAGE, "the hypervisor image"); break;
	case ATTACK_MEM_NEIGHBOUR: touch(bi.slice_base - PAGE_SIZE, "the neighbour's slice"); break;
	case ATTACK_MEM_HIGH: touch(ABOVE_RAM, "above RAM"); break;
	case ATTACK_MEM_LOW: touch(LOW_MEMORY, "the first MiB"); break;
	case ATTACK_MEM_LAPIC: touch(LAPIC_BASE + LAPIC_VERSION, "the local APIC"); break;
	case ATTACK_MEM_IOAPIC: touch(IOAPIC_BASE, "the I/O APIC"); break;
	case ATTACK_CR3_OUTSIDE: cr3_outside(); break;
	case ATTACK_PT_OUTSIDE: pt_outside(); break;
	case ATTACK_IO_STRING: io_string(); break;
	case ATTACK_CR4_VMXE:
	case ATTACK_CR4_PAE:
	case ATTACK_CR0_PG: cr_attack(id); break;
	case ATTACK_XSETBV: attack_xsetbv(); break;
	case ATTACK_CR0_CACHE: cr0_cache(); break;
	case ATTACK_PAE32: pae32(); break;
	case ATTACK_RESTART_STATE: restart_state(); break;
	case ATTACK_HC_DONE_HIGH: hc_done_high(); break;
	case ATTACK_DEBUG_REGS: debug_regs(); break;
	case ATTACK_VMX_VMXON: vmx_one(id, "vmxon"); break;
	case ATTACK_VMX_VMREAD: vmx_one(id, "vmread"); break;
	case ATTACK_VMX_INVEPT: vmx_one(id, "invept"); break;
	case ATTACK_VMX_VMLAUNCH: vmx_one(id, "vmlaunch"); break;
	case ATTACK_VMX_GETSEC: vmx_one(id, "getsec"); break;
	case ATTACK_VMX_VMCALL: vmcall_garbage(); break;
	case ATTACK_VMX_REST: vmx_rest(); break;
	case ATTACK_VMX_INVD: vmx_invd(); break;
	case ATTACK_IPI_INIT: ipi_xapic(ICR_INIT, "INIT"); break;
	case ATTACK_IPI_SIPI: ipi_xapic(ICR_SIPI, "SIPI"); break;
	case ATTACK_IPI_NMI: ipi_xapic(ICR_NMI, "NMI"); break;
	case ATTACK_IPI_FIXED: ipi_xapic(ICR_FIXED, "vector 0x40"); break;
	case ATTACK_HC_CONSOLE: hc_console(); break;
	case ATTACK_HC_INFO: hc_info(); break;
	case ATTACK_HC_UNKNOWN: hc_unknown(); break;
	case ATTACK_CONSOLE_SPOOF: console_spoof(); break;
	case ATTACK_FAULT_STORM: fault_storm(); break;
	case ATTACK_TRIPLE_FAULT: triple_fault(); break;
	case ATTACK_HALT: halt(); break;
	case ATTACK_LOOP_CLI: loop_cli(); break;
	case ATTACK_CONSOLE_FLOOD: console_flood(); break;
	case ATTACK_HALT_STI: halt_sti(); break;
	case ATTACK_APIC_OWN: apic_own(); break;
	case ATTACK_ICR_MATRIX: icr_matrix(); break;
	case ATTACK_LVT_MODES: lvt_modes(); break;
	case ATTACK_APIC_SVR: apic_svr(); break;
	case ATTACK_WEDGE: wedge(); break;
	case ATTACK_NOISE_CONSOLE: noise_console(); break;
	case ATTACK_NOISE_EXITS: noise_exits(); break;
	case ATTACK_CHAN_RING_STRANGER: chan_ring_stranger(); break;
	case ATTACK_CHAN_WRITE_RO: chan_write_ro(); break;
	case ATTACK_CHAN_EXEC: chan_exec(); break;
	case ATTACK_CHAN_DEPUTY: chan_deputy(); break;
	case ATTACK_CHAN_BELOW:
	case ATTACK_CHAN_ABOVE: chan_edge(id == ATTACK_CHAN_ABOVE); break;
	case ATTACK_CHAN_STORM: chan_storm(); break;
	case ATTACK_CHAN_RESTART: chan_restart(); break;
	case ATTACK_CHAN_KEEPER: chan_keeper(); break;
	case ATTACK_CHAN_TARGET: chan_target(); break;
	case ATTACK_CHAN_SURVIVOR: chan_survivor(); break;
	case ATTACK_CHAN_ECHO: chan_echo(); break;
	default: probe_attack(id); break;
	}
}

static bool same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void list_attacks(void)
{
	kprint("hostile: attacks: all");
	for (unsigned i = 0; i < ATTACK_COUNT; i++)
		kprint(" %s", attacks[i].name);
	kprint("\n");
}

void guest_main(uint32_t info_addr)
{
	char want[ARG_LEN] = "";

	rt_init();
	if (boot_parse(info_addr, &bi)) {
		kprint("hostile: no usable memory range holds the image\n");
		guest_finish(1);
	}
	idt_init();
	current = "setup";
	kprint("hostile: %s apic %u slice 0x%lx-0x%lx\n", bi.name, cpu_apic_id(), bi.slice_base, bi.slice_end);
	boot_arg(&bi, "attack", want, sizeof(want));
	if (same(want, "all")) {
		for (unsigned i = 0; i < ATTACK_COUNT; i++)
			if (!attacks[i].fatal)
				run((enum attack_id)i);
		run(ALL_LAST);
	} else {
		unsigned i = 0;

		while (i < ATTACK_COUNT && !same(want, attacks[i].name))
			i++;
		if (i == ATTACK_COUNT) {
			kprint("hostile: unknown attack '%s'\n", want);
			list_attacks();
			guest_finish(1);
		}
		run((enum attack_id)i);
	}
	kprint("hostile: %s: done, %u not contained\n", current, escapes);
	guest_finish(escapes ? 1 : 0);
}
