#!/usr/bin/env python3
"""The Linux guest's initramfs: an uncompressed newc cpio archive, written without root.

  initrd.py OUT INIT BUSYBOX APPLET...

/init is INIT, /bin/busybox is BUSYBOX and each APPLET a /bin link to it; /dev holds the console
and kmsg nodes that init needs before it mounts devtmpfs, and /proc and /sys are mount points.
Every entry is owned by root with a zero mtime, so the same inputs give the same bytes.
Uncompressed on purpose: the kernel then only copies it, where under an emulator gunzip would
cost more instructions than GRUB spends reading the extra bytes.
"""
import stat
import sys

NEWC_MAGIC = "070701"        # the "new" (SVR4) portable format without checksums
NEWC_ALIGN = 4               # header+name and data are each padded to 4 bytes
TRAILER = "TRAILER!!!"
# Character devices (Documentation/admin-guide/devices.txt).
DEV_MEM_MAJOR, DEV_KMSG_MINOR = 1, 11
DEV_TTYAUX_MAJOR, DEV_CONSOLE_MINOR = 5, 1

DIRS = ["bin", "dev", "proc", "sys", "root", "tmp"]
NODES = [("dev/console", DEV_TTYAUX_MAJOR, DEV_CONSOLE_MINOR),
         ("dev/kmsg", DEV_MEM_MAJOR, DEV_KMSG_MINOR)]


def pad(n):
    return -n % NEWC_ALIGN


class Archive:
    def __init__(self):
        self.out = bytearray()
        self.ino = 0

    def add(self, name, mode, data=b"", rdev=(0, 0)):
        self.ino += 1
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
        head = NEWC_MAGIC + "".join(f"{f:08x}" for f in fields) + name + "\0"
        self.out += head.encode() + b"\0" * pad(len(head))
        self.out += data + b"\0" * pad(len(data))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, init, busybox, applets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    a = Archive()
    for d in DIRS:
        a.add(d, stat.S_IFDIR | 0o755)
    for name, major, minor in NODES:
        a.add(name, stat.S_IFCHR | 0o600, rdev=(major, minor))
    with open(init, "rb") as f:
        a.add("init", stat.S_IFREG | 0o755, f.read())
    with open(busybox, "rb") as f:
        a.add("bin/busybox", stat.S_IFREG | 0o755, f.read())
    for applet in applets:
        a.add(f"bin/{applet}", stat.S_IFLNK | 0o777, b"busybox")
    a.add(TRAILER, 0)
    with open(out, "wb") as f:
        f.write(a.out)


if __name__ == "__main__":
    main()
