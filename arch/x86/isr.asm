; Exception entry stubs: push a uniform frame (vector, error code, registers), call C. The C
; handler returns only for a fault it fixed up (an instruction run for a guest, arch/x86/x86.h
; GUEST_SAFE); then the frame, changed by it, is restored and IRETQ resumes at the fixup.

%include "arch/x86/boot.inc"

extern exception_handler
global isr_table

; Vectors that push an error code themselves (SDM Vol 3A 6.13, Table 6-1).
%define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)
NUM_EXCEPTIONS equ 32

section .text
%assign v 0
%rep NUM_EXCEPTIONS
isr_ %+ v:
%if !HAS_ERROR(v)
	push 0                          ; a uniform frame: fake error code
%endif
	push v
	jmp isr_common
%assign v v + 1
%endrep

; Frame layout must match struct exception_frame in arch/x86/cpu.h.
isr_common:
	PUSH_REVERSED GPRS
	mov rdi, rsp
	mov rbx, rsp                    ; callee-saved: the frame, across the call
	and rsp, -16                    ; the C ABI wants a 16-byte aligned stack
	call exception_handler          ; a fault it cannot fix up is reported and ends the machine
	mov rsp, rbx
	POP_IN_ORDER GPRS
	add rsp, 16                     ; vector and error code
	iretq

section .rodata
align 8
isr_table:
%assign v 0
%rep NUM_EXCEPTIONS
	dq isr_ %+ v
%assign v v + 1
%endrep
