#!/usr/bin/env python3
"""slicehv benchmarks: the bench guest bare and partitioned on one engine, boot, footprint.

    bench.py --build build [--smoke | --only linux] [--engine bochs|qemu-kvm] [--jobs 2]

Boots every machine of the plan (two at a time), reads the figures from the serial logs, writes
<out>/results.md and <out>/bench.png (<out> is <build>/bench, or <build>/bench-smoke with
--smoke) and ends with one line:

    bench: engine <name> worst-overhead <ratio> steady-exits <n> cpuid-rtt <ticks> \
vmcall-rtt <ticks> boot-4cpu <ticks> hv-text <bytes> irq-latency-bare <ticks> \
irq-latency-part <ticks> irq-latency-noisy <ticks> irq-exits <n> doorbell-rtt <ticks> \
doorbell-exits <n> linux-ratio <worst partitioned/bare> linux-exits-busy <exits/s> linux-boot <ticks>

The linux- fields come only from the full run (linux.py boots Debian's kernel, minutes under
Bochs; --smoke leaves it out); --only linux runs just those machines.

Exit status 0 when every machine ran to its end and every figure was found and consistent;
1 otherwise (a boot that failed, a line missing, a checksum that differs, no plot). A figure
that misses its target is reported in results.md, never a failure.
"""

import argparse
import concurrent.futures
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "boot"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import channel  # noqa: E402  (tests/bench/channel.py: the channel doorbell and stream)
import engine  # noqa: E402  (tests/boot/engine.py: boots one machine, returns its logs)
import irq  # noqa: E402  (tests/bench/irq.py: the real-time guest's timer latency)
import linux  # noqa: E402  (tests/bench/linux.py: Debian's kernel bare and partitioned)
from report import SUMMARY_CPUS, WORKLOADS, plot_data, summary_line, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MKISO = REPO / "iso" / "mkiso.sh"
GRUB_CFG = REPO / "iso" / "grub.cfg"
CONFIGS = Path(__file__).resolve().parent / "configs"

# ================================================================ the plan

BENCH_ENGINES = ("bochs", "qemu-kvm")   # QEMU TCG has no VMX: nothing to compare there
RTT_OPS = ("nop", "cpuid", "io", "vmcall")
OVERHEAD_MIB = 2560       # usable RAM past 2 GiB: configs/overhead.cfg's 1 GiB slice fits
LARGEST_MIB = 3072        # Bochs puts all of it below 4 GiB (PCI hole from 3 GiB); slices must be too
BOOT_MIB = 256            # as `make run` and the boot scenarios
BOOT_CPUS = (1, 2, 4, 8)  # 8: the practical maximum in Bochs
TIMEOUT = 180             # seconds of wall time per machine
REPS = {"bochs": 1, "qemu-kvm": 5}   # Bochs is deterministic; real cycles need a few runs

HEX = "0x[0-9a-f]+"


@dataclass(frozen=True)
class Run:
    """One machine: an ISO (built from grub lines and files, or given) and its hardware."""
    name: str
    cpus: int
    memory: int
    grub: tuple = ()          # the menuentry's lines
    files: tuple = ()         # copied to /boot/
    iso: Path | None = None   # a ready ISO instead of grub + files
    parts: tuple = ()         # the partitions slicehv must report on (none: a bare run)
    what: str = ""            # for the results
    timeout: int = TIMEOUT    # seconds of wall time


