#!/usr/bin/env python3
"""Boot slicehv once in an emulator (Bochs, QEMU TCG, QEMU with nested KVM); collect its logs.

Library: boot(Machine(...), workdir) -> Result. Command line (used by `make run`):
    engine.py run --engine bochs --cpus 4 --iso build/slicehv.iso
shows the serial log live and ends when the machine does.
"""

import argparse
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ENGINES = ("bochs", "qemu-tcg", "qemu-kvm")

FIRMWARE = {
    "bochs": "/usr/share/bochs/BIOS-bochs-latest",   # sets IA32_FEATURE_CONTROL locked+VMX
    "seabios": "/usr/share/seabios/bios.bin",        # leaves IA32_FEATURE_CONTROL at 0
}
VGA_BIOS = "/usr/share/bochs/VGABIOS-lgpl-latest"

BOCHS_TIME0 = 946681200        # fixed wall clock: reruns are byte-identical
BOCHS_IPS = 50_000_000
# Bochs 2.7 allocates at most 2048 MiB of host memory for guest RAM; a larger guest gets its
# blocks from that pool as it first touches them (and panics if it touches more than that).
BOCHS_HOST_MAX_MIB = 2048
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"   # value v written -> status (v<<1)|1
KILL_GRACE = 5                 # seconds between timeout's SIGTERM and SIGKILL
# A machine's timeout is emulator CPU time (RLIMIT_CPU, then SIGXCPU): a hung guest burns CPU
# forever, while a machine crowded by other emulators only takes longer. Wall time is a backstop
# against an emulator stuck without using CPU, WALL_PER_CPU times that.
WALL_PER_CPU = 10
# Exit statuses of a run stopped by its limits: timeout's own, SIGKILL, SIGXCPU (128 + signal, or
# the negative signal when timeout passed the child's signal on by dying of it).
STOPPED = (124, 128 + signal.SIGKILL, 128 + signal.SIGXCPU, -signal.SIGKILL, -signal.SIGXCPU)
TAIL_LINES = 40
KVM_GET_API_VERSION = 0xAE00   # ioctl; a usable /dev/kvm answers 12
CMOS_SIZE = 128
CMOS_SMP_COUNT = 0x5f          # SeaBIOS: CPUs to wait for, minus one
CMOS_ROW = re.compile(r"^([0-9a-f]{4})  ((?:[0-9a-f]{2} ){15}[0-9a-f]{2})\s*$", re.M)
VMX_ON = re.compile(r"^slicehv: cpu \d+ apic \d+: vmx on$", re.M)

# Bochs prints this block on stdout when it stops, for shutdown, panic and triple fault alike.
BOCHS_EXIT_MSG = re.compile(r"Bochs is exiting with the following message:\n(.*)\n")


@dataclass
class Machine:
    """One emulated machine: what to boot and on what."""
    engine: str = "bochs"                 # one of ENGINES
    cpus: int = 1
    model: str = "corei7_skylake_x"       # Bochs CPU model (ignored by QEMU)
    firmware: str = "bochs"               # Bochs only: key of FIRMWARE
    memory: int = 256                     # MiB
    iso: str = ""                         # boot this ISO from CD-ROM ...
    kernel: str = ""                      # ... or (QEMU only) this ELF via -kernel (multiboot1)
    append: str = ""                      # -kernel command line
    modules: tuple = ()                   # -kernel multiboot modules ("path args")
    timeout: float = 60                   # seconds of emulator CPU time before it is stopped


@dataclass
class Result:
    """What one boot left behind."""
    serial: str                           # the whole COM1 log, carriage returns removed
    status: int                           # engine exit status (STOPPED: by its limits)
    output: str                           # last TAIL_LINES of the engine's stdout+stderr
    timed_out: bool
    seconds: float
    workdir: Path
    logs: list = field(default_factory=list)   # files worth keeping from workdir

    def bochs_message(self):
        """The text after "Bochs is exiting with the following message:", or ""."""
        m = BOCHS_EXIT_MSG.search(self.output)
        return m.group(1).strip() if m else ""


