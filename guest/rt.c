/* The guests' tiny runtime: COM1 output, multiboot2 parsing, CPUID, TSC, hypercalls, ending the run. */
#include <stdarg.h>
#include "rt.h"
#include "../arch/x86/msr.h"

/* COM1 (16550 UART), polled output only. */
#define COM1_THR 0x3f8
#define COM1_IER 0x3f9
#define COM1_DLL 0x3f8 /* with LCR.DLAB set */
#define COM1_DLM 0x3f9 /* with LCR.DLAB set */
#define COM1_FCR 0x3fa
#define COM1_LCR 0x3fb
#define COM1_MCR 0x3fc
#define COM1_LSR 0x3fd
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS 0x03
#define BAUD_DIVISOR_115200 1
#define LSR_THR_EMPTY (1u << 5) /* room for the next byte */
#define LSR_TX_IDLE (1u << 6)   /* every byte is out on the wire */

/* How a bare run ends in an emulator: QEMU's isa-debug-exit and Bochs's shutdown port. */
#define QEMU_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900
#define BOCHS_SHUTDOWN "Shutdown"

#define CPUID_1_EBX_APIC_SHIFT 24
#define CPUID_1_ECX_X2APIC BIT(21)
#define SVR_APIC_ENABLE BIT(8) /* SDM Vol 3A 11.9 */
#define IDT_ENTRIES 256
#define EXCEPTIONS 32
#define IDT_INTERRUPT_GATE 0x8e00 /* present, DPL 0, 64-bit interrupt gate (SDM Vol 3A 6.14.1) */

/* Multiboot2 information (Multiboot2 spec 3.6): tags padded to 8 bytes, ended by type 0. */
#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_MMAP 6
#define MB2_TAG_ALIGN 8
#define MB2_MEM_USABLE 1
#define NAME_KEY "name"

struct mb2_info { uint32_t total_size, reserved; };
struct mb2_tag { uint32_t type, size; };
struct mb2_mmap { struct mb2_tag tag; uint32_t entry_size, entry_version; };
struct mb2_mmap_entry { uint64_t base, len; uint32_t type, reserved; };

struct idt_gate {
	uint16_t offset_lo, selector, flags, offset_mid;
	uint32_t offset_hi, reserved;
};

static bool partitioned; /* set once by rt_init: slicehv runs us */
static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));
static const char *fault_what; /* who says "unexpected exception" */
volatile uint64_t irq_unexpected;

/* 115200 8N1: firmware may leave the line at 5 data bits (Bochs's BIOS does). */
static void serial_init(void)
{
	outb(COM1_IER, 0);
	outb(COM1_LCR, LCR_DLAB);
	outb(COM1_DLL, BAUD_DIVISOR_115200);
	outb(COM1_DLM, 0);
	outb(COM1_LCR, LCR_8N1);
	outb(COM1_FCR, FCR_ENABLE_CLEAR);
	outb(COM1_MCR, MCR_DTR_RTS);
}

static void put_char(char c)
{
	while (!(inb(COM1_LSR) & LSR_THR_EMPTY))
		;
	outb(COM1_THR, (uint8_t)c);
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_num(uint64_t v, unsigned base)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		put_char(digits[--n]);
}

static void put_signed(int64_t v)
{
	if (v < 0)
		put_char('-');
	put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10);
}

/* printf's %s, %d, %u, %x, with an optional l for 64 bits: all the guests need. */
void kprint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		bool wide;

		if (*fmt != '%') {
			put_char(*fmt);
			continue;
		}
		wide = fmt[1] == 'l';
		fmt += 1 + wide;
		if (*fmt == 's')
			put_str(va_arg(ap, const char *));
		else if (*fmt == 'd')
			put_signed(wide ? va_arg(ap, int64_t) : va_arg(ap, int));
		else if (*fmt == 'u' || *fmt == 'x')
			put_num(wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), *fmt == 'x' ? 16 : 10);
		else if (!*fmt)
			break;
	}
	va_end(ap);
}

static void copy_word(const char *src, char *dst, int size)
{
	int n = 0;

	while (n < size - 1 && src[n] && src[n] != ' ') {
		dst[n] = src[n];
		n++;
	}
	dst[n] = 0;
}

