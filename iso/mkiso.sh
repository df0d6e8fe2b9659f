#!/bin/sh
# Builds a bootable GRUB ISO: mkiso.sh OUT.iso GRUB_CFG FILE... (FILEs go to /boot/).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OUT.iso GRUB_CFG FILE..." >&2; exit 2; }
out=$1 cfg=$2
shift 2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/boot/grub"
cp "$cfg" "$root/boot/grub/grub.cfg"
for f in "$@"; do cp "$f" "$root/boot/"; done
# Only the modules the menu uses: a smaller ISO and a faster boot.
grub-mkrescue -o "$out" --install-modules="multiboot multiboot2 normal serial terminal wrmsr echo" \
	--locales= --fonts= --themes= "$root" >"$root.log" 2>&1 || { cat "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
