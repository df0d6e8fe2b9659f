/* Unit tests for the VM-entry self-check: slicehv's launch state passes, each single broken rule is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmcheck.h"
#include "vmcs.h"

/* Capability MSRs as a Skylake client reports them (TRUE controls, EPT with WB/UC, A/D, 4-level). */
static const struct vmx_msrs skylake = {
	.basic = 0x00da040000000004ull, /* bit 55: TRUE controls; bit 56 clear */
	.pinbased = 0x0000007f00000016ull,
	.procbased = 0xfff9fffe0401e172ull, /* must-1 includes CR3-load/store exiting */
	.procbased2 = 0x00553cfe00000000ull,
	.exit = 0x01ffffff00036dffull,
	.entry = 0x0003ffff000011ffull,
	.true_pinbased = 0x0000007f00000016ull,
	.true_procbased = 0xfff9fffe04006172ull,
	.true_exit = 0x01ffffff00036dfbull,
	.true_entry = 0x0003ffff000011fbull,
	.cr0_fixed0 = 0x80000021ull, /* PE, NE, PG */
	.cr0_fixed1 = 0xffffffffull,
	.cr4_fixed0 = 0x2000ull, /* VMXE */
	.cr4_fixed1 = 0x3767ffull,
	.ept_vpid_cap = 0x00000f0106734141ull,
	.misc = 0x7004c1e7ull, /* HLT, shutdown, wait-for-SIPI; 4 CR3 targets */
	.phys_addr_bits = 39,
};

#define BASIC_TRUE_CTLS (1ull << 55)
#define EPT_CAP_ACCESSED_DIRTY (1ull << 21)

/* slicehv's launch controls: TRUE must-1 bits plus what vmcs.c asks for. */
#define PIN_DEFAULT 0x16ull
#define PROC_DEFAULT (0x04006172ull | CPU_HLT_EXITING | CPU_USE_IO_BITMAPS | CPU_USE_MSR_BITMAPS | \
		      CPU_ACTIVATE_SECONDARY_CONTROLS)
#define PROC2_DEFAULT (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID | SECONDARY_UNRESTRICTED_GUEST)
#define EXIT_DEFAULT (0x36dfbull | EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_SAVE_IA32_PAT | EXIT_LOAD_IA32_PAT | \
		      EXIT_SAVE_IA32_EFER | EXIT_LOAD_IA32_EFER)
#define ENTRY_DEFAULT (0x11fbull | ENTRY_LOAD_IA32_PAT | ENTRY_LOAD_IA32_EFER)
#define EPTP_DEFAULT (0x5000ull | 6 | (3 << 3)) /* WB, 4-level walk */

#define HOST_CR0_DEFAULT 0x80000031ull /* PE NE ET PG */
#define HOST_CR4_DEFAULT 0x2020ull     /* PAE VMXE */
#define EFER_LME_LMA 0x500ull
#define PAT_POWER_ON 0x0007040600070406ull
#define GUEST_CR0_DEFAULT 0x31ull /* PE ET NE, paging off */
#define GUEST_CR0_PAGED 0x80000031ull
#define GUEST_CR4_PAE_VMXE 0x2020ull
#define AR_CODE32 0xc09bull
#define AR_CODE64 0xa09bull
#define AR_DATA 0xc093ull
#define AR_TSS32_BUSY 0x8bull
#define AR_UNUSABLE_ONLY 0x10000ull
#define FLAT 0xffffffffull
#define NON_CANONICAL 0x0000800000000000ull
#define HIGH_HALF 0xffff800000000000ull
#define BEYOND_39_BITS (1ull << 39)

struct field {
	uint32_t enc;
	uint64_t val;
};

