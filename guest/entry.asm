; Guest entry: multiboot2 header and a position-independent 32-bit start into 64-bit C.
;
; The same image runs at 1 MiB (bare GRUB) or at slice base + 1 MiB (slicehv), so nothing here
; may hold a link-time address: the stub finds its run-time address with call/pop and reaches
; every other label through a PC-relative dword (`dd label - $`) added to that dword's own
; run-time address. It then identity-maps [0, MAPPED_GIB GiB) with 2 MiB pages, enters long
; mode and calls guest_main(multiboot2 info address).

; Multiboot2 header, paging-entry bits and ENTER_LONG_MODE, shared with slicehv's own entry.
%include "arch/x86/boot.inc"

MB2_LOADER_MAGIC  equ 0x36d76289      ; EAX at entry when a multiboot2 loader started us
MBI_RESERVED      equ 4               ; the info's unused dword: a 4-byte stack for call/pop

; ---- Paging (SDM Vol 3A 4.5): one PML4 entry, MAPPED_GIB PDPT entries, 2 MiB PD leaves.
; 64 GiB covers any slice a 32-bit entry can start in, even one that ends above 4 GiB.
MAPPED_GIB        equ 64
PAGE_SIZE         equ 4096
PT_ENTRIES        equ 512
LARGE_PAGE        equ 1 << 21
STACK_SIZE        equ 16384

; ---- GDT (SDM Vol 3A 3.4.5): flat ring-0 descriptors; L=1 makes the code segment 64-bit.
GDT_CODE64_DESC   equ 0x00af9a000000ffff
GDT_DATA_DESC     equ 0x00cf92000000ffff
SEL_CODE64        equ 8
SEL_DATA          equ 16

global _start
extern guest_main

section .multiboot
MULTIBOOT2_HEADER

section .bss
align PAGE_SIZE
pml4:       resb PAGE_SIZE
pdpt:       resb PAGE_SIZE
page_dirs:  resb PAGE_SIZE * MAPPED_GIB
stack:      resb STACK_SIZE
stack_top:

section .text
; Run-time address of label %2 into %1 (EBP holds the run-time address of `anchor`).
%macro RUNTIME 2
	lea %1, [ebp + %2_rel - anchor]
	add %1, [%1]
%endmacro

bits 32
_start:
	cli
	cld
	cmp eax, MB2_LOADER_MAGIC
	jne halt32                      ; no info to trust, not even an address: stop
	mov esi, ebx                    ; the info address, guest_main's argument
	; The loader gave no stack: call/pop borrows the info's reserved dword, then puts it back.
	mov edx, [ebx + MBI_RESERVED]
	lea esp, [ebx + MBI_RESERVED + 4]
	call anchor
anchor:
	pop ebp
	mov [ebx + MBI_RESERVED], edx
	RUNTIME esp, stack_top
	call map_identity
	call enter_long_mode            ; does not return

halt32:
	hlt
	jmp halt32

; PD leaves for 0..MAPPED_GIB GiB, the PDPT pointing at each PD, PML4 entry 0 at the PDPT.
map_identity:
	RUNTIME edi, page_dirs
	mov ecx, MAPPED_GIB * PT_ENTRIES
	mov eax, PTE_PRESENT | PTE_WRITE | PTE_LARGE
	xor edx, edx
.pd:
	mov [edi], eax
	mov [edi + 4], edx
	add eax, LARGE_PAGE
	adc edx, 0
	add edi, 8
	loop .pd
	RUNTIME edi, pdpt
	RUNTIME eax, page_dirs
	or eax, PTE_PRESENT | PTE_WRITE
	mov ecx, MAPPED_GIB
.pdpt:
	mov [edi], eax
	mov dword [edi + 4], 0
	add eax, PAGE_SIZE
	add edi, 8
	loop .pdpt
	RUNTIME edi, pml4
	RUNTIME eax, pdpt
	or eax, PTE_PRESENT | PTE_WRITE
	mov [edi], eax
	mov dword [edi + 4], 0
	ret

; Own GDT, long mode on our tables, then a far return into 64-bit code at its run-time address.
enter_long_mode:
	lea eax, [ebp + gdt - anchor]
	push eax                        ; GDTR base
	push word gdt_end - gdt - 1     ; GDTR limit
	lgdt [esp]
	add esp, 6
	RUNTIME edi, pml4
	ENTER_LONG_MODE edi
	push SEL_CODE64
	lea eax, [ebp + long_mode - anchor]
	push eax
	retf

bits 64
long_mode:
	LOAD_DATA_SEGMENTS SEL_DATA
	lea rsp, [rel stack_top]
	mov edi, esi                    ; zero-extends the info address
	call guest_main
.halt:
	cli
	hlt
	jmp .halt

align 8
gdt:
	dq 0
	dq GDT_CODE64_DESC
	dq GDT_DATA_DESC
gdt_end:

; PC-relative distances: position-independent, fixed by the linker (R_X86_64_PC32).
pml4_rel:       dd pml4 - $
pdpt_rel:       dd pdpt - $
page_dirs_rel:  dd page_dirs - $
stack_top_rel:  dd stack_top - $