def plan(build, smoke, eng):
    """The machines to boot, longest first. Every machine that measures a guest has one core:
    Bochs advances the TSC of a multi-core machine in quanta, which blurs short round trips."""
    hv, bench = build / "hv.elf", build / "guest" / "bench.elf"
    args = f"size={'small' if smoke else 'full'} reps={REPS[eng]}"

    def with_config(cfg, module, hv_args):
        return (f"multiboot2 /boot/hv.elf{hv_args}", module, f"module2 /boot/{cfg} {cfg}")

    def overhead(hv_args):
        return Run("part" + hv_args.replace(" ept=", "-"), 1, OVERHEAD_MIB,
                   with_config("overhead.cfg", f"module2 /boot/bench.elf bench.elf {args}", hv_args),
                   (hv, bench, CONFIGS / "overhead.cfg"), parts=("bench",),
                   what=f"configs/overhead.cfg{', hv.elf' + hv_args if hv_args else ''}")

    def ept64m(hv_args):
        return Run("ept64m" + hv_args.replace(" ept=", "-"), 1, BOOT_MIB,
                   with_config("ept64m.cfg", "module2 /boot/bench.elf idle.elf size=idle", hv_args),
                   (hv, bench, CONFIGS / "ept64m.cfg"), parts=("ept64m",),
                   what=f"configs/ept64m.cfg{', hv.elf' + hv_args if hv_args else ''}")

    def largest(hv_args):
        # The default config on one core: the whole largest free range as one slice. It runs the
        # image named toy.elf, so the bench guest (idle) goes under that name.
        return Run("largest" + hv_args.replace(" ept=", "-"), 1, LARGEST_MIB,
                   (f"multiboot2 /boot/hv.elf{hv_args}", "module2 /boot/bench.elf toy.elf size=idle"),
                   (hv, bench), parts=("p0",),
                   what=f"default config, 1 core: the largest slice{', hv.elf' + hv_args if hv_args else ''}")

    runs = [Run(f"boot-{n}cpu", n, BOOT_MIB, iso=build / "slicehv.iso",
                parts=tuple(f"p{i}" for i in range(n)),
                what=f"`make iso`'s ISO, default config: a toy partition on each of {n} cores")
            for n in sorted(BOOT_CPUS if not smoke else (SUMMARY_CPUS,), reverse=True)]
    runs += [overhead(""), overhead(" ept=4k"),
             Run("bare", 1, OVERHEAD_MIB, (f"multiboot2 /boot/bench.elf {args}",), (bench,),
                 what="bench.elf from GRUB, no hypervisor")]
    if not smoke:
        runs += [largest(""), largest(" ept=4k"), ept64m(""), ept64m(" ept=4k")]
    return (runs + irq.runs(Run, build, BOOT_MIB, smoke) + channel.runs(Run, build, BOOT_MIB, smoke)
            + ([] if smoke else linux.runs(Run, build)))


# ================================================================ booting


class BenchError(Exception):
    """A run that did not produce what the benchmark reads: fails `make bench`."""


def grub_cfg(lines):
    """iso/grub.cfg's settings (serial console, no menu delay) with one menuentry of lines."""
    text = GRUB_CFG.read_text()
    head = text[:text.index("menuentry")]
    body = "".join(f"\t{ln}\n" for ln in lines)
    return f'{head}menuentry "slicehv bench" {{\n{body}\tboot\n}}\n'


