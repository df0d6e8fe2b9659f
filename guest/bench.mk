# The bench guest (guest/bench.c): $(BUILD)/guest/bench.elf, for `make bench` (tests/bench/).
# Included by the top Makefile after guest/guest.mk, whose compiler and linker flags, object
# rules (rt.o, entry.o, bench.o) and relocation check it reuses: the same runtime and entry stub
# as the toy, so the image boots bare from GRUB and unchanged in a partition.

BENCH_GUEST_OBJ := $(BUILD)/guest/bench.o $(BUILD)/guest/rt.o $(BUILD)/guest/entry.o

$(BUILD)/guest/bench.elf: $(BENCH_GUEST_OBJ) guest/guest.ld guest/norelocs.sh guest/bench.mk
	@echo "  LD      $@"
	@$(CC) $(GUEST_LDFLAGS) -o $@.relocs $(BENCH_GUEST_OBJ)
	@guest/norelocs.sh $@.relocs
	@$(GUEST_OBJCOPY) --remove-relocations='*' $@.relocs $@

-include $(BUILD)/guest/bench.d
