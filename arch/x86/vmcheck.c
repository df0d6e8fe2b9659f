/* VM-entry checks on slicehv's own VMCS before VMLAUNCH (SDM Vol 3C 27.2.1, 27.3): the first rule broken. */
#include "vmcheck.h"
#include "ept.h"
#include "msr.h"
#include "vmcs.h"
#include "x86.h"

/* Sections the messages cite: SDM Vol 3C chapter 27, "VM Entries" (chapter 26 in older editions). */
#define SDM_EXEC "SDM 27.2.1.1"
#define SDM_EXIT "SDM 27.2.1.2"
#define SDM_ENTRY "SDM 27.2.1.3"
#define SDM_GUEST_REGS "SDM 27.3.1.1"
#define SDM_GUEST_DTRS "SDM 27.3.1.3"
#define SDM_GUEST_RIP "SDM 27.3.1.4"

/* EPTP fields (SDM Vol 3C 25.6.11). */
#define EPTP_MEMTYPE_UC 0ull
#define EPTP_FIELD_MASK 7ull /* bits 2:0 memory type, bits 5:3 page-walk length - 1 */
#define EPTP_ACCESSED_DIRTY BIT(6)
#define EPTP_RESERVED 0xf80ull /* bits 11:7 */

/* Register bits x86.h does not name yet (SDM Vol 3A 2.5, 11.12.2). */
#define CR4_LA57 BIT(12)
#define CR4_PCIDE BIT(17)
#define IA32_EFER_VALID (IA32_EFER_SCE | IA32_EFER_LME | IA32_EFER_LMA | IA32_EFER_NXE)
#define LINEAR_BITS_4LEVEL 48
#define LINEAR_BITS_5LEVEL 57

#define DTR_LIMIT_MAX 0xffffu /* descriptor-table limits are 16 bits (SDM Vol 3C 27.3.1.3) */

/* The rules read as a list: the condition that breaks one, then the message naming it. */
#define BROKEN(r, cond, ...) do { if (cond) return err_set((r)->e, __VA_ARGS__); } while (0)

enum ctl { PIN, PROC, PROC2, EXIT, ENTRY, NCTL };

/* One run: where to read, where to report, and the controls in force. */
struct run {
	const struct vmcheck_env *env;
	const struct vmx_msrs *m;
	err_t *e;
	uint32_t ctl[NCTL]; /* secondary controls count as 0 unless activated (27.2.1.1) */
};

/* Each control field, the capability MSR it obeys (IA32_VMX_[TRUE_]...) and the section of its rules. */
static const struct {
	uint32_t field;
	const char *name, *msr, *sdm;
} ctls[NCTL] = {
	[PIN] = { PIN_BASED_VM_EXEC_CONTROL, "pin-based controls", "PINBASED_CTLS", SDM_EXEC },
	[PROC] = { CPU_BASED_VM_EXEC_CONTROL, "primary processor-based controls", "PROCBASED_CTLS", SDM_EXEC },
	[PROC2] = { SECONDARY_VM_EXEC_CONTROL, "secondary processor-based controls", "PROCBASED_CTLS2", SDM_EXEC },
	[EXIT] = { VM_EXIT_CONTROLS, "VM-exit controls", "EXIT_CTLS", SDM_EXIT },
	[ENTRY] = { VM_ENTRY_CONTROLS, "VM-entry controls", "ENTRY_CTLS", SDM_ENTRY },
};

static uint64_t rd(const struct run *r, uint32_t field) { return r->env->read(field, r->env->ctx); }
static bool has(const struct run *r, enum ctl c, uint64_t bits) { return r->ctl[c] & bits; }
static unsigned low_bit(uint64_t x) { return (unsigned)__builtin_ctzll(x); }

static void run_init(struct run *r, const struct vmcheck_env *env, err_t *e)
{
	*r = (struct run){ .env = env, .m = env->msrs, .e = e };
	for (int c = 0; c < NCTL; c++)
		if (c != PROC2 || has(r, PROC, CPU_ACTIVATE_SECONDARY_CONTROLS))
			r->ctl[c] = (uint32_t)rd(r, ctls[c].field);
}

/* Linear addresses are 57 bits wide where the CPU lets CR4.LA57 be set, else 48. */
static bool canonical(const struct run *r, uint64_t a)
{
	unsigned unused = 64 - (r->m->cr4_fixed1 & CR4_LA57 ? LINEAR_BITS_5LEVEL : LINEAR_BITS_4LEVEL);

	return (uint64_t)((int64_t)(a << unused) >> unused) == a;
}

/* A physical address (EPTP, guest CR3) inside the width CPUID.80000008H reports. */
static int check_phys(const struct run *r, const char *what, uint64_t a, const char *sdm)
{
	BROKEN(r, r->m->phys_addr_bits < 64 && a >> r->m->phys_addr_bits,
	       "%s 0x%lx: beyond the %u-bit physical-address width (%s)", what, a, r->m->phys_addr_bits, sdm);
	return 0;
}