static const struct field baseline_fields[] = {
	/* controls */
	{ PIN_BASED_VM_EXEC_CONTROL, PIN_DEFAULT },
	{ CPU_BASED_VM_EXEC_CONTROL, PROC_DEFAULT },
	{ SECONDARY_VM_EXEC_CONTROL, PROC2_DEFAULT },
	{ VM_EXIT_CONTROLS, EXIT_DEFAULT },
	{ VM_ENTRY_CONTROLS, ENTRY_DEFAULT },
	{ VIRTUAL_PROCESSOR_ID, 1 },
	{ EPT_POINTER, EPTP_DEFAULT },
	{ IO_BITMAP_A, 0x6000 },
	{ IO_BITMAP_B, 0x7000 },
	{ MSR_BITMAP, 0x8000 },
	{ CR3_TARGET_COUNT, 0 },
	{ VM_EXIT_MSR_STORE_COUNT, 0 },
	{ VM_EXIT_MSR_LOAD_COUNT, 0 },
	{ VM_ENTRY_MSR_LOAD_COUNT, 0 },
	{ VM_ENTRY_INTR_INFO_FIELD, 0 },
	{ VM_ENTRY_EXCEPTION_ERROR_CODE, 0 },
	/* host: 64-bit, flat GDT (CS 0x8, data 0x10, TR 0x18) */
	{ HOST_CR0, HOST_CR0_DEFAULT },
	{ HOST_CR3, 0x10d000 },
	{ HOST_CR4, HOST_CR4_DEFAULT },
	{ HOST_ES_SELECTOR, 0x10 },
	{ HOST_CS_SELECTOR, 0x08 },
	{ HOST_SS_SELECTOR, 0x10 },
	{ HOST_DS_SELECTOR, 0x10 },
	{ HOST_FS_SELECTOR, 0 },
	{ HOST_GS_SELECTOR, 0 },
	{ HOST_TR_SELECTOR, 0x18 },
	{ HOST_FS_BASE, 0 },
	{ HOST_GS_BASE, 0x120000 },
	{ HOST_TR_BASE, 0x121000 },
	{ HOST_GDTR_BASE, 0x122000 },
	{ HOST_IDTR_BASE, 0x123000 },
	{ HOST_IA32_SYSENTER_CS, 0 },
	{ HOST_IA32_SYSENTER_ESP, 0 },
	{ HOST_IA32_SYSENTER_EIP, 0 },
	{ HOST_IA32_PAT, PAT_POWER_ON },
	{ HOST_IA32_EFER, EFER_LME_LMA },
	{ HOST_RSP, 0x130000 },
	{ HOST_RIP, 0x101234 },
	/* guest: 32-bit protected mode, paging off, flat segments, under unrestricted guest */
	{ GUEST_CR0, GUEST_CR0_DEFAULT },
	{ GUEST_CR3, 0 },
	{ GUEST_CR4, 0x2000 },
	{ GUEST_DR7, 0x400 },
	{ GUEST_RFLAGS, 0x2 },
	{ GUEST_RSP, 0 },
	{ GUEST_RIP, 0x100000 },
	{ GUEST_CS_SELECTOR, 0x08 }, { GUEST_CS_BASE, 0 }, { GUEST_CS_LIMIT, FLAT }, { GUEST_CS_AR_BYTES, AR_CODE32 },
	{ GUEST_SS_SELECTOR, 0x10 }, { GUEST_SS_BASE, 0 }, { GUEST_SS_LIMIT, FLAT }, { GUEST_SS_AR_BYTES, AR_DATA },
	{ GUEST_DS_SELECTOR, 0x10 }, { GUEST_DS_BASE, 0 }, { GUEST_DS_LIMIT, FLAT }, { GUEST_DS_AR_BYTES, AR_DATA },
	{ GUEST_ES_SELECTOR, 0x10 }, { GUEST_ES_BASE, 0 }, { GUEST_ES_LIMIT, FLAT }, { GUEST_ES_AR_BYTES, AR_DATA },
	{ GUEST_FS_SELECTOR, 0x10 }, { GUEST_FS_BASE, 0 }, { GUEST_FS_LIMIT, FLAT }, { GUEST_FS_AR_BYTES, AR_DATA },
	{ GUEST_GS_SELECTOR, 0x10 }, { GUEST_GS_BASE, 0 }, { GUEST_GS_LIMIT, FLAT }, { GUEST_GS_AR_BYTES, AR_DATA },
	{ GUEST_TR_SELECTOR, 0 }, { GUEST_TR_BASE, 0 }, { GUEST_TR_LIMIT, 0xff }, { GUEST_TR_AR_BYTES, AR_TSS32_BUSY },
	{ GUEST_LDTR_SELECTOR, 0 }, { GUEST_LDTR_BASE, 0 }, { GUEST_LDTR_LIMIT, 0 },
	{ GUEST_LDTR_AR_BYTES, AR_UNUSABLE_ONLY },
	{ GUEST_GDTR_BASE, 0 }, { GUEST_GDTR_LIMIT, 0 },
	{ GUEST_IDTR_BASE, 0 }, { GUEST_IDTR_LIMIT, 0 },
	{ GUEST_IA32_DEBUGCTL, 0 },
	{ GUEST_IA32_PAT, PAT_POWER_ON },
	{ GUEST_IA32_EFER, 0 },
	{ GUEST_SYSENTER_CS, 0 },
	{ GUEST_SYSENTER_ESP, 0 },
	{ GUEST_SYSENTER_EIP, 0 },
	{ GUEST_ACTIVITY_STATE, 0 },
	{ GUEST_INTERRUPTIBILITY_INFO, 0 },
	{ GUEST_PENDING_DBG_EXCEPTIONS, 0 },
	{ VMCS_LINK_POINTER, ~0ull },
};

