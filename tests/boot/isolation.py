"""Isolation scenarios: a hostile guest attacks the walls of its partition, one attack per boot,
beside an honest toy partition on the other core.

Every scenario boots configs/isolation/isolation.cfg on 2 cores: `honest` (the toy) in
[0x6000000, 0x8000000) on core 0, `evil` (guest/hostile.c) in the adjacent [0x8000000,
0xa000000) on core 1, so the word just below the attacker's slice is the honest partition's.
The attacker's module line is `module2 /boot/hostile.elf evil attack=<name> [key=value...]`; its
GRUB arguments reach it on its command line. Each scenario asserts that
  - slicehv refused or contained the attack: its `denied` lines, a fault the guest reports as
    `refused with #GP` (or #UD), an error code from a hypercall, or the attacker parked with the
    decoded reason and its register dump;
  - the honest partition's output is complete and exact (guest_ran: banner, memory ok over its
    whole slice, sieve, heartbeats, done) and it was never denied anything;
  - the machine neither reset (one `slicehv: starting`) nor hung (the scenario's timeout), and the
    run ended with `slicehv: all partitions done` and `exit 1 (failed)` when the attacker was
    parked or halted (hv/partition.c end_of_run: only partitions that all end with HC_DONE
    status 0 make a clean run), else `exit 0 (ok)` (the attacker finished, every probe refused).

Wiring, in scenarios.py after GRUB_VARIANTS (this module reads Scenario, IsoVariant and the
log-line helpers from the scenarios module that imports it):

    import isolation
    SCENARIOS += isolation.ISOLATION_SCENARIOS
    GRUB_VARIANTS.update(isolation.ISOLATION_VARIANTS)

The channel-* scenarios (CHANNEL_ATTACKS, at the end) boot two hostile guests instead, an attacker
and its peer on a channel of configs/isolation/channel-*.cfg, and join the same lists.

The default ISO carries /boot/hostile.elf (the Makefile puts it there); the variants add a config.
The build directory (for hv.elf's symbols) is $SLICEHV_BUILD, else <repo>/build.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import engine  # noqa: E402  (next to this file, on the path scenarios.py set)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).resolve().parent / "configs" / "isolation"
BUILD = Path(os.environ.get("SLICEHV_BUILD", REPO / "build"))   # where `make` put hv.elf
HOSTILE = BUILD / "guest" / "hostile.elf"
HV_ELF = BUILD / "hv.elf"
HOSTILE_SOURCE = REPO / "guest" / "hostile.c"

HONEST_BASE, EVIL_BASE, SLICE = 0x6000000, 0x8000000, 32 << 20
EVIL_END = EVIL_BASE + SLICE
NEIGHBOUR = 0x7000000          # inside the honest slice, which the toy fills and verifies
HV_IMAGE = 0x100000
HEX = "0x[0-9a-f]+"
# The eighth denial line says that the rest are only counted (hv/partition.h PRINTED_DENIALS_MAX).
LAST_DENIAL = r"( \(further denials only counted\))?$"
MODULE_NAME_MAX = 1023         # hv/bootinfo.h BOOT_MODULE_LINE_LEN: longer lines are cut
FAILED, OK = 1, 0


def harness():
    """The scenarios module: the one importing us (run as a script or imported), else import it."""
    for name in ("__main__", "scenarios"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "IsoVariant") and hasattr(module, "guest_ran"):
            return module
    import scenarios                      # noqa: E402  (lives next to this file)
    return scenarios


@dataclass(frozen=True)
class Attack:
    """One boot of the hostile guest and what must follow. Regexes are whole lines, multiline."""
    name: str                  # scenario "isolation-<name>" and its ISO variant
    args: str                  # the hostile module's arguments: attack=<attack> [key=value ...]
    parked: str = ""           # the reason slicehv parks the attacker ("": it finishes)
    halted: bool = False       # the attacker ends halted instead
    says: tuple = ()           # its lines after "hostile: <attack>: " (regex or (regex, n))
    denied: tuple = ()         # slicehv's "denied <regex>" lines for it (regex or (regex, n))
    denials: int | None = 0    # the denied count in its stats line (None: any)
    expect: tuple = ()         # anything else, as scenarios.py's expect
    why: str = ""              # what the attack tries, for the table's comments and reports
    config: str = "isolation.cfg"   # the partition config, in configs/isolation/
    runs: int = 1              # times the attacker starts (on-fault=restart: more than once)
    then_done: bool = False    # with runs > 1: parked runs - 1 times, then its last run finishes
    status: int = 0            # the HC_DONE status it finishes with (nonzero: the run fails)
    needs: tuple = ()          # earlier scenarios whose logs its expect functions compare with
    forbid: tuple = ()         # anything else that must never show

    @property
    def attack(self):
        """The attack's own name, as the guest prints it."""
        return re.match(r"attack=(\S+)", self.args).group(1)


# An NMI exit: no guest can raise an NMI, nor aim its APIC at slicehv's (exits.c handle_nmi).
NMI_EXIT = r"^slicehv: stats evil: .* exception-nmi="


def wrmsr_exits(n):
    """The attacker's stats: n WRMSR exits in all (the APIC writes that pass through took none;
    one is the EFER write by which guest/entry.asm enters long mode)."""
    return (rf"^slicehv: stats evil: [a-z]+ .*, exits \d+:.* wrmsr={n}( |$)", 1)


def apic_refusal(what):
    """slicehv's one line for the attacker's first refused or masked APIC write (exits.c lapic_write)."""
    return (what + r" \(further APIC refusals only counted\)", 1)


def ept(access, gpa):
    """The park reason of an EPT violation by the attacker at guest-physical gpa."""
    return (rf"ept-violation: {access} at guest-physical {gpa:#x} "
            rf"\(slice {EVIL_BASE:#x}-{EVIL_END - 1:#x}\)")


def deny_lines(*whats):
    """Denials of the same kind, each printed once (at most 8 are: hv/partition.h)."""
    return tuple((w, 1) for w in whats)


def refused(fault, n):
    """n probes refused with fault (#GP, #UD)."""
    return (rf".*: refused with {fault}", n)


def returned(code, n):
    """n hypercalls refused with error code."""
    return (rf".*: refused: returned {code}", n)


def all_ones(n):
    """n denied port reads that floated high."""
    return (r"in 0x[0-9a-f]+ \(.*\): read 0xf+ \(all ones\)", n)


def memory(name, args, access, gpa, what):
    """An access outside the slice: parked on the EPT violation, after the guest's probe line."""
    word = {"read": "read", "write": "write", "instruction fetch": "exec"}[access]
    return Attack(name, args, parked=ept(access, gpa), says=(rf"{word} {gpa:#x} \({what}\)",),
                  why=f"{word} {what} ({gpa:#x})")


def xapic_ipi(name, icr, kind):
    """An IPI through the xAPIC's ICR: its page is not in the slice."""
    return Attack(name, f"attack={name}", parked=ept("write", 0xfee00300),
                  says=(rf"xAPIC ICR 0xfee00300 <- {icr:#x} \({kind} to all but self\)",),
                  why=f"{kind} IPI to every other core through the xAPIC ICR")


def debug_args():
    """dr0= and dr1= for debug-regs: slicehv's VM-exit entry and handler, from <build>/hv.elf
    (read when the ISO variant is built: the addresses move with every change)."""
    out = subprocess.run(["nm", str(HV_ELF)], capture_output=True, text=True, check=True).stdout
    sym = {m[2]: int(m[1], 16) for m in re.finditer(r"^([0-9a-f]+) [tT] (\w+)$", out, re.M)}
    if "vmx_exit_entry" not in sym or "vmexit_handler" not in sym:
        raise ValueError(f"{HV_ELF} has no vmx_exit_entry or vmexit_handler symbol")
    return f" dr0={sym['vmx_exit_entry']:#x} dr1={sym['vmexit_handler']:#x}"