static const char *const cr_bit_names[2][32] = {
	{ "PE", "MP", "EM", "TS", "ET", "NE", [16] = "WP", [18] = "AM", [29] = "NW", "CD", "PG" },
	{ "VME", "PVI", "TSD", "DE", "PSE", "PAE", "MCE", "PGE", "PCE", "OSFXSR", "OSXMMEXCPT", "UMIP",
	  "LA57", "VMXE", "SMXE", [16] = "FSGSBASE", "PCIDE", "OSXSAVE", "KL", "SMEP", "SMAP", "PKE",
	  "CET", "PKS", "UINTR" },
};

/* Guest CR0 or CR4 against IA32_VMX_CRn_FIXED0 (bits that must be 1) and FIXED1 (bits that may be 1). */
static int check_fixed(const struct run *r, int cr, uint64_t val, uint64_t exempt)
{
	uint64_t must1 = (cr ? r->m->cr4_fixed0 : r->m->cr0_fixed0) & ~exempt;
	uint64_t bad = (must1 & ~val) | (val & ~(cr ? r->m->cr4_fixed1 : r->m->cr0_fixed1));
	unsigned b = bad ? low_bit(bad) : 0, is1 = val >> b & 1;
	const char *name = b < 32 && cr_bit_names[cr != 0][b] ? cr_bit_names[cr != 0][b] : "reserved";

	BROKEN(r, bad, "guest CR%d: bit %u (%s) is %u but IA32_VMX_CR%d_FIXED%u %s it (" SDM_GUEST_REGS ")", cr, b,
	       name, is1, cr, is1, is1 ? "forbids" : "requires");
	return 0;
}

/* IA32_EFER as VM entry loads it: no reserved bits, LMA (and LME with paging on) matching the mode. */
static int check_efer(const struct run *r, bool ia32e, bool paging)
{
	uint64_t efer = rd(r, GUEST_IA32_EFER);
	bool lma = efer & IA32_EFER_LMA, lme = efer & IA32_EFER_LME;

	BROKEN(r, efer & ~(uint64_t)IA32_EFER_VALID, "guest IA32_EFER 0x%lx: reserved bits set (" SDM_GUEST_REGS ")",
	       efer);
	BROKEN(r, lma != ia32e, "guest IA32_EFER: LMA is %d but \"IA-32e mode guest\" is %d (" SDM_GUEST_REGS ")", lma,
	       ia32e);
	BROKEN(r, paging && lme != lma, "guest IA32_EFER: LME is %d but LMA is %d (" SDM_GUEST_REGS ")", lme, lma);
	return 0;
}

/*
 * Against the capability MSR the field obeys, a TRUE_* one where IA32_VMX_BASIC[55] says they exist.
 * Low half: allowed-0 settings (bits that must be 1); high half: allowed-1 settings (bits that may be 1).
 */
static int check_allowed(const struct run *r, enum ctl c)
{
	const struct vmx_msrs *m = r->m;
	bool t = m->basic & VMX_BASIC_TRUE_CTLS;
	const uint64_t all_caps[NCTL] = { t ? m->true_pinbased : m->pinbased, t ? m->true_procbased : m->procbased,
					  m->procbased2, t ? m->true_exit : m->exit, t ? m->true_entry : m->entry };
	uint64_t caps = all_caps[c];
	uint32_t v = r->ctl[c], bad = ((uint32_t)caps & ~v) | (v & ~(uint32_t)(caps >> 32));
	unsigned b = bad ? low_bit(bad) : 0, is1 = v >> b & 1;

	BROKEN(r, bad, "%s 0x%x: bit %u is %u but IA32_VMX_%s%s %s (%s)", ctls[c].name, v, b, is1,
	       t && c != PROC2 ? "TRUE_" : "", ctls[c].msr, is1 ? "allows only 0" : "requires 1",
	       ctls[c].sdm);
	return 0;
}