def make_iso(run, out):
    """The run's ISO (built into out/iso/ unless the run names one)."""
    if run.iso:
        return run.iso
    (out / "iso").mkdir(parents=True, exist_ok=True)
    cfg, iso = out / "iso" / f"{run.name}.cfg", out / "iso" / f"{run.name}.iso"
    cfg.write_text(grub_cfg(run.grub))
    p = subprocess.run([str(MKISO), str(iso), str(cfg), *map(str, run.files)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode:
        raise BenchError(f"{run.name}: mkiso.sh failed: {p.stdout.decode(errors='replace')[-400:]}")
    return iso


def boot(run, eng, out):
    """Boot run's machine; its Result (logs in out/runs/<name>/)."""
    m = engine.Machine(engine=eng, cpus=run.cpus, memory=run.memory, iso=str(make_iso(run, out)),
                       timeout=run.timeout)
    return engine.boot(m, out / "runs" / run.name)


def boot_all(runs, eng, out, jobs):
    """{name: Result}, booting jobs machines at a time; prints each as it ends."""
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(boot, r, eng, out): r for r in runs}
        for f in concurrent.futures.as_completed(futures):
            run = futures[f]
            results[run.name] = f.result()
            res = results[run.name]
            how = "timed out" if res.timed_out else f"{res.seconds:.1f} s"
            print(f"bench: ran {run.name} ({run.cpus} cpus, {run.memory} MiB): {how}", flush=True)
    return results


# ================================================================ reading the logs

GUEST_LINES = {   # regex after "bench: " -> how its groups are stored
    "workload": re.compile(r"(cpu|memwalk|chase) ticks (\d+)"),
    "rtt": re.compile(r"([a-z]+)-rtt ticks (\d+)"),
    "tsc": re.compile(r"tsc-overhead ticks (\d+)"),
    "steady": re.compile(r"steady-exits (\d+)"),
    "exits": re.compile(r"exits before (\d+) after (\d+)"),
    "serial": re.compile(r"serial line (\d+) ticks (\d+)"),
    "checksum": re.compile(r"checksum (0x[0-9a-f]+)"),
    "head": re.compile(r"(\S+) (bare|partitioned) slice (0x[0-9a-f]+)-(0x[0-9a-f]+) size (\w+) reps (\d+)"),
}


@dataclass
class Guest:
    """What one bench guest printed."""
    ticks: dict = field(default_factory=dict)   # workload -> TSC ticks
    rtt: dict = field(default_factory=dict)     # op -> median round trip, TSC overhead taken off
    tsc_overhead: int = 0
    steady: int | None = None
    exits: tuple = ()
    serial_chars: int = 0
    serial_ticks: int = 0
    checksum: str = ""
    mode: str = ""
    size: str = ""
    done: bool = False


def read_guest(serial, prefix, run):
    """The bench guest's lines behind prefix ("" bare, "[<name>] " in a partition)."""
    g = Guest()
    for line in serial.splitlines():
        if not line.startswith(prefix + "bench: "):
            continue
        text = line[len(prefix) + len("bench: "):]
        g.done |= text == "done"
        for kind, rx in GUEST_LINES.items():
            m = rx.fullmatch(text)
            if m:
                store(g, kind, m.groups())
    if not g.done:
        raise BenchError(f"{run}: no `{prefix}bench: done` line (the guest did not finish)")
    return g


def store(g, kind, v):
    """One parsed guest line into g."""
    if kind == "workload":
        g.ticks[v[0]] = int(v[1])
    elif kind == "rtt":
        g.rtt[v[0]] = int(v[1])
    elif kind == "tsc":
        g.tsc_overhead = int(v[0])
    elif kind == "steady":
        g.steady = int(v[0])
    elif kind == "exits":
        g.exits = (int(v[0]), int(v[1]))
    elif kind == "serial":
        g.serial_chars, g.serial_ticks = int(v[0]), int(v[1])
    elif kind == "checksum":
        g.checksum = v[0]
    elif kind == "head":
        g.mode, g.size = v[1], v[4]


def require_workloads(g, run, partitioned):
    """Every figure a working guest prints, or BenchError naming what is missing."""
    missing = [w for w in WORKLOADS if w not in g.ticks]
    missing += [f"{op}-rtt" for op in RTT_OPS if op not in g.rtt and (partitioned or op != "vmcall")]
    if partitioned and g.steady is None:
        missing.append("steady-exits")
    if not g.checksum or not g.serial_chars:
        missing.append("checksum/serial line")
    if g.mode != ("partitioned" if partitioned else "bare"):
        missing.append(f"mode line saying {'partitioned' if partitioned else 'bare'}")
    if missing:
        raise BenchError(f"{run}: no {', '.join(missing)} in the guest's output")


@dataclass
class Part:
    """What slicehv said about one partition."""
    name: str
    base: int = 0
    size: int = 0
    tables: int = 0
    leaves: tuple = (0, 0, 0)      # 1G, 2M, 4K
    ept_build: int = 0
    launched: int = 0
    first_output: int = 0
    stats: str = ""


@dataclass
class Hv:
    """slicehv's log of one run."""
    cpus_online: int = 0
    parts: dict = field(default_factory=dict)   # name -> Part
    serial: str = ""


HV_LINES = (
    ("online", re.compile(r"^slicehv: timing: cpus online \+(\d+) ticks, \d+ ticks per ms$", re.M)),
    ("timing", re.compile(r"^slicehv: timing (\S+): ept-build (\d+) launched \+(\d+) "
                          r"first-output \+(\d+) stopped \+\d+ ticks$", re.M)),
    ("ept", re.compile(r"^slicehv: partition (\S+): ept (\d+) table pages, leaves 1G=(\d+) "
                       r"2M=(\d+) 4K=(\d+);", re.M)),
    ("launch", re.compile(rf"^slicehv: partition (\S+) cpu \d+ mem ({HEX})-({HEX}): launched$", re.M)),
    ("stats", re.compile(r"^slicehv: stats (\S+): (.*)$", re.M)),
)


def read_hv(serial, run, names):
    """slicehv's timing, EPT and stats lines for the partitions names; the run must end ok."""
    hv = Hv(serial=serial)
    end = re.search(r"^slicehv: exit (\d+) \((\S+)\)$", serial, re.M)
    if not end or end[1] != "0":
        raise BenchError(f"{run}: slicehv did not end ok ({end[0] if end else 'no exit line'})")
    for kind, rx in HV_LINES:
        for m in rx.finditer(serial):
            if kind == "online":
                hv.cpus_online = int(m[1])
                continue
            p = hv.parts.setdefault(m[1], Part(m[1]))
            if kind == "timing":
                p.ept_build, p.launched, p.first_output = int(m[2]), int(m[3]), int(m[4])
            elif kind == "ept":
                p.tables, p.leaves = int(m[2]), (int(m[3]), int(m[4]), int(m[5]))
            elif kind == "launch":
                p.base, p.size = int(m[2], 16), int(m[3], 16) + 1 - int(m[2], 16)
            else:
                p.stats = m[2]
    bad = [n for n in names if n not in hv.parts or not all(
        (hv.parts[n].tables, hv.parts[n].launched, hv.parts[n].first_output, hv.parts[n].size))]
    if not hv.cpus_online or bad:
        raise BenchError(f"{run}: no timing/ept/launched lines for {', '.join(bad) or 'cpus online'}")
    return hv


def serial_chars_before(serial, pattern):
    """Bytes slicehv's UART sent from its first line up to the line matching pattern (each
    newline was CR LF on the wire; the log has the CRs taken out)."""
    start = serial.find("slicehv: starting")
    m = re.search(pattern, serial[start:], re.M)
    if start < 0 or not m:
        return 0
    text = serial[start:start + m.start()]
    return len(text) + text.count("\n")


# ================================================================ the figures


@dataclass
class Figures:
    """Everything results.md, the plot and the summary line show."""
    eng: str
    smoke: bool
    bare: Guest = None
    part: Guest = None
    part4k: Guest = None
    reps: int = 1                                 # each workload's runs (the least is kept)
    hv: dict = field(default_factory=dict)        # run name -> Hv
    boot: dict = field(default_factory=dict)      # cpus -> dict of boot figures
    footprint: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)    # run name -> MiB
    seconds: dict = field(default_factory=dict)   # run name -> wall seconds
    linux: dict = field(default_factory=dict)     # Linux run name -> linux.read's figures
    irq: dict = field(default_factory=dict)       # rt run name -> irq.read's figures
    chan: dict = field(default_factory=dict)      # chan run name -> channel.read's figures
    wall: float = 0.0

    def ratio(self, guest, w):
        """Partitioned guest's ticks over bare, workload w."""
        return guest.ticks[w] / self.bare.ticks[w]

    def worst(self):
        """The largest overhead ratio with large EPT leaves."""
        return max(self.ratio(self.part, w) for w in WORKLOADS)

    def tick_per_char(self):
        """Console cost per byte, as the bare guest timed it."""
        return self.bare.serial_ticks / self.bare.serial_chars