/* The value of the first "<key>=" word in the command line, or NULL. */
static const char *find_value(const char *cmdline, const char *key)
{
	for (const char *p = cmdline; *p; p++) {
		int i = 0;

		if (p != cmdline && p[-1] != ' ')
			continue;
		while (key[i] && p[i] == key[i])
			i++;
		if (!key[i] && p[i] == '=')
			return p + i + 1;
	}
	return 0;
}

bool boot_arg(const struct boot_info *bi, const char *key, char *val, int size)
{
	const char *found = find_value(bi->cmdline, key);

	if (found)
		copy_word(found, val, size);
	return found != 0;
}

uint64_t boot_arg_number(const struct boot_info *bi, const char *key, uint64_t fallback)
{
	char v[sizeof("0xffffffffffffffff")];
	uint64_t n = 0;
	unsigned base = 10;
	const char *p = v;

	if (!boot_arg(bi, key, v, sizeof(v)))
		return fallback;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	for (; *p; p++) {
		unsigned d = (*p >= '0' && *p <= '9') ? (unsigned)(*p - '0') :
			     (*p >= 'a' && *p <= 'f') ? (unsigned)(*p - 'a' + 10) : base;

		if (d >= base)
			return fallback;
		n = n * base + d;
	}
	return n;
}

/* Keeps the command line and takes the name from its "name=" word. */
static void copy_cmdline(const char *cmdline, struct boot_info *bi)
{
	const char *name = find_value(cmdline, NAME_KEY);
	int n = 0;

	while (n < GUEST_CMDLINE_LEN - 1 && cmdline[n]) {
		bi->cmdline[n] = cmdline[n];
		n++;
	}
	bi->cmdline[n] = 0;
	if (name)
		copy_word(name, bi->name, GUEST_NAME_LEN);
}

/* The usable range holding the image: in a partition, the slice (its only usable entry). */
static void find_slice(const struct mb2_mmap *mm, struct boot_info *bi)
{
	uint64_t image = (uintptr_t)__image_start;
	const uint8_t *end = (const uint8_t *)mm + mm->tag.size;

	if (mm->entry_size < sizeof(struct mb2_mmap_entry))
		return;
	for (const uint8_t *p = (const uint8_t *)(mm + 1); p + mm->entry_size <= end; p += mm->entry_size) {
		const struct mb2_mmap_entry *e = (const void *)p;

		if (e->type == MB2_MEM_USABLE && image >= e->base && image - e->base < e->len) {
			bi->slice_base = e->base;
			bi->slice_end = e->base + e->len;
		}
	}
}

/* Fills bi from the multiboot2 information at info; -1 if no usable range holds the image. */
int boot_parse(uint32_t info, struct boot_info *bi)
{
	const struct mb2_info *mi = (const void *)(uintptr_t)info;
	const uint8_t *end = (const uint8_t *)mi + mi->total_size;
	const struct mb2_tag *tag = (const void *)(mi + 1);

	copy_word("bare", bi->name, GUEST_NAME_LEN);
	bi->cmdline[0] = 0;
	bi->info_base = info;
	bi->info_end = info + mi->total_size;
	bi->slice_base = bi->slice_end = 0;
	while ((const uint8_t *)(tag + 1) <= end && tag->type != MB2_TAG_END && tag->size >= sizeof(*tag)) {
		if (tag->type == MB2_TAG_CMDLINE)
			copy_cmdline((const char *)(tag + 1), bi);
		else if (tag->type == MB2_TAG_MMAP)
			find_slice((const void *)tag, bi);
		tag = (const void *)((const uint8_t *)tag + ((tag->size + MB2_TAG_ALIGN - 1) & -MB2_TAG_ALIGN));
	}
	return bi->slice_end ? 0 : -1;
}

/* slicehv: the CPUID hypervisor bit and its signature leaf (hv/hypercall.h). */
static bool hv_present(void)
{
	struct cpuid_regs r = cpuid(1, 0);

	if (!(r.ecx & CPUID_1_ECX_HYPERVISOR))
		return false;
	r = cpuid(HV_CPUID_SIGNATURE, 0);
	return r.ebx == HV_SIGNATURE_EBX && r.ecx == HV_SIGNATURE_ECX && r.edx == HV_SIGNATURE_EDX;
}