static int check_eptp(const struct run *r)
{
	uint64_t p = rd(r, EPT_POINTER), cap = r->m->ept_vpid_cap, type = p & EPTP_FIELD_MASK;
	uint64_t walk = (p >> EPTP_WALK_SHIFT) & EPTP_FIELD_MASK;

	BROKEN(r, !(type == EPTP_MEMTYPE_UC && (cap & EPT_CAP_MEMTYPE_UC)) &&
		  !(type == EPTP_MEMTYPE_WB && (cap & EPT_CAP_MEMTYPE_WB)),
	       "EPTP 0x%lx: memory type %lu is not UC or WB as IA32_VMX_EPT_VPID_CAP allows (" SDM_EXEC ")", p, type);
	BROKEN(r, !(walk == EPT_LEVELS - 1 && (cap & EPT_CAP_WALK_LENGTH_4)) &&
		  !(walk == EPT_LEVELS && (cap & EPT_CAP_WALK_LENGTH_5)),
	       "EPTP 0x%lx: page-walk length %lu: IA32_VMX_EPT_VPID_CAP allows 4, or 5 if bit 7 (" SDM_EXEC ")", p,
	       walk + 1);
	BROKEN(r, (p & EPTP_ACCESSED_DIRTY) && !(cap & EPT_CAP_ACCESSED_DIRTY),
	       "EPTP 0x%lx: accessed/dirty flags on but IA32_VMX_EPT_VPID_CAP bit 21 is 0 (" SDM_EXEC ")", p);
	BROKEN(r, p & EPTP_RESERVED, "EPTP 0x%lx: reserved bits 11:7 set (" SDM_EXEC ")", p);
	return check_phys(r, "EPTP", p, SDM_EXEC);
}

int vmcheck_controls(const struct vmcheck_env *env, err_t *e)
{
	struct run r;

	run_init(&r, env, e);
	for (int c = 0; c < NCTL; c++)
		if ((c != PROC2 || has(&r, PROC, CPU_ACTIVATE_SECONDARY_CONTROLS)) && check_allowed(&r, c) < 0)
			return -1;
	return has(&r, PROC2, SECONDARY_ENABLE_EPT) ? check_eptp(&r) : 0;
}

/* Guest facts several rules share. */
struct guest {
	uint64_t cr0, cr4;
	uint32_t cs_ar;
	bool ug, ia32e;
};

/* Control registers, MSRs and RIP (27.3.1.1, 27.3.1.4). */
static int guest_regs(const struct run *r, const struct guest *g)
{
	uint64_t rip = rd(r, GUEST_RIP);
	bool cs_l = g->ia32e && (g->cs_ar & AR_L);

	/* Unrestricted guest lifts the fixed-bit rule from CR0.PE and CR0.PG only. */
	if (check_fixed(r, 0, g->cr0, g->ug ? CR0_PE | CR0_PG : 0) < 0 || check_fixed(r, 4, g->cr4, 0) < 0)
		return -1;
	BROKEN(r, (g->cr0 & CR0_PG) && !(g->cr0 & CR0_PE), "guest CR0: PG is 1 but PE is 0 (" SDM_GUEST_REGS ")");
	BROKEN(r, g->ia32e && (!(g->cr0 & CR0_PG) || !(g->cr4 & CR4_PAE)),
	       "\"IA-32e mode guest\" is 1 but guest CR0.PG or CR4.PAE is 0 (" SDM_GUEST_REGS ")");
	BROKEN(r, !g->ia32e && (g->cr4 & CR4_PCIDE),
	       "guest CR4: PCIDE is 1 but \"IA-32e mode guest\" is 0 (" SDM_GUEST_REGS ")");
	if (check_phys(r, "guest CR3", rd(r, GUEST_CR3), SDM_GUEST_REGS) < 0)
		return -1;
	if (has(r, ENTRY, ENTRY_LOAD_IA32_EFER) && check_efer(r, g->ia32e, g->cr0 & CR0_PG) < 0)
		return -1;
	BROKEN(r, cs_l ? !canonical(r, rip) : rip >> 32, "guest RIP 0x%lx: %s (" SDM_GUEST_RIP ")", rip,
	       cs_l ? "not canonical" : "bits 63:32 must be 0 outside 64-bit mode");
	return 0;
}

static int guest_gdtr(const struct run *r)
{
	uint64_t base = rd(r, GUEST_GDTR_BASE), limit = rd(r, GUEST_GDTR_LIMIT);

	BROKEN(r, !canonical(r, base), "guest GDTR base 0x%lx: not canonical (" SDM_GUEST_DTRS ")", base);
	BROKEN(r, limit > DTR_LIMIT_MAX, "guest GDTR limit 0x%lx: bits 31:16 must be 0 (" SDM_GUEST_DTRS ")", limit);
	return 0;
}

int vmcheck_guest(const struct vmcheck_env *env, err_t *e)
{
	struct run r;
	struct guest g;

	run_init(&r, env, e);
	g = (struct guest){
		.cr0 = rd(&r, GUEST_CR0), .cr4 = rd(&r, GUEST_CR4),
		.cs_ar = (uint32_t)rd(&r, GUEST_CS_AR_BYTES),
		.ug = has(&r, PROC2, SECONDARY_UNRESTRICTED_GUEST), .ia32e = has(&r, ENTRY, ENTRY_IA32E_MODE_GUEST),
	};
	return guest_regs(&r, &g) < 0 ? -1 : guest_gdtr(&r);
}

int vmcheck_all(const struct vmcheck_env *env, err_t *e)
{
	return vmcheck_controls(env, e) < 0 ? -1 : vmcheck_guest(env, e);
}
