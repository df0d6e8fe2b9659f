"""results.md for make bench (tests/bench/bench.py): the figures against their targets, the
data for the plot (tests/bench/plot.py) and the summary line."""

import datetime
import subprocess
from pathlib import Path

import channel
import irq
import linux

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = ("cpu", "memwalk", "chase")
SUMMARY_CPUS = 4          # the boot figure of the summary line
OVERHEAD_TARGET = 0.002   # partitioned within 0.2 % of bare (DESIGN.md)
TEXT_TARGET = 64 * 1024   # "image well under 64 KiB of code"
LINES_TARGET = 6000       # "under 6,000 counted lines in hv/ + arch/ after all open issues"
TRANSITION_TICKS = 32     # DESIGN.md: a VM exit plus entry in Bochs, measured by hand before


def ept_rows(f):
    """(partition, leaves allowed, size, tables, (1G, 2M, 4K), build ticks, base) per EPT built."""
    rows = []
    for run, hv in f.hv.items():
        if not run.startswith("boot-"):
            p = hv.parts[next(iter(hv.parts))]
            rows.append((p.name, "4K" if run.endswith("-4k") else "1G/2M", p.size, p.tables, p.leaves,
                         p.ept_build, p.base))
    return sorted(rows, key=lambda r: (r[2], r[1] == "4K"))




# ================================================================ results.md


def pct(ratio):
    """A ratio as a signed percentage of overhead."""
    return f"{(ratio - 1) * 100:+.3f} %"


def verdict_within(ratio, target=OVERHEAD_TARGET):
    """met, or by how much the ratio misses ±target."""
    miss = abs(ratio - 1) - target
    return "met" if miss <= 0 else f"missed by {miss * 100:.3f} points"


def verdict_below(value, limit, unit=""):
    """met (with the margin), or by how much value exceeds limit."""
    if value < limit:
        return f"met ({limit - value:,}{unit} to spare)"
    return f"missed by {value - limit:,}{unit}"


def engine_note(f):
    """What the engine's ticks are."""
    if f.eng == "bochs":
        return ("Bochs 2.7 (`corei7_skylake_x`, `ips=50000000`, `clock: sync=none`). Its TSC ticks "
                "once per emulated instruction, so every figure in ticks is a path length, the same "
                "on every rerun, and a ratio partitioned/bare is a ratio of instruction counts. Bochs "
                "charges nothing for cache or TLB misses: the memory workloads show what partitioning "
                "adds to the guest's instruction stream, not what EPT walks cost on silicon, and "
                "4 KiB EPT leaves cannot show their cost here. `make bench BENCH_ENGINE=qemu-kvm` "
                "measures real cycles where the host has nested KVM.")
    return ("QEMU with nested KVM (`-cpu host,+vmx`): TSC ticks are the host's cycles, with "
            f"everything a nested guest suffers; workloads run {f.reps} times each and the least "
            "is kept; round trips are medians of 1001.")


def summary_table(f):
    """The headline figures against their targets."""
    fp, worst = f.footprint, f.worst()
    text, code = fp["sections"].get(".text", 0), sum(fp["lines"].values())
    steady = max(f.part.steady, f.part4k.steady)
    rows = [
        ("worst guest overhead, partitioned/bare (1G/2M EPT leaves)", f"{worst:.5f} ({pct(worst)})",
         "within ±0.2 %", verdict_within(worst)),
        ("VM exits during the workloads", f"{steady}", "0",
         "met" if steady == 0 else f"missed by {steady}"),
        ("CPUID round trip in a partition", f"{f.part.rtt['cpuid']:,} ticks", "(reported)", ""),
        ("null VMCALL (HC_EXIT_COUNT) round trip", f"{f.part.rtt['vmcall']:,} ticks", "(reported)", ""),
        (f"boot to the last guest's first output, {SUMMARY_CPUS} cores",
         f"{f.boot[SUMMARY_CPUS]['first_output']:,} ticks", "(reported)", ""),
        ("channel doorbell round trip (ping and pong, 2 cores)", f"{f.chan['chan-doorbell']['median']:,} ticks",
         "(reported)", ""),
        ("VM exits per doorbell round trip, both sides", f"{channel.exits(f):g}",
         f"{2 * channel.EXITS_TARGET}", "met" if channel.exits(f) <= 2 * channel.EXITS_TARGET else "missed"),
        ("hypervisor code (`.text`)", f"{text:,} bytes", "well under 64 KiB",
         verdict_below(text, TEXT_TARGET, " bytes")),
        ("C and assembly in hv/ and arch/", f"{code:,} lines", "under 6,000",
         verdict_below(code, LINES_TARGET, " lines")),
    ]
    return table(("figure", "measured", "target", "verdict"), rows)


