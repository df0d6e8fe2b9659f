#!/usr/bin/env python3
"""slicehv test driver: host unit tests, then boot scenarios in emulators and the make steps (fuzz
and bench smoke runs), two at a time, longest first.

    scenarios.py --build build --unit "build/unit/test_a build/unit/test_b" [--started EPOCH]

Prints one "PASS: name", "FAIL: name (reason)" or "SKIP: name (reason)" line per test as it
ends, then
"wall time M min S s" (since --started, else since it began) and last "N passed, N failed,
N skipped". Every log of a failed scenario is kept in
<build>/test-logs/<name>/; every result with its run time goes to <build>/test-results.txt,
longest first.
"""

import argparse
import concurrent.futures
import functools
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (lives next to this file)

REPO = Path(__file__).resolve().parents[2]
MKISO = REPO / "iso" / "mkiso.sh"
CONFIGS = Path(__file__).resolve().parent / "configs"   # partition configs the ISOs carry

# ================================================================ the scenario table
#
# A scenario boots one machine and checks its serial log (every regex is multiline:
# ^ and $ match at line ends). Fields, with their defaults in Scenario below:
#   engine    bochs | qemu-tcg | qemu-kvm (SKIPPED where the host has no nested KVM)
#   cpus      cores
#   model     Bochs CPU model (see DESIGN.md for what each offers)
#   firmware  bochs (Bochs BIOS: feature control locked+enabled) | seabios (left unlocked)
#   memory    MiB
#   grub      which ISO: a key of GRUB_VARIANTS ("default" is the one `make iso` built)
#   kernel    QEMU only: boot <build>/hv.elf with -kernel (multiboot1) instead of the ISO
#   exit      slicehv's exit code: the last serial line must be "slicehv: exit <code>
#             (<name>)" and, under QEMU (isa-debug-exit), the process status must be
#             (code << 1) | 1. None: no check.
#   expect    regexes that must match; a pair (regex, n) must match exactly n times; a
#             function (serial, Context) -> list of problems for what a regex cannot say
#   forbid    regexes that must not match, on top of forbidden_serial()
#   panics    partitions whose console may mention a panic: they panic on purpose
#   timeout   seconds of emulator CPU time (load on the host does not count); a run that takes
#             more fails
#   needs     names of earlier scenarios whose serial logs the expect functions read
#             (Context.peer_serial); --only runs them too
#   suite     which make target runs it: test (the default), or test-linux for the heavier
#             Linux boots (scenarios.py --suite test-linux)
#
# To add a scenario, append one Scenario(...) line to SCENARIOS; the helpers below
# spell the hypervisor's log-line contract. Names: unique, lower case, dashes.

EXIT_NAMES = {0: "ok", 1: "failed", 2: "no-vmx", 3: "panic"}   # hv/power.h
OK, FAILED, NO_VMX, PANIC = 0, 1, 2, 3
SKYLAKE = "corei7_skylake_x"



def forbidden_serial(panics=()):
    """Never acceptable on the serial log: but in the module table, which shows each module's
    command line (a kernel's panic=-1), and on the console of the partitions named in panics,
    which panic on purpose."""
    spared = "|".join(["slicehv: module "] + [re.escape(f"[{name}] ") for name in panics])
    return (rf"^(?!{spared}).*(?i:exception)", rf"^(?!{spared}).*(?i:panic)")


# Never acceptable in the emulator's own output.
FORBIDDEN_OUTPUT = (r"(?i:triple fault)", r"PANIC", r"exception with no resolution")

ANY_VMX_ON = r"^slicehv: cpu \d+ apic \d+: vmx on$"
CAPS_FIELDS = ("ept", "ept-2m", "ept-1g", "vpid", "unrestricted", "preempt-timer",
               "true-ctls", "invept")


def every_core(cpus, what):
    """`slicehv: cpu <n> apic <id>: <what>` (what: a regex) exactly once for each n in
    0..cpus-1, and for no other core."""
    lines = tuple((rf"^slicehv: cpu {n} apic \d+: {what}$", 1) for n in range(cpus))
    return lines + ((rf"^slicehv: cpu \d+ apic \d+: {what}$", cpus),)


def vmx_on(cpus):
    """Every core turns VMX on, the count is announced, the caps line is printed once."""
    return every_core(cpus, "vmx on") + (
        (rf"^slicehv: {cpus} cpus online$", 1),
        (r"^slicehv: vmx caps: ", 1),
    )


def caps(*pinned):
    """The `vmx caps:` line with the given "field=value" pinned, other fields any value."""
    want = dict(p.split("=", 1) for p in pinned)
    unknown = set(want) - set(CAPS_FIELDS)
    if unknown:
        raise ValueError(f"unknown vmx caps field(s): {', '.join(sorted(unknown))}")
    fields = [f"{f}={re.escape(want[f]) if f in want else '[a-z,]+'}" for f in CAPS_FIELDS]
    return (r"^slicehv: vmx caps: " + " ".join(fields) + "$", 1)


def no_vmx(mentioning):
    """The refusal line, once, whose reason mentions the regex (any case)."""
    return (rf"^slicehv: no vmx: .*(?i:{mentioning})", 1)


ALL_CAPS = caps(*(f"{f}=yes" for f in CAPS_FIELDS[:-1]), "invept=single,all")


# ---------------------------------------------------------------- partitions
#
# What a partition that ran cleanly leaves on the log (hv/partition.c, arch/x86/vmcs.c,
# guest/README.md): the build line, the launch line, the toy's eight lines in order behind
# its console prefix, one stats line. Sizes and slices here are those of the config file.

GUEST_IMAGE_OFFSET = 0x100000     # hv/hypercall.h: the image's lowest PT_LOAD at slice + 1 MiB
SIEVE = r"toy: sieve 100000 primes 9592 tsc (\d+)"
HEX = "0x[0-9a-f]+"
# Anything that means a partition did not get its way; parked and not-started partitions are
# asserted where intended, by scenarios that leave these out of their forbid.
EPT_VIOLATION = r"ept-violation"
PARKED = r"^slicehv: partition \S+ parked:"
NOT_STARTED = r"^slicehv: partition \S+: .*; not started$"
DENIED = r"^slicehv: partition \S+: denied "
TROUBLE = (EPT_VIOLATION, PARKED, NOT_STARTED, DENIED)


@dataclass(frozen=True)
class Part:
    """One partition as a config file gives it, and where it lands in the partition order."""
    name: str
    cpu: int
    size: int                 # bytes
    base: int
    console: str = ""         # the config's console=, default the name


def MiB(n):
    """n MiB in bytes."""
    return n << 20


def ept_shape(base, size, one_g):
    """(table pages, 1G leaves, 2M leaves, 4K leaves) of an EPT that maps [base, base+size)
    with the largest leaf that fits (2 MiB-aligned slices: no 4K leaves), one_g allowing 1 GiB."""
    gib, two = 1 << 30, 1 << 21
    leaves = {1 << 30: 0, two: 0}
    pdpts, pds = set(), set()
    at, end = base, base + size
    while at < end:
        pdpts.add(at >> 39)
        if one_g and at % gib == 0 and end - at >= gib:
            leaves[gib] += 1
            at += gib
        else:
            pds.add(at >> 30)
            leaves[two] += 1
            at += two
    return 1 + len(pdpts) + len(pds), leaves[gib], leaves[two], 0


def partition_built(p, one_g=True):
    """The build line of partition p, with its exact EPT shape and where its image lands."""
    tables, g, m, k = ept_shape(p.base, p.size, one_g)
    return (rf"^slicehv: partition {p.name}: ept {tables} table pages, leaves 1G={g} 2M={m} "
            rf"4K={k}; image \[0x{p.base + GUEST_IMAGE_OFFSET:x}-{HEX}\) entry {HEX}$", 1)


def partition_isolated(p, one_g=True):
    """The isolation self-check's verdict on p: its own slice only, as many leaves as built."""
    _, g, m, k = ept_shape(p.base, p.size, one_g)
    return (rf"^slicehv: isolation: partition {p.name}: ept maps only its slice "
            rf"0x{p.base:x}-0x{p.base + p.size - 1:x}, identity, {g + m + k} leaves$", 1)


def partition_launched(p):
    """The launch line: its core and its slice, end inclusive."""
    return (rf"^slicehv: partition {p.name} cpu {p.cpu} mem 0x{p.base:x}-"
            rf"0x{p.base + p.size - 1:x}: launched$", 1)


def partition_done(name):
    """The stats line of a partition that ended with HC_DONE status 0 and was never denied."""
    return (rf"^slicehv: stats {name}: done status 0, denied 0, exits \d+:( [a-z0-9-]+=\d+)*$", 1)


def parked_before_launch(name, reason):
    """Partition name parked, for a reason mentioning the regex reason (any case), before it
    ran a single instruction: no exits, and its stats say so."""
    return ((rf"^slicehv: partition {name} parked: .*(?i:{reason})", 1),
            (rf"^slicehv: stats {name}: parked, denied 0, exits 0:$", 1))


def run_ends_ok(count):
    """Exactly count partitions built, checked, launched and accounted for; the hypervisor's
    own page tables W^X; the run's closing line."""
    return ((r"^slicehv: hardening: hypervisor page tables: 0 pages writable and executable; ", 1),
            (rf"^slicehv: isolation: partition (\S+): ept maps only its slice {HEX}-{HEX}, identity, "
             r"\d+ leaves$", count),
            (r"^slicehv: partition \S+: ept \d+ table pages", count),
            (r"^slicehv: partition \S+ cpu \d+ mem \S+: launched$", count),
            (r"^slicehv: stats \S+: ", count),
            (r"^slicehv: all partitions done$", 1))


def toy_lines(name, index, count, cpu):
    """The toy's lines in a partition, in order (guest/README.md)."""
    return (rf"toy: {name} apic (\d+) slice ({HEX})-({HEX})",
            rf"toy: partition {index}/{count} cpu {cpu}",
            r"toy: memory ok (\d+) KiB",
            SIEVE,
            "toy: heartbeat 1", "toy: heartbeat 2", "toy: heartbeat 3",
            "toy: done")


def lines_in_order(serial, prefix, wanted):
    """Problems unless the lines of serial that start with prefix are exactly the regexes
    wanted, in order; with no problem, the match objects."""
    got = [ln[len(prefix):] for ln in serial.splitlines() if ln.startswith(prefix)]
    matches = [re.fullmatch(rx, ln) for rx, ln in zip(wanted, got)]
    for i, (rx, m) in enumerate(zip(wanted, matches)):
        if not m:
            return [f"{prefix!r} line {i + 1} is {got[i][:100]!r}, expected /{rx}/"], None
    if len(got) != len(wanted):
        return [f"{len(got)} lines begin {prefix!r}, expected {len(wanted)}; "
                f"last {(got or [''])[-1][:80]!r}"], None
    return [], matches


