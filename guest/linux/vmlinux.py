#!/usr/bin/env python3
"""The uncompressed vmlinux out of a bzImage, and the check that it can take the PVH entry.

  vmlinux.py extract BZIMAGE OUT   write the ELF that the bzImage's xz payload holds, then check it
  vmlinux.py check VMLINUX         check an ELF (after stripping, say) without extracting anything

The check: an ELF64 x86-64 executable with a PT_NOTE holding the Xen note PHYS32_ENTRY, the 32-bit
entry that QEMU and slicehv use for a PVH direct boot. It prints the entry and the PT_LOAD span.
"""
import struct
import subprocess
import sys

# The Linux/x86 boot protocol (Documentation/x86/boot.rst): setup header fields by file offset.
HDR_SETUP_SECTS = 0x1F1      # u8: 512-byte setup sectors after the boot sector (0 means 4)
HDR_MAGIC = 0x202            # "HdrS"
HDR_VERSION = 0x206          # u16: boot protocol version
HDR_PAYLOAD_OFFSET = 0x248   # u32: payload offset from the protected-mode code (protocol 2.08+)
HDR_PAYLOAD_LENGTH = 0x24C   # u32
SECTOR = 512
SETUP_SECTS_DEFAULT = 4
SIZE_TRAILER = 4             # u32 after the xz stream: the uncompressed size (scripts/Makefile.lib size_append)
PROTOCOL_PAYLOAD = 0x208     # the first protocol version with payload_offset/length
XZ_MAGIC = b"\xfd7zXZ\x00"

# ELF (System V gABI) and the Xen ELF note (xen/include/public/elfnote.h).
ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
ET_EXEC = 2
EM_X86_64 = 62
PT_LOAD = 1
PT_NOTE = 4
XEN_NOTE_OWNER = b"Xen"
XEN_ELFNOTE_PHYS32_ENTRY = 18


def fail(msg):
    sys.exit(f"vmlinux: {msg}")


def payload(bz, path):
    """The xz stream inside a bzImage, at (setup_sects + 1) * 512 + payload_offset, and the size
    the kernel build appended to it: what it must decompress to."""
    if len(bz) < HDR_PAYLOAD_LENGTH + 4 or bz[HDR_MAGIC:HDR_MAGIC + 4] != b"HdrS":
        fail(f"{path}: not a bzImage (no HdrS setup header)")
    (version,) = struct.unpack_from("<H", bz, HDR_VERSION)
    if version < PROTOCOL_PAYLOAD:
        fail(f"{path}: boot protocol {version:#x} has no payload_offset (needs {PROTOCOL_PAYLOAD:#x})")
    sects = bz[HDR_SETUP_SECTS] or SETUP_SECTS_DEFAULT
    offset, length = struct.unpack_from("<II", bz, HDR_PAYLOAD_OFFSET)
    start = (sects + 1) * SECTOR + offset
    data = bz[start:start + length]
    if len(data) != length:
        fail(f"{path}: payload [{start:#x}, +{length:#x}) runs past the file's end")
    if not data.startswith(XZ_MAGIC) or length <= SIZE_TRAILER:
        fail(f"{path}: the payload at {start:#x} is not xz (this script reads Debian's xz kernels)")
    (size,) = struct.unpack_from("<I", data, length - SIZE_TRAILER)
    return data[:-SIZE_TRAILER], size


def notes(elf, offset, size):
    """Yield (owner, type, desc) of the ELF notes in [offset, offset + size)."""
    end = offset + size
    while offset + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", elf, offset)
        name_at = offset + 12
        desc_at = name_at + (namesz + 3 & ~3)
        yield elf[name_at:name_at + namesz].rstrip(b"\0"), ntype, elf[desc_at:desc_at + descsz]
        offset = desc_at + (descsz + 3 & ~3)


def check(elf, path, describe):
    """Refuse anything but an x86-64 ELF executable with the PVH entry note; describe it."""
    if elf[:4] != ELF_MAGIC or elf[4] != ELFCLASS64 or elf[5] != ELFDATA2LSB:
        fail(f"{path}: not a little-endian ELF64 file")
    etype, machine = struct.unpack_from("<HH", elf, 16)
    if etype != ET_EXEC or machine != EM_X86_64:
        fail(f"{path}: ELF type {etype} machine {machine}, not an x86-64 executable")
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    entry, loads = None, []
    for i in range(phnum):
        ptype, _, off, _, paddr, filesz, memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", elf, phoff + i * phentsize)
        if ptype == PT_LOAD:
            loads.append((paddr, paddr + memsz))
        elif ptype == PT_NOTE:
            for owner, ntype, desc in notes(elf, off, filesz):
                if owner == XEN_NOTE_OWNER and ntype == XEN_ELFNOTE_PHYS32_ENTRY and len(desc) >= 4:
                    (entry,) = struct.unpack_from("<I", desc)
    if entry is None:
        fail(f"{path}: no Xen PHYS32_ENTRY note (type {XEN_ELFNOTE_PHYS32_ENTRY}): "
             "this kernel has no PVH entry (CONFIG_PVH)")
    if not loads:
        fail(f"{path}: no PT_LOAD segment")
    lo, hi = min(a for a, _ in loads), max(b for _, b in loads)
    if describe:
        print(f"  PVH     {path}: entry {entry:#x}, PT_LOADs {lo:#x}-{hi:#x}")


def main():
    try:
        run()
    except struct.error:
        fail(f"{sys.argv[-1]}: truncated: a header or note runs past the file's end")


def run():
    if len(sys.argv) == 4 and sys.argv[1] == "extract":
        _, _, bzimage, out = sys.argv
        with open(bzimage, "rb") as f:
            stream, size = payload(f.read(), bzimage)
        elf = subprocess.run(["xz", "-dc"], input=stream, stdout=subprocess.PIPE).stdout
        if len(elf) != size:
            fail(f"{bzimage}: xz gave {len(elf)} bytes, the payload says {size}")
        check(elf, out, describe=False)
        with open(out, "wb") as f:
            f.write(elf)
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        with open(sys.argv[2], "rb") as f:
            check(f.read(), sys.argv[2], describe=True)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