def table(head, rows):
    """A markdown table."""
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def overhead_section(f):
    """Section 1: the workloads, bare and partitioned."""
    b = f.bare
    rows = [(w, f"{b.ticks[w]:,}", f"{f.part.ticks[w]:,}", f"{f.ratio(f.part, w):.5f}",
             f"{f.part4k.ticks[w]:,}", f"{f.ratio(f.part4k, w):.5f}", "±0.2 %",
             verdict_within(f.ratio(f.part, w))) for w in WORKLOADS]
    hv = f.hv["part"].parts["bench"]
    hv4 = f.hv["part-4k"].parts["bench"]
    return (
        "## 1. Guest overhead\n\n"
        f"The bench guest (`guest/bench.c`, `size={b.size}`) booted bare from GRUB and, unchanged, as "
        f"partition `bench` ({hv.size >> 20} MiB at {hv.base:#x}: EPT leaves 1G={hv.leaves[0]} "
        f"2M={hv.leaves[1]} 4K={hv.leaves[2]}; with `ept=4k`: 4K={hv4.leaves[2]:,}) on a "
        f"{f.memory['part']} MiB machine. TSC ticks of each workload (the least of its runs):\n\n"
        "- `cpu`: a register-only xorshift loop;\n"
        "- `memwalk`: one read-modify-write per 4 KiB page, one cache line further each page, over "
        "48 MiB (full) or 16 MiB (small), 64 or 16 passes: far more pages than a TLB holds as "
        "4 KiB entries;\n"
        "- `chase`: a random cyclic permutation (Sattolo) of 64-byte nodes over 32 MiB (8 MiB), "
        "followed node by node.\n\n"
        + table(("workload", "bare", "partitioned", "ratio", "partitioned, ept=4k", "ratio",
                 "target", "verdict"), rows)
        + f"\nThe guest's checksum is {b.checksum} in all three runs: the same work.\n")


def steady_section(f):
    """Section 2: exits while the workloads run."""
    rows = [(name, g.exits[0], g.exits[1], g.steady, "0", "met" if g.steady == 0 else
             f"missed by {g.steady}") for name, g in (("part", f.part), ("part-4k", f.part4k))]
    return ("## 2. Exits in steady state\n\n"
            "The guest reads `HC_EXIT_COUNT` before setting up the buffers and again after the last "
            "workload, printing nothing in between. The count a call returns includes that call, so "
            "the exits in the window are after − before − 1 (the second call's own exit).\n\n"
            + table(("run", "before", "after", "steady exits", "target", "verdict"), rows))


def rtt_section(f):
    """Section 3: what one exit costs."""
    b, p = f.bare, f.part
    ops = (("CPUID (leaf 0; with its 2 register set-ups)", b.rtt["cpuid"], p.rtt["cpuid"]),
           ("OUT to COM1's scratch register 0x3ff (with its port load)", b.rtt["io"], p.rtt["io"]),
           ("VMCALL `HC_EXIT_COUNT` (with its RAX load; bare: a NOP in its place)", b.rtt["nop"],
            p.rtt["vmcall"]))
    bochs = f.eng == "bochs"
    rows = [(name, bare, part, part - bare,
             f"≈ {part - bare - TRANSITION_TICKS}" if bochs else "—") for name, bare, part in ops]
    text = ("## 3. Exit cost\n\n"
            f"Round trips from inside the guest: the operation between two `lfence; rdtsc`, median of "
            f"1001, less the median of the empty pair ({p.tsc_overhead} ticks partitioned, "
            f"{b.tsc_overhead} bare). The NOP sequence costs {b.rtt['nop']} bare and {p.rtt['nop']} "
            "partitioned.\n\n"
            + table(("operation", "bare", "partitioned", "added by the exit",
                     "slicehv's own instructions"), rows))
    if bochs:
        text += (f"\nIn Bochs a tick is an instruction, so \"added by the exit\" is slicehv's exit path "
                 f"(the exit stub, the handler, VMRESUME) plus the VM exit and entry themselves, which "
                 f"DESIGN.md puts at about {TRANSITION_TICKS} ticks; the last column subtracts that "
                 "estimate, which this benchmark does not measure on its own.\n")
    return text


