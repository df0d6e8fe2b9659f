/* VMX capability probe and VMXON on each core (SDM Vol 3C chapter 24, Appendix A). */
#include "vmx.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/cpu.h"
#include "msr.h"
#include "vmcs.h"
#include "x86.h"

struct vmx_caps vmx_caps;
struct vmx_msrs vmx_msrs;

/* Every capability MSR, read once on the boot CPU: the cores of one machine report the same. */
static void vmx_read_msrs(struct vmx_msrs *m)
{
	m->basic = rdmsr(IA32_VMX_BASIC);
	m->pinbased = rdmsr(IA32_VMX_PINBASED_CTLS);
	m->procbased = rdmsr(IA32_VMX_PROCBASED_CTLS);
	m->exit = rdmsr(IA32_VMX_EXIT_CTLS);
	m->entry = rdmsr(IA32_VMX_ENTRY_CTLS);
	m->misc = rdmsr(IA32_VMX_MISC);
	m->cr0_fixed0 = rdmsr(IA32_VMX_CR0_FIXED0);
	m->cr0_fixed1 = rdmsr(IA32_VMX_CR0_FIXED1);
	m->cr4_fixed0 = rdmsr(IA32_VMX_CR4_FIXED0);
	m->cr4_fixed1 = rdmsr(IA32_VMX_CR4_FIXED1);
	m->phys_addr_bits = cpu_phys_addr_bits();
	/* Without TRUE MSRs the plain ones are the truth (SDM Vol 3D A.2). */
	m->true_pinbased = (m->basic & VMX_BASIC_TRUE_CTLS) ? rdmsr(IA32_VMX_TRUE_PINBASED_CTLS) : m->pinbased;
	m->true_procbased = (m->basic & VMX_BASIC_TRUE_CTLS) ? rdmsr(IA32_VMX_TRUE_PROCBASED_CTLS) : m->procbased;
	m->true_exit = (m->basic & VMX_BASIC_TRUE_CTLS) ? rdmsr(IA32_VMX_TRUE_EXIT_CTLS) : m->exit;
	m->true_entry = (m->basic & VMX_BASIC_TRUE_CTLS) ? rdmsr(IA32_VMX_TRUE_ENTRY_CTLS) : m->entry;
	/* These two exist only when the controls that use them can be set (SDM Vol 3D A.3.3, A.10). */
	if (m->procbased & ((uint64_t)CPU_ACTIVATE_SECONDARY_CONTROLS << 32))
		m->procbased2 = rdmsr(IA32_VMX_PROCBASED_CTLS2);
	if (m->procbased2 & ((uint64_t)(SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID) << 32))
		m->ept_vpid_cap = rdmsr(IA32_VMX_EPT_VPID_CAP);
}

/* Allowed-1 settings live in the high 32 bits of a control MSR (SDM Vol 3D A.3). */
static bool allowed1(uint64_t msr_value, uint64_t bit) { return (msr_value >> 32) & bit; }

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

static void vmx_read_caps(struct vmx_caps *v, const struct vmx_msrs *m)
{
	uint64_t ept = m->ept_vpid_cap;

	v->revision = m->basic & VMX_BASIC_REVISION_MASK;
	v->true_ctls = m->basic & VMX_BASIC_TRUE_CTLS;
	v->preempt_timer = allowed1(m->true_pinbased, PIN_PREEMPTION_TIMER);
	v->vpid = allowed1(m->procbased2, SECONDARY_ENABLE_VPID);
	v->unrestricted = allowed1(m->procbased2, SECONDARY_UNRESTRICTED_GUEST);
	/* slicehv's EPT needs 4-level walks and write-back paging structures. */
	v->ept = allowed1(m->procbased2, SECONDARY_ENABLE_EPT) && (ept & EPT_CAP_WALK_LENGTH_4) &&
		 (ept & EPT_CAP_MEMTYPE_WB);
	v->ept_2m = v->ept && (ept & EPT_CAP_2M_PAGES);
	v->ept_1g = v->ept && (ept & EPT_CAP_1G_PAGES);
	v->invept_single = (ept & EPT_CAP_INVEPT) && (ept & EPT_CAP_INVEPT_SINGLE);
	v->invept_all = (ept & EPT_CAP_INVEPT) && (ept & EPT_CAP_INVEPT_ALL);
}