def long_line_split(serial, ctx):
    """console-spoof's 300-letter line comes out whole, in more than one prefixed line."""
    del ctx
    parts = re.findall(r"^\[evil\] ([a-z]+)$", serial, re.M)
    want = "".join(chr(ord("a") + i % 26) for i in range(300))
    if "".join(parts) != want or len(parts) < 2:
        return [f"the 300-letter line came out as {len(parts)} lines of {[len(p) for p in parts]} letters"]
    return []


def keeps_pace(peer, tolerance=0.02):
    """A check that the honest toy ran (launched to stopped, its timing line) within tolerance of
    its run time in scenario peer, where nobody floods the console: its exits never wait for the
    UART, whoever else is writing."""
    rx = r"^slicehv: timing honest: ept-build \d+ launched \+(\d+) first-output \+\d+ stopped \+(\d+) ticks$"

    def check(serial, ctx):
        here, other = re.search(rx, serial, re.M), ctx.peer_serial(peer)
        there = other and re.search(rx, other, re.M)
        if not here or not there:
            return [f"no honest timing line with its stop {'here' if not here else 'in ' + peer}"]
        ran, alone = int(here[2]) - int(here[1]), int(there[2]) - int(there[1])
        if ran > alone * (1 + tolerance):
            return [f"honest ran {ran} ticks beside the flood, {alone} in {peer}: more than {tolerance:.0%} slower"]
        return []
    return check


def nonfatal_attacks():
    """The attacks attack=all runs before its last one: the table in guest/hostile.c."""
    return re.findall(r'X\(\w+, "([a-z0-9-]+)", false\)', HOSTILE_SOURCE.read_text())


