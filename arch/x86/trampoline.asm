; AP trampoline: copied to a free page below 1 MiB; an AP starts here in real mode after SIPI
; (SDM Vol 3A 9.4.4), enters long mode on the boot page tables and calls ap_main(cpu index).
; The BSP fills the tramp_* fields of the copy before each SIPI: this code holds no addresses.

%include "arch/x86/boot.inc"

global trampoline_start, trampoline_end
global tramp_gdt_ptr, tramp_jump32, tramp_jump64, tramp_cr3, tramp_stack, tramp_entry, tramp_cpu

TRAMP_CS32      equ 0x08
TRAMP_DS        equ 0x10
TRAMP_CS64      equ 0x18
%define OFF(label) (label - trampoline_start)

section .rodata
align 4096
bits 16
trampoline_start:
	cli
	cld
	mov ax, cs
	mov ds, ax
	xor ebx, ebx
	mov bx, ax
	shl ebx, 4                      ; ebx = physical base of the copy, kept to the end
	lgdt [OFF(tramp_gdt_ptr)]
	mov eax, cr0
	or eax, CR0_PE
	mov cr0, eax
	jmp dword far [OFF(tramp_jump32)]

bits 32
tramp_pm:
	LOAD_DATA_SEGMENTS TRAMP_DS
	ENTER_LONG_MODE [ebx + OFF(tramp_cr3)]
	jmp far [ebx + OFF(tramp_jump64)]

bits 64
tramp_lm:
	LOAD_DATA_SEGMENTS TRAMP_DS
	mov rsp, [rbx + OFF(tramp_stack)]
	mov edi, [rbx + OFF(tramp_cpu)]
	call [rbx + OFF(tramp_entry)]   ; ap_main never returns
	HALT_FOREVER

; ---- Data the BSP fills in the copy (addresses are of the copy, not of this image).
align 8
tramp_gdt:
	dq 0
	dq GDT_CODE32                   ; TRAMP_CS32
	dq GDT_DATA                     ; TRAMP_DS
	dq GDT_CODE64                   ; TRAMP_CS64
tramp_gdt_end:
tramp_gdt_ptr:  dw tramp_gdt_end - tramp_gdt - 1
                dd 0                ; base: copy + OFF(tramp_gdt)
align 4
tramp_jump32:   dd 0                ; copy + OFF(tramp_pm)
                dw TRAMP_CS32
align 4
tramp_jump64:   dd 0                ; copy + OFF(tramp_lm)
                dw TRAMP_CS64
align 8
tramp_cr3:      dq 0
tramp_stack:    dq 0
tramp_entry:    dq 0
tramp_cpu:      dq 0
trampoline_end:

global tramp_gdt, tramp_pm, tramp_lm
