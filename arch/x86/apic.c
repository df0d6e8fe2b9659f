/* Local APIC access in xAPIC (MMIO) or x2APIC (MSR) mode, and TSC calibration against the PIT. */
#include "apic.h"
#include "../../hv/arch.h"
#include "msr.h"
#include "x86.h"

/* xAPIC registers (SDM Vol 3A 11.4.1, Table 11-1); the x2APIC MSRs are in msr.h. */
#define APIC_REG_ID 0x020
#define APIC_REG_ICR_LO 0x300
#define APIC_REG_ICR_HI 0x310
#define APIC_ID_SHIFT 24

/* Interrupt command register fields (SDM Vol 3A 11.6.1). */
#define ICR_DELIVERY_INIT (5u << 8)
#define ICR_DELIVERY_STARTUP (6u << 8)
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)

/* The INIT-SIPI-SIPI waits of the universal start-up algorithm (SDM Vol 3A 9.4.4.1). */
#define INIT_WAIT_US 10000
#define SIPI_WAIT_US 200

/* PIT channel 2, gated through port 0x61, counts a fixed interval (8254 data sheet). */
#define PIT_HZ 1193182u
#define PIT_CH2_DATA 0x42
#define PIT_MODE 0x43
#define PIT_MODE_CH2_ONESHOT 0xb0 /* channel 2, lobyte/hibyte, mode 0, binary */
#define PORT_SPEAKER 0x61
#define SPEAKER_GATE2 0x01
#define SPEAKER_SPEAKER 0x02
#define SPEAKER_OUT2 0x20
#define CALIBRATE_MS 10

static volatile uint32_t *apic_mmio;
uint64_t tsc_per_ms;

static uint32_t mmio_read(unsigned reg) { return apic_mmio[reg / 4]; }
static void mmio_write(unsigned reg, uint32_t v) { apic_mmio[reg / 4] = v; }

void apic_init(uint64_t mmio_base)
{
	apic_mmio = (volatile uint32_t *)(uintptr_t)mmio_base;
}

/* Per core and per call: lapic_hand_over switches a core to x2APIC before its partition starts. */
static bool x2apic(void)
{
	return rdmsr(IA32_APIC_BASE) & IA32_APIC_BASE_EXTD;
}

uint32_t apic_id(void)
{
	if (x2apic())
		return (uint32_t)rdmsr(X2APIC_APICID);
	return mmio_read(APIC_REG_ID) >> APIC_ID_SHIFT;
}

static void apic_send_ipi(uint32_t dest, uint32_t icr)
{
	if (x2apic()) {
		wrmsr(X2APIC_ICR, ((uint64_t)dest << 32) | icr);
		return;
	}
	mmio_write(APIC_REG_ICR_HI, dest << APIC_ID_SHIFT);
	mmio_write(APIC_REG_ICR_LO, icr);
	while (mmio_read(APIC_REG_ICR_LO) & ICR_DELIVERY_PENDING)
		cpu_relax();
}

static void tsc_delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + us * tsc_per_ms / 1000;

	while (rdtsc() < end)
		cpu_relax();
}

void apic_start_ap(uint32_t dest, uint64_t vector_page)
{
	uint32_t vector = (uint32_t)(vector_page / PAGE_SIZE);

	apic_send_ipi(dest, ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL);
	tsc_delay_us(INIT_WAIT_US);
	for (int i = 0; i < 2; i++) {
		apic_send_ipi(dest, ICR_DELIVERY_STARTUP | vector);
		tsc_delay_us(SIPI_WAIT_US);
	}
}

void arch_timer_calibrate(void)
{
	uint16_t count = PIT_HZ / 1000 * CALIBRATE_MS;
	uint8_t gate = inb(PORT_SPEAKER) & ~SPEAKER_SPEAKER;
	uint64_t start;

	outb(PORT_SPEAKER, gate & ~SPEAKER_GATE2);
	outb(PIT_MODE, PIT_MODE_CH2_ONESHOT);
	outb(PIT_CH2_DATA, count & 0xff);
	outb(PIT_CH2_DATA, count >> 8);
	start = rdtsc();
	outb(PORT_SPEAKER, gate | SPEAKER_GATE2);
	while (!(inb(PORT_SPEAKER) & SPEAKER_OUT2))
		cpu_relax();
	tsc_per_ms = (rdtsc() - start) / CALIBRATE_MS;
	if (tsc_per_ms == 0)
		tsc_per_ms = 1;
}
