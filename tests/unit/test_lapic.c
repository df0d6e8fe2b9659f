/* Unit tests for the local APIC policy: the MSR bitmap's APIC ranges, the ICR filter, the LVT check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lapic.h"
#include "msr.h"

#define SELF_ID 3u
#define SELF_LDR 0x00000008u /* x2APIC cluster 0, bit 3 (SDM Vol 3A 11.12.10.2) */
#define OTHER_ID 1u
#define VECTOR 0x40u
#define LVT_MASKED (1u << 16)
#define MAX_LVT_SKYLAKE 6 /* CMCI, thermal and PMC exist */
#define MAX_LVT_BOCHS 5   /* thermal and PMC, no CMCI (Bochs 2.7's corei7_skylake_x) */
#define MAX_LVT_P6 4      /* PMC, but no thermal and no CMCI */

/* ICR fields (SDM Vol 3A 11.6.1, 11.12.9). */
#define DEST(id) ((uint64_t)(id) << 32)
#define FIXED (0u << 8)
#define LOWEST (1u << 8)
#define SMI (2u << 8)
#define NMI (4u << 8)
#define INIT (5u << 8)
#define STARTUP (6u << 8)
#define EXTINT (7u << 8)
#define LOGICAL (1u << 11)
#define ASSERT (1u << 14)
#define LEVEL (1u << 15)
#define TO_SELF (1u << 18)
#define TO_ALL (2u << 18)
#define TO_OTHERS (3u << 18)

static void test_bitmap_passes_the_apic_but_icr_and_delivery_lvts(void **state)
{
	static const uint32_t write_exits[] = { X2APIC_ICR, X2APIC_LVT_CMCI, X2APIC_LVT_THERMAL, X2APIC_LVT_PMC,
						X2APIC_LVT_LINT0, X2APIC_LVT_LINT1 };
	static const uint32_t through[] = { X2APIC_APICID, X2APIC_TPR, X2APIC_EOI, X2APIC_SVR, X2APIC_ISR0,
					    X2APIC_LVT_TIMER, X2APIC_LVT_ERROR, X2APIC_TIMER_INITIAL,
					    X2APIC_TIMER_CURRENT, X2APIC_TIMER_DIVIDE, X2APIC_SELF_IPI };

	(void)state;
	for (uint32_t m = X2APIC_FIRST; m <= X2APIC_LAST; m++)
		assert_true(lapic_msr_passthrough(m, false));
	for (size_t i = 0; i < sizeof(write_exits) / sizeof(write_exits[0]); i++)
		assert_false(lapic_msr_passthrough(write_exits[i], true));
	for (size_t i = 0; i < sizeof(through) / sizeof(through[0]); i++)
		assert_true(lapic_msr_passthrough(through[i], true));
	assert_true(lapic_msr_passthrough(IA32_TSC_DEADLINE, true));
	assert_true(lapic_msr_passthrough(IA32_TSC_DEADLINE, false));
	/* Just outside the x2APIC range, and the APIC base itself, still exit. */
	for (int w = 0; w < 2; w++) {
		assert_false(lapic_msr_passthrough(X2APIC_FIRST - 1, w));
		assert_false(lapic_msr_passthrough(X2APIC_LAST + 1, w));
		assert_false(lapic_msr_passthrough(IA32_APIC_BASE, w));
	}
}

static void test_icr_allows_fixed_ipis_to_itself(void **state)
{
	(void)state;
	assert_int_equal(lapic_icr_self_vector(TO_SELF | FIXED | VECTOR, SELF_ID, SELF_LDR), VECTOR);
	assert_int_equal(lapic_icr_self_vector(TO_SELF | ASSERT | VECTOR | DEST(OTHER_ID), SELF_ID, SELF_LDR), VECTOR);
	assert_int_equal(lapic_icr_self_vector(DEST(SELF_ID) | VECTOR, SELF_ID, SELF_LDR), VECTOR);
	assert_int_equal(lapic_icr_self_vector(DEST(SELF_LDR) | LOGICAL | VECTOR, SELF_ID, SELF_LDR), VECTOR);
	assert_int_equal(lapic_icr_self_vector(DEST(SELF_ID) | 0xff, SELF_ID, SELF_LDR), 0xff);
}