def gather(runs, results, eng, smoke, build):
    """Figures from every run's log; BenchError on anything missing or inconsistent."""
    f = Figures(eng, smoke, reps=REPS[eng], memory={r.name: r.memory for r in runs},
                seconds={n: r.seconds for n, r in results.items()})
    problems = []
    for run in runs:
        r = results[run.name]
        try:
            if r.timed_out:
                raise BenchError(f"{run.name}: timed out after {run.timeout} s")
            read_run(f, run, r.serial)
        except BenchError as e:
            problems.append(f"{e} (logs in {r.workdir})")
    if not problems:
        problems += consistency(f)
    if problems:
        raise BenchError("\n".join(problems))
    f.footprint = footprint(build, f)
    return f


def read_run(f, run, serial):
    """One run's figures into f."""
    for prefix, module, into in (("linux-", linux, f.linux), ("rt-", irq, f.irq), ("chan-", channel, f.chan)):
        if run.name.startswith(prefix):
            try:
                into[run.name] = module.read(serial, run.name)
            except ValueError as e:
                raise BenchError(str(e)) from e
            return
    if not run.parts:
        f.bare = read_guest(serial, "", run.name)
        require_workloads(f.bare, run.name, False)
        return
    hv = f.hv[run.name] = read_hv(serial, run.name, run.parts)
    if run.name.startswith("boot-"):
        f.boot[run.cpus] = boot_figures(hv, run.cpus)
        return
    g = read_guest(serial, f"[{run.parts[0]}] ", run.name)
    if run.name.startswith("part"):
        require_workloads(g, run.name, True)
        setattr(f, "part" if run.name == "part" else "part4k", g)