ATTACKS = [
    # ---- Memory outside the slice: every access is an EPT violation that parks the attacker.
    memory("mem-below-read", "attack=mem-below access=read", "read", EVIL_BASE - 8, "just below the slice"),
    memory("mem-below-write", "attack=mem-below", "write", EVIL_BASE - 8, "just below the slice"),
    memory("mem-below-exec", "attack=mem-below access=exec", "instruction fetch", EVIL_BASE - 8,
           "just below the slice"),
    memory("mem-above-read", "attack=mem-above access=read", "read", EVIL_END, "just above the slice"),
    memory("mem-above-write", "attack=mem-above", "write", EVIL_END, "just above the slice"),
    memory("mem-above-exec", "attack=mem-above access=exec", "instruction fetch", EVIL_END,
           "just above the slice"),
    memory("mem-hv-write", "attack=mem-hv", "write", HV_IMAGE, "the hypervisor image"),
    memory("mem-hv-exec", "attack=mem-hv access=exec", "instruction fetch", HV_IMAGE, "the hypervisor image"),
    memory("mem-neighbour", f"attack=mem-neighbour target={NEIGHBOUR:#x}", "write", NEIGHBOUR,
           "the neighbour's slice"),
    memory("mem-high", "attack=mem-high", "write", 0xf00000000, "above RAM"),
    memory("mem-low", "attack=mem-low", "write", 0x8000, "the first MiB"),
    memory("mem-lapic", "attack=mem-lapic", "write", 0xfee00030, "the local APIC"),
    memory("mem-ioapic", "attack=mem-ioapic", "write", 0xfec00000, "the I/O APIC"),
    # Page tables outside the slice: the walk itself is the access EPT refuses.
    Attack("cr3-outside", "attack=cr3-outside", parked=ept("read", HV_IMAGE),
           says=(rf"cr3 <- {HV_IMAGE:#x} \(the hypervisor image as page tables\)",),
           why="CR3 pointing at the hypervisor image"),
    Attack("pt-outside", "attack=pt-outside", parked=ept("read", HV_IMAGE),
           says=(rf"read 0x8000000000 through a PDPT at {HV_IMAGE:#x}",),
           why="a PML4 entry naming a PDPT in the hypervisor image"),

    # ---- Ports: every one but COM1's bytes is denied; reads float high; nothing resets.
    Attack("io-pic", "attack=io-pic", says=(all_ones(2),), denials=6,
           denied=deny_lines(*(f"write to port {p}" for p in ("0x20", "0x21", "0xa0", "0xa1")),
                             "read of port 0x21", "read of port 0xa1"), why="program both PICs"),
    Attack("io-pit", "attack=io-pit", says=(all_ones(2),), denials=6,
           denied=(("write to port 0x43", 1), ("write to port 0x40", 2), ("write to port 0x42", 1),
                   ("read of port 0x40", 1), ("read of port 0x41", 1)), why="program the PIT"),
    Attack("io-pci", "attack=io-pci", says=(all_ones(2),), denials=5,
           denied=(("write to port 0xcf8", 2), ("read of port 0xcfc", 2), ("write to port 0xcfc", 1)),
           why="PCI configuration space through 0xcf8/0xcfc"),
    Attack("io-reset", "attack=io-reset", says=("still running",), denials=3,
           denied=deny_lines("write to port 0xcf9", "write to port 0x64", "write to port 0x92"),
           why="reset through 0xcf9, the keyboard controller and port 0x92"),
    Attack("io-com2", "attack=io-com2", says=(all_ones(1),), denials=3,
           denied=deny_lines("write to port 0x2fb", "write to port 0x2f8", "read of port 0x2fd"),
           why="another UART"),
    Attack("io-shutdown", "attack=io-shutdown", says=("still running",), denials=11,
           denied=(("write to port 0x8900", 8),),
           why="power off: Bochs's 0x8900, QEMU's 0xf4 and 0x604, Bochs's ACPI 0xb004"),
    Attack("io-smi", "attack=io-smi", says=("still running",), denials=2,
           denied=deny_lines("write to port 0xb2", "write to port 0xb3"), why="an SMI through APM 0xb2"),
    Attack("io-cmos", "attack=io-cmos", says=(all_ones(1),), denials=3,
           denied=deny_lines("write to port 0x70", "write to port 0x71", "read of port 0x71"),
           why="CMOS shutdown status and the NMI mask"),
    Attack("io-com1-wide", "attack=io-com1-wide", says=(all_ones(1),), denials=3,
           denied=(("write to port 0x3f8", 2), ("read of port 0x3fd", 1)),
           why="COM1 by word and dword (only bytes are virtual)"),
    Attack("io-string", "attack=io-string", parked=r"string I/O \(INS/OUTS\) is not supported",
           says=(r"rep outsb \d+ bytes to COM1",), why="REP OUTSB to COM1"),

    # ---- MSRs: refused with #GP and counted, but a few locked-off reads and hardware's own #GP.
    Attack("msr-feature-control", "attack=msr-feature-control", denials=1,
           says=(rf"rdmsr 0x3a: {HEX}, VMX off", refused("#GP", 1)),
           denied=deny_lines(r"wrmsr 0x3a value 0x5"), why="IA32_FEATURE_CONTROL"),
    Attack("msr-apic-base", "attack=msr-apic-base", says=(refused("#GP", 3),), denials=3,
           denied=((rf"wrmsr 0x1b value {HEX}", 3),),
           why="IA32_APIC_BASE: x2APIC on, APIC off, APIC moved into the slice"),
    Attack("msr-vmx", "attack=msr-vmx", says=(refused("#GP", 3),), denials=3,
           denied=deny_lines("rdmsr 0x480", "rdmsr 0x48b", "wrmsr 0x480 value 0x0"), why="VMX capability MSRs"),
    Attack("msr-mtrr", "attack=msr-mtrr", says=(refused("#GP", 3),), denials=3,
           denied=deny_lines("wrmsr 0x2ff value 0x0", "wrmsr 0x200 value 0x0", "wrmsr 0x201 value 0xff00000800"),
           why="MTRRs: default type and range 0"),
    Attack("msr-pat", "attack=msr-pat", says=(refused("#GP", 1),),
           why="IA32_PAT with a reserved memory type (passed through: the CPU refuses it)"),
    Attack("msr-debugctl", "attack=msr-debugctl", says=(refused("#GP", 2),), denials=2,
           denied=deny_lines("wrmsr 0x1d9 value 0x1", "wrmsr 0x1d9 value 0x2"), why="IA32_DEBUGCTL"),
    Attack("msr-undefined", "attack=msr-undefined", says=(refused("#GP", 4),), denials=4,
           denied=deny_lines("rdmsr 0x12345678", "wrmsr 0x12345678 value 0x1", "rdmsr 0xc0011000",
                             "rdmsr 0x40000000"), why="undefined MSRs"),
    Attack("msr-microcode", "attack=msr-microcode", says=(refused("#GP", 2),), denials=2,
           denied=deny_lines(rf"wrmsr 0x79 value {EVIL_BASE:#x}", "wrmsr 0x9b value 0x1"),
           why="a microcode update and the SMM monitor"),
    Attack("msr-tsc", "attack=msr-tsc", says=(refused("#GP", 2),), denials=2,
           denied=deny_lines("wrmsr 0x10 value 0x0", "wrmsr 0x3b value 0x10000000000"), why="TSC and TSC_ADJUST"),
    # Clearing EFER.LME with paging on is a #GP on a CPU (SDM Vol 3A 10.8.5, WRMSR).
    Attack("msr-efer", "attack=msr-efer", denials=None,
           says=(r"wrmsr 0xc0000080 <- 0x400 \(long mode off while paging\): refused with #GP",),
           why="EFER.LME off while paging"),

    # ---- Control registers, XCR0, debug registers.
    Attack("cr4-vmxe", "attack=cr4-vmxe", denials=None, says=(r"mov cr4 <- 0x2020 \(VMXE on\): refused with #GP",),
           why="CR4.VMXE"),
    Attack("cr4-pae", "attack=cr4-pae", says=(r"mov cr4 <- 0x0 \(PAE off in long mode\): refused with #GP",),
           why="CR4.PAE off in long mode (the CPU refuses it)"),
    # Clearing CR0.PG in 64-bit mode is a #GP on a CPU (SDM Vol 3A 10.8.5, MOV CR0).
    Attack("cr0-pg", "attack=cr0-pg", denials=None,
           says=(rf"mov cr0 <- {HEX} \(PG off in long mode\): refused with #GP",), why="CR0.PG off in 64-bit mode"),
    # A valid XCR0 must be accepted, and the hypervisor must live through setting it; every XCR0
    # rule of XSETBV refuses with #GP (one of them used to fault slicehv itself: a panic).
    Attack("xsetbv", "attack=xsetbv",
           says=(r"xsetbv xcr0 <- 0x2 \(x87 off\): refused with #GP",
                 *(rf"xsetbv xcr{x} <- {v} \({w}\): refused with #GP" for x, v, w in (
                     (0, "0x5", "AVX without SSE"), (0, "0x27", "opmask without ZMM"),
                     (0, "0xe3", "AVX-512 without AVX"), (0, "0x9", "BNDREGS without BNDCSR"),
                     (0, "0x20003", "TILECFG without TILEDATA"), (1, "0x3", "XCR1"))),
                 r"xsetbv xcr0 <- 0x3 \(x87, SSE\): accepted"),
           why="XSETBV, every illegal XCR0 combination, then a valid one"),
    # Cores leave INIT with caching off; NW without CD is a #GP; CD is the guest's own to set.
    Attack("cr0-cache", "attack=cr0-cache",
           says=(rf"cr0 {HEX} at start: caching on", rf"mov cr0 <- {HEX} \(NW without CD\): refused with #GP",
                 rf"mov cr0 <- {HEX} \(CD on\): accepted", rf"mov cr0 <- {HEX} \(CD off\): accepted"),
           why="CR0.CD and NW: at start, NW without CD, CD on and off"),
    # 32-bit PAE paging is legal (slicehv must load the PDPTEs), and turning long mode on with a
    # 64-bit code segment is a #GP, not a failed VM entry.
    Attack("pae32", "attack=pae32",
           says=(rf"32-bit PAE paging at pdpt {HEX}, then long mode with an L=1 D=1 code segment",
                 r"pae paging: ran", r"long mode with L=1 D=1 code: refused with #GP"),
           why="PAE paging outside long mode, and long mode on with CS.L set"),
    Attack("debug-regs", "attack=debug-regs",
           says=(rf"breakpoints at {HEX} and {HEX}, then exits", "still running"),
           why="instruction breakpoints on slicehv's VM-exit path, then VM exits"),

    # ---- VMX, SMX, INVD: a CPU without VMX says #UD; INVD would drop others' dirty lines.
    Attack("vmx-vmxon", "attack=vmx-vmxon", says=(r"vmxon: refused with #UD",), why="VMXON"),
    Attack("vmx-vmcall", "attack=vmx-vmcall", denials=1,
           says=(r"vmcall rax 0xdeadbeefcafef00d, every argument ~0: refused: returned -1",),
           denied=deny_lines(f"unknown hypercall {0xdeadbeefcafef00d}"), why="VMCALL with garbage registers"),
    Attack("vmx-vmread", "attack=vmx-vmread", says=(r"vmread: refused with #UD",), why="VMREAD"),
    Attack("vmx-invept", "attack=vmx-invept", says=(r"invept: refused with #UD",), why="INVEPT"),
    Attack("vmx-vmlaunch", "attack=vmx-vmlaunch", says=(r"vmlaunch: refused with #UD",), why="VMLAUNCH"),
    Attack("vmx-rest", "attack=vmx-rest", says=(refused("#UD", 8),),
           why="VMCLEAR, VMPTRLD, VMPTRST, VMWRITE, VMRESUME, VMXOFF, INVVPID, VMFUNC"),
    Attack("vmx-getsec", "attack=vmx-getsec", says=(r"getsec: refused with #UD",), why="GETSEC"),
    Attack("vmx-invd", "attack=vmx-invd", parked="invd", says=("invd",), why="INVD"),

    # ---- IPIs to the other cores.
    xapic_ipi("ipi-init", 0xc4500, "INIT"),
    xapic_ipi("ipi-sipi", 0xc4608, "SIPI"),
    xapic_ipi("ipi-nmi", 0xc4400, "NMI"),
    xapic_ipi("ipi-fixed", 0xc4040, "vector 0x40"),
    # The partition owns its APIC in x2APIC mode already: the IPIs are refused, reported once.
    Attack("ipi-x2apic", "attack=ipi-x2apic", says=(refused("#GP", 5),), denials=5,
           denied=deny_lines(rf"wrmsr 0x1b value {HEX}",
                             r"wrmsr 0x830 value 0xc4500: only fixed IPIs to itself \(further APIC "
                             r"refusals only counted\)"),
           why="x2APIC on, then INIT, SIPI, NMI and a fixed IPI through MSR 0x830"),
    # Its own APIC: what stays on its core goes through; NMI, SMI, INIT and ExtINT do not.
    Attack("apic-own", "attack=apic-own", denials=7,
           says=((r"wrmsr 0x83[456] <- 0x[0-9a-f]+ \(.*\): written masked, reads 0x1[0-9a-f]{4}", 5),
                 r"wrmsr 0x830 <- 0x40041 \(fixed IPI to itself\): sent, pending in IRR",
                 refused("#GP", 2)),
           denied=deny_lines(r"wrmsr 0x835 value 0x400: written masked \(further APIC refusals only "
                             r"counted\)", rf"wrmsr 0x1b value {HEX}"),
           why="LVT entries with NMI, SMI, INIT, ExtINT delivery; a fixed self-IPI; an NMI to itself; "
               "x2APIC off"),
    # Every ICR delivery mode (fixed, lowest, SMI, reserved 3, NMI, INIT, start-up, reserved 7) at
    # every destination: physical broadcast (first: the longest line slicehv reports), the shorthands
    # self, all, all but self; its own and the neighbour's APIC id and logical id, both logical ids,
    # logical broadcast; then level assert and de-assert, a reserved bit, illegal vectors. Only the
    # three fixed edge IPIs to itself go out (pending in IRR, taken on STI); all 83 others are
    # refused, counted, and reported once.
    # SELF_IPI passes through: an illegal vector there is the CPU's to drop, no interrupt, no fault.
    Attack("icr-matrix", "attack=icr-matrix", denials=83,
           says=((r"wrmsr 0x830 <- 0x[0-9a-f]+ \(fixed to (itself by shorthand|its own APIC id|its own "
                  r"logical id)\): sent, pending in IRR", 3), refused("#GP", 83),
                 r"wrmsr 0x830 <- 0x4444[0-9a-f] \(NMI to itself by shorthand\): refused with #GP",
                 r"wrmsr 0x830 <- 0x40005 \(fixed vector 5 to itself\): refused with #GP",
                 r"3 self-IPIs taken on sti",
                 r"wrmsr 0x83f <- 0x5 \(SELF_IPI, illegal vector\): not delivered, ESR 0x[246]0"),
           denied=(apic_refusal(r"wrmsr 0x830 value 0xffffffff00004040: only fixed IPIs to itself"),),
           expect=(wrmsr_exits(87),), forbid=(NMI_EXIT,),
           why="ICR: every delivery mode at every shorthand and destination, edge and level, illegal vectors"),
    # Every LVT entry with a delivery mode (CMCI, thermal, PMC, LINT0, LINT1) in every mode, unmasked
    # with the APIC software-enabled; LINT0/1 also level-triggered, active low, with a reserved bit.
    # Fixed goes through as written; NMI, SMI, INIT, ExtINT are written masked; reserved modes and
    # bits, and the CMCI entry this APIC lacks (max LVT 5), are refused. The timer and error entries
    # pass through: the CPU drops their delivery bits (bits 10:8 are reserved there).
    Attack("lvt-modes", "attack=lvt-modes", denials=43,
           says=((r"wrmsr 0x8(33|34|35|36) <- 0x50 \(fixed\): written, reads 0x50", 4),
                 (r"wrmsr 0x8(33|34|35|36) <- 0x[2457]50 \((SMI|NMI|INIT|ExtINT)\): written masked, "
                  r"reads 0x10[2457]50", 16),
                 (r"wrmsr 0x83[56] <- 0x[28]050 \(fixed, (level|active low)\): written, reads 0x[28]050", 4),
                 (r"wrmsr 0x83[56] <- 0x[a8][47]00 \((NMI|ExtINT), level.*\): written masked, reads 0x1[a8][47]00", 4),
                 (r"wrmsr 0x8(33|34|35|36) <- 0x10000 \(masked\): written, reads 0x10000", 6),
                 refused("#GP", 23),
                 r"wrmsr 0x832 <- 0x450 \(timer, NMI delivery bits\): the CPU's: reads 0x50",
                 r"wrmsr 0x837 <- 0x450 \(error, NMI delivery bits\): the CPU's: reads 0x50",
                 r"0 interrupts on sti"),
           denied=(apic_refusal(r"wrmsr 0x82f value 0x50: no such LVT entry, or a reserved mode or bit"),),
           expect=(wrmsr_exits(58),), forbid=(NMI_EXIT,),
           why="every LVT entry with every delivery mode; LINT0/LINT1 level, active low, reserved bits"),
    # The spurious-vector register passes through: vector 5, software disable (the APIC keeps
    # every LVT entry masked, even one slicehv writes for it), enable again, and its timer works.
    Attack("apic-svr", "attack=apic-svr",
           says=(r"wrmsr 0x80f <- 0x105 \(spurious vector 5\): the CPU's: reads 0x105",
                 r"wrmsr 0x80f <- 0xff \(software-disabled\): the CPU's: reads 0xff",
                 r"wrmsr 0x835 <- 0x50 \(LINT0 fixed, unmasked, while disabled\): the CPU's: reads 0x10050",
                 r"wrmsr 0x832 <- 0x50 \(timer unmasked, while disabled\): the CPU's: reads 0x10050",
                 r"wrmsr 0x80f <- 0x1ff \(enabled again\): the CPU's: reads 0x1ff",
                 r"LINT0 after re-enable: reads 0x10050", r"one-shot timer after re-enable: 1 interrupt"),
           expect=(wrmsr_exits(3),), forbid=(NMI_EXIT,),
           why="spurious vector 5, the APIC software-disabled and enabled again"),
    # 50,000 EOIs with nothing in service pass through: a few ticks each (an exit costs more than
    # 30), not one WRMSR exit but the EFER write of the guest's entry; a non-zero EOI is the CPU's #GP.
    Attack("eoi-storm", "attack=eoi-storm",
           says=(r"50000 EOIs with nothing in service: [1-9] ticks each, in service after: 0x0",
                 r"wrmsr 0x80b <- 0x1 \(EOI with a non-zero value\): refused with #GP"),
           expect=(wrmsr_exits(1),), forbid=(NMI_EXIT,),
           why="50,000 x2APIC EOIs with nothing in service, and one with a non-zero value"),
    # TPR and CR8 pass through (no CR8 exiting) and mirror each other; TPR 15 holds two self-IPIs
    # in IRR with interrupts on, TPR 0 lets them in; reserved bits of CR8 and TPR are the CPU's #GP.
    Attack("tpr-cr8", "attack=tpr-cr8",
           says=(r"tpr <- 0x80: cr8 reads 0x8", r"cr8 <- 0xf: tpr reads 0xf0",
                 r"wrmsr 0x830 <- 0x40061 \(fixed IPI to itself\): sent, pending in IRR",
                 r"two self-IPIs at tpr 15: 0 taken, irr 0x3; at tpr 0: 2 taken", refused("#GP", 4)),
           expect=(wrmsr_exits(2),), forbid=(NMI_EXIT,),
           why="TPR 15 against self-IPIs, CR8 and TPR reads, reserved bits in CR8 and the TPR MSR"),
    # Nothing that an interrupt or NMI would need: interrupts off, TPR 15, every LVT entry masked,
    # the APIC software-disabled, an empty IDT; then a loop, or STI; HLT (one exit, then the HLT
    # activity state). Only budget= (the VMX-preemption timer) ends it, and it does.
    *(Attack(f"wedge-{w}", f"attack=wedge wait={w}", config="isolation-budget.cfg",
             parked=r"run-time budget of 100 ms used up",
             says=(rf"cli, tpr 15, every LVT masked, APIC disabled, empty IDT, then {then}",),
             expect=((rf"^slicehv: stats evil: parked, denied 0, exits \d+:{hlt}", 1),), forbid=(NMI_EXIT,),
             why=f"IF=0, TPR 15, LVT masked, APIC disabled, no IDT, then {then}, under budget=100")
      for w, then, hlt in (("loop", "an endless loop", r"(?!.* hlt=)"), ("hlt", "sti; hlt", r".* hlt=1( |$)"))),

    # ---- Hypercalls with every argument wrong, and the shared console.
    Attack("hc-console", "attack=hc-console", says=(returned(-2, 5), returned(-3, 4), "a good write still works",
                                                     r"console write of 46 bytes: returned 46"),
           why="console write outside the slice, across its end, wrapping, with bad lengths"),
    Attack("hc-info", f"attack=hc-info target={NEIGHBOUR:#x}",
           says=(returned(-2, 6), rf"partition info: returned 0: evil 1/2 cpu 1 slice {EVIL_BASE:#x}\+{SLICE:#x}",
                 r"cpuid exits: 1 after one more CPUID"),
           why="partition info into the hypervisor, the neighbour, across the end, wrapping"),
    Attack("hc-unknown", "attack=hc-unknown", says=(returned(-1, 5), returned(-4, 2)), denials=5,
           denied=deny_lines(*(f"unknown hypercall {n}" for n in (0, 0xffff, 1 << 32 | 1, 1 << 63 | 3, (1 << 64) - 1))),
           why="unknown hypercall numbers, console write and done with high bits set among them; exit "
               "reasons out of range"),
    # Doorbells where it has no channel (isolation.cfg declares none), and a fixed IPI at the
    # honest partition's core (APIC id 0); channel-ring-stranger does the same beside a peer.
    Attack("chan-ring-stranger", "attack=chan-ring-stranger", denials=3,
           says=tuple(rf"doorbell on channel {k} of 0: refused: returned -4" for k in (0, (1 << 64) - 1))
           + (r"wrmsr 0x830 <- 0x50 \(a fixed IPI at another core\): refused with #GP",),
           denied=deny_lines(*(f"doorbell on channel {k}: it has 0 channels" for k in (0, (1 << 64) - 1)),
                             apic_refusal(r"wrmsr 0x830 value 0x50: only fixed IPIs to itself")[0]),
           why="HC_DOORBELL without a channel, a fixed IPI at another core"),
    Attack("console-spoof", "attack=console-spoof", says=("done spoofing",),
           expect=((r"^\[evil\] slicehv: all partitions done$", 1), (r"^\[evil\] slicehv: exit 0 \(ok\)$", 2),
                   (r"^\[evil\] slicehv: partition honest parked: spoofed$", 1),
                   (r"^\[evil\] \?\[2J\?\[H\?\?\?\?slicehv: all partitions done$", 1),
                   long_line_split),
           why="hypervisor lines, escape sequences and a 300-character line on COM1 and by hypercall"),

    # ---- Faults.
    Attack("fault-storm", "attack=fault-storm", denials=20000,
           says=(r"100000 #UD, 100000 #BP, 20000 #GP \(rdmsr exits\) handled",),
           denied=(("rdmsr 0x12345678", 8),), why="100,000 #UD and #BP in the guest, 20,000 refused RDMSRs"),
    Attack("triple-fault", "attack=triple-fault", parked="triple-fault", says=("empty IDT, then ud2",),
           why="a triple fault"),
    Attack("halt", "attack=halt", halted=True, says=(r"cli; hlt",), why="HLT with interrupts off"),
    # An endless loop with interrupts off takes no exit at all: only the attacker's run-time
    # budget (the VMX-preemption timer) ends it. Without budget= the run could never end.
    Attack("loop-cli", "attack=loop-cli", config="isolation-budget.cfg",
           parked=r"run-time budget of 100 ms used up", says=(r"cli; endless loop",),
           why="an endless loop with interrupts off, under budget=100"),
    # A restart is a reset: nothing the faulted run left in the core's registers survives it.
    Attack("restart-state", "attack=restart-state", config="isolation-restart.cfg", runs=2,
           then_done=True, parked="triple-fault",
           expect=((r"^\[evil\] hostile: restart-state: state left in MSRs, the APIC \(a vector pending in its IRR\), "
                    r"DR0-3, DR6, CR2, CR8, XMM0, FCW, MXCSR; then a triple fault$", 1),
                   (r"^\[evil\] hostile: restart-state: restarted: 21 of 21 registers as after reset$", 1),
                   # the one vector left pending, drained at the restart's first entry
                   (r"^slicehv: stats evil: .* external-interrupt=1( |$)", 1)),
           why="on-fault=restart: SYSCALL MSRs, TSC_AUX, the APIC's SVR, LVT, divider and IRR, debug registers, CR2, "
               "CR8, x87/SSE state"),
    # HC_DONE's status is all of RDI: 1 << 32 is a failure, not 0.
    Attack("hc-done-high", "attack=hc-done-high", status=1 << 32, says=(r"done with status 0x100000000",),
           why="HC_DONE with status 1 << 32"),
    # HLT with interrupts on and nothing armed waits in the HLT activity state: only the budget
    # (the VMX-preemption timer counts there too) ends it.
    Attack("halt-sti", "attack=halt-sti", config="isolation-budget.cfg",
           parked=r"run-time budget of 100 ms used up", says=(r"sti; hlt with no interrupt armed",),
           why="HLT with interrupts on and no interrupt armed, under budget=100"),
    # on-fault=restart: the attacker is reloaded and faults again, twice, then stays parked.
    Attack("restart-triple-fault", "attack=triple-fault", config="isolation-restart.cfg", runs=3,
           parked="triple-fault", says=("empty IDT, then ud2",), why="a triple fault, restarted twice"),
    # Console writes without end: slicehv's time in those exits counts against budget=, and the
    # flood gets only its share of the UART (the rest dropped, counted, reported once) while the
    # honest partition keeps the pace it has beside an attacker that only halts.
    Attack("console-flood", "attack=console-flood", config="isolation-flood.cfg",
           parked=r"run-time budget of 200 ms used up", says=(r"console write of 4000-byte buffers, forever",),
           expect=((r"^slicehv: partition evil: console over its share of the UART: lines dropped and counted$", 1),
                   (r"^slicehv: stats evil: parked, .*, console dropped [1-9]\d* bytes$", 1),
                   r"^\[evil\] abcdefghijklmnopqrstuvwxyz", keeps_pace("isolation-halt")),
           needs=("isolation-halt",), why="HC_CONSOLE_WRITE of 4000-byte buffers in a tight loop, under budget=200"),
]


