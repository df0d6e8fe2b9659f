# slicehv: the one entry point. Targets: all (hv.elf), iso, run, test, bench, fuzz, check-fresh, clean.
# Everything is built out of tree, in $(BUILD).

BUILD   ?= build
CC      := gcc
NASM    := nasm
PYTHON  := python3

# The hypervisor: freestanding C and NASM, no SSE/x87, linked at 1 MiB and identity-mapped.
HV_C    := hv/main.c hv/console.c hv/fmt.c hv/err.c hv/string.c hv/multiboot.c hv/phys.c \
           hv/heap.c hv/config.c hv/elf.c hv/partition.c hv/hypercall.c hv/isolation.c hv/channel.c \
           arch/x86/cpu.c arch/x86/acpi.c arch/x86/apic.c arch/x86/smp.c arch/x86/vmx.c \
           arch/x86/power.c arch/x86/paging.c arch/x86/ept.c arch/x86/vmcs.c arch/x86/vmcheck.c arch/x86/exits.c \
           arch/x86/lapic.c arch/x86/uart.c arch/x86/linux.c
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
           arch/x86/linux.c \
           arch/x86/vmcheck.c arch/x86/lapic.c
HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-missing-prototypes -fsanitize=address,undefined \
           -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := tests/unit/fakemem.c

ISO     := $(BUILD)/slicehv.iso

.PHONY: all iso run test unit clean deps check-fresh test-linux
all: $(BUILD)/hv.elf

# `make run` arguments, checked while make reads this file: a wrong one stops everything with
# one line, before anything is built or booted. ENTRY is a GRUB menu entry id of iso/grub.cfg;
# CPUS stops at 8, the most Bochs runs (slicehv itself drives up to HV_MAX_CPUS, 16).
CPUS ?= 4
ENTRY ?= slicehv
RUN_CPUS := 1 2 3 4 5 6 7 8
RUN_ENTRIES := $(shell sed -n 's/^menuentry .* --id \([a-z0-9_-]*\) .*/\1/p' iso/grub.cfg)
ifneq ($(filter run,$(MAKECMDGOALS)),)
ifeq ($(filter $(RUN_ENTRIES),$(ENTRY)),)
$(error ENTRY=$(ENTRY): no such GRUB entry; choose one of: $(RUN_ENTRIES))
endif
ifneq ($(words $(CPUS)) $(filter $(RUN_CPUS),$(CPUS)),1 $(strip $(CPUS)))
$(error CPUS=$(CPUS): give a number of cores from $(firstword $(RUN_CPUS)) to $(lastword $(RUN_CPUS)))
endif
endif

# When make started: `make test` reports its wall time, tools check and build included.
STARTED := $(shell date +%s)

