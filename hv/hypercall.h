/*
 * The slicehv guest ABI: how a partition starts, how it finds out it is partitioned, and its
 * hypercalls. Shared by the hypervisor and the guests (guest/), so the two cannot disagree.
 *
 * Start state (the multiboot2 hand-off, so one kernel boots bare from GRUB and in a partition):
 *   32-bit protected mode, paging off, flat 4 GiB CS/DS/ES/SS, interrupts off,
 *   EAX = MULTIBOOT2_BOOTLOADER_MAGIC, EBX = guest-physical address of a multiboot2 information
 *   structure inside the slice (at GUEST_BOOTINFO_OFFSET) with a boot loader name tag
 *   ("slicehv"), a command line tag ("name=<name>" followed by the image module's GRUB arguments
 *   after its first word: `module2 /boot/x.elf evil attack=1` gives "name=<name> attack=1"), and a memory map
 *   tag with exactly one usable entry: the slice. The image's lowest PT_LOAD address is placed at
 *   GUEST_IMAGE_OFFSET into the slice, so a kernel linked at 1 MiB sits at slice base + 1 MiB.
 *   Guest-physical == host-physical: the guest must be position-independent.
 *
 * Discovery: CPUID.1:ECX[31] (hypervisor present) and leaf HV_CPUID_SIGNATURE returning
 *   EBX:ECX:EDX = "slicehv\0\0\0\0\0", EAX = the highest hypervisor leaf.
 *
 * Hypercalls: VMCALL with RAX = number, arguments in RDI, RSI, RDX; the result comes back in
 *   RAX (negative: an HC_ERR_* code). Addresses are guest-physical and must lie in the slice.
 *   They are for the guest kernel: at CPL > 0 VMCALL raises #UD, as on a CPU without VMX, except
 *   the two exit counters, which only read the partition's own figures (a benchmark in a Linux
 *   guest's userspace uses them).
 */
#ifndef HV_HYPERCALL_H
#define HV_HYPERCALL_H

#include <stdint.h>

#define GUEST_BOOTINFO_OFFSET 0x1000u
#define GUEST_BOOTINFO_MAX 0x1000u
#define GUEST_IMAGE_OFFSET 0x100000u

#define HV_CPUID_SIGNATURE 0x40000000u
#define HV_SIGNATURE_EBX 0x63696c73u /* "slic" */
#define HV_SIGNATURE_ECX 0x00766865u /* "ehv\0" */
#define HV_SIGNATURE_EDX 0x00000000u

enum hypercall {
	HC_CONSOLE_WRITE = 1,   /* RDI = buffer, RSI = length (<= HC_CONSOLE_MAX); returns length */
	HC_PARTITION_INFO = 2,  /* RDI = struct hc_partition_info to fill; returns 0 */
	HC_DONE = 3,            /* RDI = status (0 = success); does not return */
	HC_EXIT_COUNT = 4,      /* returns the VM exits this partition has taken, this call included */
	HC_EXIT_REASON_COUNT = 5, /* RDI = a basic exit reason (SDM Vol 3C Appendix C); returns its count */
};

/* Whether hypercall nr answers at any CPL (the exit counters), not only at CPL 0. */
#define HC_ANY_CPL(nr) ((nr) == HC_EXIT_COUNT || (nr) == HC_EXIT_REASON_COUNT)

#define HC_CONSOLE_MAX 4096

enum hypercall_error {
	HC_ERR_UNKNOWN_CALL = -1, /* no such hypercall number */
	HC_ERR_BAD_ADDRESS = -2,  /* a buffer is not entirely inside the caller's slice */
	HC_ERR_BAD_LENGTH = -3,   /* a length is zero or above the call's limit */
	HC_ERR_BAD_ARGUMENT = -4, /* a number out of range (an exit reason slicehv does not know) */
};

struct hc_partition_info {
	char name[16];
	uint32_t index;      /* partition number, 0-based */
	uint32_t partitions; /* how many partitions run */
	uint32_t cpu;        /* the logical CPU it owns */
	uint32_t apic_id;    /* that CPU's local APIC id */
	uint64_t slice_base;
	uint64_t slice_size;
};

#endif