def demo_attack():
    """attack=all: every attack that lets the partition go on, then the hypervisor image."""
    return Attack("all", "attack=all", parked=ept("write", HV_IMAGE), denials=None,
                  says=((r"write 0x100000 \(the hypervisor image\)", 1),),
                  expect=((r"^\[evil\] hostile: attack \S+$", len(nonfatal_attacks()) + 1),),
                  why="every attack that lets the partition go on, in sequence, then mem-hv")


def module_args(a):
    """The hostile module's GRUB arguments after its name, as its variant carries them."""
    return a.args + (debug_args() if a.attack == "debug-regs" else "")


def variant(a):
    """The default ISO plus the isolation config and the hostile guest with a's arguments."""
    h = harness()

    def edit(cfg):
        line = f"evil {module_args(a)}"
        if len(line) > MODULE_NAME_MAX:
            raise ValueError(f"module line {line!r} is longer than slicehv keeps ({MODULE_NAME_MAX})")
        cfg = h.add_module(cfg, f"module2 /boot/{a.config} {a.config}")
        return h.add_module(cfg, f"module2 /boot/{HOSTILE.name} {line}")
    return h.IsoVariant(edit, (CONFIGS / a.config,))


def with_counts(items, prefix, suffix="$"):
    """Expectations "prefix + regex + suffix", each once unless given as (regex, n)."""
    return tuple((prefix + (i if isinstance(i, str) else i[0]) + suffix, 1 if isinstance(i, str) else i[1])
                 for i in items)