def boot_figures(hv, cpus):
    """Boot milestones of a default-config run with cpus partitions."""
    parts = [hv.parts[f"p{i}"] for i in range(cpus)]
    last = max(parts, key=lambda p: p.first_output)
    return {
        "online": hv.cpus_online,
        "launched_first": min(p.launched for p in parts),
        "launched_last": max(p.launched for p in parts),
        "first_output": last.first_output,
        "ept_build": sum(p.ept_build for p in parts),
        "chars_online": serial_chars_before(hv.serial, r"^slicehv: \d+ cpus online$"),
        "chars_first_output": serial_chars_before(hv.serial, rf"^\[{last.name}\] "),
    }


def consistency(f):
    """Problems that make the comparison meaningless: different work bare and partitioned."""
    problems = []
    for name, g in (("part", f.part), ("part-4k", f.part4k)):
        if g.checksum != f.bare.checksum:
            problems.append(f"{name}: checksum {g.checksum} differs from bare {f.bare.checksum}: "
                            "not the same work")
        if g.size != f.bare.size:
            problems.append(f"{name}: size {g.size}, bare {f.bare.size}")
    return problems


# ================================================================ footprint


def tool_output(cmd):
    """A tool's standard output, or BenchError."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode:
        raise BenchError(f"{' '.join(map(str, cmd))}: {p.stdout.decode(errors='replace')[:300]}")
    return p.stdout.decode()


def header_define(path, name):
    """The value text of `#define name value` in path; KiB(16) reads "16 KiB"."""
    m = re.search(rf"^#define {name}\s+(\S+)", (REPO / path).read_text(), re.M)
    if not m:
        raise BenchError(f"{path}: no #define {name}")
    return re.sub(r"^([KMG]iB)\((\d+)\)$", r"\2 \1", m[1])


def code_lines(path):
    """Non-blank lines of path that are not only comment (C: /* */ and //; NASM: ;)."""
    text = path.read_text(errors="replace")
    if path.suffix in (".asm", ".inc"):
        text = re.sub(r";.*", "", text)
    else:
        text = re.sub(r'"(\\.|[^"\\])*"|/\*.*?\*/|//[^\n]*',
                      lambda m: m[0] if m[0].startswith('"') else "\n" * m[0].count("\n"),
                      text, flags=re.S)
    return sum(1 for ln in text.splitlines() if ln.strip())


def footprint(build, f):
    """Image sections, per-CPU and per-partition memory, lines of code."""
    hv_elf = build / "hv.elf"
    berkeley = tool_output(["size", str(hv_elf)]).splitlines()[1].split()
    sections = {m[1]: int(m[2]) for m in re.finditer(r"^(\.\w+)\s+(\d+)\s", tool_output(
        ["size", "-A", str(hv_elf)]), re.M)}
    symbols = {m.group(2): int(m.group(1), 16) for m in re.finditer(
        r"^[0-9a-f]+ ([0-9a-f]+) [bBdD] (cpus|partitions)$", tool_output(["nm", "-S", str(hv_elf)]), re.M)}
    max_cpus = int(header_define("hv/types.h", "HV_MAX_CPUS"))
    if set(symbols) != {"cpus", "partitions"}:
        raise BenchError(f"{hv_elf}: no sizes for the cpus/partitions arrays in nm -S")
    lines = {}
    for d in ("hv", "arch"):
        for p in sorted((REPO / d).rglob("*")):
            kind = {".c": "C", ".h": "C", ".asm": "assembly", ".inc": "assembly"}.get(p.suffix)
            if kind:
                lines[kind] = lines.get(kind, 0) + code_lines(p)
    return {
        "text": int(berkeley[0]), "data": int(berkeley[1]), "bss": int(berkeley[2]),
        "sections": sections, "per_cpu": symbols["cpus"] // max_cpus,
        "per_partition": symbols["partitions"] // max_cpus, "max_cpus": max_cpus,
        "heap": header_define("hv/heap.h", "HEAP_SIZE"),
        "stack": header_define("hv/cpu.h", "CPU_STACK_SIZE"),
        "lines": lines,
    }


# ================================================================ the plot

# The interpreters that may have matplotlib: this one, else the distribution's own, where
# python3-matplotlib installs it (a python3 from pyenv or a venv does not see it).
PLOT_PYTHONS = (sys.executable, "/usr/bin/python3")


def plot(f, out):
    """out/bench.png through plot.py, with the first interpreter that has matplotlib."""
    data = out / "plot.json"
    data.write_text(json.dumps(plot_data(f), indent=1) + "\n")
    for python in PLOT_PYTHONS:
        if python and subprocess.run([python, "-c", "import matplotlib"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL).returncode == 0:
            tool_output([python, str(Path(__file__).resolve().parent / "plot.py"), str(data),
                         str(out / "bench.png")])
            return
    raise BenchError(f"cannot draw {out / 'bench.png'}: no matplotlib in {' or '.join(PLOT_PYTHONS)}; "
                     "install python3-matplotlib (tests/deps.sh does)")


# ================================================================ main


def check_inputs(build):
    """The files the plan boots must exist (make builds them)."""
    need = [build / "hv.elf", build / "guest" / "bench.elf", build / "guest" / "rt.elf",
            build / "guest" / "hostile.elf", build / "guest" / "chan.elf", build / "slicehv.iso", MKISO]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        raise BenchError(f"missing {', '.join(missing)}: build them first (make bench does)")
    if not shutil.which("timeout"):
        raise BenchError("coreutils timeout is missing")


def parse_args(argv):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=str(REPO / "build"), help="the build directory")
    p.add_argument("--engine", choices=BENCH_ENGINES, default="bochs")
    p.add_argument("--smoke", action="store_true", help="a reduced set, for make test")
    p.add_argument("--jobs", type=int, default=2, help="machines booted at a time")
    p.add_argument("--only", choices=("linux",), help="run only that part and print its fields")
    return p.parse_args(argv)


def linux_only(build, args, out):
    """bench.py --only linux: the Linux machines, their section into out/linux.md, their fields."""
    runs = linux.runs(Run, build)
    results = boot_all(runs, args.engine, out, 1)
    lx = {}
    for run in runs:
        r = results[run.name]
        if r.timed_out:
            raise BenchError(f"{run.name}: timed out after {run.timeout} s (logs in {r.workdir})")
        try:
            lx[run.name] = linux.read(r.serial, run.name)
        except ValueError as e:
            raise BenchError(f"{e} (logs in {r.workdir})") from e
    fig = linux.figures(lx)
    (out / "linux.md").write_text(linux.section(fig))
    print(f"bench: results in {out / 'linux.md'}")
    print(f"bench: engine {args.engine} {linux.summary_fields(fig)}")
    return 0


def main(argv):
    """Run the plan, write the results, print the summary line; 0 unless something broke."""
    args = parse_args(argv)
    build = Path(args.build).resolve()
    out = build / ("bench-smoke" if args.smoke else "bench")
    start = time.monotonic()
    try:
        check_inputs(build)
        out.mkdir(parents=True, exist_ok=True)
        if args.engine == "qemu-kvm":
            reason = engine.kvm_unavailable(str(build / "slicehv.iso"), out / "kvm-probe")
            if reason:
                raise BenchError(f"engine qemu-kvm cannot run here: {reason}")
        if args.only == "linux":
            return linux_only(build, args, out)
        runs = plan(build, args.smoke, args.engine)
        results = boot_all(runs, args.engine, out, args.jobs)
        f = gather(runs, results, args.engine, args.smoke, build)
        f.wall = time.monotonic() - start
        write_results(f, runs, out)
        plot(f, out)
    except BenchError as e:
        for line in str(e).splitlines():
            print(f"bench: FAILED: {line}", flush=True)
        print("bench: failed: no figures (see the lines above)")
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    print(f"bench: results in {out / 'results.md'} and {out / 'bench.png'} ({f.wall:.0f} s)")
    print(summary_line(f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