#define MAX_FIELDS ARRAY_SIZE(baseline_fields)
#define MAX_SETS 6

/* The fake VMCS: the baseline table, mutated in place. A read of a field it lacks fails the test. */
struct fake_vmcs {
	struct field f[MAX_FIELDS];
};

static uint64_t fake_read(uint32_t enc, void *ctx)
{
	struct fake_vmcs *v = ctx;

	for (size_t i = 0; i < MAX_FIELDS; i++)
		if (v->f[i].enc == enc)
			return v->f[i].val;
	fail_msg("vmcheck read field 0x%x, which the fake VMCS does not hold", enc);
	return 0;
}

static void fake_set(struct fake_vmcs *v, uint32_t enc, uint64_t val)
{
	for (size_t i = 0; i < MAX_FIELDS; i++)
		if (v->f[i].enc == enc) {
			v->f[i].val = val;
			return;
		}
	fail_msg("mutation of field 0x%x, which the fake VMCS does not hold", enc);
}

enum stage { PASSES, CONTROLS, GUEST };
static const char *const stage_names[] = { "none", "controls", "guest" };

struct set {
	bool used;
	uint32_t field;
	uint64_t value;
};
#define SET(f, v) { true, (f), (v) }

/* The guest as slicehv will later run it: IA-32e mode, paging on, 64-bit code segment. */
#define LONG_MODE                                                                               \
	SET(VM_ENTRY_CONTROLS, ENTRY_DEFAULT | ENTRY_IA32E_MODE_GUEST), SET(GUEST_CR0, GUEST_CR0_PAGED), \
		SET(GUEST_CR4, GUEST_CR4_PAE_VMXE), SET(GUEST_IA32_EFER, EFER_LME_LMA),                   \
		SET(GUEST_CS_AR_BYTES, AR_CODE64)
/* A paged protected-mode guest without unrestricted guest. */
#define RESTRICTED SET(SECONDARY_VM_EXEC_CONTROL, SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID), \
		   SET(GUEST_CR0, GUEST_CR0_PAGED)

struct mutation {
	const char *name;
	struct set set[MAX_SETS];
	void (*tweak)(struct vmx_msrs *m);
	enum stage stage;   /* the check that must fail, or PASSES */
	const char *expect; /* a distinctive substring of its message */
};

static void plain_ctls(struct vmx_msrs *m) { m->basic &= ~BASIC_TRUE_CTLS; }
static void no_ad_flags(struct vmx_msrs *m) { m->ept_vpid_cap &= ~EPT_CAP_ACCESSED_DIRTY; }