def both_ran(runs):
    """Both partitions built and launched (the attacker runs times), the honest one on core 0
    with the toy's exact lines and never denied anything; the run's closing line."""
    h = harness()
    evil = h.partition_launched(h.Part("evil", 1, SLICE, EVIL_BASE))
    return ((r"^slicehv: partition \S+: ept \d+ table pages", 2),
            (r"^slicehv: partition \S+ cpu \d+ mem \S+: launched$", 1 + runs),
            (r"^slicehv: stats \S+: ", 2), (r"^slicehv: all partitions done$", 1),
            h.partition_launched(h.Part("honest", 0, SLICE, HONEST_BASE)), (evil[0], runs),
            h.partition_done("honest"), h.guest_ran("honest", 0, 2, 0))


def attacker_end(a):
    """How the attacker stops: parked (reason, register dump), halted, or done with status 0."""
    count = r"\d+" if a.denials is None else str(a.denials)
    restarts = f", restarts {a.runs - 1}" if a.runs > 1 else ""
    if a.then_done:
        return ((rf"^slicehv: partition evil parked: {a.parked} at rip {HEX}$", a.runs - 1),
                (rf"^slicehv: partition evil: rip {HEX} rsp {HEX} rflags {HEX} cr0 ", a.runs - 1),
                (r"^slicehv: partition evil restarting \(\d of \d\)$", a.runs - 1),
                (rf"^\[evil\] hostile: {a.attack}: done, 0 not contained$", 1),
                (rf"^slicehv: stats evil: done status 0{restarts}, denied {count}, exits ", 1))
    if a.status:
        return ((rf"^slicehv: stats evil: done status {a.status}, denied {count}, exits ", 1),)
    if a.parked:
        return ((rf"^slicehv: partition evil parked: {a.parked} at rip {HEX}$", a.runs),
                (rf"^slicehv: partition evil: rip {HEX} rsp {HEX} rflags {HEX} cr0 ", a.runs),
                (rf"^slicehv: partition evil: rax {HEX} rbx ", a.runs),
                (rf"^slicehv: partition evil: r8 {HEX} r9 ", a.runs),
                (r"^slicehv: partition evil restarting \(\d of \d\)$", a.runs - 1),
                (rf"^slicehv: stats evil: parked{restarts}, denied {count}, exits ", 1))
    if a.halted:
        return ((rf"^slicehv: partition evil halted at rip {HEX}: nothing can wake it$", 1),
                (rf"^slicehv: stats evil: halted, denied {count}, exits ", 1))
    return ((rf"^\[evil\] hostile: {a.attack}: done, 0 not contained$", 1),
            (rf"^slicehv: stats evil: done status 0, denied {count}, exits ", 1))


