#!/usr/bin/env python3
"""Write the seed corpora into <out>/<target>/: small valid and nearly valid inputs.

The seeds are this script: `make fuzz` runs it into $(BUILD)/fuzz/corpus, so they are readable
here rather than committed as binaries. Deterministic, so rerunning it changes nothing. With
--toy-elf PATH it also stores a stripped copy of a built guest as <out>/elf/toy.elf.
"""
import argparse
import os
import shutil
import struct
import subprocess
import tempfile

CORPUS = "corpus"   # set by main from --out


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- config: partition.cfg text, against the machine in fuzz_config.c ----

CONFIGS = {
    "valid.cfg": """\
# Two guests and a tiny one: real-time, general-purpose, idle.
partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf
partition gp  cpu=2 mem=1G@4G image=rt.elf console=gp-con on-fault=restart restarts=5
partition idle cpu=3 mem=2048K@0x40000000 image=/boot/toy.elf on-fault=park budget=10
""",
    # One line per rule, after a valid partition the later ones collide with.
    "errors.cfg": """\
partition a cpu=0 mem=4M@0x10000000 image=toy.elf\t# tab, then a comment: \x01 anything
partition a cpu=1 mem=4M@0x20000000 image=toy.elf
partition b cpu=0 mem=4M@0x10000000 image=toy.elf
partition c cpu=9 mem=2M@0x0 image=nope.elf
partition c2 cpu=2 mem=3M@0x0 image=toy.elf colour=red
partition d cpu=2 mem=16M@0x20000000 image=big.elf
partition E cpu=3
partition f cpu=3 mem=18446744073709551616@0x10000000000000000 image=toy.elf
garbage line here\r
partition g cpu=3 mem=2M@0x30000000 image=toy.elf on-fault=explode
partition h cpu=3 mem=2M@0x30000000 restarts=0x10
partition i cpu=3 mem=2M@0x30000000 image=toy.elf mem=4M@0
partition j 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
partition k cpu=3 mem=2M@0x30000000 image=""" + "x" * 250 + """
partition l cpu=3 mem=2M@0x30000000 image=toy.elf console=\x7f
partition m cpu=3 mem=2M@0x30000000 image=toy.elf budget=4294967296
""",
    "crlf.cfg": "partition p0 cpu=0 mem=1G@0x100000000 image=rt.elf\r\n"
                "partition p1 cpu=1 mem=0x200000@0x60000000 image=toy.elf restarts=1\r\n",
    # Channels: placed, at a base, every right, and one of each refusal.
    "channels.cfg": """\
partition rt0 cpu=1 mem=64M@0x8000000 image=toy.elf
partition gp cpu=2 mem=64M@0x10000000 image=toy.elf
channel telemetry size=64K writer=rt0 reader=gp
channel ring size=1M base=0x20000000 rw=rt0,gp exec=gp vector=0x60
channel lonely size=4K writer=rt0
channel twice size=4K writer=rt0 reader=rt0
channel odd size=5000 writer=rt0 reader=gp
channel over size=4K base=0x8000000 writer=rt0 reader=gp
channel ghost size=4K writer=rt0 reader=nobody,
channel ring size=4K writer=rt0 reader=gp vector=7
""",
    # One partition too many, most on CPUs that do not exist.
    "many.cfg": "".join("partition p%d cpu=%d mem=2M@%#x image=toy.elf\n"
                        % (i, i, 0x10000000 + i * 0x200000) for i in range(17)),
}


def config_corpus():
    for name, text in CONFIGS.items():
        write("config", name, text.encode("latin-1"))


# ---- elf: ELF64 x86-64 files ----

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_NOTE = 1, 4


def elf(etype, entry, segs, size):
    """segs: (type, offset, vaddr, paddr, filesz, memsz); file bytes follow a pattern."""
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    data = bytearray((i * 7 + 3) & 0xFF for i in range(size))
    data[0:EHDR.size] = EHDR.pack(ident, etype, 62, 1, entry, EHDR.size, 0, 0, EHDR.size,
                                  PHDR.size, len(segs), 0, 0, 0)
    for i, (t, off, va, pa, fsz, msz) in enumerate(segs):
        o = EHDR.size + i * PHDR.size
        data[o:o + PHDR.size] = PHDR.pack(t, 7, off, va, pa, fsz, msz, 0x1000)
    return bytes(data)