static const struct mutation mutations[] = {
	/* VM-execution, exit and entry controls (27.2.1) */
	{ "pin must-be-1 bit clear", { SET(PIN_BASED_VM_EXEC_CONTROL, 0x14) }, NULL, CONTROLS,
	  "pin-based controls 0x14: bit 1 is 0 but IA32_VMX_TRUE_PINBASED_CTLS requires 1 (SDM 27.2.1.1)" },
	{ "pin may-be-1 bit set", { SET(PIN_BASED_VM_EXEC_CONTROL, PIN_DEFAULT | 0x80) }, NULL, CONTROLS,
	  "bit 7 is 1 but IA32_VMX_TRUE_PINBASED_CTLS allows only 0" },
	{ "plain MSRs when BASIC[55] is 0", { { 0 } }, plain_ctls, CONTROLS,
	  "primary processor-based controls 0x960061f2: bit 15 is 0 but IA32_VMX_PROCBASED_CTLS requires 1" },
	{ "secondary bit not allowed", { SET(SECONDARY_VM_EXEC_CONTROL, PROC2_DEFAULT | 0x100) }, NULL, CONTROLS,
	  "secondary processor-based controls 0x1a2: bit 8 is 1 but IA32_VMX_PROCBASED_CTLS2 allows only 0" },
	{ "secondary ignored unless activated",
	  { SET(CPU_BASED_VM_EXEC_CONTROL, PROC_DEFAULT & ~CPU_ACTIVATE_SECONDARY_CONTROLS),
	    SET(SECONDARY_VM_EXEC_CONTROL, ~0ull) },
	  NULL, GUEST, "guest CR0: bit 31 (PG) is 0 but IA32_VMX_CR0_FIXED0 requires it (SDM 27.3.1.1)" },
	{ "exit must-be-1 bit clear", { SET(VM_EXIT_CONTROLS, EXIT_DEFAULT & ~1ull) }, NULL, CONTROLS,
	  "VM-exit controls 0x3f6ffa: bit 0 is 0 but IA32_VMX_TRUE_EXIT_CTLS requires 1 (SDM 27.2.1.2)" },
	{ "entry bit not allowed", { SET(VM_ENTRY_CONTROLS, ENTRY_DEFAULT | (1ull << 20)) }, NULL, CONTROLS,
	  "bit 20 is 1 but IA32_VMX_TRUE_ENTRY_CTLS allows only 0 (SDM 27.2.1.3)" },
	{ "EPTP memory type WC", { SET(EPT_POINTER, (EPTP_DEFAULT & ~7ull) | 1) }, NULL, CONTROLS,
	  "EPTP 0x5019: memory type 1 is not UC or WB" },
	{ "EPTP memory type UC", { SET(EPT_POINTER, EPTP_DEFAULT & ~7ull) }, NULL, PASSES, NULL },
	{ "EPTP 5-level walk unsupported", { SET(EPT_POINTER, EPTP_DEFAULT + (1 << 3)) }, NULL, CONTROLS,
	  "page-walk length 5: IA32_VMX_EPT_VPID_CAP allows 4, or 5 if bit 7" },
	{ "EPTP A/D flags unsupported", { SET(EPT_POINTER, EPTP_DEFAULT | 0x40) }, no_ad_flags, CONTROLS,
	  "accessed/dirty flags on but IA32_VMX_EPT_VPID_CAP bit 21 is 0" },
	{ "EPTP A/D flags supported", { SET(EPT_POINTER, EPTP_DEFAULT | 0x40) }, NULL, PASSES, NULL },
	{ "EPTP reserved bit", { SET(EPT_POINTER, EPTP_DEFAULT | 0x80) }, NULL, CONTROLS, "reserved bits 11:7 set" },
	{ "EPTP too high", { SET(EPT_POINTER, EPTP_DEFAULT | BEYOND_39_BITS) }, NULL, CONTROLS,
	  "EPTP 0x800000501e: beyond the 39-bit" },

	/* guest control registers and MSRs (27.3.1.1) */
	{ "guest CR0.NE", { SET(GUEST_CR0, GUEST_CR0_DEFAULT & ~0x20ull) }, NULL, GUEST,
	  "guest CR0: bit 5 (NE) is 0 but IA32_VMX_CR0_FIXED0 requires it (SDM 27.3.1.1)" },
	{ "guest CR0.PG without PE", { SET(GUEST_CR0, GUEST_CR0_PAGED & ~1ull) }, NULL, GUEST,
	  "guest CR0: PG is 1 but PE is 0" },
	{ "guest real mode", { SET(GUEST_CR0, GUEST_CR0_DEFAULT & ~1ull) }, NULL, PASSES, NULL },
	{ "guest CR4.VMXE", { SET(GUEST_CR4, 0) }, NULL, GUEST,
	  "guest CR4: bit 13 (VMXE) is 0 but IA32_VMX_CR4_FIXED0 requires it" },
	{ "guest CR4 bit 15", { SET(GUEST_CR4, 0x2000 | 0x8000) }, NULL, GUEST,
	  "guest CR4: bit 15 (reserved) is 1 but IA32_VMX_CR4_FIXED1 forbids it" },
	{ "guest CR4.PCIDE in 32-bit mode", { SET(GUEST_CR4, 0x2000 | 0x20000) }, NULL, GUEST,
	  "guest CR4: PCIDE is 1 but \"IA-32e mode guest\" is 0" },
	{ "IA-32e guest without paging", { SET(VM_ENTRY_CONTROLS, ENTRY_DEFAULT | ENTRY_IA32E_MODE_GUEST),
	  SET(GUEST_IA32_EFER, EFER_LME_LMA) }, NULL, GUEST,
	  "\"IA-32e mode guest\" is 1 but guest CR0.PG or CR4.PAE is 0" },
	{ "guest CR3 too high", { SET(GUEST_CR3, BEYOND_39_BITS) }, NULL, GUEST, "guest CR3 0x8000000000: beyond" },
	{ "guest EFER reserved", { SET(GUEST_IA32_EFER, 4) }, NULL, GUEST, "guest IA32_EFER 0x4: reserved bits set" },
	{ "guest EFER.LMA in 32-bit mode", { SET(GUEST_IA32_EFER, 0x400) }, NULL, GUEST,
	  "guest IA32_EFER: LMA is 1 but \"IA-32e mode guest\" is 0" },
	{ "guest EFER.LME before paging", { SET(GUEST_IA32_EFER, 0x100) }, NULL, PASSES, NULL },
	{ "guest EFER.LME with paging", { SET(GUEST_CR0, GUEST_CR0_PAGED), SET(GUEST_IA32_EFER, 0x100) }, NULL,
	  GUEST, "guest IA32_EFER: LME is 1 but LMA is 0" },

	/* guest RIP (27.3.1.4) */
	{ "guest RIP above 4 GiB", { SET(GUEST_RIP, 1ull << 32) }, NULL, GUEST,
	  "guest RIP 0x100000000: bits 63:32 must be 0 outside 64-bit mode" },

	/* 64-bit guest */
	{ "64-bit guest", { LONG_MODE }, NULL, PASSES, NULL },
	{ "64-bit guest, high-half RIP", { LONG_MODE, SET(GUEST_RIP, HIGH_HALF) }, NULL, PASSES, NULL },
	{ "64-bit guest, non-canonical RIP", { LONG_MODE, SET(GUEST_RIP, NON_CANONICAL) }, NULL, GUEST,
	  "guest RIP 0x800000000000: not canonical (SDM 27.3.1.4)" },
	{ "64-bit guest, EFER.LMA 0", { LONG_MODE, SET(GUEST_IA32_EFER, 0x100) }, NULL, GUEST,
	  "guest IA32_EFER: LMA is 0 but \"IA-32e mode guest\" is 1" },

	/* a paged guest without unrestricted guest: CR0.PE and PG obey the fixed bits (27.3.1.1) */
	{ "restricted guest", { RESTRICTED }, NULL, PASSES, NULL },

	/* descriptor tables (27.3.1.3) */
	{ "GDTR limit", { SET(GUEST_GDTR_LIMIT, 0x10000) }, NULL, GUEST,
	  "guest GDTR limit 0x10000: bits 31:16 must be 0 (SDM 27.3.1.3)" },


};

