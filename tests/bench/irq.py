"""Timer interrupt latency for make bench (tests/bench/bench.py): the real-time guest
(guest/rtguest.c) bare, alone in a partition, and next to the GRUB menu's noisy neighbours."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GRUB_CFG = REPO / "iso" / "grub.cfg"
NOISY_CFG = REPO / "iso" / "noisy.cfg"
RT_CFG = REPO / "tests" / "boot" / "configs" / "rt.cfg"
MODES = ("periodic", "deadline")
TOLERANCE = 0.01          # partitioned and noisy max latency within 1 % of their reference
RT_LINE = re.compile(r"rt: timer (periodic|deadline) (\d+) ticks: (\d+) interrupts, latency min "
                     r"(-?\d+) avg (-?\d+) max (-?\d+) ticks, jitter (\d+), exits (\d+)$", re.M)


def menu_entry(rid):
    """The lines of iso/grub.cfg's menuentry --id rid, without its final boot."""
    m = re.search(rf"^menuentry [^\n]*--id {rid} {{\n(.*?)^}}", GRUB_CFG.read_text(), re.M | re.S)
    return tuple(ln.strip() for ln in m[1].splitlines() if ln.strip() and ln.strip() != "boot")


def runs(run_cls, build, boot_mib, smoke):
    """The four machines: bare and alone on one core; alone and noisy on four (Bochs moves the
    TSC of a multi-core machine in steps, so a 4-core figure compares only with a 4-core one).
    The smoke run leaves out the 4-core one alone: the summary line does not use it, and the boot
    scenario rt-noisy-menu-entry compares the two."""
    hv, rt, hostile = build / "hv.elf", build / "guest" / "rt.elf", build / "guest" / "hostile.elf"
    noisy = menu_entry("rt")
    rt_module = next(ln for ln in noisy if "/boot/rt.elf" in ln)
    args = re.fullmatch(r"module2 /boot/rt\.elf rt\.elf (.*)", rt_module)[1]
    alone = ("multiboot2 /boot/hv.elf", rt_module, "module2 /boot/rt.cfg rt.cfg")
    machines = [
        run_cls("rt-bare", 1, boot_mib, (f"multiboot2 /boot/rt.elf {args}",), (rt,),
                what=f"rt.elf from GRUB ({args}), no hypervisor"),
        run_cls("rt-part", 1, boot_mib, alone, (hv, rt, RT_CFG), what="rt.elf alone in a partition"),
        run_cls("rt-alone-4cpu", 4, boot_mib, alone, (hv, rt, RT_CFG),
                what="rt.elf alone in a partition, 3 idle cores"),
        run_cls("rt-noisy", 4, boot_mib, noisy, (hv, rt, hostile, NOISY_CFG),
                what="the GRUB menu's rt entry: rt.elf next to noisy neighbours (iso/noisy.cfg)"),
    ]
    return [m for m in machines if not (smoke and m.name == "rt-alone-4cpu")]


def read(serial, run):
    """{mode: (period, interrupts, min, avg, max, jitter, exits)} of run's rt lines; ValueError
    when a mode is missing or a partitioned rt did not end cleanly."""
    prefix = "" if run == "rt-bare" else r"\[rt\] "
    got = {m[1]: tuple(int(g) for g in m.groups()[1:])
           for m in re.finditer(r"^" + prefix + RT_LINE.pattern, serial, re.M)}
    missing = [m for m in MODES if m not in got]
    if missing:
        raise ValueError(f"{run}: no rt: timer line for {', '.join(missing)}")
    if prefix and not re.search(r"^slicehv: stats rt: done status 0, denied 0, ", serial, re.M):
        raise ValueError(f"{run}: partition rt did not end cleanly")
    return got


def worst(f, run):
    """The larger max latency of the two modes."""
    return max(f.irq[run][m][4] for m in MODES)


def exits(f):
    """The most VM exits any partitioned measurement took."""
    return max(f.irq[r][m][6] for r in ("rt-part", "rt-noisy") for m in MODES)


def verdict(value, ref):
    """met when value is within TOLERANCE of ref."""
    return "met" if abs(value - ref) <= TOLERANCE * max(ref, 1) else f"missed ({value} against {ref})"


def section(f):
    """results.md's section on interrupt latency."""
    rows = [(run, mode, *(f"{v:,}" for v in f.irq[run][mode][1:])) for run in f.irq for mode in MODES]
    head = ("run", "mode", "interrupts", "min", "avg", "max", "jitter", "exits")
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return (
        "## Timer interrupt latency\n\n"
        "The real-time guest (`guest/rtguest.c`) programs its own local APIC timer, periodic and then "
        "TSC-deadline, and measures in its handler the TSC ticks from each programmed deadline to the "
        "handler's third instruction; `exits` are the VM exits its partition took while it measured. "
        "Bare and alone on one core, alone and next to the noisy neighbours on four (Bochs moves a "
        "multi-core machine's TSC in steps, so each is compared on its own core count):\n\n"
        + "\n".join(table) + "\n\n"
        f"- partitioned max latency against bare (1 core): {worst(f, 'rt-part')} against "
        f"{worst(f, 'rt-bare')} ticks: {verdict(worst(f, 'rt-part'), worst(f, 'rt-bare'))};\n"
        + (f"- noisy against alone (4 cores): {worst(f, 'rt-noisy')} against {worst(f, 'rt-alone-4cpu')} "
           f"ticks: {verdict(worst(f, 'rt-noisy'), worst(f, 'rt-alone-4cpu'))};\n"
           if "rt-alone-4cpu" in f.irq else "") +
        f"- VM exits during the partitioned measurements: {exits(f)} (target 0: "
        f"{'met' if exits(f) == 0 else 'missed'}).\n")


def summary_fields(f):
    """The summary line's interrupt fields."""
    return (f"irq-latency-bare {worst(f, 'rt-bare')} irq-latency-part {worst(f, 'rt-part')} "
            f"irq-latency-noisy {worst(f, 'rt-noisy')} irq-exits {exits(f)}")
