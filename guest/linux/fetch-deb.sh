#!/bin/sh
# fetch-deb.sh PACKAGE VERSION OUT.deb: one Debian package at a pinned version, with apt-get
# download into the build directory; nothing is installed on the host.
set -eu
pkg=$1 version=$2 out=$3

# apt-cache show succeeds, saying nothing, for a known package at an unknown version.
if ! apt-cache show "$pkg=$version" 2>/dev/null | grep -qFx "Version: $version"; then
    echo "linux: Debian package $pkg=$version is not in apt's lists: run apt-get update (as root)," \
         "or pin the version 'apt-cache policy $pkg' shows in guest/linux/linux.mk" >&2
    exit 1
fi
# apt-get download names the file itself (epoch and all): fetch into a fresh directory, then move.
dir=$(mktemp -d "$out.XXXXXX")
trap 'rm -rf "$dir"' EXIT
if ! (cd "$dir" && apt-get download -q "$pkg=$version") >"$dir/log" 2>&1; then
    cat "$dir/log" >&2
    echo "linux: apt-get download $pkg=$version failed" >&2
    exit 1
fi
mv "$dir"/*.deb "$out"