struct fixture {
	struct fake_vmcs vmcs;
	struct vmx_msrs msrs;
	struct vmcheck_env env;
};

static void fixture_init(struct fixture *f)
{
	memcpy(f->vmcs.f, baseline_fields, sizeof(baseline_fields));
	f->msrs = skylake;
	f->env = (struct vmcheck_env){ &f->msrs, fake_read, &f->vmcs };
}

/* The first stage that fails, with its message in e. */
static enum stage first_failure(const struct vmcheck_env *env, err_t *e)
{
	int (*const check[])(const struct vmcheck_env *, err_t *) = { vmcheck_controls, vmcheck_guest };

	for (int s = 0; s < 2; s++)
		if (check[s](env, e) < 0)
			return (enum stage)(s + 1);
	return PASSES;
}

static void test_baseline_passes(void **state)
{
	struct fixture f;
	err_t e = { "" };

	(void)state;
	fixture_init(&f);
	if (vmcheck_all(&f.env, &e) < 0)
		fail_msg("slicehv's launch state was refused: %s", e.msg);
	assert_int_equal(first_failure(&f.env, &e), PASSES);
}

/* Every mutation is tried and every mismatch printed before the test fails. */
static void test_single_mutations(void **state)
{
	unsigned failures = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(mutations); i++) {
		const struct mutation *m = &mutations[i];
		struct fixture f;
		err_t e = { "" }, all = { "" };
		enum stage got;

		fixture_init(&f);
		for (int s = 0; s < MAX_SETS && m->set[s].used; s++)
			fake_set(&f.vmcs, m->set[s].field, m->set[s].value);
		if (m->tweak)
			m->tweak(&f.msrs);
		got = first_failure(&f.env, &e);
		if (got != m->stage) {
			print_error("%s: expected %s to fail, got %s (\"%s\")\n", m->name, stage_names[m->stage],
				    stage_names[got], e.msg);
			failures++;
			continue;
		}
		assert_int_equal(vmcheck_all(&f.env, &all), got == PASSES ? 0 : -1);
		if (got == PASSES)
			continue;
		/* The whole line fits: it still ends by citing its section. */
		if (!strstr(e.msg, m->expect) || !strstr(e.msg, " (SDM 27.") || e.msg[strlen(e.msg) - 1] != ')') {
			print_error("%s: message \"%s\" lacks \"%s\"\n", m->name, e.msg, m->expect);
			failures++;
		}
		assert_string_equal(all.msg, e.msg);
	}
	assert_int_equal(failures, 0);
}