@functools.lru_cache(maxsize=None)
def toy_image_bytes(elf_path):
    """Bytes the toy's image occupies once loaded: its PT_LOAD span, its end rounded up to a
    page as guest.ld rounds __image_end (the memory test skips exactly this)."""
    data = Path(elf_path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError(f"{elf_path} is not an ELF64 file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads = []
    for i in range(phnum):
        at = phoff + i * phentsize
        ptype, _, _, vaddr, _, _, memsz, _ = struct.unpack_from("<IIQQQQQQ", data, at)
        if ptype == 1:
            loads.append((vaddr, vaddr + memsz))
    lo, hi = min(a for a, _ in loads), max(b for _, b in loads)
    return ((hi + 0xfff) & ~0xfff) - (lo & ~7)


def bootinfo_bytes(name):
    """Size of the multiboot2 information slicehv writes into a slice (hv/partition.c
    write_bootinfo): total_size/reserved, then cmdline "name=<name>", loader name "slicehv",
    a one-entry memory map and the end tag, each tag 8-byte aligned."""
    def tag(body):
        return (8 + body + 7) & ~7
    return 8 + tag(len(f"name={name}") + 1) + tag(len("slicehv") + 1) + tag(8 + 24) + tag(0)


def memory_ok_kib(name, size, ctx):
    """The KiB the toy verifies in a slice: all of it but its image and its boot information."""
    return (size - toy_image_bytes(ctx.build / "guest" / "toy.elf") - bootinfo_bytes(name)) // 1024


def guest_ran(name, index, count, cpu, console="", one_g=None):
    """A check that partition name ran cleanly as the index-th of count on core cpu: the toy's
    lines in order behind its console prefix, its slice as launched, its own core's APIC id,
    the exact KiB its memory test must cover; with one_g not None, also the build line's EPT
    shape for the launched slice (1 GiB leaves allowed or not) and its image at slice + 1 MiB."""
    prefix = f"[{console or name}] "

    def check(serial, ctx):
        launched = re.search(
            rf"^slicehv: partition {name} cpu (\d+) mem ({HEX})-({HEX}): launched$", serial, re.M)
        if not launched:
            return [f"partition {name}: no launched line"]
        base, last = int(launched[2], 16), int(launched[3], 16)
        size = last + 1 - base
        problems, m = lines_in_order(serial, prefix, toy_lines(name, index, count, cpu))
        if problems:
            return problems
        apic = re.search(rf"^slicehv: cpu {cpu} apic (\d+): vmx on$", serial, re.M)
        if not apic or m[0][1] != apic[1]:
            problems.append(f"{name} sees apic {m[0][1]}, cpu {cpu} has "
                            f"{apic[1] if apic else 'no vmx on line'}")
        if (int(m[0][2], 16), int(m[0][3], 16)) != (base, last + 1):
            problems.append(f"{name} sees slice {m[0][2]}-{m[0][3]}, "
                            f"launched {launched[2]}-{launched[3]}")
        want = memory_ok_kib(name, size, ctx)
        if int(m[2][1]) != want:
            problems.append(f"{name} verified {m[2][1]} KiB of its {size >> 10} KiB slice, "
                            f"expected {want}")
        if one_g is None:
            return problems
        tables, g, m2, k = ept_shape(base, size, one_g)
        built = (rf"^slicehv: partition {name}: ept {tables} table pages, leaves 1G={g} 2M={m2} "
                 rf"4K={k}; image \[0x{base + GUEST_IMAGE_OFFSET:x}-{HEX}\) entry {HEX}$")
        if not re.search(built, serial, re.M):
            problems.append(f"partition {name}: no build line /{built}/")
        return problems
    return check


def partitions(config, *parts, one_g=True):
    """Expectations for a run of config (a file in configs/) whose partitions are exactly
    parts, in config order, all finishing cleanly."""
    count = len(parts)
    out = ((rf"^slicehv: config: {re.escape(config)}$", 1),) + run_ends_ok(count)
    for i, p in enumerate(parts):
        out += (partition_built(p, one_g), partition_isolated(p, one_g), partition_launched(p),
                partition_done(p.name),
                guest_ran(p.name, i, count, p.cpu, p.console))
    return out


def default_partitions(cpus, one_g=True):
    """The embedded default: p0..p<cpus-1>, one per core, in equal, adjacent 2 MiB-aligned
    slices, every one finishing cleanly."""
    def equal_slices(serial, ctx):
        ranges = [(int(a, 16), int(b, 16) + 1) for a, b in re.findall(
            rf"^slicehv: partition p\d+ cpu \d+ mem ({HEX})-({HEX}): launched$", serial, re.M)]
        ranges.sort()
        sizes = {e - b for b, e in ranges}
        if len(sizes) != 1 or any(b % MiB(2) or e % MiB(2) for b, e in ranges) \
                or any(ranges[i][1] != ranges[i + 1][0] for i in range(len(ranges) - 1)):
            return ["default slices are not equal, adjacent and 2 MiB-aligned: "
                    + ", ".join(f"{b:#x}-{e:#x}" for b, e in ranges)]
        return []
    out = ((r"^slicehv: config: none given; the default runs toy\.elf on every cpu$", 1),
           equal_slices) + run_ends_ok(cpus)
    for i in range(cpus):
        out += ((rf"^slicehv: partition p{i} cpu {i} mem {HEX}-{HEX}: launched$", 1),
                partition_done(f"p{i}"), guest_ran(f"p{i}", i, cpus, i, one_g=one_g))
    return out


def config_line(config, marker):
    """The number of the one line of configs/<config> that holds marker."""
    found = [n for n, ln in enumerate((CONFIGS / config).read_text().splitlines(), 1)
             if marker in ln.split("#")[0]]
    if len(found) != 1:
        raise ValueError(f"{config}: {marker!r} is on lines {found}, expected exactly one")
    return found[0]


def config_error(config, marker, reason):
    """The config error message for the line holding marker, once; reason is a regex."""
    return (rf"^slicehv: config: {re.escape(config)}:{config_line(config, marker)}: {reason}$", 1)


def at_least(rx, n):
    """A check that regex rx matches at least n lines."""
    def check(serial, ctx):
        del ctx
        found = len(re.findall(rx, serial, re.M))
        return [] if found >= n else [f"/{rx}/ matched {found} times, expected at least {n}"]
    return check


def never_ran(*names):
    """Forbid every trace of a running partition for names: build line, launch, console, stats."""
    alt = "|".join(names)
    return (rf"^slicehv: partition ({alt}): ept ", rf"^slicehv: partition ({alt}) cpu ",
            rf"^\[({alt})\] ", rf"^slicehv: stats ({alt}):")


def bare_toy(serial, ctx):
    """The toy booted bare: its lines in order, no partition line, and its memory test covering
    the usable range that holds it but its image and GRUB's multiboot2 information (< 64 KiB)."""
    problems, m = lines_in_order(serial, "toy: ", [rx.removeprefix("toy: ") for rx in (
        rf"toy: bare apic 0 slice ({HEX})-({HEX})", r"toy: memory ok (\d+) KiB", SIEVE,
        "toy: heartbeat 1", "toy: heartbeat 2", "toy: heartbeat 3", "toy: done")])
    if problems:
        return problems
    room = int(m[0][2], 16) - int(m[0][1], 16) - toy_image_bytes(ctx.build / "guest" / "toy.elf")
    if not 0 <= room // 1024 - int(m[1][1]) < 64:
        problems.append(f"bare toy verified {m[1][1]} KiB of {room // 1024} KiB")
    return problems


def sieve_matches(peer, tolerance=0.001):
    """A check that the bare sieve's TSC ticks equal every partition's in scenario peer
    within tolerance (in Bochs the TSC counts instructions: the same path, the same count)."""
    def check(serial, ctx):
        bare = re.findall(rf"^{SIEVE}$", serial, re.M)
        other = ctx.peer_serial(peer)
        if other is None:
            return [f"no sieve to compare with: {peer} did not pass"]
        inside = re.findall(rf"^\[\S+\] {SIEVE}$", other, re.M)
        if len(bare) != 1 or not inside:
            return [f"sieve lines: {len(bare)} bare, {len(inside)} in {peer}"]
        off = [t for t in inside if abs(int(t) - int(bare[0])) > tolerance * int(bare[0])]
        return [f"sieve tsc bare {bare[0]}, in {peer} {', '.join(off)}: more than "
                f"{tolerance:.1%} apart"] if off else []
    return check


# ---------------------------------------------------------------- the real-time guest
# guest/rtguest.c: one line per timer mode, then "rt: done"; bare and in a partition alike.
RT_PERIOD, RT_COUNT = 50000, 200
RT_ARGS = f"mode=both period={RT_PERIOD} count={RT_COUNT}"
RT_LINE = (r"rt: timer (periodic|deadline) (\d+) ticks: (\d+) interrupts, latency min (-?\d+) "
           r"avg (-?\d+) max (-?\d+) ticks, jitter (\d+), exits (\d+)")


def rt_results(serial, prefix=""):
    """mode -> (period, interrupts, min, avg, max, jitter, exits) from the rt guest's lines."""
    return {m[1]: tuple(int(g) for g in m.groups()[1:])
            for m in re.finditer(rf"^{re.escape(prefix)}{RT_LINE}$", serial, re.M)}


def rt_sane(prefix="", exits=None):
    """A check that both timer modes ran RT_COUNT interrupts at RT_PERIOD with a latency
    from 0 (the handler's TSC read: with several cores Bochs's TSC moves in steps) to below the
    period, jitter = max - min, and (with exits not None) that many VM exits during each
    measurement."""
    def check(serial, ctx):
        del ctx
        got, problems = rt_results(serial, prefix), []
        for mode in ("periodic", "deadline"):
            if mode not in got:
                problems.append(f"no {prefix}rt: timer {mode} line")
                continue
            period, n, lo, _, hi, jitter, ex = got[mode]
            if (period, n) != (RT_PERIOD, RT_COUNT):
                problems.append(f"{mode}: {n} interrupts at {period}, expected {RT_COUNT} at "
                                f"{RT_PERIOD}")
            if not 0 <= lo <= hi < RT_PERIOD or jitter != hi - lo:
                problems.append(f"{mode}: latency min {lo} max {hi} jitter {jitter}: not sane")
            if exits is not None and ex != exits:
                problems.append(f"{mode}: {ex} exits during the measurement, expected {exits}")
        return problems
    return check


# Bochs runs the cores of an SMP machine in turns of `cpu: quantum` instructions (16 by default),
# so on more than one core a timer's latency in instruction ticks varies by up to one turn from
# run to run, neighbours or not (seen: 0 and 5 ticks for the same guest alone).
BOCHS_SMP_QUANTUM = 16


def rt_matches(peer, theirs="[rt] ", mine="", tolerance=0.01, slack=0):
    """A check that the max latency of each mode in scenario peer (lines behind prefix theirs)
    equals this run's (behind mine) within tolerance, or within slack ticks."""
    def check(serial, ctx):
        other = ctx.peer_serial(peer)
        if other is None:
            return [f"no latency to compare with: {peer} did not pass"]
        here, there = rt_results(serial, mine), rt_results(other, theirs)
        return [f"{mode} max latency here {b[4]}, in {peer} {there[mode][4]}: more than "
                f"{tolerance:.0%} apart" for mode, b in here.items()
                if mode not in there or abs(there[mode][4] - b[4]) > max(tolerance * b[4], slack)]
    return check


@dataclass(frozen=True)
class Scenario:
    """One boot and what its logs must show. See the table comment above."""
    name: str
    engine: str = "bochs"
    cpus: int = 1
    model: str = SKYLAKE
    firmware: str = "bochs"
    memory: int = 256
    grub: str = "default"
    kernel: bool = False
    exit: int | None = OK
    expect: tuple = ()
    forbid: tuple = ()
    timeout: int = 60
    needs: tuple = ()
    fault_report: bool = False   # the scenario provokes slicehv's exception report on purpose
    panics: tuple = ()           # partitions whose console may say panic or exception (on purpose)
    suite: str = "test"          # the make target that runs it: test | test-linux


# What configs/errors.cfg gets told, line by line (the line found by a word on it).
CONFIG_ERRORS = tuple(config_error("errors.cfg", marker, reason) for marker, reason in (
    ("overlap", r"mem 64M@0x6000000 overlaps partition good0 \[0x4000000, 0x8000000\)"),
    ("image=nosuch.elf", r"image nosuch\.elf: no module of that name"),
    ("farcpu", r"cpu 7 does not exist: 3 CPUs are online"),
    ("oddsize", r"mem 33M@0xa000000: size and base must be multiples of 2 MiB"),
    ("colour=red", r"unknown key 'colour'"),
    ("good0 cpu=1",
     rf"name good0 is already used on line {config_line('errors.cfg', 'good0 cpu=0')}"),
    ("taken", r"cpu 0 is already owned by partition good0"),
    ("outside", r"mem 64M@0x20000000 is not inside usable RAM"),
    ("lowmem", r"mem 16M@0x0 is not inside usable RAM"),
    ("lowmem", r"mem 16M@0x0 overlaps BIOS areas \(first MiB\) \[0x0, 0x100000\)"),
    ("lowmem", rf"mem 16M@0x0 overlaps hypervisor image \[0x100000, {HEX}\)"),
    ("lowmem", rf"mem 16M@0x0 overlaps hypervisor heap \[{HEX}, {HEX}\)"),
    ("lowmem", rf"mem 16M@0x0 overlaps module toy\.elf \[{HEX}, {HEX}\)"),
    ("misspelt", r"expected 'partition <name> key=value\.\.\.' or 'channel <name> key=value\.\.\.', "
                 r"got 'partiton'"),
    ("spoof", rf"console good0 is already used by partition good0 on line {config_line('errors.cfg', 'good0 cpu=0')}"),
    ("mimic", r"console slicehv: reserved for the hypervisor's own lines"),
)) + (
    # lowmem gets a message for each thing it overlaps (how many depends on where GRUB puts
    # things); every other bad line gets exactly one.
    (r"^slicehv: config: errors\.cfg:(?!%d:)\d+: " % config_line("errors.cfg", "lowmem"), 11),
)

# ---------------------------------------------------------------- bad input, one boot each
# A wrong config or a broken guest image next to one good partition: the bad one gets its
# message and never starts, the good one runs to its end, and the run ends "failed".
GOOD_LINE = "partition good cpu=0 mem=32M@0x4000000 image=toy.elf"


def elf_patch(name, edit):
    """A function of the build directory writing guest/toy.elf changed by edit(bytearray)."""
    def make(build):
        data = bytearray((build / "guest" / "toy.elf").read_bytes())
        edit(data)
        out = build / f"{name}.elf"
        out.write_bytes(bytes(data))
        return out
    return make


def first_phdr(data):
    """Offset of the first program header (ELF64: e_phoff at 0x20)."""
    return int.from_bytes(data[0x20:0x28], "little")


def huge_segment(data):
    """The first PT_LOAD claims 256 MiB of memory: it cannot fit a 32 MiB slice."""
    data[first_phdr(data) + 0x28:first_phdr(data) + 0x30] = (MiB(256)).to_bytes(8, "little")


def truncated(data):
    """Only the headers remain: the segments' file bytes are gone."""
    del data[first_phdr(data) + 0x38 * 2:]


def i386_machine(data):
    """e_machine says EM_386."""
    data[0x12:0x14] = (3).to_bytes(2, "little")


def config_file(name, text):
    """A function of the build directory writing a partition config named <name>.cfg."""
    def make(build):
        out = build / f"{name}.cfg"
        out.write_text(f"# {name}: written by tests/boot/scenarios.py\n{text}\n")
        return out
    return make


# name -> (bad config line(s), broken-image edit or None, message regex (after "slicehv: ")).
BAD_INPUTS = {
    "bad-overlap-one-page": ("partition bad cpu=1 mem=32M@0x5e00000 image=toy.elf", None,
                             r"config: bad-overlap-one-page\.cfg:3: mem 32M@0x5e00000 overlaps "
                             r"partition good \[0x4000000, 0x6000000\)"),
    "bad-overlap-hypervisor": ("partition bad cpu=1 mem=2M@0x0 image=toy.elf", None,
                               r"config: bad-overlap-hypervisor\.cfg:3: mem 2M@0x0 overlaps "
                               rf"hypervisor image \[0x100000, {HEX}\)"),
    "bad-missing-core": ("partition bad cpu=2 mem=32M@0x8000000 image=toy.elf", None,
                         r"config: bad-missing-core\.cfg:3: cpu 2 does not exist: 2 CPUs are online"),
    # Booted with one core (see BAD_INPUT_CPUS): two partitions, one core.
    "bad-more-partitions-than-cores": (
        "partition bad cpu=1 mem=32M@0x8000000 image=toy.elf", None,
        r"config: bad-more-partitions-than-cores\.cfg:3: cpu 1 does not exist: 1 CPUs are online"),
    "bad-missing-module": ("partition bad cpu=1 mem=32M@0x8000000 image=nosuch.elf", None,
                           r"config: bad-missing-module\.cfg:3: image nosuch\.elf: no module of "
                           r"that name"),
    "bad-size": ("partition bad cpu=1 mem=3M@0x8000000 image=toy.elf", None,
                 r"config: bad-size\.cfg:3: mem 3M@0x8000000: size and base must be multiples "
                 r"of 2 MiB"),
    "bad-elf-segment-outside": ("partition bad cpu=1 mem=32M@0x8000000 image=broken.elf",
                                huge_segment,
                                r"partition bad: elf: segment 0: ends at load base .* outside "
                                r"the slice .*; not started"),
    "bad-elf-truncated": ("partition bad cpu=1 mem=32M@0x8000000 image=broken.elf", truncated,
                          r"partition bad: elf: segment 0: file bytes .* run past the end of the "
                          r"file .*; not started"),
    "bad-elf-machine": ("partition bad cpu=1 mem=32M@0x8000000 image=broken.elf", i386_machine,
                        r"partition bad: elf: machine 3 is not x86-64 \(62\); not started"),
}


BAD_INPUT_CPUS = {"bad-more-partitions-than-cores": 1}


# The config is the module whose name ends in .cfg, not one whose arguments do; a second config
# is reported and ignored; an empty image module (GRUB gives [0, 0)) refuses only its partition.
def empty_file(build):
    """Write an empty module into the build directory."""
    out = build / "empty.elf"
    out.write_bytes(b"")
    return out


def bad_modules_variant():
    """A guest module whose arguments end in .cfg first, then an empty module, the config naming
    it, and a second config."""
    def grub(cfg):
        for line in ("module2 /boot/hostile.elf evil attack=none note=x.cfg", "module2 /boot/empty.elf empty.elf",
                     "module2 /boot/bad-modules.cfg bad-modules.cfg", "module2 /boot/second.cfg second.cfg"):
            cfg = add_module(cfg, line)
        return cfg
    return IsoVariant(grub, (config_file("bad-modules", f"{GOOD_LINE}\n"
                                         "partition bad cpu=1 mem=32M@0x8000000 image=empty.elf"),
                             empty_file, config_file("second", GOOD_LINE)))


BAD_MODULES = Scenario(
    "bad-modules", cpus=2, grub="bad-modules", exit=FAILED,
    forbid=(EPT_VIOLATION, PARKED, DENIED, r"^slicehv: config: evil") + never_ran("bad"),
    expect=vmx_on(2) + ((r"^slicehv: config: bad-modules\.cfg$", 1),
                        (r"^slicehv: config: module second\.cfg is a second config: ignored$", 1),
                        (r"^slicehv: module empty\.elf \[0x0-0x0\)$", 1),
                        (r"^slicehv: partition bad: image empty\.elf is an empty module; not started$", 1),
                        partition_done("good"), guest_ran("good", 0, 1, 0),
                        (r"^slicehv: config problems were reported: the run counts as failed$", 1)))


def bad_input_variant(name, lines, edit):
    """The default ISO plus the config (and the broken image, named broken.elf)."""
    files = (config_file(name, f"{GOOD_LINE}\n{lines}"),)
    def grub(cfg):
        cfg = add_module(cfg, f"module2 /boot/{name}.cfg {name}.cfg")
        return add_module(cfg, f"module2 /boot/{name}-image.elf broken.elf") if edit else cfg
    return IsoVariant(grub, files + ((elf_patch(f"{name}-image", edit),) if edit else ()))


def bad_input_scenario(name, message):
    """Boots it: the message once, the good partition's whole run, nothing of bad or bad2."""
    cpus = BAD_INPUT_CPUS.get(name, 2)
    return Scenario(name, cpus=cpus, grub=name, exit=FAILED, forbid=(EPT_VIOLATION, PARKED, DENIED)
                    + never_ran("bad"),
                    expect=vmx_on(cpus) + ((rf"^slicehv: {message}$", 1),)
                    + (partition_done("good"), guest_ran("good", 0, 1, 0))
                    + ((r"^slicehv: config problems were reported: the run counts as failed$", 1),))


# The default config gives the toy all free RAM, and it verifies every word of it: machines that
# test cores, CPU models or firmware rather than memory get 64 MiB (the toy's run time is its
# memory test); bochs-skylake-4cpu keeps make run's 256 MiB.
SMALL_RAM = 64

# ---------------------------------------------------------------- Linux partitions
#
# What Debian's kernel and guest/linux/init.c leave behind a partition's prefix. `quiet` keeps the
# kernel's own banner off the console: the init prints /proc/version, "Linux version ..." in it.
LINUX_TS = r"\[ *[0-9.]+\] "                      # printk's timestamp
LINUX_UP = LINUX_TS + r"linux-init: up (\d+)"
LINUX_WORK = LINUX_TS + r"linux-init: work \d+ sum [0-9a-f]{16}"
LINUX_VERSION = LINUX_TS + r"linux-init: version Linux version 6\.1\..*"
LINUX_PANIC = LINUX_TS + r"Kernel panic - not syncing: sysrq triggered crash"
LINUX_PVH_ENTRY = 0x1000850          # the PVH entry of Debian's vmlinux (LINUX-GUEST.md)
LINUX_IMAGE = (0x1000000, 0x4a00000)  # its PT_LOADs, guest-physical, at its link address
# A Bochs machine with RAM above 4 GiB for a slice there: of 4608 MiB, its BIOS reports 3 GiB
# below the PCI hole and 512 MiB usable from 0x100000000.
LINUX_HIGH_MEMORY = 4608
# linux-init.crash-before=<tsc>: the init panics its kernel only when it comes up before this
# TSC (Bochs: instructions since power-on), which the first boot of partition crash does
# (up at 2.11 G) and its restart, a whole boot later, does not (up at 3.50 G).
LINUX_CRASH_BEFORE = 2_400_000_000


def linux_isolated(name, base, size, channel_pages=()):
    """Linux partition name's EPT, built and self-checked: its slice [base, base + size) in 2 MiB
    leaves, seen at guest-physical 0, the kernel at its link address inside it; and as many
    channels as channel_pages has entries, mapped with that many 4 KiB leaves each."""
    with_channels = f" and {len(channel_pages)} channel{'s' if len(channel_pages) > 1 else ''}" if channel_pages else ""
    return ((rf"^slicehv: isolation: partition {name}: ept maps only its slice 0x{base:x}-"
             rf"0x{base + size - 1:x}{with_channels}, at guest-physical 0x0, "
             rf"{size // MiB(2) + sum(channel_pages)} leaves$", 1),
            (rf"^slicehv: partition {name}: ept .* image \[0x{base + LINUX_IMAGE[0]:x}-"
             rf"0x{base + LINUX_IMAGE[1]:x}\) entry 0x{LINUX_PVH_ENTRY:x}$", 1))


def linux_ran(name, boots):
    """A check that Linux partition name booted boots times, in log order over its prefixed
    lines and slicehv's lines about it: each boot but the last printed `up` and the kernel's
    panic, then slicehv parked it (that report right after the panic's last console line: none
    lost) and restarted it; the last boot printed `up`, `work` and its version, then slicehv's
    `powered off` right after its console. Its stats: done, status 0, boots-1 restarts (and
    denials: Linux probes PCI and writes MTRRs, which a partition has not)."""
    prefix, mine = f"[{name}] ", rf"slicehv: partition {name}[ :]"
    # (prefix of the line, the rest of it, whether it comes right after name's console)
    steps = [step for n in range(1, boots) for step in (
        (prefix, LINUX_UP, False), (prefix, LINUX_PANIC, False),
        # Its emergency restart reaches the reset register, at the latest from the reset vector
        # slicehv writes (a triple fault or a hang here was Linux jumping to an empty BIOS).
        ("", rf"slicehv: partition {name} parked: reboot requested \(ACPI reset register\)", True),
        ("", rf"slicehv: partition {name} restarting \({n} of {boots - 1}\)", False))]
    steps += [(prefix, LINUX_UP, False), (prefix, LINUX_WORK, False),
              (prefix, LINUX_VERSION, False), ("", rf"slicehv: partition {name} powered off", True)]

    def check(serial, ctx):
        lines = [ln for ln in serial.splitlines() if ln.startswith(prefix) or re.match(mine, ln)]
        at = 0
        for pre, rx, after_console in steps:
            at = next((i + 1 for i in range(at, len(lines))
                       if lines[i].startswith(pre) and re.fullmatch(rx, lines[i][len(pre):])), None)
            if at is None:
                return [f"partition {name}: no /{re.escape(pre)}{rx}/ after the lines before it"]
            if after_console and not lines[at - 2].startswith(prefix):
                return [f"partition {name}: {lines[at - 1][:80]!r} follows {lines[at - 2][:80]!r}, "
                        f"not its console"]
        restarts = f", restarts {boots - 1}" if boots > 1 else ""
        if not re.search(rf"^slicehv: stats {name}: done status 0{restarts}, denied \d+, exits ",
                         serial, re.M):
            return [f"partition {name}: no stats line `done status 0{restarts}`"]
        return []
    return check


SCENARIOS = [
    # Skylake-X has every VMX feature slicehv uses: every core turns VMX on, and the default
    # config runs the toy on every core, in equal slices, to a clean end.
    Scenario("bochs-skylake-1cpu", cpus=1, memory=SMALL_RAM,
             expect=vmx_on(1) + (ALL_CAPS,) + default_partitions(1), forbid=TROUBLE),
    Scenario("bochs-skylake-2cpu", cpus=2, memory=SMALL_RAM,
             expect=vmx_on(2) + default_partitions(2), forbid=TROUBLE),
    Scenario("bochs-skylake-4cpu", cpus=4, expect=vmx_on(4) + default_partitions(4),
             forbid=TROUBLE),
    Scenario("bochs-skylake-8cpu", cpus=8, memory=SMALL_RAM,
             expect=vmx_on(8) + default_partitions(8), forbid=TROUBLE, timeout=90),
    # QEMU's emulator has no VMX: a clear refusal, through GRUB and through -kernel.
    Scenario("qemu-tcg-refuses", engine="qemu-tcg", cpus=2, exit=NO_VMX,
             expect=(no_vmx("VMX|CPUID"),), forbid=(ANY_VMX_ON,), timeout=30),
    Scenario("qemu-tcg-multiboot1-refuses", engine="qemu-tcg", kernel=True, exit=NO_VMX,
             expect=(no_vmx("VMX|CPUID"),), forbid=(ANY_VMX_ON,), timeout=30),
    # Nested KVM, where the host has it.
    Scenario("qemu-kvm-nested-2cpu", engine="qemu-kvm", cpus=2, expect=vmx_on(2), timeout=30),
    # Bochs CPU models as a feature matrix.
    Scenario("bochs-penryn-no-ept", model="core2_penryn_t9600", exit=NO_VMX,
             expect=(no_vmx("EPT"),), forbid=(ANY_VMX_ON,)),
    Scenario("bochs-ryzen-no-vmx", model="ryzen", exit=NO_VMX,
             expect=(no_vmx("VMX"),), forbid=(ANY_VMX_ON,)),
    Scenario("bochs-sandy-bridge-no-1g-ept", model="corei7_sandy_bridge_2600k", cpus=2,
             memory=SMALL_RAM,
             expect=vmx_on(2) + (caps("ept-1g=no"),) + default_partitions(2, one_g=False),
             forbid=TROUBLE),
    # Without unrestricted guest VMX still comes up, but the toy guest (which starts
    # with paging off) cannot run: its partitions are parked, and that is a failed run.
    Scenario("bochs-lynnfield-no-unrestricted", model="corei5_lynnfield_750", cpus=2,
             exit=FAILED, expect=vmx_on(2) + (caps("unrestricted=no"),)
             + parked_before_launch("p0", "unrestricted")
             + parked_before_launch("p1", "unrestricted")
             + ((PARKED, 2), (r"^slicehv: all partitions done$", 1)),
             forbid=(r": launched$", r"^\[p\d+\] ")),
    # SeaBIOS leaves IA32_FEATURE_CONTROL unlocked: slicehv locks it on every core...
    Scenario("bochs-seabios-locks-feature-control", firmware="seabios", cpus=2, memory=SMALL_RAM,
             expect=vmx_on(2) + every_core(2, "feature control locked by slicehv")
             + default_partitions(2), forbid=TROUBLE),
    # ... unless something (here GRUB) already locked it with VMX off.
    Scenario("bochs-seabios-feature-control-locked-off", firmware="seabios",
             grub="wrmsr-3a-1", exit=NO_VMX,
             expect=(no_vmx("IA32_FEATURE_CONTROL"),), forbid=(ANY_VMX_ON,)),

    # Partitions from a config module (tests/boot/configs/<name>.cfg, passed to slicehv as
    # `module2 /boot/<name>.cfg <name>.cfg`; GRUB variant "cfg-<name>").
    # Two partitions, one core each, 64 MiB slices.
    Scenario("partitions-2cpu-config", cpus=2, grub="cfg-two", forbid=TROUBLE,
             expect=vmx_on(2) + partitions(
                 "two.cfg", Part("rt0", 0, MiB(64), 0x4000000),
                 Part("gp0", 1, MiB(64), 0x8000000))),
    # Four partitions of four sizes; partition order, core order and address order all differ.
    Scenario("partitions-4cpu-sizes", cpus=4, memory=512, grub="cfg-sizes", forbid=TROUBLE,
             expect=vmx_on(4) + partitions(
                 "sizes.cfg", Part("s96", 3, MiB(96), 0x10000000),
                 Part("s32", 2, MiB(32), 0x4000000),
                 Part("s64", 1, MiB(64), 0xa000000, console="mid"),
                 Part("s48", 0, MiB(48), 0x6000000))),
    # Three cores, two partitions: core 1 idles, and the run still ends when both are done.
    Scenario("partitions-idle-core", cpus=3, grub="cfg-idle", forbid=TROUBLE,
             expect=vmx_on(3) + partitions(
                 "idle.cfg", Part("left", 0, MiB(32), 0x4000000),
                 Part("right", 2, MiB(32), 0x8000000))),
    # A config with bad lines: each gets its file:line message, the bad partitions never run
    # and the good ones run to a clean end; the run still ends "failed", so CI notices a broken
    # config. notelf passes the config checks but its image is not an ELF: it is reported at
    # build time and never started.
    Scenario("partitions-config-errors", cpus=3, grub="cfg-errors", exit=FAILED,
             forbid=(EPT_VIOLATION, PARKED, DENIED)
             + never_ran("overlap", "noimage", "farcpu", "oddsize", "typo", "taken", "outside",
                         "lowmem", "misspelt", "notelf", "spoof", "mimic")
             + (r"^slicehv: partition good0 cpu 1 ", r"^slicehv: partition good1 cpu 0 "),
             expect=vmx_on(3) + partitions("errors.cfg", Part("good0", 0, MiB(64), 0x4000000),
                                           Part("good1", 1, MiB(32), 0xa000000))
             + CONFIG_ERRORS
             + ((r"^slicehv: partition notelf: elf: bad magic: not an ELF file; not started$", 1),
                (NOT_STARTED, 1),
                (r"^slicehv: config problems were reported: the run counts as failed$", 1))),
    # A 1 GiB slice on a 1 GiB boundary: one 1 GiB EPT leaf on Skylake-X, 512 2 MiB leaves on
    # Sandy Bridge, which has no 1 GiB EPT pages. The toy tests all of it: ~15 s in Bochs.
    Scenario("partitions-1g-slice", memory=2560, grub="cfg-big", forbid=TROUBLE, timeout=120,
             expect=vmx_on(1) + partitions("big.cfg", Part("big", 0, MiB(1024), 0x40000000))
             + ((r"leaves 1G=1 2M=0 4K=0;", 1),)),
    Scenario("partitions-1g-slice-sandy-bridge", model="corei7_sandy_bridge_2600k", memory=2560,
             grub="cfg-big", forbid=TROUBLE, timeout=120,
             expect=vmx_on(1) + (caps("ept-1g=no"),)
             + partitions("big.cfg", Part("big", 0, MiB(1024), 0x40000000), one_g=False)
             + ((r"leaves 1G=0 2M=512 4K=0;", 1),)),
    # The toy alone from GRUB, no hypervisor: the same lines, and the same sieve path length
    # as inside a partition (Bochs's TSC counts instructions).
    Scenario("toy-bare", grub="toy-bare", memory=SMALL_RAM, exit=None,
             needs=("partitions-2cpu-config",),
             expect=(bare_toy, sieve_matches("partitions-2cpu-config")),
             forbid=(r"^slicehv", r"^toy: partition")),
    # The real-time guest: bare from GRUB, and unchanged alone in a partition with no exits
    # while it measures and the same worst-case latency as bare.
    Scenario("rt-partitioned", grub="rt-partitioned", forbid=TROUBLE,
             expect=vmx_on(1) + run_ends_ok(1)
             + (partition_done("rt"), rt_sane("[rt] ", exits=0), (r"^\[rt\] rt: done$", 1))),
    # Waiting with STI; HLT: one exit per interrupt, the core idles in the HLT activity state.
    Scenario("rt-partitioned-hlt", grub="rt-partitioned-hlt", forbid=TROUBLE,
             expect=vmx_on(1) + run_ends_ok(1)
             + (partition_done("rt"), rt_sane("[rt] ", exits=RT_COUNT), (r"^\[rt\] rt: done$", 1),
                (rf"^slicehv: stats rt: done status 0, denied 0, exits \d+:.* hlt={2 * RT_COUNT}( |$)", 1))),
    Scenario("rt-bare", grub="rt-bare", exit=None, needs=("rt-partitioned",),
             expect=(rt_sane(), (r"^rt: done$", 1), rt_matches("rt-partitioned")),
             forbid=(r"^slicehv",)),
    # Its timer at a period of 1 tick: an interrupt storm on its own core, which takes no exit;
    # the neighbour does not notice and the budget (VMX-preemption timer) still ends the storm.
    Scenario("rt-interrupt-storm", cpus=2, grub="rt-interrupt-storm", exit=FAILED,
             forbid=(EPT_VIOLATION, DENIED, NOT_STARTED, r"^slicehv: partition honest parked"),
             expect=vmx_on(2) + run_ends_ok(2)
             + (partition_done("honest"), guest_ran("honest", 0, 2, 0),
                (r"^slicehv: partition storm parked: run-time budget of 100 ms used up at rip ", 1),
                (r"^slicehv: stats storm: parked, denied 0, exits ", 1))),
    # The GRUB menu's rt entry: the real-time guest on core 0 next to a console flood, an exit
    # and refused-IPI storm (every delivery mode, at core 0, all, all but self), and a partition that triple-faults and restarts. Its
    # latency and exits are those of the same guest alone on the same 4-core machine.
    Scenario("rt-alone-4cpu", cpus=4, grub="rt-partitioned", forbid=TROUBLE, timeout=120,
             expect=vmx_on(4) + run_ends_ok(1) + (partition_done("rt"), rt_sane("[rt] ", exits=0))),
    Scenario("rt-noisy-menu-entry", cpus=4, grub="rt", exit=FAILED, timeout=300,
             needs=("rt-alone-4cpu",),
             forbid=(r"^slicehv: partition rt: denied", r"^slicehv: partition rt parked",
                     r"NOT CONTAINED"),
             expect=vmx_on(4) + ((r"^slicehv: config: noisy\.cfg$", 1), partition_done("rt"),
                                 rt_sane("[rt] ", exits=0), rt_matches("rt-alone-4cpu", mine="[rt] ",
                                                                      slack=BOCHS_SMP_QUANTUM),
                                 partition_done("flood"),
                                 (r"^slicehv: stats storm: done status 0, denied 50000, exits ", 1),
                                 (r"^\[flood\] hostile: noise-console: line 100 of 100, ", 1),
                                 (r"^\[storm\] hostile: noise-exits: 50000 rounds of CPUID, port "
                                  r"and ICR exits; 50000 IPIs refused with #GP$", 1),
                                 (r"^slicehv: partition crash restarting \(10 of 10\)$", 1),
                                 (r"^slicehv: stats crash: parked, restarts 10, ", 1),
                                 (r"^slicehv: all partitions done$", 1))),
    # A fault in slicehv itself (a ud2 on request) is reported with its registers and ends the
    # machine with status 3, through GRUB in Bochs and in QEMU: never a triple fault or a hang.
    *(Scenario(f"hv-exception-report-{eng}", engine=eng, grub="test-exception", exit=PANIC,
               fault_report=True,
               expect=((r"^slicehv: cpu 0: exception #UD invalid opcode \(vector 6\) error 0x0 "
                        rf"at rip {HEX} cr2 {HEX}$", 1),
                       r"^  rax [0-9a-f]{16} rbx [0-9a-f]{16} rcx [0-9a-f]{16} rdx [0-9a-f]{16}$",
                       r"^  r12 [0-9a-f]{16} r13 [0-9a-f]{16} r14 [0-9a-f]{16} r15 [0-9a-f]{16}$",
                       rf"^  cs 0x8 ss 0x10 rflags {HEX} cr0 {HEX} cr3 {HEX} cr4 {HEX}$"),
               forbid=(r"cpus online",))
      for eng in ("bochs", "qemu-tcg")),
    *(bad_input_scenario(name, message) for name, (_, _, message) in BAD_INPUTS.items()),
    BAD_MODULES,
    # The GRUB menu's isolation demo: the three honest toys keep all 40 heartbeats and finish
    # while the attacker runs every attack; it ends parked on the last (the hypervisor's image).
    Scenario("isolation-demo-menu-entry", cpus=4, grub="demo", exit=FAILED, timeout=120,
             forbid=(r"^slicehv: partition honest\d: denied", r"^slicehv: partition honest\d parked",
                     r"NOT CONTAINED"),
             expect=vmx_on(4) + ((r"^slicehv: config: demo\.cfg$", 1),)
             + tuple((rf"^\[honest{i}\] toy: heartbeat 40$", 1) for i in range(3))
             + tuple(partition_done(f"honest{i}") for i in range(3))
             + (at_least(r"^\[evil\] hostile: attack ", 30),
                (r"^slicehv: partition evil parked: ept-violation: \S+ at guest-physical 0x10", 1),
                (r"^slicehv: all partitions done$", 1))),
    # Debian's unmodified kernel by its PVH entry, in a slice it sees at guest-physical 0, next to
    # three toys: its init reaches userspace, runs its workload and powers off (ACPI S5). One boot
    # for every Linux assertion: it costs about 4 minutes of Bochs.
    Scenario("linux-menu-entry", cpus=4, memory=1024, grub="linux", timeout=900,
             forbid=(EPT_VIOLATION, PARKED, NOT_STARTED, r"^slicehv: partition toy\d: denied", r"Kernel panic"),
             expect=vmx_on(4) + ((r"^slicehv: config: linux\.cfg$", 1),
                                 (r"^slicehv: isolation: partition linux: ept maps only its slice "
                                  r"0x10000000-0x19ffffff, at guest-physical 0x0, 80 leaves$", 1),
                                 (r"^slicehv: partition linux: ept .* image \[0x11000000-0x14a00000\) "
                                  r"entry 0x1000850$", 1),
                                 (r"^\[linux\] \[ *[0-9.]+\] linux-init: up \d+$", 1),
                                 (r"^\[linux\] \[ *[0-9.]+\] linux-init: user hypercall refused$", 1),
                                 (r"^\[linux\] \[ *[0-9.]+\] linux-init: work \d+ sum [0-9a-f]{16}$", 1),
                                 (r"^\[linux\] \[ *[0-9.]+\] linux-init: version Linux version 6\.1\.", 1),
                                 (r"^slicehv: partition linux powered off$", 1),
                                 (r"^slicehv: stats linux: done status 0, ", 1))
             + tuple(partition_done(f"toy{i}") for i in (1, 2, 3))
             + tuple((rf"^\[toy{i}\] toy: done$", 1) for i in (1, 2, 3))),
    # make test-linux. Two Linux partitions and two toys on four cores, one boot for all of it
    # (configs/linux-pair.cfg): high's slice lies above 4 GiB, seen at guest-physical 0, and it
    # runs its workload and powers off; crash panics (sysrq c) and reboots through the ACPI reset
    # register, keeps its panic's lines on the log, boots again (on-fault=restart restarts=1)
    # and powers off; the toys finish intact. Nothing parked at the end: the run ends ok.
    Scenario("linux-pair", cpus=4, memory=LINUX_HIGH_MEMORY, grub="linux-pair", timeout=1800,
             suite="test-linux", panics=("crash",),
             forbid=(EPT_VIOLATION, NOT_STARTED, r"^slicehv: partition toy\d: denied",
                     r"^slicehv: partition (high|toy\d) parked"),
             expect=vmx_on(4) + ((r"^slicehv: config: linux-pair\.cfg$", 1),)
             + linux_isolated("high", 0x100000000, MiB(160), channel_pages=(1,))
             + ((r"^slicehv: isolation: partition high: channel hello 0x[0-9a-f]+-0x[0-9a-f]+fff at "
                 r"guest-physical 0xa000000, read-write$", 1),
                (r"^slicehv: isolation: partition toy1: channel hello (0x[0-9a-f]+)-0x[0-9a-f]+fff at "
                 r"guest-physical \1, read-write$", 1),
                (r"^\[high\] \[ *[0-9.]+\] linux-init: channel 0xa000000: the toy says 'hello from a toy "
                 r"through a slicehv channel' \(seq 7\)$", 1),
                (r"^\[toy1\] chan: toy1: hello: linux answered 'linux /init read seq 7 through /dev/mem' "
                 r"\(seq 7\)$", 1))
             + linux_isolated("crash", 0x10000000, MiB(160))
             + (linux_ran("high", boots=1), linux_ran("crash", boots=2),
                (r"^\[high\] " + LINUX_UP + "$", 1), (r"^\[crash\] " + LINUX_UP + "$", 2),
                (r"^\[crash\] " + LINUX_PANIC + "$", 1), (PARKED, 1),
                (r"^slicehv: partition \S+ restarting ", 1),
                (r"^slicehv: all partitions done$", 1))
             + tuple(partition_done(f"toy{i}") for i in (1, 2))
             + (guest_ran("toy2", 3, 4, 3),)),
]


def insert_before_multiboot(cfg, *lines):
    """grub.cfg text with lines inserted before every multiboot/multiboot2 command."""
    out, found = [], False
    for line in cfg.splitlines():
        m = re.match(r"(\s*)multiboot2?\s", line)
        if m:
            found = True
            out += [m.group(1) + extra for extra in lines]
        out.append(line)
    if not found:
        raise ValueError("grub.cfg has no multiboot/multiboot2 line")
    return "\n".join(out) + "\n"


def add_module(cfg, line):
    """grub.cfg text with a module line added after the last module/module2 command of the
    first (default) menu entry."""
    lines = cfg.splitlines()
    first_end = next((i for i, ln in enumerate(lines) if ln.strip() == "}"), len(lines))
    last = [i for i, ln in enumerate(lines[:first_end]) if re.match(r"\s*module2?\s", ln)]
    if not last:
        raise ValueError("grub.cfg has no module/module2 line")
    indent = re.match(r"\s*", lines[last[-1]]).group(0)
    return "\n".join(lines[:last[-1] + 1] + [indent + line] + lines[last[-1] + 1:]) + "\n"


def boot_bare(cfg, image="toy.elf", args=""):
    """grub.cfg text that boots /boot/<image> itself (multiboot2) with args, without slicehv or
    modules."""
    out, cmd = [], f"/boot/{image}" + (f" {args}" if args else "")
    for line in cfg.splitlines():
        if re.match(r"\s*module2?\s", line):
            continue
        line = re.sub(r"^(\s*multiboot2?\s+)\S+.*$", lambda m: m[1] + cmd, line)
        out.append(re.sub(r'^(\s*menuentry\s+)"[^"]*"', rf'\1"{image} (bare)"', line))
    if not any(re.match(rf"\s*multiboot2?\s+{re.escape(cmd)}$", ln) for ln in out):
        raise ValueError("grub.cfg has no multiboot/multiboot2 line")
    return "\n".join(out) + "\n"


def rt_partitioned(args):
    """The default ISO plus configs/rt.cfg: rt.elf with args alone on core 0."""
    return IsoVariant(lambda cfg: add_module(add_module(
        cfg, f"module2 /boot/rt.elf rt.elf {args}"), "module2 /boot/rt.cfg rt.cfg"),
        (CONFIGS / "rt.cfg",))


def linux_variant(config, kernels, extra=()):
    """The menu's linux entry as the default, with configs/<config> for its linux.cfg and a module
    line of Debian's kernel for each (module name, words added to the entry's command line) in
    kernels instead of its one, then the module lines in extra."""
    def edit(cfg):
        vmlinux = re.search(r"^(\s*)module2 /boot/vmlinux vmlinux (.*)$", cfg, re.M)
        if not vmlinux:
            raise ValueError("grub.cfg has no `module2 /boot/vmlinux vmlinux` line")
        lines = "\n".join(f"{vmlinux[1]}module2 /boot/vmlinux {name} {vmlinux[2]}{' ' + words if words else ''}"
                          for name, words in kernels)
        lines += "".join(f"\n{vmlinux[1]}{line}" for line in extra)
        cfg = cfg[:vmlinux.start()] + lines + cfg[vmlinux.end():]
        cfg = cfg.replace("module2 /boot/linux.cfg linux.cfg", f"module2 /boot/{config} {config}")
        return re.sub(r"^set default=.*$", "set default=linux", cfg, flags=re.M)
    return IsoVariant(edit, (lambda b: b / "linux" / "vmlinux", lambda b: b / "linux" / "initrd.cpio",
                             CONFIGS / config))


@dataclass(frozen=True)
class IsoVariant:
    """An ISO built from the default one: its grub.cfg edited, extra files in /boot."""
    edit: object                # function: the default grub.cfg text -> the variant's
    files: tuple = ()           # copied to /boot/ next to hv.elf and toy.elf: paths, or
                                # functions of the build directory that make a file, return its path


def with_config(name):
    """The default ISO plus configs/<name> as the partition config module (named <name>)."""
    return IsoVariant(lambda cfg: add_module(cfg, f"module2 /boot/{name} {name}"),
                      (CONFIGS / name,))


# ISO variants: name -> IsoVariant (None: the default ISO itself).
GRUB_VARIANTS = {
    "default": None,
    # GRUB locks IA32_FEATURE_CONTROL (MSR 0x3a) with VMX disabled before slicehv starts.
    "wrmsr-3a-1": IsoVariant(lambda cfg: insert_before_multiboot(cfg, "insmod wrmsr",
                                                                 "wrmsr 0x3a 0x1")),
    # The toy kernel booted by GRUB directly.
    "toy-bare": IsoVariant(boot_bare),
    # The real-time guest booted by GRUB directly, and in a partition alone on one core.
    "rt-bare": IsoVariant(functools.partial(boot_bare, image="rt.elf", args=RT_ARGS)),
    "rt-partitioned": rt_partitioned(RT_ARGS),
    "rt-partitioned-hlt": rt_partitioned(f"{RT_ARGS} wait=hlt"),
    "rt-interrupt-storm": IsoVariant(lambda cfg: add_module(add_module(
        cfg, "module2 /boot/rt.elf rt.elf mode=periodic period=1 count=1000000"),
        "module2 /boot/rt-storm.cfg rt-storm.cfg"), (CONFIGS / "rt-storm.cfg",)),
    # The menu's isolation demo instead of the default entry.
    "demo": IsoVariant(lambda cfg: re.sub(r"^set default=.*$", "set default=demo", cfg, flags=re.M)),
    "rt": IsoVariant(lambda cfg: re.sub(r"^set default=.*$", "set default=rt", cfg, flags=re.M)),
    # Debian's kernel and the initramfs are only on this ISO (the Makefile's LINUX_ISO_FILES).
    "linux": IsoVariant(lambda cfg: re.sub(r"^set default=.*$", "set default=linux", cfg, flags=re.M),
                        (lambda b: b / "linux" / "vmlinux", lambda b: b / "linux" / "initrd.cpio")),
    # Two Linux partitions (one panics once: LINUX_CRASH_BEFORE) and two toys (make test-linux).
    "linux-pair": linux_variant("linux-pair.cfg", (
        ("vmlinux", ""), ("vmlinux-crash", f"linux-init.crash-before={LINUX_CRASH_BEFORE}")),
        ("module2 /boot/chan.elf hello role=hello seq=7",)),
    # slicehv's command line asks for a ud2 right after the boot information.
    "test-exception": IsoVariant(lambda cfg: re.sub(r"(multiboot2 /boot/hv\.elf)", r"\1 test-exception", cfg)),
    # A wrong config or broken image next to a good partition (BAD_INPUTS).
    **{name: bad_input_variant(name, lines, edit) for name, (lines, edit, _) in BAD_INPUTS.items()},
    "bad-modules": bad_modules_variant(),
    # One per file in configs/: "cfg-two" carries configs/two.cfg.
    **{f"cfg-{f.stem}": with_config(f.name) for f in sorted(CONFIGS.glob("*.cfg"))},
}

# The isolation scenarios (tests/boot/isolation.py) build on everything above.
import isolation  # noqa: E402
SCENARIOS += isolation.ISOLATION_SCENARIOS
GRUB_VARIANTS.update(isolation.ISOLATION_VARIANTS)

# The bzImage route, once: Debian's vmlinuz (not the vmlinux taken out of it) by the 64-bit boot
# protocol, entered in long mode at startup_64, beside a toy. In `make test-linux`: the
# in-guest xz decompression alone is about 4.5 G ticks, some 3 minutes of Bochs.
GRUB_VARIANTS["linux-bzimage"] = IsoVariant(
    lambda cfg: re.sub(r"^set default=.*$", "set default=linux", cfg, flags=re.M)
    .replace("module2 /boot/vmlinux vmlinux ", "module2 /boot/vmlinuz vmlinuz ")
    .replace("module2 /boot/linux.cfg linux.cfg", "module2 /boot/linux-bzimage.cfg linux-bzimage.cfg"),
    (lambda b: b / "linux" / "vmlinuz", lambda b: b / "linux" / "initrd.cpio", CONFIGS / "linux-bzimage.cfg"))
LINUX_MENU_ENTRY = next(s for s in SCENARIOS if s.name == "linux-menu-entry")
SCENARIOS.append(Scenario(
    "linux-bzimage", cpus=2, memory=512, grub="linux-bzimage", timeout=1200, forbid=LINUX_MENU_ENTRY.forbid,
    suite="test-linux",
    # Linux's slice, userspace, workload and poweroff as linux-menu-entry has them, but the image:
    # loaded at pref_address 16 MiB for init_size 0x3f98000, entered at startup_64 (+ 0x200).
    expect=vmx_on(2) + tuple(x for x in LINUX_MENU_ENTRY.expect
                             if "linux" in x[0] and "image" not in x[0] and "config" not in x[0])
    + ((r"^slicehv: config: linux-bzimage\.cfg$", 1),
       (r"^slicehv: partition linux: ept .* image \[0x11000000-0x14f98000\) entry 0x1000200$", 1),
       partition_done("toy1"), (r"^\[toy1\] toy: done$", 1))))

# ---- channels: the demo
# The GRUB menu's channels entry (iso/channels.cfg, guest/chan.c): a producer and a consumer on
# cores 0 and 1 exchange records through two channels and their doorbells while a toy on core 2
# runs as ever. What the log must show comes from the config and the menu entry themselves: each
# channel's row in the partition table, each endpoint's EPT with exactly its channels and rights,
# the record count the two agree on with no error, every partition done. channels-corrupt spoils
# one record's checksum and leaves one sequence number out: the consumer must find both, and the
# run fail.
CHANNELS_CFG = REPO / "iso" / "channels.cfg"
GRUB_CFG = REPO / "iso" / "grub.cfg"
CHANNEL_LINE = re.compile(r"^channel (\S+) size=(\S+) writer=(\S+) reader=(\S+)$", re.M)


def channels_of(cfg):
    """(name, size as written, writer, reader) of each channel line of cfg (one writer, one
    reader: the demo's)."""
    return CHANNEL_LINE.findall(cfg.read_text())


def channels_records():
    """The records= both endpoints of the menu's channels entry are given (the same, or an error)."""
    entry = re.search(r"^menuentry [^\n]*--id channels \{\n(.*?)^\}", GRUB_CFG.read_text(), re.M | re.S)
    counts = set(re.findall(r"^\s*module2 /boot/chan\.elf \S+ .*\brecords=(\d+)", entry[1], re.M))
    if len(counts) != 1:
        raise ValueError(f"grub.cfg's channels entry: records= {sorted(counts)}, not one count for both")
    return int(counts.pop())


def channel_expects(cfg):
    """Each channel's row in the partition table, and each endpoint's isolation lines: its slice
    and exactly its channels, read-write for the writer, read-only for the reader."""
    chans = channels_of(cfg)
    out = []
    for name, size, writer, reader in chans:
        out += [(rf"^slicehv: channel {name} {size}@{HEX} writer {writer} reader {reader} exec - "
                 r"vector 0x50$", 1),
                (rf"^slicehv: isolation: partition {writer}: channel {name} {HEX}-{HEX} at "
                 rf"guest-physical {HEX}, read-write$", 1),
                (rf"^slicehv: isolation: partition {reader}: channel {name} {HEX}-{HEX} at "
                 rf"guest-physical {HEX}, read-only$", 1)]
    for p in sorted({e for c in chans for e in c[2:]}):
        n = sum(p in c[2:] for c in chans)
        out.append((rf"^slicehv: isolation: partition {p}: ept maps only its slice {HEX}-{HEX} and "
                    rf"{n} channels, identity, \d+ leaves$", 1))
    return tuple(out)


def chan_summary(role, records, errors):
    """An endpoint's last lines: the count, the errors, its doorbells, done."""
    verb = "sent" if role == "producer" else "checked"
    return ((rf"^\[{role}\] chan: {role}: {records} records {verb}, errors {errors}, doorbells [1-9]\d* "
             r"\([1-9]\d* peers rung, 0 busy\), received [1-9]\d*, exits \d+$", 1),
            (rf"^\[{role}\] chan: {role}: done$", 1))


CHANNELS_RECORDS = channels_records()
SCENARIOS += [
    Scenario("channels-menu-entry", cpus=4, grub="channels", forbid=TROUBLE, timeout=120,
             expect=vmx_on(4) + ((r"^slicehv: config: channels\.cfg$", 1),)
             + channel_expects(CHANNELS_CFG)
             + chan_summary("producer", CHANNELS_RECORDS, 0) + chan_summary("consumer", CHANNELS_RECORDS, 0)
             + (guest_ran("toy", 2, 3, 2),)
             + tuple(partition_done(p) for p in ("producer", "consumer", "toy"))
             + ((r"^slicehv: all partitions done$", 1),)),
    Scenario("channels-corrupt", cpus=4, grub="channels-corrupt", exit=FAILED, timeout=120,
             forbid=(EPT_VIOLATION, PARKED, NOT_STARTED, DENIED),
             expect=vmx_on(4) + chan_summary("producer", CHANNELS_RECORDS, 2)
             + chan_summary("consumer", CHANNELS_RECORDS, 2)
             + ((r"^\[consumer\] chan: consumer: record 100: sequence 100 \(expected 100\), checksum wrong$", 1),
                (r"^\[consumer\] chan: consumer: record 200: sequence 201 \(expected 200\), checksum right$", 1),
                (r"^slicehv: stats (producer|consumer): done status 1, denied 0, ", 2),
                partition_done("toy"), (r"^slicehv: all partitions done$", 1))),
]
GRUB_VARIANTS["channels"] = IsoVariant(
    lambda cfg: re.sub(r"^set default=.*$", "set default=channels", cfg, flags=re.M))
GRUB_VARIANTS["channels-corrupt"] = IsoVariant(
    lambda cfg: re.sub(r"^set default=.*$", "set default=channels", cfg, flags=re.M)
    .replace("module2 /boot/chan.elf producer role=producer", "module2 /boot/chan.elf producer role=producer "
             "corrupt=100 skip=200"))

# ================================================================ results


@dataclass
class Outcome:
    """One line of the report."""
    name: str
    verdict: str          # PASS | FAIL | SKIP
    reason: str = ""
    seconds: float = 0.0
    serial: str = field(default="", repr=False)   # a booted scenario's log, for its peers

    def line(self):
        """The report line: "PASS: name" or "FAIL: name (reason)"."""
        return f"{self.verdict}: {self.name}" + (f" ({self.reason})" if self.reason else "")


# ================================================================ unit tests

UNIT_TIMEOUT = 120
CMOCKA_LINE = re.compile(r"^\[\s*(RUN|OK|FAILED|SKIPPED|ERROR|LINE)\s*\] (?:--- )?(.*)$")


def run_unit(binary, logs):
    """Run one cmocka binary; one Outcome per test it reports (or one for the binary)."""
    name = f"unit/{Path(binary).name}"
    if not Path(binary).exists():
        return [Outcome(name, "FAIL", "not built")]
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout")
    try:
        p = subprocess.run([str(binary)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=UNIT_TIMEOUT)
        text, status = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        text, status = (e.stdout or b"").decode("utf-8", "replace"), None
    outcomes = parse_cmocka(name, text)
    outcomes += binary_outcome(name, outcomes, status)
    if any(o.verdict == "FAIL" for o in outcomes):
        keep(logs / name.replace("/", "-"), {"output.txt": text})
    return outcomes


def parse_cmocka(prefix, text):
    """Outcomes from cmocka's standard output; a test that started and never finished
    (the binary crashed) fails."""
    outcomes, running, detail = [], None, []
    for line in text.splitlines():
        m = CMOCKA_LINE.match(line)
        if not m:
            continue
        tag, rest = m.groups()
        if tag == "RUN":
            running, detail = rest, []
        elif tag in ("ERROR", "LINE") and running:
            detail.append(rest)
        elif rest == running and tag in ("OK", "FAILED", "SKIPPED"):
            verdict = {"OK": "PASS", "FAILED": "FAIL", "SKIPPED": "SKIP"}[tag]
            reason = "; ".join(detail) if verdict == "FAIL" else ""
            outcomes.append(Outcome(f"{prefix}/{running}", verdict, reason))
            running = None
    if running:
        outcomes.append(Outcome(f"{prefix}/{running}", "FAIL", f"crashed: {crash_line(text)}"))
    return outcomes


def crash_line(text):
    """The sanitizer's report line in text, else its last line."""
    lines = text.strip().splitlines() or [""]
    found = [ln for ln in lines if "Sanitizer" in ln or "runtime error:" in ln]
    return (found or lines[-1:])[0].strip()[:160]


def binary_outcome(name, outcomes, status):
    """An extra Outcome for the binary itself when its status tells more than its tests."""
    if status is None:
        return [Outcome(name, "FAIL", f"timeout after {UNIT_TIMEOUT}s")]
    if not outcomes:
        return [Outcome(name, "PASS" if status == 0 else "FAIL",
                        "" if status == 0 else f"exit status {status}, no cmocka output")]
    if status != 0 and not any(o.verdict == "FAIL" for o in outcomes):
        return [Outcome(name, "FAIL", f"exit status {status} with every test passed")]
    return []


# ================================================================ boot scenarios


@dataclass
class Context:
    """What a scenario's expect functions may look at besides its own serial log."""
    build: Path
    outcomes: dict = field(default_factory=dict)   # scenario name -> Future of its Outcome

    def peer_serial(self, name):
        """The serial log of scenario name (one of this scenario's needs), waiting for it to
        finish; None unless it passed."""
        future = self.outcomes.get(name)
        o = future.result() if future else None
        return o.serial if o and o.verdict == "PASS" else None


def check(s, r, ctx):
    """Every way result r misses scenario s, the most telling first."""
    problems = []
    if r.timed_out:
        problems.append(f"timeout: {s.timeout} s of emulator CPU time used up")
    elif s.engine == "bochs" and "shutdown requested" not in r.bochs_message():
        problems.append(f"bochs: {r.bochs_message() or 'ended without its exit message'}")
    problems += forbidden(FORBIDDEN_OUTPUT, r.output, "engine output has")
    problems += forbidden((() if s.fault_report else forbidden_serial(s.panics)) + tuple(s.forbid), r.serial,
                          "serial has")
    for e in s.expect:
        if callable(e):
            problems += e(r.serial, ctx)
        elif p := expectation(e, r.serial):
            problems.append(p)
    if s.exit is not None:
        problems += exit_problems(s, r)
    return problems


def forbidden(regexes, text, where):
    """A problem for each regex that matches text, quoting the line."""
    problems = []
    for rx in regexes:
        m = re.search(rx, text, re.M)
        if m:
            problems.append(f"{where} {line_at(text, m.start())!r}")
    return problems


def line_at(text, pos):
    """The whole line of text around position pos, shortened."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start:end if end >= 0 else len(text)].strip()[:160]


def expectation(e, text):
    """"" when expectation e (regex or (regex, count)) holds on text, else the problem."""
    rx, count = (e, None) if isinstance(e, str) else e
    n = len(re.findall(rx, text, re.M))
    if n == 0 and count != 0:
        return f"missing /{rx}/"
    if count is not None and n != count:
        return f"/{rx}/ matched {n} times, expected {count}"
    return ""


def exit_problems(s, r):
    """The last serial line must be slicehv's exit line; QEMU's status must carry it."""
    problems = []
    want = f"slicehv: exit {s.exit} ({EXIT_NAMES.get(s.exit, '?')})"
    lines = [ln.strip() for ln in r.serial.splitlines() if ln.strip()]
    last = lines[-1] if lines else "(empty serial log)"
    if last != want:
        problems.append(f"last line {last[:120]!r}, expected {want!r}")
    if s.engine.startswith("qemu") and not r.timed_out and r.status != (s.exit << 1) | 1:
        problems.append(f"qemu exit status {r.status}, expected {(s.exit << 1) | 1}")
    return problems


def machine(s, build, iso):
    """The engine.Machine that scenario s boots from iso."""
    return engine.Machine(engine=s.engine, cpus=s.cpus, model=s.model, firmware=s.firmware,
                          memory=s.memory, iso=str(iso),
                          kernel=str(build / "hv.elf") if s.kernel else "",
                          timeout=s.timeout)


def run_scenario(s, build, iso, logs, ctx):
    """Boot scenario s once from iso and judge it; keep its logs only when it failed."""
    workdir = logs / s.name
    try:
        r = engine.boot(machine(s, build, iso), workdir)
    except Exception as e:        # the harness reports every scenario, whatever happens
        keep(workdir, {"reasons.txt": f"could not run: {e}\n"})
        return Outcome(s.name, "FAIL", f"could not run: {e}")
    try:
        problems = check(s, r, ctx)
    except Exception as e:        # a broken expect function fails its scenario, not the run
        problems = [f"could not check: {type(e).__name__}: {e}"]
    if not problems:
        shutil.rmtree(workdir, ignore_errors=True)
        return Outcome(s.name, "PASS", seconds=r.seconds, serial=r.serial)
    keep(workdir, {"reasons.txt": "\n".join(problems) + "\n"})
    more = f"; +{len(problems) - 1} more in {workdir}/reasons.txt" if len(problems) > 1 else ""
    return Outcome(s.name, "FAIL", problems[0] + more, r.seconds, r.serial)


def keep(directory, files):
    """Write files (name -> text) into directory, creating it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


# ================================================================ ISOs and skips


def iso_files(iso, tmp):
    """Extract the regular files of the ISO's /boot and its grub.cfg into tmp; return
    (grub.cfg text, list of extracted payload paths)."""
    listing = subprocess.run(["xorriso", "-indev", str(iso), "-lsl", "/boot"],
                             capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^-\S*\s.*'([^'/]+)'$", listing, re.M)
    cmd = ["xorriso", "-osirrox", "on", "-indev", str(iso),
           "-extract", "/boot/grub/grub.cfg", str(tmp / "grub.cfg")]
    for n in names:
        cmd += ["-extract", f"/boot/{n}", str(tmp / "payload" / n)]
    subprocess.run(cmd, capture_output=True, check=True)
    return (tmp / "grub.cfg").read_text(), [tmp / "payload" / n for n in names]


def build_variant(base, name, out):
    """Build ISO out: base with its grub.cfg passed through GRUB_VARIANTS[name]."""
    tmp = out.with_suffix(".d")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "payload").mkdir(parents=True)
    try:
        cfg, files = iso_files(base, tmp)
        variant = GRUB_VARIANTS[name]
        (tmp / "variant.cfg").write_text(variant.edit(cfg))
        files += [Path(f(out.parent) if callable(f) else f) for f in variant.files]
        subprocess.run([str(MKISO), str(out), str(tmp / "variant.cfg")] + [str(f) for f in files],
                       capture_output=True, check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Isos:
    """The ISO of each GRUB variant, built when a scenario first asks for it (about a second each,
    while the other scenarios boot); a variant that cannot be built is an error string instead.
    Thread-safe: a variant that scenarios share is built once."""

    def __init__(self, build):
        self.base = build / "slicehv.iso"
        self.lock = threading.Lock()
        self.built = {}          # name -> Path or error string
        self.building = {}       # name -> the lock its builder holds

    def get(self, name):
        """The ISO of variant name, building it first if no one has."""
        with self.lock:
            lock = self.building.setdefault(name, threading.Lock())
        with lock:
            if name not in self.built:
                self.built[name] = self.build(name)
            return self.built[name]

    def build(self, name):
        """Build variant name (the default ISO is make's); its path, or what went wrong."""
        if not self.base.exists():
            return f"{self.base} does not exist (make iso)"
        if name == "default":
            return self.base
        out = self.base.parent / f"slicehv-{name}.iso"
        try:
            build_variant(self.base, name, out)
            return out
        except (OSError, ValueError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", b"") or b""
            return f"ISO variant {name}: {e} {detail.decode(errors='replace')[-200:]}"


def skip_reasons(scenarios, isos, logs):
    """name -> why a scenario cannot run on this host (today: no nested KVM)."""
    reasons, kvm = {}, None
    for s in scenarios:
        if s.engine == "qemu-kvm":
            if kvm is None:
                kvm = probe_kvm(isos.get("default"), logs / "kvm-probe")
            if kvm:
                reasons[s.name] = f"no nested KVM: {kvm}"
    return reasons


def probe_kvm(iso, workdir):
    """Why nested KVM is unusable here ("" when it is usable)."""
    if not isinstance(iso, Path):
        return engine.kvm_host_reason() or "no ISO to probe with"
    reason = engine.kvm_unavailable(str(iso), workdir)
    if not reason:
        shutil.rmtree(workdir, ignore_errors=True)
    return reason


# ================================================================ driver


def longest_first(scenarios):
    """scenarios in the order to start them: the longest first, so that two emulators stay busy
    to the end instead of one long boot running alone (a scenario's timeout says how long it
    is), but every scenario after its needs (which it waits for)."""
    by_name = {s.name: s for s in scenarios}
    order, placed = [], set()

    def place(s):
        if s.name not in placed:
            for n in s.needs:
                place(by_name[n])
            placed.add(s.name)
            order.append(s)
    for s in sorted(scenarios, key=lambda s: -s.timeout):
        place(s)
    return order


def run_boots(scenarios, steps, build, logs, jobs):
    """Run the make steps (MAKE_STEPS), then the scenarios longest first, jobs at a time;
    yield their Outcomes as they finish."""
    isos = Isos(build)
    skips = skip_reasons(scenarios, isos, logs)
    ctx = Context(build)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        # The steps first: each is as long as the longest boots. Then first come first served:
        # a scenario's needs are running or done before it can wait for them.
        done_steps = [pool.submit(run_make_step, *step, build, logs) for step in steps]
        for s in longest_first(scenarios):
            ctx.outcomes[s.name] = pool.submit(one_boot, s, build, isos, logs, skips, ctx)
        futures = list(ctx.outcomes.values()) + done_steps
        try:
            for f in concurrent.futures.as_completed(futures):
                yield f.result()
        except BaseException:      # ^C: the running emulators got it too; start no more
            for f in futures:
                f.cancel()
            raise


def one_boot(s, build, isos, logs, skips, ctx):
    """The Outcome of one scenario: skipped, failed before booting, or booted and judged."""
    if s.name in skips:
        return Outcome(s.name, "SKIP", skips[s.name])
    iso = isos.get(s.grub)
    if not isinstance(iso, Path):
        return Outcome(s.name, "FAIL", iso or f"unknown GRUB variant {s.grub!r}")
    if s.kernel and not (build / "hv.elf").exists():
        return Outcome(s.name, "FAIL", f"{build / 'hv.elf'} does not exist")
    return run_scenario(s, build, iso, logs, ctx)


def validate(scenarios):
    """Refuse a table with duplicate names, unknown engines or unknown ISO variants, or
    needs that are not earlier in the table."""
    names = [s.name for s in scenarios]
    dup = {n for n in names if names.count(n) > 1}
    bad = [s.name for i, s in enumerate(scenarios)
           if s.engine not in engine.ENGINES or s.grub not in GRUB_VARIANTS
           or s.firmware not in engine.FIRMWARE or (s.kernel and s.engine == "bochs")
           or any(n not in names[:i] for n in s.needs)]
    if dup or bad:
        raise SystemExit(f"scenarios: bad table: duplicate {sorted(dup)}, invalid {bad}")


def with_needs(chosen):
    """chosen plus every scenario they need, directly or not, in table order."""
    want = {s.name for s in chosen}
    for s in reversed(SCENARIOS):            # needs come earlier in the table
        if s.name in want:
            want.update(s.needs)
    return [s for s in SCENARIOS if s.name in want]


# ================================================================ make targets
#
# Steps of `make test` that are not boots: a make target that must succeed and whose output must
# show that it really ran. What they measure is never judged here (benchmarks are not timed tests).
FUZZ_TARGETS = ("config", "elf", "multiboot", "acpi")
BENCH_LINE = (r"^bench: engine \S+ worst-overhead [0-9.]+ steady-exits \d+ cpuid-rtt \d+ "
              r"vmcall-rtt \d+ boot-4cpu \d+ hv-text \d+ irq-latency-bare -?\d+ irq-latency-part -?\d+ "
              r"irq-latency-noisy -?\d+ irq-exits \d+ doorbell-rtt \d+ doorbell-exits [0-9.]+$")
# The GRUB menu entries `make run ENTRY=` may name.
GRUB_ENTRIES = re.findall(r"^menuentry .* --id (\S+) \{$", (REPO / "iso" / "grub.cfg").read_text(), re.M)


def run_refused(argument, message):
    """`make run <argument>` stops with exactly one line, make's error holding message (a plain
    string), before anything is built or booted."""
    return (("run", argument), ((rf"^Makefile:\d+: \*\*\* {re.escape(message)}\.  Stop\.$", 1),
                                (r"\n.", 0)), False)


# (make arguments, expectations on its output, whether it must succeed).
MAKE_STEPS = (
    # Each libFuzzer target runs briefly on its seed corpus and must report runs and no crash.
    (("fuzz-smoke",), tuple((rf"^fuzz: {t} [1-9]\d* runs, 0 crashes$", 1) for t in FUZZ_TARGETS), True),
    # make bench runs end to end in its quick mode and its summary line parses.
    (("bench-smoke",), ((BENCH_LINE, 1),), True),
    # A bad argument to make run gets one line naming it and what it may be.
    run_refused("ENTRY=nosuch", f"ENTRY=nosuch: no such GRUB entry; choose one of: {' '.join(GRUB_ENTRIES)}"),
    *(run_refused(f"CPUS={n}", f"CPUS={n}: give a number of cores from 1 to 8") for n in ("0", "17", "abc")),
)
MAKE_TIMEOUT = 900


def run_make_step(args, expect, succeeds, build, logs):
    """Outcome of `make <args>`: its exit status 0 (non-zero unless succeeds) and every
    expectation on its output, stdout and stderr together."""
    name = "make-" + "-".join(args).lower().replace("=", "-")
    cmd = ["make", "--no-print-directory", *args, f"BUILD={build}"]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=MAKE_TIMEOUT)
        out, status = p.stdout.rstrip("\n"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, status = str(e.stdout or ""), f"timeout after {MAKE_TIMEOUT}s"
    problems = [] if (status == 0) == succeeds else [f"make {' '.join(args)}: exit status {status}"]
    problems += [p for e in expect if (p := expectation(e, out))]
    seconds = time.monotonic() - start
    if problems:
        keep(logs / name, {"output.txt": out})
        return Outcome(name, "FAIL", "; ".join(problems)[:300], seconds)
    return Outcome(name, "PASS", "", seconds)


def parse_args(argv):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="build directory (ISO, hv.elf, logs)")
    p.add_argument("--unit", default="", help="space-separated unit test binaries")
    p.add_argument("--suite", default="test", choices=("test", "test-linux"),
                   help="the scenarios of make test, or the heavier Linux boots of make test-linux")
    p.add_argument("--only", default="", help="run only scenarios whose name matches this regex")
    p.add_argument("--jobs", type=int, default=2, help="scenarios run at once")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--no-make-steps", action="store_true", help="skip fuzz-smoke and bench-smoke")
    p.add_argument("--started", type=float, default=time.time(),
                   help="when the run began (seconds since the epoch), for the wall time reported")
    return p.parse_args(argv)


def main(argv):
    """Run everything, print the report, return the exit status."""
    args = parse_args(argv)
    validate(SCENARIOS)
    scenarios = with_needs([s for s in SCENARIOS if s.suite == args.suite and re.search(args.only, s.name)])
    if args.list:
        print("\n".join(s.name for s in scenarios))
        return 0
    build = Path(args.build)
    logs = build / "test-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    results = []
    for binary in args.unit.split():
        for o in run_unit(binary, logs):
            results.append(o)
            print(o.line(), flush=True)
    steps = () if args.no_make_steps or args.only or args.suite != "test" else MAKE_STEPS
    for o in run_boots(scenarios, steps, build, logs, args.jobs):
        results.append(o)
        print(o.line(), flush=True)
    return summarize(results, build, logs, time.time() - args.started)


def summarize(results, build, logs, wall):
    """Print the wall time and then the summary line, write <build>/test-results.txt, return the
    exit status."""
    count = {v: sum(o.verdict == v for o in results) for v in ("PASS", "FAIL", "SKIP")}
    (build / "test-results.txt").write_text(
        "".join(f"{o.seconds:7.1f}s  {o.line()}\n"
                for o in sorted(results, key=lambda o: -o.seconds)) + f"wall time {wall:.1f}s\n")
    if not any(logs.iterdir()):
        logs.rmdir()
    elif count["FAIL"]:
        print(f"logs of failures: {logs}/")
    print(f"wall time {int(wall) // 60} min {int(wall) % 60} s")
    print(f"{count['PASS']} passed, {count['FAIL']} failed, {count['SKIP']} skipped")
    return 1 if count["FAIL"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\nscenarios: interrupted", file=sys.stderr)
        sys.exit(130)
