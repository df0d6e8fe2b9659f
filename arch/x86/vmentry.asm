; VM entry and exit: the guest's general-purpose registers live in a struct guest_regs frame
; (arch/x86/vmcs.h) whose field order is the push order below. Everything else is C.

extern vmexit_handler, vmentry_failed
global vmx_launch, vmx_exit_entry

%macro PUSH_GUEST_REGS 0
	push 0                          ; pad: a 16-byte multiple
	push r15
	push r14
	push r13
	push r12
	push r11
	push r10
	push r9
	push r8
	push rdi
	push rsi
	push rbp
	push rbx
	push rdx
	push rcx
	push rax
%endmacro

%macro POP_GUEST_REGS 0
	pop rax
	pop rcx
	pop rdx
	pop rbx
	pop rbp
	pop rsi
	pop rdi
	pop r8
	pop r9
	pop r10
	pop r11
	pop r12
	pop r13
	pop r14
	pop r15
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
.hang:
	hlt
	jmp .hang