def expectations(a):
    """Everything scenario isolation-<a.name> asserts."""
    opening = () if a.attack == "all" else ((rf"^\[evil\] hostile: attack {a.attack}$", a.runs),)
    says = tuple((s, a.runs) if isinstance(s, str) else (s[0], s[1] * a.runs) for s in a.says)
    return (((r"^slicehv: starting$", 1), (rf"^slicehv: config: {re.escape(a.config)}$", 1))
            + both_ran(a.runs)
            + ((rf"^\[evil\] hostile: evil apic \d+ slice {EVIL_BASE:#x}-{EVIL_END:#x}$", a.runs),) + opening
            + with_counts(says, rf"^\[evil\] hostile: {re.escape(a.attack) if a.attack != 'all' else '[a-z0-9-]+'}: ")
            + with_counts(a.denied, r"^slicehv: partition evil: denied ", LAST_DENIAL)
            + attacker_end(a) + a.expect)


def forbidden(a):
    """What must never show: an escape, a guest surprised by a fault, any trouble for honest."""
    h = harness()
    out = (r"NOT CONTAINED", r"^\[evil\] hostile: .*: unexpected ", r"toy: memory FAIL",
           r"^slicehv: partition honest: denied ", r"^slicehv: partition honest parked",
           )
    if a.runs == 1:
        out += (r"^slicehv: partition evil restarting",)
    if not a.parked:
        out += (h.PARKED,)
    if a.status:
        out += (r"hostile: .*: done, ",)
    if a.denials == 0:
        out += (r"^slicehv: partition evil: denied ",)
    return out + a.forbid


def scenario(a):
    """The Scenario for attack a."""
    h = harness()
    return h.Scenario(f"isolation-{a.name}", cpus=2, grub=f"isolation-{a.name}",
                      exit=FAILED if (a.parked and not a.then_done) or a.halted or a.status else OK,
                      expect=expectations(a), forbid=forbidden(a), timeout=60, needs=a.needs)


_ALL = ATTACKS + [demo_attack()]
ISOLATION_VARIANTS = {f"isolation-{a.name}": variant(a) for a in _ALL}
ISOLATION_SCENARIOS = [scenario(a) for a in _ALL]



# ---- Channels: the hostile guest on both sides of a channel (configs/isolation/channel-*.cfg).
#
# The attacker is `evil` on core 1, its peer on core 0 runs one of hostile.c's chan- roles: it
# leaves a pattern and checks it after the attacker has ended (chan-keeper), counts its timer and
# the doorbells of a storm (chan-target), or watches a peer that parks and restarts
# (chan-survivor). Each scenario asserts the attacker's end, the peer's report, and that the peer
# was never parked nor denied anything.

RO_BASE, RO_SIZE = 0xa400000, 64 << 10     # channel-attacks.cfg's ro
CW_PATTERN = 6                             # hostile.c enum chan_word: the pattern's first word
PATTERN_WORDS = 256                        # hostile.c CHAN_PATTERN_WORDS
CHANNEL_INFO_SIZE = 16 + 2 * 8 + 6 * 4     # hv/hypercall.h struct hc_channel_info: name, 2 u64, 6 u32
DOORBELL_INTERVAL_US = 20                  # hv/hypercall.h HC_DOORBELL_INTERVAL_US
TSC_PER_US = engine.BOCHS_IPS / 1_000_000  # Bochs's TSC counts its ips= (the storm's gaps agree)
CALIBRATION = 0.02                         # slicehv's tsc_per_ms against the PIT: within 2 %
TIMER_KEPT = 0.9                           # the target's timer rate in the storm, against quiet


@dataclass(frozen=True)
class ChannelAttack:
    """One boot of the hostile guest against a channel, with its peer."""
    name: str                  # scenario "channel-<name>"
    args: str                  # the attacker's arguments
    peer: str                  # the peer's partition (and module) name and its arguments
    config: str                # in configs/isolation/
    parked: str = ""           # the attacker's park reason ("": it finishes with status 0)
    others: tuple = ()         # more peers, as peer, on the cores after the attacker's
    runs: int = 1              # times the attacker starts
    denials: int | None = 0    # the attacker's denied count (None: any)
    expect: tuple = ()         # as scenarios.py's expect
    why: str = ""              # what the attack tries

    @property
    def attack(self):
        """The attacker's attack, as it prints it."""
        return re.match(r"attack=(\S+)", self.args).group(1)


def channel_ept(access, gpa):
    """The park reason of an EPT violation by the attacker at gpa (an address, or a regex for one)."""
    at = gpa if isinstance(gpa, str) else f"{gpa:#x}"
    return rf"ept-violation: {access} at guest-physical {at} \(slice {EVIL_BASE:#x}-{EVIL_END - 1:#x}\)"


def peer_says(peer, *lines):
    """The peer's lines after "hostile: <its role>: ", once each (peer: "<name> attack=<role>")."""
    name, role = re.fullmatch(r"(\S+) attack=(\S+)", peer).groups()
    return tuple((rf"^\[{name}\] hostile: {role}: {ln}$", 1) for ln in lines)


def evil_says(attack, *lines):
    """The attacker's lines after "hostile: <attack>: ", once each."""
    return tuple((rf"^\[evil\] hostile: {attack}: {ln}$", 1) for ln in lines)