/* slicehv's virtual COM1 needs no set-up: spare it the exits. */
bool rt_init(void)
{
	partitioned = hv_present();
	if (!partitioned)
		serial_init();
	return partitioned;
}

uint32_t cpu_apic_id(void)
{
	return cpuid(1, 0).ebx >> CPUID_1_EBX_APIC_SHIFT;
}

void tsc_wait(uint64_t ticks)
{
	uint64_t start = rdtsc();

	while (rdtsc() - start < ticks)
		;
}

int64_t hypercall(uint64_t nr, uint64_t a0)
{
	int64_t ret;

	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0) : "memory");
	return ret;
}

int64_t hypercall2(uint64_t nr, uint64_t a0, uint64_t a1)
{
	int64_t ret;

	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1) : "memory");
	return ret;
}

uint64_t hc_exit_count(void)
{
	return partitioned ? (uint64_t)hypercall(HC_EXIT_COUNT, 0) : 0;
}

/* The IDT's default entries: an exception ends the run, an unexpected interrupt is counted. */
extern char rt_fault_stub[], rt_other_stub[], rt_spurious_stub[];
void rt_other_irq(uint64_t tsc);
void rt_fault(void);
IRQ_STUB(rt_other_stub, rt_other_irq);
__asm__(".text\n"
	"rt_fault_stub:\n"
	"  and $-16, %rsp\n"
	"  call rt_fault\n"
	"rt_spurious_stub:\n"
	"  iretq\n");

void rt_other_irq(uint64_t tsc)
{
	(void)tsc;
	irq_unexpected++;
	wrmsr(X2APIC_EOI, 0);
}

void rt_fault(void)
{
	kprint("%s: unexpected exception\n", fault_what);
	guest_finish(1);
}

void idt_set(unsigned vector, const char *stub)
{
	uint64_t at = (uintptr_t)stub;
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[vector] = (struct idt_gate){ (uint16_t)at, cs, IDT_INTERRUPT_GATE, (uint16_t)(at >> 16),
					 (uint32_t)(at >> 32), 0 };
}

void idt_install(const char *what)
{
	struct desc_ptr p = { sizeof(idt) - 1, (uintptr_t)idt };

	fault_what = what;
	for (unsigned v = 0; v < IDT_ENTRIES; v++)
		idt_set(v, v < EXCEPTIONS ? rt_fault_stub : rt_other_stub);
	idt_set(IRQ_SPURIOUS_VECTOR, rt_spurious_stub);
	lidt(&p);
}

/* From xAPIC to x2APIC: EN stays set, EXTD is added (SDM Vol 3A 11.12.5). */
bool apic_x2_enable(const char **how)
{
	uint64_t base = rdmsr(IA32_APIC_BASE);

	*how = "on";
	if (!(base & IA32_APIC_BASE_EXTD)) {
		if (!(cpuid(1, 0).ecx & CPUID_1_ECX_X2APIC))
			return false;
		wrmsr(IA32_APIC_BASE, base | IA32_APIC_BASE_EN | IA32_APIC_BASE_EXTD);
		*how = "switched on";
	}
	wrmsr(X2APIC_SVR, SVR_APIC_ENABLE | IRQ_SPURIOUS_VECTOR);
	wrmsr(X2APIC_TPR, 0);
	return true;
}

void wait_change_hlt(const volatile uint64_t *flag, uint64_t seen)
{
	cli();
	while (*flag == seen)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	__asm__ volatile("sti");
}

void console_drain(void)
{
	while (!(inb(COM1_LSR) & LSR_TX_IDLE))
		;
}

/* Partitioned: HC_DONE. Bare: drain COM1, then the emulators' exit ports, then halt for good. */
void guest_finish(int status)
{
	if (partitioned)
		hypercall(HC_DONE, (uint64_t)status);
	console_drain();
	outb(QEMU_EXIT_PORT, (uint8_t)status);
	for (const char *p = BOCHS_SHUTDOWN; *p; p++)
		outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*p);
	for (;;)
		__asm__ volatile("cli; hlt");
}
