; VM entry and exit: the guest's general-purpose registers live in a struct guest_regs frame
; (arch/x86/vmcs.h) in boot.inc's GPRS order. Everything else is C.

%include "arch/x86/boot.inc"

extern vmexit_handler, vmentry_failed
global vmx_launch, vmx_exit_entry

%macro PUSH_GUEST_REGS 0
	push 0                          ; pad: a 16-byte multiple
	PUSH_REVERSED GPRS
%endmacro

%macro POP_GUEST_REGS 0
	POP_IN_ORDER GPRS
	add rsp, 8                      ; pad
%endmacro

section .text
; void vmx_launch(struct guest_regs *regs): regs is 16-byte aligned, with free stack below it.
; Success never comes back here: exits arrive at vmx_exit_entry on the HOST_RSP stack.
vmx_launch:
	mov rsp, rdi
	POP_GUEST_REGS
	vmlaunch
	jmp entry_failed

; HOST_RIP: a VM exit lands here with RSP = HOST_RSP (the top of this core's stack).
vmx_exit_entry:
	PUSH_GUEST_REGS
	mov rdi, rsp
	call vmexit_handler             ; returns when the guest may go on
	POP_GUEST_REGS
	vmresume
	; fall through: VMRESUME failed

; VMLAUNCH/VMRESUME failed (CF: VMfailInvalid, ZF: VMfailValid). Rebuild the frame for the report.
entry_failed:
	PUSH_GUEST_REGS
	mov rdi, rsp
	call vmentry_failed             ; parks this core's partition; never returns
	HALT_FOREVER
