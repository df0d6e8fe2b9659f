# libFuzzer targets for the host-testable parsers, built with clang; included by the top Makefile,
# which sets BUILD. `make fuzz` runs each target FUZZ_SECONDS, `make fuzz-smoke` FUZZ_SMOKE_SECONDS,
# each on a scratch copy of its seed corpus in $(BUILD)/fuzz/run/<target>/ (the repo stays clean).
# Both print "fuzz: <target> <N> runs, <N> crashes" per target and fail if any target crashed.
# Debian packages: clang and libclang-rt-14-dev (the libFuzzer and sanitizer runtimes).

# Included wherever the top Makefile likes: its default goal stays whatever it was.
FUZZ_SAVED_GOAL    := $(.DEFAULT_GOAL)

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 10
# Targets fuzzed at once: one per CPU for `fuzz`; all together for the short smoke run.
FUZZ_JOBS          ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_SMOKE_JOBS    ?= 4
FUZZ_TARGETS       := config elf multiboot acpi linux_pvh linux_bz

# The parser each target drives, with coverage feedback.
FUZZ_SRC_config    := hv/config.c
FUZZ_SRC_elf       := hv/elf.c
FUZZ_SRC_multiboot := hv/multiboot.c
FUZZ_SRC_acpi      := arch/x86/acpi.c
FUZZ_SRC_linux_pvh := arch/x86/linux.c arch/x86/acpi.c hv/elf.c
FUZZ_SRC_linux_bz  := arch/x86/linux.c arch/x86/acpi.c hv/elf.c
# What every target also links: sanitized, but without coverage feedback, whose comparison hooks
# would otherwise dominate the run time (the fake memory in the ACPI scan, printf in messages).
FUZZ_SUPPORT       := hv/fmt.c hv/err.c tests/fuzz/fuzzmem.c

# hv/string.h hands <string.h> to libc with #include_next, which clang warns about when the
# header was found next to the source (config.c's quoted include) rather than through -Ihv.
FUZZ_BASE_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -Wno-include-next-absolute-path -fno-sanitize-recover=all \
               -fno-omit-frame-pointer -Ihv -Iarch/x86 -Itests/fuzz
FUZZ_CFLAGS := $(FUZZ_BASE_CFLAGS) -fsanitize=fuzzer,address,undefined
FUZZ_SUPPORT_CFLAGS := $(FUZZ_BASE_CFLAGS) -fsanitize=address,undefined
FUZZ_SUPPORT_OBJ := $(FUZZ_SUPPORT:%.c=$(BUILD)/fuzz/support/%.o)
FUZZ_HEADERS := $(wildcard hv/*.h arch/x86/*.h tests/fuzz/*.h)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: $(FUZZ_BINS)

$(FUZZ_SUPPORT_OBJ): $(BUILD)/fuzz/support/%.o: %.c $(FUZZ_HEADERS)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	@$(FUZZ_CC) $(FUZZ_SUPPORT_CFLAGS) -c -o $@ $<

define FUZZ_TARGET_RULE
$(BUILD)/fuzz/$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)) $(FUZZ_SUPPORT_OBJ) $(FUZZ_HEADERS)
	@echo "  FUZZCC  $$@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ tests/fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)) $(FUZZ_SUPPORT_OBJ)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULE,$(t))))

# The seeds, written by their generator from this tree (the ELF seed is the freshly built toy).
FUZZ_CORPUS := $(BUILD)/fuzz/corpus/.written
$(FUZZ_CORPUS): tests/fuzz/mkcorpus.py $(BUILD)/guest/toy.elf
	@echo "  CORPUS  $(dir $@)"
	@rm -rf $(dir $@) && $(PYTHON) tests/fuzz/mkcorpus.py --out $(dir $@) --toy-elf $(BUILD)/guest/toy.elf
	@touch $@

fuzz: $(FUZZ_BINS) $(FUZZ_CORPUS)
	@FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BINS) $(FUZZ_CORPUS)
	@FUZZ_JOBS=$(FUZZ_SMOKE_JOBS) tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