static void vmx_print_caps(const struct vmx_caps *v)
{
	static const char *const invept[] = { "none", "single", "all", "single,all" };

	printk("slicehv: vmx caps: ept=%s ept-2m=%s ept-1g=%s vpid=%s unrestricted=%s "
	       "preempt-timer=%s true-ctls=%s invept=%s\n",
	       yes_no(v->ept), yes_no(v->ept_2m), yes_no(v->ept_1g), yes_no(v->vpid),
	       yes_no(v->unrestricted), yes_no(v->preempt_timer), yes_no(v->true_ctls),
	       invept[v->invept_single | v->invept_all << 1]);
}

int arch_virt_probe(err_t *e)
{
	uint64_t fc;

	if (!(cpuid(1, 0).ecx & CPUID_1_ECX_VMX))
		return err_set(e, "CPUID.1:ECX.VMX[bit 5] is clear: this CPU offers no VT-x "
				  "(in a VM, enable nested virtualization)");
	fc = rdmsr(IA32_FEATURE_CONTROL);
	if ((fc & IA32_FEATURE_CONTROL_LOCK) && !(fc & IA32_FEATURE_CONTROL_VMX_OUTSIDE_SMX))
		return err_set(e, "IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled "
				  "(enable VT-x in the firmware setup)");
	vmx_read_msrs(&vmx_msrs);
	vmx_read_caps(&vmx_caps, &vmx_msrs);
	vmx_print_caps(&vmx_caps);
	if (!vmx_caps.ept)
		return err_set(e, "no EPT with 4-level walks and write-back tables "
				  "(IA32_VMX_PROCBASED_CTLS2 / IA32_VMX_EPT_VPID_CAP): partitions need EPT");
	return 0;
}

/* SDM Vol 3C 24.7: firmware may leave IA32_FEATURE_CONTROL unlocked; lock it with VMX on. */
static int feature_control_enable(struct cpu *c, err_t *e)
{
	uint64_t fc = rdmsr(IA32_FEATURE_CONTROL);

	if (fc & IA32_FEATURE_CONTROL_LOCK) {
		if (!(fc & IA32_FEATURE_CONTROL_VMX_OUTSIDE_SMX))
			return err_set(e, "IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled");
		return 0;
	}
	wrmsr(IA32_FEATURE_CONTROL, fc | IA32_FEATURE_CONTROL_VMX_OUTSIDE_SMX | IA32_FEATURE_CONTROL_LOCK);
	printk("slicehv: cpu %u apic %u: feature control locked by slicehv\n", c->index, c->apic_id);
	return 0;
}

/* SDM Vol 3C 24.8: CR0 and CR4 must honour the fixed-0 (must be 1) and fixed-1 (may be 1) MSRs. */
static uint64_t apply_fixed(uint64_t v, uint64_t fixed0, uint64_t fixed1) { return (v | fixed0) & fixed1; }

int arch_virt_enable(struct cpu *c, err_t *e)
{
	if (!(cpuid(1, 0).ecx & CPUID_1_ECX_VMX))
		return err_set(e, "CPUID.1:ECX.VMX is clear on this core");
	if (feature_control_enable(c, e) < 0)
		return -1;
	/*
	 * A core leaves INIT with caching off (CR0.CD = NW = 1, SDM Vol 3A 9.1.1), and firmware may
	 * leave the boot CPU so: slicehv and its partitions run with caching on.
	 */
	write_cr0(apply_fixed(read_cr0() & ~(CR0_CD | CR0_NW), vmx_msrs.cr0_fixed0, vmx_msrs.cr0_fixed1));
	/* slicehv carries out a guest's XSETBV and resets its vector state: CR4.OSXSAVE, OSFXSR. */
	write_cr4(read_cr4() | CR4_OSFXSR);
	if (cpuid(1, 0).ecx & CPUID_1_ECX_XSAVE)
		write_cr4(read_cr4() | CR4_OSXSAVE);
	write_cr4(apply_fixed(read_cr4() | CR4_VMXE, vmx_msrs.cr4_fixed0, vmx_msrs.cr4_fixed1));
	*(uint32_t *)c->arch.vmxon = vmx_caps.revision;
	if (!vmxon((uint64_t)c->arch.vmxon))
		return err_set(e, "VMXON failed (region 0x%lx, revision 0x%x)", (uint64_t)c->arch.vmxon,
			       vmx_caps.revision);
	c->vmx_on = true;
	return 0;
}

uint64_t arch_largest_leaf(void)
{
	return vmx_caps.ept_1g ? EPT_PAGE_1G : vmx_caps.ept_2m ? EPT_PAGE_2M : EPT_PAGE_4K;
}