def elf_corpus(toy):
    # Text, then data with bss; entry in the text.
    write("elf", "two-seg.elf", elf(2, 0x100010, [
        (PT_LOAD, 0x200, 0x100000, 0x100000, 0x100, 0x100),
        (PT_LOAD, 0x300, 0x102000, 0x102000, 0x80, 0x1000)], 0x380))
    # ET_DYN linked high, loaded by physical address; a note and an empty PT_LOAD to skip.
    write("elf", "dyn.elf", elf(3, 0xffffffff80000040, [
        (PT_NOTE, 0x100, 0, 0, 0x10, 0x10),
        (PT_LOAD, 0, 0x5000, 0x5000, 0, 0),
        (PT_LOAD, 0x180, 0xffffffff80000000, 0x200000, 0x80, 0x80)], 0x200))
    if toy:
        dst = os.path.join(CORPUS, "elf", "toy.elf")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "toy.elf")
            subprocess.run(["objcopy", "--strip-all", toy, out], check=True)
            shutil.copyfile(out, dst)


# ---- multiboot: byte 0 picks the magic, then memory at INFO_BASE ----

INFO_BASE = 0x10000


def checksummed(b, at):
    b = bytearray(b)
    b[at] = (-sum(b)) & 0xFF
    return bytes(b)


def rsdp(rev, rsdt, xsdt=0):
    v1 = checksummed(b"RSD PTR \x00SLICE " + bytes([rev]) + struct.pack("<I", rsdt), 8)
    if rev < 2:
        return v1
    return checksummed(v1 + struct.pack("<IQ", 36, xsdt) + bytes(4), 32)


def mb2_tag(t, payload):
    tag = struct.pack("<II", t, 8 + len(payload)) + payload
    return tag + bytes(-len(tag) % 8)


MMAP = [(0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2), (0x100000, 0x7EE0000, 1),
        (0x7FE0000, 0x20000, 3), (0xFFFC0000, 0x40000, 2)]


def mb2_info():
    tags = mb2_tag(1, b"console=com1 verbose\0")
    tags += mb2_tag(2, b"GRUB 2.06\0")
    tags += mb2_tag(3, struct.pack("<II", 0x200000, 0x208000) + b"/boot/toy.elf name=a\0")
    tags += mb2_tag(3, struct.pack("<II", 0x208000, 0x208100) + b"/boot/partition.cfg\0")
    tags += mb2_tag(6, struct.pack("<II", 24, 0) +
                    b"".join(struct.pack("<QQII", b, n, t, 0) for b, n, t in MMAP))
    tags += mb2_tag(8, bytes(24))  # framebuffer: a tag the parser skips
    tags += mb2_tag(15, rsdp(2, 0xE0040, 0xE0080))
    tags += mb2_tag(14, rsdp(0, 0xE0040))
    tags += mb2_tag(0, b"")
    return struct.pack("<II", 8 + len(tags), 0) + tags


def mb1_info():
    # Layout inside the image: the 68-byte information, then strings, module list, memory map.
    strings = {"cmd": b"hv.elf console=com1\0", "loader": b"GRUB 0.97\0",
               "m0": b"/boot/toy.elf\0", "m1": b"partition.cfg\0"}
    off, addr = 68, {}
    blob = b""
    for k, s in strings.items():
        addr[k] = INFO_BASE + off + len(blob)
        blob += s
    blob += bytes(-(68 + len(blob)) % 8)
    mods_addr = INFO_BASE + 68 + len(blob)
    blob += struct.pack("<IIII", 0x200000, 0x208000, addr["m0"], 0)
    blob += struct.pack("<IIII", 0x208000, 0x208100, addr["m1"], 0)
    mmap_addr = INFO_BASE + 68 + len(blob)
    mmap = b"".join(struct.pack("<IQQI", 20, b, n, t) for b, n, t in MMAP)
    blob += mmap
    flags = (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9)
    info = struct.pack("<7I", flags, 639, 130048, 0, addr["cmd"], 2, mods_addr)
    info += bytes(16) + struct.pack("<6I", len(mmap), mmap_addr, 0, 0, 0, addr["loader"])
    assert len(info) == 68
    return info + blob


def multiboot_corpus():
    # Selector byte: 0 multiboot2, 1 multiboot1, 2 multiboot2 misaligned, 3 unknown magic.
    write("multiboot", "mb2.bin", b"\x00" + mb2_info())
    write("multiboot", "mb2-misaligned.bin", b"\x02" + mb2_info())
    write("multiboot", "bad-magic.bin", b"\x03" + mb2_info())
    write("multiboot", "mb1.bin", b"\x01" + mb1_info())
    minimal = mb2_tag(6, struct.pack("<IIQQII", 24, 0, 0x100000, 0x1000000, 1, 0))
    minimal += mb2_tag(0, b"")
    write("multiboot", "mb2-min.bin", b"\x00" + struct.pack("<II", 8 + len(minimal), 0) + minimal)
    # Limits: one memory map entry and one module past BOOT_MAX_MMAP and BOOT_MAX_MODULES.
    many = mb2_tag(6, struct.pack("<II", 24, 0) + b"".join(
        struct.pack("<QQII", 0x100000 + i * 0x10000, 0x10000, 1, 0) for i in range(65)))
    many += mb2_tag(0, b"")
    write("multiboot", "mb2-mmap65.bin", b"\x00" + struct.pack("<II", 8 + len(many), 0) + many)
    mods = b"".join(mb2_tag(3, struct.pack("<II", 0x200000 + i * 0x1000, 0x201000 + i * 0x1000) +
                            b"m\0") for i in range(17))
    mods += mb2_tag(0, b"")
    write("multiboot", "mb2-mods17.bin", b"\x00" + struct.pack("<II", 8 + len(mods), 0) + mods)


