# Guest kernels, included by the top Makefile (which sets BUILD, CC, NASM): $(BUILD)/guest/toy.elf,
# $(BUILD)/guest/hostile.elf (the isolation tests' attacker), $(BUILD)/guest/rt.elf (the
# real-time guest, from rtguest.c: rt.o is the runtime) and $(BUILD)/guest/chan.elf (the channels
# demo and doorbell benchmark), each its own C file on the shared runtime (rt.c) and entry stub
# (entry.asm).
# An image is linked at 1 MiB but must run at any slice base + 1 MiB: the C is -fpie, the entry
# stub is hand-written PIC, and guest/norelocs.sh rejects any absolute relocation left in it.

GUEST_KERNELS := toy hostile rtguest chan
GUEST_RT_OBJ := $(BUILD)/guest/rt.o $(BUILD)/guest/entry.o
GUEST_OBJ    := $(GUEST_KERNELS:%=$(BUILD)/guest/%.o) $(GUEST_RT_OBJ)

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                -Wmissing-prototypes -ffreestanding -fpie -fvisibility=hidden \
                -fno-stack-protector -fno-asynchronous-unwind-tables -mno-red-zone \
                -mgeneral-regs-only -fno-tree-loop-distribute-patterns -MMD -MP
# -q keeps the relocations in a first link, so norelocs.sh can inspect the final layout; the
# image drops them, as GRUB refuses an ELF with relocation sections.
GUEST_OBJCOPY ?= objcopy
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-q -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
                -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack -Wl,-T,guest/guest.ld

$(BUILD)/guest/%.o: guest/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.o: guest/%.asm
	@mkdir -p $(dir $@)
	@echo "  NASM    $<"
	@$(NASM) -f elf64 -g -F dwarf -MD $(@:.o=.d) -MP -o $@ $<

define GUEST_LINK
	@echo "  LD      $@"
	@$(CC) $(GUEST_LDFLAGS) -o $@.relocs $< $(GUEST_RT_OBJ)
	@guest/norelocs.sh $@.relocs
	@$(GUEST_OBJCOPY) --remove-relocations='*' $@.relocs $@
endef

$(BUILD)/guest/%.elf: $(BUILD)/guest/%.o $(GUEST_RT_OBJ) guest/guest.ld guest/norelocs.sh guest/guest.mk
	$(GUEST_LINK)

$(BUILD)/guest/rt.elf: $(BUILD)/guest/rtguest.o $(GUEST_RT_OBJ) guest/guest.ld guest/norelocs.sh guest/guest.mk
	$(GUEST_LINK)

-include $(GUEST_OBJ:.o=.d)