def boot_section(f):
    """Section 4: boot milestones and EPT builds."""
    tpc = f.tick_per_char()
    rows = []
    for n in sorted(f.boot):
        bt = f.boot[n]
        wire = bt["chars_first_output"] * tpc
        rows.append((n, f"{bt['online']:,}", f"{bt['launched_first']:,}", f"{bt['launched_last']:,}",
                     f"{bt['first_output']:,}", f"{bt['chars_first_output']:,}", f"{wire:,.0f}",
                     f"{wire / bt['first_output']:.0%}"))
    text = ("## 4. Boot\n\n"
            "TSC ticks since slicehv's first instruction (firmware and GRUB come before it), from "
            "`slicehv: timing` lines; `make iso`'s ISO, the default config (one toy partition per "
            f"core), {f.memory[f'boot-{SUMMARY_CPUS}cpu']} MiB.\n\n"
            + table(("cores", "cpus online", "first launch", "last launch", "last guest's first output",
                     "UART bytes before it", "their wire time (ticks)", "share"), rows)
            + f"\nThe console runs at 115200 baud, 8N1: 10 bits a byte. The bare bench guest timed a "
            f"{f.bare.serial_chars}-byte line from its first byte until the UART was idle: "
            f"{f.bare.serial_ticks:,} ticks, {tpc:,.0f} ticks a byte. \"Wire time\" is the bytes slicehv "
            "and its guests had sent before the last guest's first line, times that: time the one "
            "UART needed in any case, a lower bound on what boot took. In a partition the same "
            f"line took {f.part.serial_ticks:,} ticks: each byte is two exits (LSR poll, THR write) and "
            "slicehv prints the whole line, prefixed, while the guest waits in the exit.\n")
    return text + "\n" + ept_section(f)


def ept_section(f):
    """EPT build ticks and tables for each measured slice."""
    rows = [(name, f"{size >> 20} MiB @ {base:#x}", cap, f"{lv[0]:,}", f"{lv[1]:,}", f"{lv[2]:,}",
             tables, f"{tables * 4} KiB", f"{ticks:,}")
            for name, cap, size, tables, lv, ticks, base in ept_rows(f)]
    where = ("the 1 GiB slice of configs/overhead.cfg (smoke: the only one booted)" if f.smoke else
             "configs/ept64m.cfg's 64 MiB slice, configs/overhead.cfg's 1 GiB slice and, on a "
             f"{f.memory.get('largest')} MiB machine, the default config's one slice on one core: the largest "
             "free range below 4 GiB")
    return ("EPT builds (`slicehv: partition <name>: ept ...` and the `ept-build` ticks of the timing "
            f"line), each with the largest leaves alignment allows and with `ept=4k`: {where}.\n\n"
            + table(("partition", "slice", "leaves allowed", "1G", "2M", "4K", "table pages",
                     "table memory", "ept-build ticks"), rows))


def part_tables(f):
    """EPT table pages of the measured 1 GiB partition with large leaves."""
    return f.hv["part"].parts["bench"].tables


def footprint_section(f):
    """Section 5: how big slicehv is."""
    fp = f.footprint
    s = fp["sections"]
    rows = [
        ("`size`: text (= `.text` + `.rodata`)", f"{fp['text']:,}", ""),
        ("`.text` (code)", f"{s.get('.text', 0):,}", "well under 64 KiB: "
         + verdict_below(s.get('.text', 0), TEXT_TARGET, " bytes")),
        ("`.rodata`", f"{s.get('.rodata', 0):,}", ""),
        ("data / bss", f"{fp['data']:,} / {fp['bss']:,}", ""),
        (f"per CPU (`struct cpu`, {fp['max_cpus']} static slots in bss): VMXON, VMCS and IST pages, "
         f"{fp['stack']} stack, descriptor tables", f"{fp['per_cpu']:,}", ""),
        ("per partition (`struct partition`, static)", f"{fp['per_partition']:,}", ""),
        ("a partition in all: its core's `struct cpu`, its `struct partition`, its EPT (1 GiB "
         "slice, large leaves)", f"{fp['per_cpu'] + fp['per_partition'] + 4096 * part_tables(f):,}", ""),
        (f"heap ({fp['heap']}, reserved once): each partition's EPT tables (section 4) plus "
         "2 I/O-bitmap pages and 1 MSR-bitmap page shared by all", "", ""),
        ("lines of C (.c, .h) in hv/ and arch/", f"{fp['lines'].get('C', 0):,}", ""),
        ("lines of assembly (.asm, .inc)", f"{fp['lines'].get('assembly', 0):,}", ""),
        ("lines in all (non-blank, not only comment)", f"{sum(fp['lines'].values()):,}",
         "under 6,000: " + verdict_below(sum(fp['lines'].values()), LINES_TARGET, " lines")),
    ]
    return "## 5. Footprint\n\n" + table(("what", "bytes / lines", "target"), rows)


def slope(f, key):
    """Ticks (or bytes) key grows by per extra core, from the fewest to the most cores booted."""
    lo, hi = min(f.boot), max(f.boot)
    return (f.boot[hi][key] - f.boot[lo][key]) / (hi - lo)


