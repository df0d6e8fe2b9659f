# `make bench`: the bench guest bare and partitioned on one engine, boot timings, footprint
# (tests/bench/bench.py); results in $(BUILD)/bench/results.md and bench.png, then one summary
# line. `make bench-smoke`: a reduced set into $(BUILD)/bench-smoke/, the same summary line; its
# exit status says whether every run booted and parsed, never whether a figure met its target.
# Included by the top Makefile (which sets BUILD, PYTHON and the ISO, hv.elf and guest rules);
# needs guest/bench.mk for $(BUILD)/guest/bench.elf.
# BENCH_ENGINE=qemu-kvm measures real cycles where the host has nested KVM (default: bochs).

BENCH_ENGINE ?= bochs
BENCH_INPUTS := $(BUILD)/hv.elf $(BUILD)/guest/bench.elf $(BUILD)/guest/rt.elf $(BUILD)/guest/chan.elf \
                $(BUILD)/slicehv.iso

.PHONY: bench bench-smoke
bench: $(BENCH_INPUTS) $(LINUX_VMLINUX) $(LINUX_INITRD) $(LINUX_BZIMAGE)
	$(PYTHON) tests/bench/bench.py --build $(BUILD) --engine $(BENCH_ENGINE)

bench-smoke: $(BENCH_INPUTS)
	$(PYTHON) tests/bench/bench.py --build $(BUILD) --engine $(BENCH_ENGINE) --smoke