def bochs_config(m, workdir, cmos_image=None):
    """bochsrc text for machine m, its logs going to workdir."""
    lines = [
        # fastboot: the Bochs BIOS skips its 3-second boot menu wait (about 150 M ticks).
        f"romimage: file={FIRMWARE[m.firmware]}, options=fastboot",
        f"vgaromimage: file={VGA_BIOS}",
        f"memory: guest={m.memory}, host={min(m.memory, BOCHS_HOST_MAX_MIB)}",
        f"cpu: model={m.model}, count={m.cpus}, ips={BOCHS_IPS}, reset_on_triple_fault=0",
        f"ata0-master: type=cdrom, path={Path(m.iso).resolve()}, status=inserted",
        "boot: cdrom",
        # No nogui in this build. rfb listens on the first free port of 5900-5949,
        # so parallel runs coexist; timeout=0 means do not wait for a viewer.
        'display_library: rfb, options="timeout=0"',
        f"com1: enabled=1, mode=file, dev={workdir / 'serial.log'}",
        f"clock: sync=none, time0={BOCHS_TIME0}",
        "panic: action=fatal",
        "error: action=report",
        # The default ALSA speaker aborts Bochs on hosts without a sound card.
        "speaker: enabled=0",
        "sound: driver=dummy",
        "mouse: enabled=0",
        f"log: {workdir / 'bochs.log'}",
    ]
    if cmos_image:
        lines.append(f"cmosimage: file={cmos_image}, rtc_init=time0")
    return "\n".join(lines) + "\n"


def bochs_command(m, workdir):
    """Write the bochsrc (and CMOS image) and debugger script; return the command line."""
    rc = workdir / "bochsrc"
    rc.write_text(bochs_config(m, workdir))
    if m.firmware == "seabios" and m.cpus > 1:
        rc.write_text(bochs_config(m, workdir, seabios_cmos_image(rc, m.cpus)))
    # The build has its debugger on: without a script that says "continue" it waits.
    (workdir / "debugger.rc").write_text("c\n")
    return ["bochs", "-q", "-f", str(rc), "-rc", str(workdir / "debugger.rc")]