# ---- acpi: 40-byte header (flags, EBDA segment, loader's RSDP copy), then memory at 0xE0000 ----

IMAGE_BASE = 0xE0000


def sdt(sig, body, rev=1):
    hdr = sig + struct.pack("<IBB", 36 + len(body), rev, 0) + b"SLICE " + b"SLICEHV " + \
          struct.pack("<III", 1, 0x534C4943, 1)
    return checksummed(hdr + body, 9)


def madt(entries, lapic=0xFEE00000):
    return sdt(b"APIC", struct.pack("<II", lapic, 1) + b"".join(entries), rev=4)


def lapic(uid, apic_id, enabled=True):
    return struct.pack("<BBBBI", 0, 8, uid, apic_id, 1 if enabled else 0)


def x2apic(apic_id, enabled=True):
    return struct.pack("<BBHIII", 9, 16, 0, apic_id, 1 if enabled else 0, apic_id)


IOAPIC = struct.pack("<BBBBII", 1, 12, 4, 0, 0xFEC00000, 0)
OVERRIDE_IRQ0 = struct.pack("<BBBBIH", 2, 10, 0, 0, 2, 0)
LAPIC_OVERRIDE = struct.pack("<BBHQ", 5, 12, 0, 0xFEE00000)


def image(tables):
    """tables: {offset: bytes} inside the image, which starts at IMAGE_BASE."""
    size = max(o + len(t) for o, t in tables.items())
    img = bytearray(size)
    for o, t in tables.items():
        img[o:o + len(t)] = t
    return bytes(img)


FLAG_COPY, FLAG_BDA, FLAG_FIX_SUMS = 1, 2, 4


def acpi_header(flags, ebda_seg=0, copy=b""):
    return bytes([flags, 0]) + struct.pack("<H", ebda_seg) + copy.ljust(36, b"\0")


def acpi_corpus():
    facp = sdt(b"FACP", bytes(80))
    cpus = madt([lapic(0, 0), lapic(1, 1), lapic(2, 2, enabled=False), lapic(3, 3), IOAPIC,
                 OVERRIDE_IRQ0])
    rsdt = sdt(b"RSDT", struct.pack("<II", IMAGE_BASE + 0x100, IMAGE_BASE + 0x200))
    # Found by the scan of 0xE0000-0xFFFFF: RSDP 1.0 -> RSDT -> FACP, MADT.
    rsdt_image = image({0: rsdp(0, IMAGE_BASE + 0x40), 0x40: rsdt, 0x100: facp, 0x200: cpus})
    write("acpi", "rsdt.bin", acpi_header(0) + rsdt_image)
    # The same with checksums fixed by the harness, so mutations get past them.
    write("acpi", "rsdt-fixsums.bin", acpi_header(FLAG_FIX_SUMS) + rsdt_image)
    # More enabled CPUs than HV_MAX_CPUS (16); and a MADT too short for its own header.
    many = madt([lapic(i, i) for i in range(18)])
    write("acpi", "cpus18.bin", acpi_header(FLAG_FIX_SUMS) + image(
        {0: rsdp(0, IMAGE_BASE + 0x40), 0x40: sdt(b"RSDT", struct.pack("<I", IMAGE_BASE + 0x100)),
         0x100: many}))
    short = sdt(b"APIC", struct.pack("<I", 0xFEE00000))
    write("acpi", "short-madt.bin", acpi_header(0) + image(
        {0: rsdp(0, IMAGE_BASE + 0x40), 0x40: sdt(b"RSDT", struct.pack("<I", IMAGE_BASE + 0x100)),
         0x100: short}))
    # The loader's copy of an RSDP 2.0 -> XSDT -> MADT with x2APICs and an address override.
    x2 = madt([x2apic(0), x2apic(0x100), x2apic(7, enabled=False), lapic(5, 5), LAPIC_OVERRIDE])
    xsdt = sdt(b"XSDT", struct.pack("<QQ", IMAGE_BASE + 0x100, IMAGE_BASE + 0x200))
    write("acpi", "xsdt-copy.bin", acpi_header(FLAG_COPY | FLAG_FIX_SUMS,
                                               copy=rsdp(2, 0, IMAGE_BASE + 0x40)) + image(
        {0x40: xsdt, 0x100: facp, 0x200: x2}))
    # Found in the EBDA named by the BIOS data area: RSDP 2.0 with both RSDT and XSDT.
    ebda = IMAGE_BASE + 0x400
    write("acpi", "ebda.bin", acpi_header(FLAG_BDA, ebda_seg=ebda >> 4) + image(
        {0x40: rsdt, 0x100: facp, 0x200: cpus, 0x410: rsdp(2, IMAGE_BASE + 0x40, 0)}))


