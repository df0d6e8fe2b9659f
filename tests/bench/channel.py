"""The doorbell benchmark for make bench (tests/bench/bench.py): chan.elf's ping and pong
(guest/chan.c) on cores 0 and 1 ringing each other through configs/doorbell.cfg's two channels,
then ping streaming its whole channel to pong."""

import re
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "configs" / "doorbell.cfg"
ROUNDS = {False: 1000, True: 200}    # round trips: the full run, the smoke run
STREAMS = {False: 4, True: 1}
EXITS_TARGET = 1                     # per round trip and side: the HC_DOORBELL itself
PING = re.compile(r"^\[ping\] chan: ping: (\d+) round trips, rtt median (\d+) min (\d+) max (\d+) ticks, "
                  r"errors (\d+), busy (\d+), exits (\d+)$", re.M)
WARM = re.compile(r"^\[ping\] chan: ping: (\d+) warm-up rounds, gap (\d+) ticks$", re.M)
PONG = re.compile(r"^\[pong\] chan: pong: (\d+) round trips measured of \d+, errors (\d+), busy (\d+), "
                  r"exits (\d+)$", re.M)
STREAM = re.compile(r"^\[ping\] chan: stream: (\d+) x (\d+) bytes in (\d+) ticks, (\d+) bytes per 1000 "
                    r"ticks, errors (\d+)$", re.M)


def runs(run_cls, build, boot_mib, smoke):
    """The one machine: two cores, ping and pong, the doorbell config."""
    hv, chan = build / "hv.elf", build / "guest" / "chan.elf"
    args = f"rounds={ROUNDS[smoke]} stream={STREAMS[smoke]}"
    grub = ("multiboot2 /boot/hv.elf", f"module2 /boot/chan.elf ping role=ping {args}",
            f"module2 /boot/chan.elf pong role=pong {args}", f"module2 /boot/{CONFIG.name} {CONFIG.name}")
    return [run_cls("chan-doorbell", 2, boot_mib, grub, (hv, chan, CONFIG),
                    what=f"chan.elf ping and pong on 2 cores ({args}), configs/{CONFIG.name}")]


def read(serial, run):
    """The figures of run's log; ValueError when a line is missing, a check failed, the round
    trips are not those asked for, or a partition did not end cleanly."""
    found = {name: rx.search(serial) for name, rx in
             (("ping", PING), ("warm", WARM), ("pong", PONG), ("stream", STREAM))}
    missing = [name for name, m in found.items() if not m]
    if missing:
        raise ValueError(f"{run}: no chan: {', '.join(missing)} line")
    ping, pong, stream = ([int(g) for g in found[n].groups()] for n in ("ping", "pong", "stream"))
    rounds, median, low, high, ping_errors, ping_busy, ping_exits = ping
    pong_rounds, pong_errors, _, pong_exits = pong   # pong's busy: the whole run; ping's: both sides, timed
    if rounds != pong_rounds:
        raise ValueError(f"{run}: ping timed {rounds} round trips, pong answered {pong_rounds}")
    if ping_errors or pong_errors or stream[4]:
        raise ValueError(f"{run}: ping or pong found errors (a lost or wrong answer, a bad checksum)")
    for name in ("ping", "pong"):
        if not re.search(rf"^slicehv: stats {name}: done status 0, ", serial, re.M):
            raise ValueError(f"{run}: partition {name} did not end cleanly")
    warm, gap = (int(g) for g in found["warm"].groups())
    return {"rounds": rounds, "median": median, "min": low, "max": high, "busy": ping_busy,
            "exits_ping": ping_exits / rounds, "exits_pong": pong_exits / rounds, "warm": warm, "gap": gap,
            "streams": stream[0], "bytes": stream[1], "stream_ticks": stream[2], "per_1000": stream[3]}


def exits(f):
    """Exits per round trip, both sides together."""
    c = f.chan["chan-doorbell"]
    return c["exits_ping"] + c["exits_pong"]


def section(f):
    """results.md's section on the doorbell."""
    c = f.chan["chan-doorbell"]
    per_side = max(c["exits_ping"], c["exits_pong"])
    return (
        "## Channel doorbell\n\n"
        "`chan.elf` as ping and pong on two cores (`configs/doorbell.cfg`): ping writes a count into "
        "its channel and rings (`HC_DOORBELL`), pong, spinning with interrupts on until the doorbell's "
        "interrupt has come, answers through its own channel and rings back; a round trip is timed on "
        "ping from just before its ring to its seeing the answer. slicehv passes a ring that answers the "
        "peer's at once and holds others to one per 20 us (`HC_ERR_BUSY`): warm-up rounds check that "
        "no gap between rounds is needed (or find the one that is). Then ping fills its whole channel, rings, and waits for pong's "
        "checksum of it: throughput over writing, reading and both doorbells. Bochs moves a multi-core "
        "machine's TSC in steps: compare the round trip only with other 2-core figures.\n\n"
        "| figure | value |\n|---|---|\n"
        f"| round trips timed | {c['rounds']:,} (after {c['warm']:,} warm-up rounds, "
        f"gap {c['gap']:,} ticks) |\n"
        f"| round trip median / min / max | {c['median']:,} / {c['min']:,} / {c['max']:,} ticks |\n"
        f"| exits per round trip, ping / pong | {c['exits_ping']:.3f} / {c['exits_pong']:.3f} |\n"
        f"| doorbells refused busy while timed | {c['busy']} |\n"
        f"| stream | {c['streams']} x {c['bytes']:,} bytes in {c['stream_ticks']:,} ticks: "
        f"{c['per_1000']:,} bytes per 1000 ticks |\n\n"
        f"- exits per round trip and side: at most {per_side:.3f} (target {EXITS_TARGET}: "
        f"{'met' if per_side <= EXITS_TARGET else 'missed'}).\n")


def summary_fields(f):
    """The summary line's doorbell fields."""
    return f"doorbell-rtt {f.chan['chan-doorbell']['median']} doorbell-exits {exits(f):g}"