def seabios_cmos_image(bochsrc, cpus):
    """Write cmos.img next to bochsrc: the CMOS Bochs builds for it, plus the CPU count
    that SeaBIOS reads from CMOS 0x5f (QEMU's convention). SeaBIOS waits for that many
    CPUs to answer its SIPI and lists only those in its MADT; Bochs leaves 0x5f at 0,
    so without the image SeaBIOS reports one CPU whatever `cpu: count=` says."""
    workdir = bochsrc.parent
    (workdir / "cmos.rc").write_text('info device "cmos"\nq\n')
    p = subprocess.run(["timeout", "30", "bochs", "-q", "-f", str(bochsrc),
                        "-rc", str(workdir / "cmos.rc")], cwd=workdir,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    rows = CMOS_ROW.findall(p.stdout.decode("utf-8", "replace"))
    if len(rows) != CMOS_SIZE // 16:
        raise RuntimeError(f"could not read Bochs's CMOS (status {p.returncode})")
    image = bytearray(b"".join(bytes.fromhex(hexes) for _, hexes in rows))
    image[CMOS_SMP_COUNT] = cpus - 1
    (workdir / "cmos.img").write_bytes(image)
    return workdir / "cmos.img"


def qemu_command(m, workdir):
    """The qemu-system-x86_64 command line for machine m."""
    if m.engine == "qemu-kvm":
        cmd = ["qemu-system-x86_64", "-machine", "q35,accel=kvm", "-cpu", "host,+vmx"]
    else:
        cmd = ["qemu-system-x86_64", "-machine", "q35,accel=tcg", "-cpu", "max"]
    cmd += ["-smp", str(m.cpus), "-m", str(m.memory),
            "-display", "none", "-monitor", "none", "-nic", "none",
            "-serial", f"file:{workdir / 'serial.log'}",
            "-device", DEBUG_EXIT, "-no-reboot"]
    if m.kernel:
        cmd += ["-kernel", str(Path(m.kernel).resolve())]
        if m.append:
            cmd += ["-append", m.append]
        if m.modules:
            cmd += ["-initrd", ",".join(absolute_module(spec) for spec in m.modules)]
    else:
        cmd += ["-cdrom", str(Path(m.iso).resolve())]
    return cmd


def absolute_module(spec):
    """A "path args" module spec with its path made absolute (the engine runs in workdir)."""
    path, _, args = spec.partition(" ")
    return f"{Path(path).resolve()} {args}".rstrip()


def command(m, workdir):
    """The engine command line for machine m (writes any config files it needs)."""
    if m.engine not in ENGINES:
        raise ValueError(f"unknown engine {m.engine!r}; choose from {', '.join(ENGINES)}")
    if m.engine == "bochs":
        if m.kernel:
            raise ValueError("bochs boots the ISO only; -kernel is a QEMU mode")
        return bochs_command(m, workdir)
    return qemu_command(m, workdir)


def log_files(m):
    """Names of the files in the work directory worth keeping."""
    names = ["serial.log", "stdout.log", "command.txt"]
    if m.engine == "bochs":
        names += ["bochs.log", "bochsrc", "cmos.img"]
    return names


def tail(text, n=TAIL_LINES):
    """The last n lines of text."""
    return "\n".join(text.splitlines()[-n:])


def read_text(path):
    """File contents as text ("" when absent); bytes that are not UTF-8 are replaced."""
    try:
        return Path(path).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def follow(proc, path, out):
    """Copy what is appended to path onto out until proc ends, without the serial line's
    carriage returns (slicehv ends its lines with CR LF)."""
    pos = 0
    while True:
        done = proc.poll() is not None
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            pos += len(chunk)
            out.write(chunk.decode("utf-8", "replace").replace("\r", ""))
            out.flush()
        if done:
            return
        time.sleep(0.1)


# Bochs's headless display needs a free TCP port in 5900-5949; when other Bochs runs on this
# host hold all of them it ends at once, before the machine starts: wait and try again.
RFB_BUSY = "RFB could not bind any port"
RFB_RETRIES = 5
RFB_RETRY_WAIT = 3                    # seconds


def boot(m, workdir, live=None):
    """Run machine m in workdir (created; old logs removed), again if Bochs found no free
    display port. With live, a text stream, the serial log is copied onto it as it grows.
    Returns a Result."""
    for attempt in range(RFB_RETRIES):
        r = boot_once(m, workdir, live)
        if m.engine != "bochs" or RFB_BUSY not in r.output or attempt == RFB_RETRIES - 1:
            return r
        time.sleep(RFB_RETRY_WAIT)
    return r


def boot_once(m, workdir, live=None):
    """Run machine m once in workdir. See boot()."""
    workdir = Path(workdir).resolve()          # the engine runs inside it
    workdir.mkdir(parents=True, exist_ok=True)
    for name in log_files(m):
        (workdir / name).unlink(missing_ok=True)
    # --foreground keeps the emulator in our process group, so ^C reaches it too. No core file
    # from a SIGXCPU: it would hold all of the machine's RAM.
    cpu = int(m.timeout)
    wall = m.timeout * WALL_PER_CPU
    cmd = ["prlimit", f"--cpu={cpu}:{cpu + KILL_GRACE}", "--core=0", "--",
           "timeout", "--foreground", f"--kill-after={KILL_GRACE}", str(wall)]
    cmd += command(m, workdir)
    (workdir / "command.txt").write_text(" ".join(cmd) + "\n")
    start = time.monotonic()
    with open(workdir / "stdout.log", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            if live:
                follow(proc, workdir / "serial.log", live)
            status = proc.wait(timeout=wall + 2 * KILL_GRACE)
        except BaseException:          # ^C or our own backstop: never leave it running
            proc.terminate()
            proc.wait()
            raise
    return Result(serial=read_text(workdir / "serial.log").replace("\r", ""),
                  status=status,
                  output=tail(read_text(workdir / "stdout.log")),
                  timed_out=status in STOPPED,
                  seconds=time.monotonic() - start,
                  workdir=workdir,
                  logs=[workdir / n for n in log_files(m) if (workdir / n).exists()])


def kvm_host_reason():
    """Why this host cannot run nested KVM, or "" when it looks able to."""
    if not re.search(r"^flags\s*:.*\bvmx\b", read_text("/proc/cpuinfo"), re.M):
        return "no vmx flag in /proc/cpuinfo"
    nested = read_text("/sys/module/kvm_intel/parameters/nested").strip()
    if nested not in ("Y", "1"):
        return "kvm_intel nested is not enabled"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return f"/dev/kvm: {e.strerror}"
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != 12:
            return "/dev/kvm answers an unexpected KVM API version"
    except OSError as e:
        return f"/dev/kvm: {e.strerror}"
    finally:
        os.close(fd)
    return ""


def kvm_unavailable(iso, workdir):
    """Why qemu-kvm cannot be used here ("" when it can): host checks, then a probe boot
    of iso on one core that must print a "vmx on" line."""
    reason = kvm_host_reason()
    if reason:
        return reason
    r = boot(Machine(engine="qemu-kvm", cpus=1, iso=iso, timeout=30), workdir)
    if VMX_ON.search(r.serial):
        return ""
    no_vmx = re.search(r"^slicehv: no vmx: .*$", r.serial, re.M)
    return f"probe boot: {no_vmx.group(0) if no_vmx else 'no vmx on line'} (logs in {workdir})"


def parse_args(argv):
    """Command line of the `run` subcommand."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot once, showing the serial log live")
    r.add_argument("--engine", choices=ENGINES, default="bochs")
    r.add_argument("--cpus", type=int, default=1)
    r.add_argument("--model", default=Machine.model, help="Bochs CPU model")
    r.add_argument("--firmware", choices=sorted(FIRMWARE), default="bochs")
    r.add_argument("--memory", type=int, default=Machine.memory, help="MiB")
    r.add_argument("--iso", default="")
    r.add_argument("--kernel", default="", help="QEMU only: boot this ELF with -kernel")
    r.add_argument("--append", default="")
    r.add_argument("--timeout", type=float, default=120, help="seconds of emulator CPU time")
    r.add_argument("--workdir", help="where the logs go (default: next to the ISO/kernel)")
    args = p.parse_args(argv)
    if not args.iso and not args.kernel:
        p.error("give --iso or --kernel")
    return args


def run(args):
    """Boot once with the serial log on stdout; exit status is slicehv's exit code."""
    image = Path(args.iso or args.kernel)
    if not image.exists():
        print(f"engine: {image} does not exist (build it first)", file=sys.stderr)
        return 1
    workdir = Path(args.workdir or image.parent / f"run-{args.engine}")
    m = Machine(engine=args.engine, cpus=args.cpus, model=args.model, firmware=args.firmware,
                memory=args.memory, iso=args.iso, kernel=args.kernel, append=args.append,
                timeout=args.timeout)
    print(f"engine: booting {image} in {args.engine} with {args.cpus} cpus "
          f"(logs in {workdir}/)", flush=True)
    try:
        r = boot(m, workdir, live=sys.stdout)
    except KeyboardInterrupt:
        print(f"\nengine: interrupted; logs in {workdir}/", file=sys.stderr)
        return 130
    return report(r)


# slicehv's last serial line, and what its stats lines say of a partition that did not finish.
EXIT_LINE = re.compile(r"^slicehv: exit (\d+) \(([a-z-]+)\)$", re.M)
UNFINISHED = re.compile(r"^slicehv: stats (\S+): (?!done status 0,)([a-z]+[^,]*),", re.M)


def report(r):
    """Print where the logs are and, last, one line with slicehv's own result; return it as
    the exit status (0 only when slicehv exited ok). The engine's status says nothing here:
    Bochs ends with 1 on a clean shutdown too."""
    print(f"\nengine: logs in {r.workdir}/: " + " ".join(p.name for p in r.logs))
    m = EXIT_LINE.search(r.serial)
    took = f"after {r.seconds:.1f} s"
    if r.timed_out:
        print(f"run: slicehv did not end within its time limit (emulator CPU time); stopped {took}")
        return 1
    if not m:
        why = r.bochs_message() or f"engine status {r.status}"
        print(f"run: slicehv ended without its exit line {took} ({why})")
        return 1
    code, name = int(m[1]), m[2]
    unfinished = ", ".join(f"{p} {state}" for p, state in UNFINISHED.findall(r.serial))
    print(f"run: slicehv exited {code} ({name}{': ' + unfinished if unfinished else ''}) {took}")
    return code


def main(argv):
    """Entry point."""
    args = parse_args(argv)
    if not shutil.which("timeout"):
        print("engine: coreutils timeout is missing", file=sys.stderr)
        return 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
