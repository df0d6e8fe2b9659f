#!/bin/sh
# Fails if a guest ELF (linked with -Wl,-q) holds an absolute address: it must run at any slice base.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 GUEST.elf" >&2; exit 2; }
# Absolute relocations applied to loaded sections (debug sections are never loaded: skipped).
bad=$(readelf -rW "$1" | awk '/^Relocation section/ { skip = ($3 ~ /debug/) }
	!skip && /R_X86_64_(64|32|32S) /')
# A GOT holds link-time addresses, so it would be as position-dependent as an absolute relocation.
got=$(readelf -SW "$1" | grep -E '\.got' || true)
[ -z "$bad$got" ] && exit 0
echo "$1: not position-independent:" >&2
printf '%s\n' "$bad" "$got" | grep . >&2
exit 1
