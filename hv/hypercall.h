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
 *
 * Channels (declared by `channel` lines in the config, README): memory shared with named peers,
 *   outside every slice, mapped at the same guest-physical address as its host address (a toy) or
 *   just above the slice's top (Linux), read-write for a writer, read-only for a reader,
 *   executable only where the config says exec=. The memory map shows each as one entry of type
 *   GUEST_MEM_CHANNEL; HC_CHANNEL_INFO names them. Their contents survive a peer's restart.
 *   HC_DOORBELL interrupts the running peers through their own local APICs at the channel's
 *   vector (no exit on their side). A ring that answers a peer's (on a channel of the two of
 *   them) goes out at once; other rings at most once per HC_DOORBELL_INTERVAL_US per channel
 *   and sender, so a flood cannot starve a peer's own timer. When an endpoint parks or
 *   restarts, the channel's generation grows and its peers are rung.
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
	HC_CHANNEL_INFO = 6,    /* RDI = index among the caller's channels, RSI = struct hc_channel_info; returns 0 */
	HC_DOORBELL = 7,        /* RDI = index among the caller's channels; returns the peers rung (0: none runs) */
};

/* Whether hypercall nr answers at any CPL (the exit counters), not only at CPL 0. */
#define HC_ANY_CPL(nr) ((nr) == HC_EXIT_COUNT || (nr) == HC_EXIT_REASON_COUNT)

#define HC_CONSOLE_MAX 4096

enum hypercall_error {
	HC_ERR_UNKNOWN_CALL = -1, /* no such hypercall number */
	HC_ERR_BAD_ADDRESS = -2,  /* a buffer is not entirely inside the caller's slice */
	HC_ERR_BAD_LENGTH = -3,   /* a length is zero or above the call's limit */
	HC_ERR_BAD_ARGUMENT = -4, /* a number out of range (an exit reason or channel slicehv does not know) */
	HC_ERR_BUSY = -5,         /* an unanswered doorbell within HC_DOORBELL_INTERVAL_US of the last: not rung, counted */
};

#define GUEST_MEM_CHANNEL 0x100u    /* memory map type of a channel: past every multiboot2 and e820 type */
#define HC_DOORBELL_INTERVAL_US 20u /* the least time between two unanswered rings of one channel by one sender */
#define HC_CHANNEL_READ 1u          /* struct hc_channel_info's rights, as the EPT maps them */
#define HC_CHANNEL_WRITE 2u
#define HC_CHANNEL_EXEC 4u

struct hc_partition_info {
	char name[16];
	uint32_t index;      /* partition number, 0-based */
	uint32_t partitions; /* how many partitions run */
	uint32_t cpu;        /* the logical CPU it owns */
	uint32_t apic_id;    /* that CPU's local APIC id */
	uint64_t slice_base;
	uint64_t slice_size;
};

struct hc_channel_info {
	char name[16];
	uint64_t base;       /* guest-physical */
	uint64_t size;
	uint32_t rights;     /* HC_CHANNEL_READ, _WRITE, _EXEC */
	uint32_t vector;     /* where its doorbell arrives */
	uint32_t generation; /* grows by one each time one of its endpoints parks or restarts */
	uint32_t peers;      /* the other endpoints */
	uint32_t peers_running;
	uint32_t reserved;
};

#endif
