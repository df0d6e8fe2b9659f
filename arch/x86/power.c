/* Ending the machine: QEMU's isa-debug-exit, then Bochs's shutdown port, then halt. */
#include "../../hv/console.h"
#include "../../hv/power.h"
#include "x86.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4   /* -device isa-debug-exit,iobase=0xf4,iosize=0x04 */
#define BOCHS_SHUTDOWN_PORT 0x8900  /* the string "Shutdown" written here ends Bochs */

static const char *const status_names[] = {
	[HV_EXIT_OK] = "ok",
	[HV_EXIT_FAILED] = "failed",
	[HV_EXIT_NO_VMX] = "no-vmx",
	[HV_EXIT_PANIC] = "panic",
};

void machine_exit(enum hv_exit_status status)
{
	printk("slicehv: exit %d (%s)\n", status, status_names[status]);
	console_drain();
	outl(QEMU_DEBUG_EXIT_PORT, status);
	for (const char *s = "Shutdown"; *s; s++)
		outb(BOCHS_SHUTDOWN_PORT, *s);
	/* Real hardware: nothing above ends the machine, so this core stops here. */
	printk("slicehv: halted\n");
	cli();
	for (;;)
		hlt();
}
