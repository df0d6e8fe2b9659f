"""Debian's kernel for make bench (tests/bench/bench.py): booted bare from GRUB (bzImage) and in a
partition (PVH), with guest/linux/init.c's workload; two Linux partitions busy together against
one alone; the partition's VM exits per reason while busy and while idle."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GRUB_CFG = REPO / "iso" / "grub.cfg"
VMCS_H = REPO / "arch" / "x86" / "vmcs.h"
CONFIGS = Path(__file__).resolve().parent / "configs"
PARTS = ("cpu", "memory", "chase", "sha256sum")
SLICE_MIB = 160           # configs/linux1.cfg's slice: the bare machine gets the same RAM
PART_MIB = 1024           # the slices lie above the 68 MB of modules GRUB loads (iso/linux.cfg)
TIMEOUT = 900             # seconds of wall time: a bare bzImage boot alone takes minutes
IDLE_SECONDS = 0.1        # init.c's IDLE_NS: the idle period, a nanosleep the kernel times
SEED = {"alone": 0.935, "together": 0.826}   # the seed experiment's Linux guests against native

LINE = r"(?:\[(\w+)\] )?\[ *[0-9.]+\] linux-init: "
UP = re.compile(LINE + r"up (\d+)$", re.M)
PART = re.compile(LINE + r"(cpu|memory|chase|sha256sum) (\d+)$", re.M)
WORK = re.compile(LINE + r"work (\d+) sum ([0-9a-f]{16})$", re.M)
EXITS = re.compile(LINE + r"exits (busy|idle) (\d+) ticks: (\d+) \[([0-9= ]*)\] reads (\d+)$", re.M)


def exit_names():
    """{basic exit reason: name}, from arch/x86/vmcs.h's X-macro table."""
    return {int(nr): name for name, nr in re.findall(r"X\((\w+), (\d+), \"[a-z-]+\"\)",
                                                     VMCS_H.read_text())}


def cmdline():
    """iso/grub.cfg's linux_cmdline: the same line bare and partitioned."""
    return re.search(r'^set linux_cmdline="([^"]*)"', GRUB_CFG.read_text(), re.M)[1]


def runs(run_cls, build):
    """Bare (bzImage from GRUB, 1 core), alone in a partition (1 core), two together (2 cores)."""
    lx = build / "linux"
    vmlinux, vmlinuz, initrd = lx / "vmlinux", lx / "vmlinuz", lx / "initrd.cpio"
    line = cmdline()

    def part(name, cpus, cfg):
        grub = ("multiboot2 /boot/hv.elf", f"module2 /boot/vmlinux vmlinux {line}",
                "module2 /boot/initrd.cpio initrd.cpio", f"module2 /boot/{cfg} {cfg}")
        names = ("linux",) if cpus == 1 else ("linux", "linux2")
        return run_cls(name, cpus, PART_MIB, grub, (build / "hv.elf", vmlinux, initrd, CONFIGS / cfg),
                       parts=names, what=f"Linux partitions {', '.join(names)} ({cfg})",
                       timeout=TIMEOUT)
    return [
        run_cls("linux-bare", 1, SLICE_MIB, (f"linux /boot/vmlinuz {line}", "initrd /boot/initrd.cpio"),
                (vmlinuz, initrd), what="Debian's bzImage from GRUB, no hypervisor", timeout=TIMEOUT),
        part("linux-part", 1, "linux1.cfg"),
        part("linux-two", 2, "linux2.cfg"),
    ]


def guest(serial, run, name):
    """One Linux's figures: up, parts, work, exits; ValueError when a line is missing."""
    want = name or None
    pick = [m for m in UP.finditer(serial) if m[1] == want]
    work = [m for m in WORK.finditer(serial) if m[1] == want]
    parts = {m[2]: int(m[3]) for m in PART.finditer(serial) if m[1] == want}
    if not pick or not work or set(parts) != set(PARTS):
        raise ValueError(f"{run}: {name or 'bare Linux'} printed no complete workload")
    exits = {}
    for m in EXITS.finditer(serial):
        if m[1] == want:
            counts = dict(tuple(map(int, kv.split("="))) for kv in m[5].split())
            exits[m[2]] = {"ticks": int(m[3]), "total": int(m[4]), "reads": int(m[6]), "by": counts}
    if want and set(exits) != {"busy", "idle"}:
        raise ValueError(f"{run}: partition {name} printed no exits busy/idle lines")
    return {"up": int(pick[0][2]), "work": int(work[0][2]), "sum": work[0][3], **parts, "exits": exits}