KEEPER = "peer attack=chan-keeper"
# channel-attacks.cfg as slicehv shows it: its rows, and each endpoint's rights as the isolation
# check walked them (the attacker's ro read-only; nothing executable).
ATTACKS_CONFIG = (
    (rf"^slicehv: channel ro 64K@{RO_BASE:#x} writer peer reader evil exec - vector 0x50$", 1),
    (rf"^slicehv: channel rw 64K@{HEX} writer peer,evil reader - exec - vector 0x50$", 1),
    *((rf"^slicehv: isolation: partition {p}: ept maps only its slice {HEX}-{HEX} and 2 channels, identity, ", 1)
      for p in ("peer", "evil")),
    (rf"^slicehv: isolation: partition peer: channel ro {RO_BASE:#x}-{RO_BASE + RO_SIZE - 1:#x} at guest-physical "
     rf"{RO_BASE:#x}, read-write$", 1),
    (rf"^slicehv: isolation: partition evil: channel ro {RO_BASE:#x}-{RO_BASE + RO_SIZE - 1:#x} at guest-physical "
     rf"{RO_BASE:#x}, read-only$", 1),
    (rf"^slicehv: isolation: partition (peer|evil): channel rw {HEX}-{HEX} at guest-physical {HEX}, read-write$", 2))


def keeper_found(generation, doorbells):
    """chan-keeper's report: both channels' patterns as it wrote them, once the attacker ended."""
    return peer_says(KEEPER, rf"2 channels, a pattern of {PATTERN_WORDS} words in each it writes",
                     *(rf"channel {c}: {PATTERN_WORDS} of {PATTERN_WORDS} words as written, generation "
                       rf"{generation}, peers running 0" for c in ("ro", "rw")), rf"{doorbells} doorbells")


def parked_by(what):
    """After a park: both channels' generation 1, and a doorbell for each (two, or one if the
    second came while the first was still pending)."""
    return ATTACKS_CONFIG + keeper_found(1, "[12]") + what


def exec_at_channel_end(serial, ctx):
    """chan-exec's call, and the instruction fetch that parked it, at rw's last word."""
    del ctx
    row = re.search(r"^slicehv: channel rw 64K@(0x[0-9a-f]+) ", serial, re.M)
    if not row:
        return ["no row for channel rw"]
    at = int(row[1], 16) + (64 << 10) - 8
    want = (rf"^\[evil\] hostile: chan-exec: call {at:#x} \(a ret written into a channel mapped without exec=\)$",
            rf"^slicehv: partition evil parked: {channel_ept('instruction fetch', at)} at rip {at:#x}$")
    return [f"missing /{rx}/" for rx in want if not re.search(rx, serial, re.M)]


STORM_LINE = (r"^\[evil\] hostile: chan-storm: channel (\w+): (\d+) doorbells in (\d+) ticks: (\d+) accepted, "
              r"(\d+) peers rung, (\d+) busy; accepted (\d+)-\d+ ticks apart$")


def storm_bounded(most_busy):
    """A check of the storm's numbers on the target's channel bell: most rings busy if most_busy
    (the attacker rings nothing else), else some; no two accepted closer than
    HC_DOORBELL_INTERVAL_US, so the rings accepted (and the doorbells the target took) within the
    storm's length / HC_DOORBELL_INTERVAL_US + 1; the target's timer at its quiet rate through the
    storm. Every busy ring, on any channel, counted as denied."""
    return lambda serial, ctx: storm_problems(serial, most_busy)


def storm_problems(serial, most_busy):
    """What storm_bounded(most_busy) finds wrong in serial."""
    sent = {m[0]: tuple(map(int, m[1:])) for m in re.findall(STORM_LINE, serial, re.M)}
    took = re.search(r"^\[target\] hostile: chan-target: timer every \d+ counts: (\d+) ticks in (\d+) quiet "
                     r"ticks, (\d+) in (\d+) ticks of storm; (\d+) doorbells$", serial, re.M)
    denied = re.search(r"^slicehv: stats evil: done status 0, denied (\d+),", serial, re.M)
    if "bell" not in sent or not took or not denied:
        return ["no storm line for channel bell, target line or attacker stats line"]
    rings, span, accepted, rung, busy, least = sent["bell"]
    quiet, quiet_span, storm, storm_span, bells = map(int, took.groups())
    interval = DOORBELL_INTERVAL_US * TSC_PER_US * (1 - CALIBRATION)
    bound = span / interval + 1
    problems = []
    if least < interval:
        problems.append(f"two rings accepted {least} ticks apart: less than {interval:.0f}")
    if busy <= (accepted if most_busy else 0) or accepted + busy != rings:
        problems.append(f"{rings} rings: {accepted} accepted, {busy} busy: too few busy, or others")
    if int(denied[1]) != sum(c[4] for c in sent.values()):
        problems.append(f"busy rings {[c[4] for c in sent.values()]} but the attacker's denied count is {denied[1]}")
    if accepted > bound or rung != accepted or bells > accepted:
        problems.append(f"{accepted} rings accepted ({rung} rung, {bells} taken) in {span} ticks: "
                        f"more than {bound:.1f}, or some not rung")
    if not quiet or storm / storm_span < TIMER_KEPT * quiet / quiet_span:
        problems.append(f"timer: {storm} ticks in {storm_span} in the storm, {quiet} in {quiet_span} quiet")
    return problems


def answers_not_held(serial, ctx):
    """On the pair channel every ring of the echo answers one (none busy), and the attacker's
    answered rings there go out more often than the interval would let them: the exception is
    real, and it does not carry over to the target's channel (storm_bounded)."""
    del ctx
    sent = {m[0]: tuple(map(int, m[1:])) for m in re.findall(STORM_LINE, serial, re.M)}
    echo = re.search(r"^\[echo\] hostile: chan-echo: (\d+) doorbells, (\d+) answered, (\d+) busy$", serial, re.M)
    if "pair" not in sent or not echo:
        return ["no storm line for channel pair, or no echo line"]
    bells, answered, busy = map(int, echo.groups())
    least = sent["pair"][5]
    if busy or not answered or least >= DOORBELL_INTERVAL_US * TSC_PER_US:
        return [f"echo: {bells} doorbells, {answered} answered, {busy} busy; the attacker's answers at "
                f"least {least} ticks apart"]
    return []


# The target took every doorbell and timer tick without an exit: its only WRMSR exit is the EFER
# write of guest/entry.asm (the SVR, timer and EOI writes pass through), and no interrupt exits.
NO_TARGET_EXITS = (r"^slicehv: stats target: done status 0, denied 0, exits \d+:(?!.* external-interrupt=).* "
                   r"wrmsr=1( |$)", 1)