static void test_icr_refuses_everything_else(void **state)
{
	static const uint64_t refused[] = {
		DEST(OTHER_ID) | VECTOR,                     /* another core */
		DEST(0xffffffffu) | VECTOR,                  /* broadcast */
		DEST(0xffffffffu) | LOGICAL | VECTOR,        /* logical broadcast */
		DEST(SELF_LDR | 0x2) | LOGICAL | VECTOR,     /* itself and another in its cluster */
		DEST(SELF_ID) | LOGICAL | VECTOR,            /* its id read as a logical destination */
		DEST(SELF_LDR) | VECTOR,                     /* its LDR as a physical id */
		TO_ALL | VECTOR, TO_OTHERS | VECTOR,         /* shorthands beyond itself */
		TO_SELF | LOWEST | VECTOR, TO_SELF | SMI, TO_SELF | NMI, TO_SELF | ASSERT | INIT,
		TO_SELF | STARTUP | 0x08, TO_SELF | EXTINT, TO_SELF | (3u << 8) | VECTOR,
		TO_OTHERS | ASSERT | INIT, TO_OTHERS | STARTUP | 0x08, TO_OTHERS | ASSERT | NMI,
		DEST(SELF_ID) | NMI, DEST(SELF_ID) | ASSERT | INIT,
		TO_SELF | LEVEL | ASSERT | VECTOR,           /* level-triggered */
		TO_SELF | LEVEL | VECTOR, TO_ALL | LEVEL | INIT, /* level de-assert */
		TO_SELF | 0x0f, TO_SELF | 0,                 /* illegal vectors */
		TO_SELF | VECTOR | (1u << 12), TO_SELF | VECTOR | (1u << 13), TO_SELF | VECTOR | (1u << 16),
		TO_SELF | VECTOR | (1u << 20), TO_SELF | VECTOR | (1u << 31), /* reserved bits */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(lapic_icr_self_vector(refused[i], SELF_ID, SELF_LDR), -1);
}

static void test_lvt_delivery_modes(void **state)
{
	static const uint32_t lvts[] = { X2APIC_LVT_CMCI, X2APIC_LVT_THERMAL, X2APIC_LVT_PMC, X2APIC_LVT_LINT0,
					 X2APIC_LVT_LINT1 };

	(void)state;
	for (size_t i = 0; i < sizeof(lvts) / sizeof(lvts[0]); i++) {
		uint32_t m = lvts[i];

		assert_int_equal(lapic_lvt_check(m, FIXED | VECTOR, MAX_LVT_SKYLAKE), LAPIC_DONE);
		assert_int_equal(lapic_lvt_check(m, LVT_MASKED, MAX_LVT_SKYLAKE), LAPIC_DONE);
		assert_int_equal(lapic_lvt_check(m, LVT_MASKED | NMI, MAX_LVT_SKYLAKE), LAPIC_DONE);
		assert_int_equal(lapic_lvt_check(m, NMI, MAX_LVT_SKYLAKE), LAPIC_MASKED);
		assert_int_equal(lapic_lvt_check(m, SMI, MAX_LVT_SKYLAKE), LAPIC_MASKED);
		assert_int_equal(lapic_lvt_check(m, INIT, MAX_LVT_SKYLAKE), LAPIC_MASKED);
		assert_int_equal(lapic_lvt_check(m, EXTINT, MAX_LVT_SKYLAKE), LAPIC_MASKED);
		assert_int_equal(lapic_lvt_check(m, LOWEST | VECTOR, MAX_LVT_SKYLAKE), LAPIC_REFUSED);
		assert_int_equal(lapic_lvt_check(m, STARTUP | VECTOR, MAX_LVT_SKYLAKE), LAPIC_REFUSED);
		assert_int_equal(lapic_lvt_check(m, (3u << 8) | VECTOR, MAX_LVT_SKYLAKE), LAPIC_REFUSED);
		assert_int_equal(lapic_lvt_check(m, VECTOR | (1u << 17), MAX_LVT_SKYLAKE), LAPIC_REFUSED);
	}
	/* Pin polarity and trigger mode exist only on LINT0/LINT1. */
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_LINT0, EXTINT | LEVEL | (1u << 13), MAX_LVT_SKYLAKE), LAPIC_MASKED);
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_LINT1, FIXED | LEVEL | VECTOR, MAX_LVT_SKYLAKE), LAPIC_DONE);
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_PMC, FIXED | LEVEL | VECTOR, MAX_LVT_SKYLAKE), LAPIC_REFUSED);
	/* Entries the APIC does not have are refused as the CPU would (#GP). */
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_CMCI, VECTOR, MAX_LVT_P6), LAPIC_REFUSED);
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_THERMAL, VECTOR, MAX_LVT_P6), LAPIC_REFUSED);
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_PMC, VECTOR, MAX_LVT_P6), LAPIC_DONE);
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_CMCI, VECTOR, MAX_LVT_BOCHS), LAPIC_REFUSED);
	assert_int_equal(lapic_lvt_check(X2APIC_LVT_THERMAL, VECTOR, MAX_LVT_BOCHS), LAPIC_DONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitmap_passes_the_apic_but_icr_and_delivery_lvts),
		cmocka_unit_test(test_icr_allows_fixed_ipis_to_itself),
		cmocka_unit_test(test_icr_refuses_everything_else),
		cmocka_unit_test(test_lvt_delivery_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