def read(serial, run):
    """{guest name: figures} of a Linux run."""
    names = {"linux-bare": ("",), "linux-part": ("linux",), "linux-two": ("linux", "linux2")}[run]
    return {n: guest(serial, run, n) for n in names}


def steady(e, names):
    """{reason name: exits} of one exits line, the reads' own VMCALLs taken out."""
    vmcall = next(nr for nr, n in names.items() if n == "VMCALL")
    by = dict(e["by"])
    by[vmcall] = by.get(vmcall, 0) - e["reads"]
    return {names.get(nr, str(nr)): n for nr, n in sorted(by.items()) if n}


def figures(lx):
    """What the section and the summary line show, from {run: read()}. Ticks become seconds at
    the TSC rate the guest kernel works with, measured as its 100 ms sleep's ticks (under Bochs
    it is the CPU model's nominal rate, not the engine's instructions per second)."""
    bare, part = lx["linux-bare"][""], lx["linux-part"]["linux"]
    ips = part["exits"]["idle"]["ticks"] / IDLE_SECONDS
    names = exit_names()
    ratio = {p: part[p] / bare[p] for p in PARTS + ("work",)}
    per_s = {}
    for what in ("busy", "idle"):
        e = part["exits"][what]
        s = e["ticks"] / ips
        per_s[what] = {"seconds": s, "total": (e["total"] - e["reads"]) / s,
                       "by": {n: c / s for n, c in steady(e, names).items()}}
    alone = part["work"]
    together = max(g["work"] for g in lx["linux-two"].values())
    return {"ratio": ratio, "worst": max(ratio[p] for p in PARTS), "boot_bare": bare["up"],
            "boot_part": part["up"], "exits": per_s, "together": alone / together,
            "ips": ips, "sums": {bare["sum"], part["sum"], *(g["sum"] for g in lx["linux-two"].values())}}


def section(fig):
    """results.md's section on Linux."""
    rows = [f"| {p} | {fig['ratio'][p]:.5f} |" for p in PARTS + ("work",)]
    ex = []
    for what, e in fig["exits"].items():
        by = ", ".join(f"{n} {v:,.1f}" for n, v in e["by"].items()) or "none"
        ex.append(f"| {what} ({e['seconds']:.3f} s) | {e['total']:,.1f} | {by} |")
    return "\n".join([
        "## Debian's Linux: bare (bzImage from GRUB) against a partition (PVH)", "",
        f"Ticks to seconds at the guest kernel's TSC rate, {fig['ips']:,.0f} ticks per second "
        "(its 100 ms nanosleep's ticks; slicehv reports no rate). Workload sums agree: "
        f"{'yes' if len(fig['sums']) == 1 else 'NO ' + ' '.join(sorted(fig['sums']))}.", "",
        "| part | partitioned/bare |", "|---|---|", *rows, "",
        f"Boot to `linux-init: up`: bare {fig['boot_bare']:,} ticks (bzImage, in-guest xz), "
        f"partitioned {fig['boot_part']:,} ticks (PVH).", "",
        "| exits of the partition | per second | per reason, per second |", "|---|---|---|", *ex, "",
        f"Two Linux partitions busy together against one alone (work ticks, the slower of the two): "
        f"{fig['together']:.3%} (the seed: {SEED['alone']:.1%} alone and {SEED['together']:.1%} "
        "together, against native).", ""])


def summary_fields(fig):
    """The summary line's Linux fields."""
    return (f"linux-ratio {fig['worst']:.5f} linux-exits-busy {fig['exits']['busy']['total']:.1f} "
            f"linux-boot {fig['boot_part']}")
