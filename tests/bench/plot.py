#!/usr/bin/env python3
"""Draws make bench's plot: plot.py FIGURES.json OUT.png (the data comes from bench.py).

Left: boot milestones against cores, with the UART's wire time before the last guest's first
line. Right: partitioned-vs-bare overhead per workload with large and with 4 KiB EPT leaves.
"""

import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

TICKS_NOTE = {"bochs": ": a tick is an instruction"}
MILESTONES = (("online", "cpus online"), ("launched_last", "last partition launched"),
              ("first_output", "last guest's first output"))


def draw_boot(ax, d):
    """Boot ticks (millions) against cores."""
    for key, label in MILESTONES:
        ax.plot(d["cores"], [t / 1e6 for t in d["boot"][key]], marker="o", label=label)
    ax.plot(d["cores"], [t / 1e6 for t in d["wire"]], linestyle="--", color="grey",
            label="UART wire time of the log before that line")
    ax.set(xlabel="cores (one toy partition each)", ylabel="million TSC ticks since slicehv starts",
           title=f"Boot ({d['engine']})", xticks=d["cores"])
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)


def draw_overhead(ax, d):
    """Overhead in % per workload, two bars each, the target as a line."""
    x = range(len(d["workloads"]))
    large, small = d["overhead_pct"]["large"], d["overhead_pct"]["4k"]
    ax.bar([i - 0.2 for i in x], large, 0.4, label="1G/2M EPT leaves")
    ax.bar([i + 0.2 for i in x], small, 0.4, label="4 KiB EPT leaves (ept=4k)")
    ax.axhline(d["target_pct"], color="red", linestyle=":", label=f"target +{d['target_pct']:.1f} %")
    ax.axhline(0, color="black", linewidth=0.5)
    for i, (a, b) in enumerate(zip(large, small)):
        ax.annotate(f"1G/2M {a:+.3f} %\n4K {b:+.3f} %", (i, max(a, b, 0)), ha="center", va="bottom",
                    fontsize=8)
    top = max(d["target_pct"] * 2, *large, *small)
    ax.set_ylim(min(0, *large, *small) - top * 0.2, top * 1.3)
    ax.set(xticks=list(x), xticklabels=d["workloads"], ylabel="partitioned vs bare, % of TSC ticks",
           title=f"Guest overhead ({d['engine']}{TICKS_NOTE.get(d['engine'], '')})")
    ax.legend(fontsize=8)


def main(argv):
    """Read the figures, write the PNG."""
    if len(argv) != 2:
        print("usage: plot.py FIGURES.json OUT.png", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        d = json.load(f)
    fig, (boot_ax, over_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    draw_boot(boot_ax, d)
    draw_overhead(over_ax, d)
    fig.tight_layout()
    fig.savefig(argv[1], dpi=100)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