/* Several broken rules: the controls are reported before the guest. */
static void test_first_rule_wins(void **state)
{
	struct fixture f;
	err_t e = { "" };

	(void)state;
	fixture_init(&f);
	fake_set(&f.vmcs, GUEST_CR0, 0);
	assert_int_equal(vmcheck_all(&f.env, &e), -1);
	assert_non_null(strstr(e.msg, "guest CR0: bit 5 (NE)"));
	fake_set(&f.vmcs, EPT_POINTER, EPTP_DEFAULT | 0x80);
	assert_int_equal(vmcheck_all(&f.env, &e), -1);
	assert_non_null(strstr(e.msg, "EPTP 0x509e: reserved bits 11:7 set"));
	/* Within the guest checks, CR0 comes before RIP. */
	fixture_init(&f);
	fake_set(&f.vmcs, GUEST_RIP, 1ull << 32);
	fake_set(&f.vmcs, GUEST_CR0, GUEST_CR0_DEFAULT & ~0x20ull);
	assert_int_equal(vmcheck_guest(&f.env, &e), -1);
	assert_non_null(strstr(e.msg, "guest CR0: bit 5 (NE)"));
}

static void test_no_error_report(void **state)
{
	struct fixture f;

	(void)state;
	fixture_init(&f);
	fake_set(&f.vmcs, EPT_POINTER, EPTP_DEFAULT | 0x80);
	assert_int_equal(vmcheck_all(&f.env, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baseline_passes),
		cmocka_unit_test(test_single_mutations),
		cmocka_unit_test(test_first_rule_wins),
		cmocka_unit_test(test_no_error_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