# Every goal but these needs the build and test tools. tests/deps.sh checks them (and as root
# installs what is missing) while make reads this file, so no recipe can run before it, with -j
# or without; sub-makes skip it, their parent did it.
NO_DEPS_GOALS := clean deps check-fresh
ifneq ($(filter-out $(NO_DEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(MAKELEVEL),0)
ifneq ($(shell tests/deps.sh >&2; echo $$?),0)
$(error the build and test tools are not installed (tests/deps.sh said what to run))
endif
endif
endif

# The guest objects are intermediate files of their images: keep them, so make neither
# rebuilds them nor prints their removal.
.SECONDARY:

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
include guest/linux/linux.mk
ISO_FILES := $(BUILD)/hv.elf $(BUILD)/guest/toy.elf $(BUILD)/guest/hostile.elf $(BUILD)/guest/rt.elf $(BUILD)/guest/chan.elf \
             iso/demo.cfg iso/noisy.cfg iso/channels.cfg \
             iso/linux.cfg
# Debian's kernel and the initramfs (guest/linux/linux.mk) go only into the ISO of the linux entry:
# 68 MB that every other ISO, and every test's variant of it, does without.
LINUX_ISO_FILES := $(LINUX_VMLINUX) $(LINUX_INITRD)
$(ISO): $(ISO_FILES) iso/grub.cfg iso/mkiso.sh
	@echo "  ISO     $@"
	@iso/mkiso.sh $@ iso/grub.cfg $(ISO_FILES)

# Boot the ISO in Bochs with CPUS cores (4), showing the serial log live; ends by itself with
# one line saying how slicehv ended, and make's status is 0 only when it ended ok.
# ENTRY picks the GRUB menu entry: slicehv (the default), demo (the isolation demo), rt (the
# real-time guest next to noisy neighbours), channels (a producer and a consumer talking through
# channels) or linux (Debian's kernel next to three toys).
RUN_ISO := $(if $(filter slicehv,$(ENTRY)),$(ISO),$(BUILD)/slicehv-$(ENTRY).iso)
# The linux entry's slices (iso/linux.cfg) lie above the 68 MB of modules GRUB loads: 1 GiB.
RUN_MEMORY := $(if $(filter linux,$(ENTRY)),1024,256)
run: $(RUN_ISO)
	@$(PYTHON) tests/boot/engine.py run --engine bochs --cpus $(CPUS) --memory $(RUN_MEMORY) --iso $(RUN_ISO)

$(BUILD)/slicehv-linux.iso: $(LINUX_ISO_FILES)
$(BUILD)/slicehv-%.iso: $(ISO_FILES) iso/grub.cfg iso/mkiso.sh
	@echo "  ISO     $@"
	@sed 's/^set default=.*/set default=$*/' iso/grub.cfg > $(BUILD)/grub-$*.cfg
	@iso/mkiso.sh $@ $(BUILD)/grub-$*.cfg $(ISO_FILES) $(if $(filter linux,$*),$(LINUX_ISO_FILES))

# Host unit tests, boot scenarios, then the fuzz and bench smoke runs; the last two lines are the
# wall time since make started and "N passed, N failed, N skipped". What they need is built
# first, a job per core unless make already has -j (a unit test that does not build fails as a
# test, a fuzz target as make-fuzz-smoke).
JOBS := $(shell nproc 2>/dev/null || echo 1)
SUBJOBS = $(if $(filter --jobserver%,$(MAKEFLAGS)),,-j$(JOBS))
test:
	-$(MAKE) --no-print-directory -k $(SUBJOBS) unit fuzz-build $(FUZZ_CORPUS) $(BUILD)/guest/bench.elf
	$(MAKE) --no-print-directory $(SUBJOBS) iso $(LINUX_ISO_FILES)
	$(PYTHON) tests/boot/scenarios.py --build $(BUILD) --unit "$(UNIT_TESTS)" --started $(STARTED)

# The heavier Linux boots (scenarios.py --suite test-linux), two Bochs at a time: about 5 minutes.
test-linux:
	$(MAKE) --no-print-directory $(SUBJOBS) iso $(LINUX_ISO_FILES)
	$(PYTHON) tests/boot/scenarios.py --build $(BUILD) --suite test-linux --jobs 2 --started $(STARTED)

unit: $(UNIT_TESTS)
$(BUILD)/unit/%: tests/unit/%.c $(HOST_SRCS) $(UNIT_SUPPORT) $(wildcard hv/*.h arch/x86/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	@$(CC) $(HOST_CFLAGS) -Ihv -Iarch/x86 -o $@ $< $(HOST_SRCS) $(UNIT_SUPPORT) -lcmocka

# Install missing Debian packages when root with apt-get; otherwise print the line to run.
deps:
	@tests/deps.sh

# check-fresh: the README's quick start, as a newcomer runs it, in a bare Debian 12 root built in
# $(BUILD)/fresh/ (tests/check-fresh.sh); its base root is kept there between runs.
check-fresh:
	@tests/check-fresh.sh $(BUILD)/fresh

# --one-file-system: should a check-fresh run have been killed with its root's /proc, /dev and
# /sys still mounted, rm stops at them instead of deleting through them.
clean:
	rm -rf --one-file-system $(BUILD)

include guest/guest.mk
include guest/bench.mk
include tests/bench/bench.mk
include tests/fuzz/fuzz.mk
-include $(HV_OBJ:.o=.d)