# ---- linux_pvh: vmlinux-like ELF files with the PVH note; linux_bz: bzImage files ----

def elf_note(owner, ntype, desc, align=4):
    name = owner + b"\0"
    pad = lambda b: b + bytes(-len(b) % align)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def vmlinux(notes, paddr=0x110000, note_align=4, entry_off=0x850):
    """A PT_NOTE with notes at 0x200, text at paddr from file 0x1000 (0x1000 bytes, 0x3000 in memory)."""
    blob = b"".join(notes)
    data = bytearray(elf(2, paddr, [
        (PT_NOTE, 0x200, 0, 0, len(blob), len(blob)),
        (PT_LOAD, 0x1000, 0xffffffff80000000 + paddr, paddr, 0x1000, 0x3000)], 0x2000))
    data[0x200:0x200 + len(blob)] = blob
    o = EHDR.size  # the PT_NOTE's p_align, which sets its notes' padding
    data[o + PHDR.size - 8:o + PHDR.size] = struct.pack("<Q", note_align)
    return bytes(data)


def linux_pvh_corpus():
    linux = elf_note(b"Xen", 6, b"linux\0")
    entry8 = elf_note(b"Xen", 18, struct.pack("<Q", 0x110850))
    write("linux_pvh", "vmlinux.elf", vmlinux([linux, elf_note(b"GNU", 3, bytes(20)), entry8]))
    write("linux_pvh", "entry4.elf", vmlinux([elf_note(b"Xen", 18, struct.pack("<I", 0x110010))]))
    write("linux_pvh", "align8.elf", vmlinux([elf_note(b"Xen", 18, struct.pack("<Q", 0x110850), 8)],
                                             note_align=8))
    write("linux_pvh", "no-note.elf", vmlinux([linux]))
    write("linux_pvh", "low.elf", vmlinux([elf_note(b"Xen", 18, struct.pack("<Q", 0xff010))],
                                          paddr=0xff000))


BZ_HDR = struct.Struct("<BHIHHHHHIHIHHBBHIIIIHBBIIIBBHIIQIIQQIII")


def bzimage(setup_sects=1, kernel=0x1000, version=0x020f, init_size=0x400000,
            initrd_max=0x7fffffff, pref=0x1000000, align=0x200000, xload=0x7f):
    sects = setup_sects or 4
    data = bytearray((i * 11 + 7) & 0xFF for i in range((sects + 1) * 512 + kernel))
    hdr = BZ_HDR.pack(setup_sects, 1, kernel // 16, 0, 0xffff, 0, 0xAA55, 0x6aeb, 0x53726448,
                      version, 0, 0x1000, 0, 0, 1, 0x8000, 0x100000, 0, 0, 0, 0, 0, 0, 0,
                      initrd_max, align, 1, 21, xload, 2047, 0, 0, 0x2cc, kernel - 0x400, 0,
                      pref, init_size, 0, 0)
    data[0x1f1:0x1f1 + len(hdr)] = hdr
    return bytes(data)


def linux_bz_corpus():
    write("linux_bz", "bzimage.bin", bzimage())
    write("linux_bz", "sects0.bin", bzimage(setup_sects=0))
    write("linux_bz", "pref18m.bin", bzimage(pref=0x1200000, align=0x1000000))
    write("linux_bz", "initrd-low.bin", bzimage(initrd_max=0x10fffff))
    write("linux_bz", "too-big.bin", bzimage(init_size=0x1000000))
    write("linux_bz", "old.bin", bzimage(version=0x020b))


def main():
    global CORPUS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="corpus directory (one subdirectory per target)")
    ap.add_argument("--toy-elf", help="a built guest to store, stripped, as <out>/elf/toy.elf")
    args = ap.parse_args()
    CORPUS = args.out
    config_corpus()
    elf_corpus(args.toy_elf)
    multiboot_corpus()
    acpi_corpus()
    linux_pvh_corpus()
    linux_bz_corpus()


if __name__ == "__main__":
    main()
