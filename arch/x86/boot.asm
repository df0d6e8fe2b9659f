; slicehv entry: multiboot headers, 32-bit start, identity page tables, long mode, call C.

%include "arch/x86/boot.inc"

extern __image_start, __load_end, __image_end
extern hv_main, bsp_stack_top
global _start, boot_pml4, boot_tsc

; ---- Multiboot 1 header: the address fields let `qemu -kernel` load this ELF64 as a flat image.
MB1_MAGIC       equ 0x1badb002
MB1_FLAG_MEMINFO equ 1 << 1
MB1_FLAG_ADDRS  equ 1 << 16
MB1_FLAGS       equ MB1_FLAG_MEMINFO | MB1_FLAG_ADDRS

section .multiboot
MULTIBOOT2_HEADER

align 4
mb1_header:
	dd MB1_MAGIC, MB1_FLAGS, -(MB1_MAGIC + MB1_FLAGS)
	dd mb1_header                   ; header_addr
	dd __image_start                ; load_addr
	dd __load_end                   ; load_end_addr
	dd __image_end                  ; bss_end_addr
	dd _start                       ; entry_addr

; ---- Boot page tables: identity map of the first 4 GiB with 2 MiB pages (the LAPIC included).
section .bss
align 4096
boot_pml4:  resb 4096
boot_pdpt:  resb 4096
boot_pd:    resb 4096 * BOOT_MAPPED_GIB

section .text.boot
bits 32
_start:
	cli
	cld
	mov edi, eax                    ; loader magic, first argument of hv_main
	mov esi, ebx                    ; loader information, second argument
	rdtsc                           ; the first instruction's time, for boot timings
	mov [boot_tsc], eax
	mov [boot_tsc + 4], edx

	; A 32-bit-only CPU cannot run slicehv: say so on COM1 rather than fault.
	mov eax, CPUID_EXT_FEATURES
	cpuid
	test edx, CPUID_EXT_EDX_LM
	jz no_long_mode

	; PD entries: 2 MiB pages over 4 GiB; PDPT entries: the 4 PDs; PML4 entry 0: the PDPT.
	mov ecx, BOOT_MAPPED_GIB * 512
	mov eax, PTE_PRESENT | PTE_WRITE | PTE_LARGE
	xor edx, edx
	mov ebx, boot_pd
.fill_pd:
	mov [ebx], eax
	mov [ebx + 4], edx
	add eax, 1 << 21
	adc edx, 0
	add ebx, 8
	loop .fill_pd
	mov ecx, BOOT_MAPPED_GIB
	mov eax, boot_pd + (PTE_PRESENT | PTE_WRITE)
	mov ebx, boot_pdpt
.fill_pdpt:
	mov [ebx], eax
	add eax, 4096
	add ebx, 8
	loop .fill_pdpt
	mov dword [boot_pml4], boot_pdpt + (PTE_PRESENT | PTE_WRITE)

	lgdt [boot_gdt_ptr]
	ENTER_LONG_MODE boot_pml4
	jmp BOOT_CS64:long_mode

no_long_mode:
	mov esi, msg_no_lm
.next:
	lodsb
	test al, al
	jz .stop
	mov dx, COM1_PORT
	out dx, al
	jmp .next
.stop:
	HALT_FOREVER

bits 64
long_mode:
	LOAD_DATA_SEGMENTS BOOT_DS
	mov rsp, [rel bsp_stack_top]
	call hv_main                    ; hv_main(magic, info) ends the machine; it never returns
	HALT_FOREVER

section .data
align 8
boot_tsc: dq 0

section .rodata
msg_no_lm: db "slicehv: no vmx: CPU has no long mode (64-bit) support", 13, 10, 0

align 8
boot_gdt:
	dq 0
	dq GDT_CODE64                   ; BOOT_CS64
	dq GDT_DATA                     ; BOOT_DS
boot_gdt_end:
boot_gdt_ptr:
	dw boot_gdt_end - boot_gdt - 1
	dd boot_gdt
