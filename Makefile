# slicehv: the one entry point. Targets: all (hv.elf), iso, run, test, clean.
# Everything is built out of tree, in $(BUILD).

BUILD   ?= build
CC      := gcc
NASM    := nasm
PYTHON  := python3

# The hypervisor: freestanding C and NASM, no SSE/x87, linked at 1 MiB and identity-mapped.
HV_C    := hv/main.c hv/console.c hv/fmt.c hv/err.c hv/string.c hv/multiboot.c hv/phys.c \
           hv/heap.c hv/config.c hv/elf.c hv/partition.c hv/hypercall.c hv/isolation.c \
           arch/x86/cpu.c arch/x86/acpi.c arch/x86/apic.c arch/x86/smp.c arch/x86/vmx.c \
           arch/x86/power.c arch/x86/paging.c arch/x86/ept.c arch/x86/vmcs.c arch/x86/vmcheck.c arch/x86/exits.c \
           arch/x86/lapic.c
HV_ASM  := arch/x86/boot.asm arch/x86/isr.asm arch/x86/trampoline.asm arch/x86/vmentry.asm
HV_OBJ  := $(HV_C:%.c=$(BUILD)/%.o) $(HV_ASM:%.asm=$(BUILD)/%.o)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
HV_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-pie -fno-pic -fno-stack-protector \
           -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -mno-red-zone \
           -mgeneral-regs-only -mcmodel=small -fno-tree-loop-distribute-patterns -MMD -MP
HV_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack \
           -Wl,-T,arch/x86/hv.ld

# Host-side code: the same sources compiled for Linux, for unit tests and fuzzers.
HOST_SRCS := hv/fmt.c hv/err.c hv/multiboot.c hv/config.c hv/elf.c hv/isolation.c arch/x86/acpi.c arch/x86/ept.c \
           arch/x86/vmcheck.c arch/x86/lapic.c
HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-missing-prototypes -fsanitize=address,undefined \
           -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := tests/unit/fakemem.c

ISO     := $(BUILD)/slicehv.iso

.PHONY: all iso run test unit clean deps
all: $(BUILD)/hv.elf

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(HV_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.asm
	@mkdir -p $(dir $@)
	@echo "  NASM    $<"
	@$(NASM) -f elf64 -g -F dwarf -MD $(@:.o=.d) -MP -o $@ $<

$(BUILD)/hv.elf: $(HV_OBJ) arch/x86/hv.ld
	@echo "  LD      $@"
	@$(CC) $(HV_LDFLAGS) -o $@ $(HV_OBJ)

iso: $(ISO)
ISO_FILES := $(BUILD)/hv.elf $(BUILD)/guest/toy.elf $(BUILD)/guest/hostile.elf $(BUILD)/guest/rt.elf iso/demo.cfg iso/noisy.cfg
$(ISO): $(ISO_FILES) iso/grub.cfg iso/mkiso.sh | deps
	@echo "  ISO     $@"
	@iso/mkiso.sh $@ iso/grub.cfg $(ISO_FILES)

# Boot the ISO in Bochs with 4 cores, showing the serial log live; ends by itself.
# ENTRY picks the GRUB menu entry: slicehv (the default), demo (the isolation demo) or rt (the
# real-time guest next to noisy neighbours).
CPUS ?= 4
ENTRY ?= slicehv
RUN_ISO := $(if $(filter slicehv,$(ENTRY)),$(ISO),$(BUILD)/slicehv-$(ENTRY).iso)
run: $(RUN_ISO) | deps
	$(PYTHON) tests/boot/engine.py run --engine bochs --cpus $(CPUS) --iso $(RUN_ISO)

$(BUILD)/slicehv-%.iso: $(ISO_FILES) iso/grub.cfg iso/mkiso.sh | deps
	@grep -q -- '--id $* ' iso/grub.cfg || { echo "run: no GRUB entry '$*' in iso/grub.cfg" >&2; exit 1; }
	@echo "  ISO     $@"
	@sed 's/^set default=.*/set default=$*/' iso/grub.cfg > $(BUILD)/grub-$*.cfg
	@iso/mkiso.sh $@ $(BUILD)/grub-$*.cfg $(ISO_FILES)

# Host unit tests, then boot scenarios; the last line is "N passed, N failed".
test: | deps
	-$(MAKE) --no-print-directory -k unit
	$(MAKE) --no-print-directory iso
	$(PYTHON) tests/boot/scenarios.py --build $(BUILD) --unit "$(UNIT_TESTS)"

unit: $(UNIT_TESTS)
$(BUILD)/unit/%: tests/unit/%.c $(HOST_SRCS) $(UNIT_SUPPORT) $(wildcard hv/*.h arch/x86/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	@$(CC) $(HOST_CFLAGS) -Ihv -Iarch/x86 -o $@ $< $(HOST_SRCS) $(UNIT_SUPPORT) -lcmocka

# Install missing Debian packages when root with apt-get; otherwise print the line to run.
deps:
	@tests/deps.sh

clean:
	rm -rf $(BUILD)

include guest/guest.mk
include guest/bench.mk
include tests/bench/bench.mk
include tests/fuzz/fuzz.mk
-include $(HV_OBJ:.o=.d)