RO_SAYS = rf"channel ro at {RO_BASE:#x}\+{RO_SIZE:#x} rights 1"   # the attacker found its read-only channel
STRANGER = (2, (1 << 64) - 1)    # chan-ring-stranger's doorbells: just past its two channels, and ~0
CHANNEL_ATTACKS = [
    ChannelAttack("write-ro", "attack=chan-write-ro", KEEPER, "channel-attacks.cfg",
                  parked=channel_ept("write", RO_BASE + 8 * CW_PATTERN),
                  expect=parked_by(evil_says("chan-write-ro", RO_SAYS, rf"write {RO_BASE + 8 * CW_PATTERN:#x} "
                                                                       r"\(a channel it only reads\)")),
                  why="a write into the pattern of a channel it only reads"),
    ChannelAttack("exec", "attack=chan-exec", KEEPER, "channel-attacks.cfg",
                  parked=channel_ept("instruction fetch", HEX),
                  expect=parked_by(evil_says("chan-exec", rf"channel rw at {HEX}\+{RO_SIZE:#x} rights 3")
                                   + (exec_at_channel_end,)),
                  why="a RET written into a channel mapped without exec=, then called"),
    ChannelAttack("below", "attack=chan-below", KEEPER, "channel-attacks.cfg",
                  parked=channel_ept("write", RO_BASE - 8),
                  expect=parked_by(evil_says("chan-below", RO_SAYS,
                                             rf"write {RO_BASE - 8:#x} \(just below the channel\)")),
                  why="the word just below a channel, in free RAM"),
    ChannelAttack("above", "attack=chan-above", KEEPER, "channel-attacks.cfg",
                  parked=channel_ept("write", RO_BASE + RO_SIZE),
                  expect=parked_by(evil_says("chan-above", RO_SAYS,
                                             rf"write {RO_BASE + RO_SIZE:#x} \(just past the channel's end\)")),
                  why="the word at a channel's end, in free RAM"),
    ChannelAttack("deputy", "attack=chan-deputy", KEEPER, "channel-attacks.cfg",
                  expect=ATTACKS_CONFIG + keeper_found(0, 0)
                  + evil_says("chan-deputy", RO_SAYS,
                              rf"channel info to {RO_BASE + 8 * CW_PATTERN:#x} \(the channel it only reads\): "
                              r"refused: returned -2",
                              rf"channel info to {EVIL_END - CHANNEL_INFO_SIZE // 2:#x} \(across the slice's end\): "
                              r"refused: returned -2",
                              rf"partition info to {RO_BASE + 8 * CW_PATTERN:#x} \(the channel it only reads\): "
                              r"refused: returned -2",
                              rf"console write {RO_BASE + 8 * CW_PATTERN:#x} len 0x8 \(out of the channel\): "
                              r"refused: returned -2",
                              r"channel info into its own memory: returned 0, channel ro"),
                  why="HC_CHANNEL_INFO and HC_PARTITION_INFO into a read-only channel and across the slice's end, "
                      "a console write out of the channel"),
    # The peer is at APIC id 0: the fixed IPI at its core is ICR 0 << 32 | the channel's vector.
    ChannelAttack("ring-stranger", "attack=chan-ring-stranger", KEEPER, "channel-attacks.cfg", denials=3,
                  expect=ATTACKS_CONFIG + keeper_found(0, 0)
                  + evil_says("chan-ring-stranger",
                              *(rf"doorbell on channel {k} of 2: refused: returned -4" for k in STRANGER),
                              r"wrmsr 0x830 <- 0x50 \(a fixed IPI at another core\): refused with #GP")
                  + with_counts(deny_lines(*(rf"doorbell on channel {k}: it has 2 channels" for k in STRANGER),
                                           apic_refusal(r"wrmsr 0x830 value 0x50: only fixed IPIs to itself")[0]),
                                r"^slicehv: partition evil: denied "),
                  why="HC_DOORBELL past its channels, a fixed IPI through the ICR at the peer's core"),
    ChannelAttack("storm", "attack=chan-storm", "target attack=chan-target", "channel-storm.cfg", denials=None,
                  expect=(storm_bounded(True), NO_TARGET_EXITS,
                          (r"^slicehv: partition evil: denied doorbell on channel bell within 20 us of the last"
                           + LAST_DENIAL, 8)),
                  why="thousands of HC_DOORBELL back to back at a peer with its own periodic timer"),
    ChannelAttack("answer-storm", "attack=chan-storm", "target attack=chan-target", "channel-answer-storm.cfg",
                  others=("echo attack=chan-echo",), denials=None,
                  expect=(storm_bounded(False), NO_TARGET_EXITS, answers_not_held),
                  why="the storm, and rings an accomplice answers on a channel of the two: those go out at once, "
                      "the target's stay held"),
    # The park rings the survivor and grows the generation; across the restart the peer counts as
    # running (hv/partition.c keeps its state), after the second park it does not, and a ring
    # reaches no one. The restarted attacker finds its pattern: contents survive a restart.
    ChannelAttack("restart", "attack=chan-restart", "survivor attack=chan-survivor", "channel-restart.cfg",
                  parked="triple-fault", runs=2,
                  expect=evil_says("chan-restart",
                                   rf"a pattern of {PATTERN_WORDS} words left in channel keep, generation 0",
                                   rf"restarted: {PATTERN_WORDS} of {PATTERN_WORDS} words as left, generation 1, "
                                   r"peers running 1")
                  + ((r"^\[evil\] hostile: chan-restart: empty IDT, then ud2$", 2),
                     (r"^slicehv: partition evil restarting \(1 of 1\)$", 1))
                  + peer_says("survivor attack=chan-survivor",
                              r"peer restarted: 1 doorbells, generation 0 -> 1, peers running 1 of 1",
                              r"doorbell to the running peer: returned 1",
                              r"peer parked: 2 doorbells, generation 2, peers running 0 of 1",
                              r"doorbell to the parked peer: returned 0"),
                  why="a pattern left in a channel, the partition restarted: found again; the peer told of each park"),
]


def channel_variant(c):
    """The default ISO plus c's config, the attacker and its peer."""
    h = harness()

    def edit(cfg):
        cfg = h.add_module(cfg, f"module2 /boot/{c.config} {c.config}")
        for peer in (c.peer,) + c.others:
            cfg = h.add_module(cfg, f"module2 /boot/{HOSTILE.name} {peer}")
        return h.add_module(cfg, f"module2 /boot/{HOSTILE.name} evil {c.args}")
    return h.IsoVariant(edit, (CONFIGS / c.config,))


def channel_expectations(c):
    """Everything scenario channel-<c.name> asserts: one boot, both ran, the peer finished clean
    and the attacker ended as c says, then c's own."""
    count = r"\d+" if c.denials is None else str(c.denials)
    restarts = f", restarts {c.runs - 1}" if c.runs > 1 else ""
    end = ((rf"^slicehv: partition evil parked: {c.parked} at rip {HEX}$", c.runs),
           (rf"^slicehv: stats evil: parked{restarts}, denied {count}, exits ", 1)) if c.parked else (
           (rf"^\[evil\] hostile: {c.attack}: done, 0 not contained$", 1),
           (rf"^slicehv: stats evil: done status 0, denied {count}, exits ", 1))
    peers = tuple(re.fullmatch(r"(\S+) attack=(\S+)", p).groups() for p in (c.peer,) + c.others)
    return (((r"^slicehv: starting$", 1), (rf"^slicehv: config: {re.escape(c.config)}$", 1),
             (rf"^\[evil\] hostile: attack {c.attack}$", c.runs), (r"^slicehv: all partitions done$", 1))
            + tuple((rf"^\[{name}\] hostile: {role}: done, 0 not contained$", 1) for name, role in peers)
            + tuple((rf"^slicehv: stats {name}: done status 0, denied 0, exits ", 1) for name, _ in peers)
            + end + c.expect)


def channel_forbidden(c):
    """An escape, a surprised or stranded guest, any trouble for the peer; a park or denial of
    the attacker that c does not expect."""
    h = harness()
    peers = "|".join(p.split()[0] for p in (c.peer,) + c.others)
    return ((r"NOT CONTAINED", r"^\[\w+\] hostile: .*: unexpected ", r"timed out waiting",
             rf"^slicehv: partition ({peers}): denied ", rf"^slicehv: partition ({peers}) parked")
            + (() if c.parked else (h.PARKED,)) + (() if c.denials != 0 else (r"^slicehv: partition evil: denied ",)))


def channel_scenario(c):
    """The Scenario for channel attack c."""
    return harness().Scenario(f"channel-{c.name}", cpus=2 + len(c.others), grub=f"channel-{c.name}", timeout=60,
                              exit=FAILED if c.parked else OK, expect=channel_expectations(c),
                              forbid=channel_forbidden(c))


ISOLATION_VARIANTS.update({f"channel-{c.name}": channel_variant(c) for c in CHANNEL_ATTACKS})
ISOLATION_SCENARIOS += [channel_scenario(c) for c in CHANNEL_ATTACKS]
