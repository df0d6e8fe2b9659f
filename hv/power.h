/* Ending the machine with a status the test harness can read. */
#ifndef HV_POWER_H
#define HV_POWER_H

/* Exit statuses: QEMU's isa-debug-exit turns status s into process exit code (s << 1) | 1. */
enum hv_exit_status {
	HV_EXIT_OK = 0,     /* everything ran as configured */
	HV_EXIT_FAILED = 1, /* ran, but something did not finish cleanly */
	HV_EXIT_NO_VMX = 2, /* this machine cannot run partitions */
	HV_EXIT_PANIC = 3,  /* a hypervisor bug: an exception or a broken invariant */
};

/* Prints "slicehv: exit <code> (<name>)", drains the console and ends the machine. */
void machine_exit(enum hv_exit_status status) __attribute__((noreturn));

#endif
