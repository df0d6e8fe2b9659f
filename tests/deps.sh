#!/bin/sh
# Check the build and test tools; install missing Debian packages when root with apt-get.
# Quiet when everything is present. Otherwise prints what is missing and either installs
# it or prints the exact apt-get line to run and exits 1.
set -eu

# One check per line: "kind what packages". kind is cmd (on PATH) or path (exists).
# bochs is installed with bochs-term so that apt satisfies its "bochs-wx | bochs-gui"
# dependency with the small terminal plugin instead of wxWidgets; the headless rfb
# display that the tests use is built into the bochs package itself. python3-matplotlib
# draws make bench's plot; clang and its libFuzzer runtime build the fuzz targets. The Linux
# guest (guest/linux/) takes Debian's packages with apt-get download and dpkg-deb, unpacks the
# kernel with xz and objcopy, and links its /init against the static glibc.
CHECKS='
cmd  nasm                    nasm
cmd  grub-mkrescue           grub-common
path /usr/lib/grub/i386-pc   grub-pc-bin
cmd  xorriso                 xorriso
cmd  mformat                 mtools
cmd  bochs                   bochs bochs-term
path /usr/lib/x86_64-linux-gnu/bochs/plugins/libbx_rfb_gui.so bochs
path /usr/share/bochs/BIOS-bochs-latest bochsbios
path /usr/share/vgabios/vgabios.bin     vgabios
path /usr/share/seabios/bios.bin        seabios
cmd  qemu-system-x86_64      qemu-system-x86
path /usr/include/cmocka.h   libcmocka-dev
cmd  python3                 python3
path /usr/lib/python3/dist-packages/matplotlib python3-matplotlib
cmd  gcc                     gcc
cmd  clang                   clang
path /usr/lib/clang/14/lib/linux/libclang_rt.fuzzer-x86_64.a libclang-rt-14-dev
cmd  make                    make
cmd  apt-get                 apt
cmd  dpkg-deb                dpkg
cmd  xz                      xz-utils
cmd  objcopy                 binutils
path /usr/lib/x86_64-linux-gnu/libc.a libc6-dev
cmd  timeout                 coreutils
cmd  prlimit                 util-linux
'

# Print the packages whose check fails, one per line.
missing_packages() {
    echo "$CHECKS" | while read -r kind what pkgs; do
        [ -n "$kind" ] || continue
        case $kind in
        cmd)  command -v "$what" >/dev/null 2>&1 && continue ;;
        path) [ -e "$what" ] && continue ;;
        esac
        echo "deps: missing $what" >&2
        for p in $pkgs; do echo "$p"; done
    done | sort -u
}

pkgs=$(missing_packages | tr '\n' ' ' | sed 's/ *$//')
[ -z "$pkgs" ] && exit 0

install="apt-get install -y --no-install-recommends $pkgs"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: install the missing packages with:" >&2
    echo "    sudo $install" >&2
    exit 1
fi

echo "deps: installing $pkgs" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive $install

pkgs=$(missing_packages | tr '\n' ' ' | sed 's/ *$//')
if [ -n "$pkgs" ]; then
    echo "deps: still missing after install: $pkgs" >&2
    exit 1
fi
