#!/usr/bin/env python3
"""slicehv test driver: host unit tests, then boot scenarios in emulators, two at a time.

    scenarios.py --build build --unit "build/unit/test_a build/unit/test_b"

Prints one "PASS: name", "FAIL: name (reason)" or "SKIP: name (reason)" line per test and
ends with "N passed, N failed, N skipped". Every log of a failed scenario is kept in
<build>/test-logs/<name>/; every result with its run time goes to <build>/test-results.txt.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine  # noqa: E402  (lives next to this file)

REPO = Path(__file__).resolve().parents[2]
MKISO = REPO / "iso" / "mkiso.sh"

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
#   expect    regexes that must match; a pair (regex, n) must match exactly n times
#   forbid    regexes that must not match, on top of FORBIDDEN_SERIAL
#   timeout   seconds of wall time; a run that takes longer fails
#
# To add a scenario, append one Scenario(...) line to SCENARIOS; the helpers below
# spell the hypervisor's log-line contract. Names: unique, lower case, dashes.

EXIT_NAMES = {0: "ok", 1: "failed", 2: "no-vmx", 3: "panic"}   # hv/power.h
OK, FAILED, NO_VMX = 0, 1, 2
SKYLAKE = "corei7_skylake_x"

# Never acceptable on the serial log, nor in the emulator's own output.
FORBIDDEN_SERIAL = (r"(?i:exception)", r"(?i:panic)")
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


SCENARIOS = [
    # Skylake-X has every VMX feature slicehv uses: every core turns VMX on.
    Scenario("bochs-skylake-1cpu", cpus=1, expect=vmx_on(1) + (ALL_CAPS,)),
    Scenario("bochs-skylake-2cpu", cpus=2, expect=vmx_on(2)),
    Scenario("bochs-skylake-4cpu", cpus=4, expect=vmx_on(4)),
    Scenario("bochs-skylake-8cpu", cpus=8, expect=vmx_on(8), timeout=90),
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
             expect=vmx_on(2) + (caps("ept-1g=no"),)),
    # Without unrestricted guest VMX still comes up, but the toy guest (which starts
    # with paging off) cannot run: its partitions are parked, and that is a failed run.
    Scenario("bochs-lynnfield-no-unrestricted", model="corei5_lynnfield_750", cpus=2,
             exit=FAILED, expect=vmx_on(2) + (caps("unrestricted=no"),
                                              r"^slicehv: partition \S+ parked: .*unrestricted")),
    # SeaBIOS leaves IA32_FEATURE_CONTROL unlocked: slicehv locks it on every core...
    Scenario("bochs-seabios-locks-feature-control", firmware="seabios", cpus=2,
             expect=vmx_on(2) + every_core(2, "feature control locked by slicehv")),
    # ... unless something (here GRUB) already locked it with VMX off.
    Scenario("bochs-seabios-feature-control-locked-off", firmware="seabios",
             grub="wrmsr-3a-1", exit=NO_VMX,
             expect=(no_vmx("IA32_FEATURE_CONTROL"),), forbid=(ANY_VMX_ON,)),
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


# ISO variants: name -> function from the default ISO's grub.cfg text to the variant's.
GRUB_VARIANTS = {
    "default": None,
    # GRUB locks IA32_FEATURE_CONTROL (MSR 0x3a) with VMX disabled before slicehv starts.
    "wrmsr-3a-1": lambda cfg: insert_before_multiboot(cfg, "insmod wrmsr", "wrmsr 0x3a 0x1"),
}

# ================================================================ results


@dataclass
class Outcome:
    """One line of the report."""
    name: str
    verdict: str          # PASS | FAIL | SKIP
    reason: str = ""
    seconds: float = 0.0

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


def check(s, r):
    """Every way result r misses scenario s, the most telling first."""
    problems = []
    if r.timed_out:
        problems.append(f"timeout after {s.timeout}s")
    elif s.engine == "bochs" and "shutdown requested" not in r.bochs_message():
        problems.append(f"bochs: {r.bochs_message() or 'ended without its exit message'}")
    problems += forbidden(FORBIDDEN_OUTPUT, r.output, "engine output has")
    problems += forbidden(FORBIDDEN_SERIAL + tuple(s.forbid), r.serial, "serial has")
    problems += [p for e in s.expect if (p := expectation(e, r.serial))]
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


def machine(s, build, isos):
    """The engine.Machine that scenario s boots."""
    return engine.Machine(engine=s.engine, cpus=s.cpus, model=s.model, firmware=s.firmware,
                          memory=s.memory, iso=str(isos.get(s.grub, "")),
                          kernel=str(build / "hv.elf") if s.kernel else "",
                          timeout=s.timeout)


def run_scenario(s, build, isos, logs):
    """Boot scenario s once and judge it; keep its logs only when it failed."""
    workdir = logs / s.name
    try:
        r = engine.boot(machine(s, build, isos), workdir)
    except Exception as e:        # the harness reports every scenario, whatever happens
        keep(workdir, {"reasons.txt": f"could not run: {e}\n"})
        return Outcome(s.name, "FAIL", f"could not run: {e}")
    problems = check(s, r)
    if not problems:
        shutil.rmtree(workdir, ignore_errors=True)
        return Outcome(s.name, "PASS", seconds=r.seconds)
    keep(workdir, {"reasons.txt": "\n".join(problems) + "\n"})
    more = f"; +{len(problems) - 1} more in {workdir}/reasons.txt" if len(problems) > 1 else ""
    return Outcome(s.name, "FAIL", problems[0] + more, r.seconds)


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
        (tmp / "variant.cfg").write_text(GRUB_VARIANTS[name](cfg))
        subprocess.run([str(MKISO), str(out), str(tmp / "variant.cfg")] + [str(f) for f in files],
                       capture_output=True, check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepare_isos(build, names):
    """Map each GRUB variant in names to its ISO, (re)building the variants (about a
    second each); a variant that cannot be built maps to an error string instead."""
    base = build / "slicehv.iso"
    if not base.exists():
        return {n: f"{base} does not exist (make iso)" for n in names}
    isos = {}
    for name in names:
        out = base if name == "default" else build / f"slicehv-{name}.iso"
        try:
            if out != base:
                build_variant(base, name, out)
            isos[name] = out
        except (OSError, ValueError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", b"") or b""
            isos[name] = f"ISO variant {name}: {e} {detail.decode(errors='replace')[-200:]}"
    return isos


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


def run_boots(scenarios, build, logs, jobs):
    """Run the scenarios jobs at a time; yield Outcomes in table order."""
    isos = prepare_isos(build, sorted({s.grub for s in scenarios}))
    skips = skip_reasons(scenarios, isos, logs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one_boot, s, build, isos, logs, skips) for s in scenarios]
        try:
            for f in futures:
                yield f.result()
        except BaseException:      # ^C: the running emulators got it too; start no more
            for f in futures:
                f.cancel()
            raise


def one_boot(s, build, isos, logs, skips):
    """The Outcome of one scenario: skipped, failed before booting, or booted and judged."""
    if s.name in skips:
        return Outcome(s.name, "SKIP", skips[s.name])
    iso = isos.get(s.grub)
    if not isinstance(iso, Path):
        return Outcome(s.name, "FAIL", iso or f"unknown GRUB variant {s.grub!r}")
    if s.kernel and not (build / "hv.elf").exists():
        return Outcome(s.name, "FAIL", f"{build / 'hv.elf'} does not exist")
    return run_scenario(s, build, isos, logs)


def validate(scenarios):
    """Refuse a table with duplicate names, unknown engines or unknown ISO variants."""
    names = [s.name for s in scenarios]
    dup = {n for n in names if names.count(n) > 1}
    bad = [s.name for s in scenarios
           if s.engine not in engine.ENGINES or s.grub not in GRUB_VARIANTS
           or s.firmware not in engine.FIRMWARE or (s.kernel and s.engine == "bochs")]
    if dup or bad:
        raise SystemExit(f"scenarios: bad table: duplicate {sorted(dup)}, invalid {bad}")


def parse_args(argv):
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build", help="build directory (ISO, hv.elf, logs)")
    p.add_argument("--unit", default="", help="space-separated unit test binaries")
    p.add_argument("--only", default="", help="run only scenarios whose name matches this regex")
    p.add_argument("--jobs", type=int, default=2, help="scenarios run at once")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return p.parse_args(argv)


def main(argv):
    """Run everything, print the report, return the exit status."""
    args = parse_args(argv)
    validate(SCENARIOS)
    scenarios = [s for s in SCENARIOS if re.search(args.only, s.name)]
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
    for o in run_boots(scenarios, build, logs, args.jobs):
        results.append(o)
        print(o.line(), flush=True)
    return summarize(results, build, logs)


def summarize(results, build, logs):
    """Print the summary line, write <build>/test-results.txt, return the exit status."""
    count = {v: sum(o.verdict == v for o in results) for v in ("PASS", "FAIL", "SKIP")}
    (build / "test-results.txt").write_text(
        "".join(f"{o.seconds:7.1f}s  {o.line()}\n" for o in results))
    if not any(logs.iterdir()):
        logs.rmdir()
    elif count["FAIL"]:
        print(f"logs of failures: {logs}/")
    print(f"{count['PASS']} passed, {count['FAIL']} failed, {count['SKIP']} skipped")
    return 1 if count["FAIL"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\nscenarios: interrupted", file=sys.stderr)
        sys.exit(130)