def observations(f):
    """What the figures say about where slicehv spends its ticks."""
    p, tpc = f.part, f.tick_per_char()
    out = ["## Where the ticks go\n"]
    if len(f.boot) > 1:
        per_core, online = slope(f, "launched_last"), slope(f, "online")
        wire = slope(f, "chars_first_output") * tpc
        out.append(
            f"- Boot grows by {per_core:,.0f} ticks a core (last launch, {min(f.boot)} to "
            f"{max(f.boot)} cores); the UART bytes before the last guest's first line grow by "
            f"{slope(f, 'chars_first_output'):,.0f} a core, {wire:,.0f} ticks of wire time "
            f"({wire / per_core:.0%}): the partition table row, the `ept` and `isolation` lines and "
            "the `launched` line of each partition, all printed at 115200 baud by one core before "
            "or while the others wait. The `launched` lines are printed under the console lock "
            "just before each VMLAUNCH, so the guests start one line (~65 bytes) apart.")
        out.append(
            f"- `cpus online` grows by {online:,.0f} ticks a core: the APs are started one at a "
            "time, each with 10.4 ms of INIT/SIPI waits (arch/x86/apic.c) and its `vmx on` line "
            "printed before the next is started.")
    out.append(
        f"- A null hypercall costs {p.rtt['vmcall'] / p.rtt['cpuid']:.2f}× a CPUID exit "
        f"({p.rtt['vmcall']:,} against {p.rtt['cpuid']:,} ticks): the CPL check and the "
        "hypercall dispatch; `HC_EXIT_COUNT` itself reads a running total.")
    out.append(
        f"- A guest's console line of {p.serial_chars} bytes takes {p.serial_ticks:,} ticks in a "
        f"partition against {f.bare.serial_ticks:,} bare: two exits a byte, then slicehv sends the "
        "whole prefixed line to the real UART from inside the exit, so the guest waits for the wire.")
    return "\n".join(out) + "\n"


def runs_section(f, runs):
    """Which machines ran, and how long each took."""
    rows = [(r.name, r.cpus, r.memory, r.what, f"{f.seconds[r.name]:.1f}") for r in runs]
    return ("## Machines\n\n" + table(("run", "cores", "MiB", "what", "wall s"), rows)
            + f"\nWall time of `make bench{'-smoke' if f.smoke else ''}` (boots, two at a time): "
            f"{f.wall:.0f} s.\n")


def linux_figures(f):
    """linux.figures of a full run; None for the smoke run, which boots no Linux."""
    return linux.figures(f.linux) if f.linux else None


def linux_section(f):
    """results.md's Linux section, when Linux ran."""
    fig = linux_figures(f)
    return (linux.section(fig),) if fig else ()


def write_results(f, runs, out):
    """out/results.md."""
    mode = "`make bench-smoke` (reduced: small workloads, 4 cores only)" if f.smoke else "`make bench`"
    head = (f"# slicehv benchmarks\n\n{mode}, {datetime.date.today()}, "
            f"commit {git_describe()}, engine **{f.eng}**: {engine_note(f)}\n\n"
            "## Summary\n\n" + summary_table(f) + "\n")
    body = "\n".join((overhead_section(f), steady_section(f), rtt_section(f), irq.section(f),
                      channel.section(f),
                      *linux_section(f),
                      boot_section(f), footprint_section(f), observations(f), runs_section(f, runs)))
    (out / "results.md").write_text(head + body)


def git_describe():
    """The commit measured (dirty when the tree has changes); "unknown" outside a git checkout
    or without git (a bare machine building an archive of the tree)."""
    try:
        p = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return "unknown"
    return p.stdout.decode().strip() or "unknown"


# ================================================================ the plot's data


def plot_data(f):
    """What tests/bench/plot.py draws, as JSON-ready data."""
    return {
        "engine": f.eng,
        "target_pct": OVERHEAD_TARGET * 100,
        "cores": sorted(f.boot),
        "boot": {key: [f.boot[n][key] for n in sorted(f.boot)]
                 for key in ("online", "launched_last", "first_output")},
        "wire": [f.boot[n]["chars_first_output"] * f.tick_per_char() for n in sorted(f.boot)],
        "workloads": list(WORKLOADS),
        "overhead_pct": {"large": [(f.ratio(f.part, w) - 1) * 100 for w in WORKLOADS],
                         "4k": [(f.ratio(f.part4k, w) - 1) * 100 for w in WORKLOADS]},
    }


# ================================================================ the summary line


def summary_line(f):
    """The one line `make bench` ends with."""
    return (f"bench: engine {f.eng} worst-overhead {f.worst():.5f} "
            f"steady-exits {max(f.part.steady, f.part4k.steady)} cpuid-rtt {f.part.rtt['cpuid']} "
            f"vmcall-rtt {f.part.rtt['vmcall']} boot-{SUMMARY_CPUS}cpu "
            f"{f.boot[SUMMARY_CPUS]['first_output']} hv-text {f.footprint['text']} "
            f"{irq.summary_fields(f)} {channel.summary_fields(f)}"
            + (f" {linux.summary_fields(linux_figures(f))}" if f.linux else ""))
