#!/bin/bash
# make check-fresh: the README's quick start run as a newcomer runs it, as root on a bare Debian 12.
# usage: tests/check-fresh.sh WORKDIR   (make passes $(BUILD)/fresh)
#
# Builds a minimal bookworm root with debootstrap (--variant=minbase: no make, no compiler, no
# python), copies this tree into it as git would check it out (tracked files only, with their
# uncommitted changes), mounts /proc, /sys and /dev for Bochs and QEMU, then runs, as root inside
# it, every command of the README's quick-start block in its order and checks what they print:
#   make run    exit status 0; `slicehv: all partitions done`, `slicehv: exit 0 (ok)`, and the
#               last line `run: slicehv exited 0 (ok) ...`
#   make test   exit status 0; the last line `N passed, 0 failed, N skipped`
#   anything    exit status 0
# The block must hold both make commands. Each command's output goes to WORKDIR/logs/.
#
# Cached in WORKDIR between runs (CI starts clean): the pristine debootstrap root (base/, never
# entered; each run copies it) and the .deb files apt downloads inside (apt/, checked against
# the package lists by apt on every install). The copy itself (root/) starts fresh every run.
# Everything mounted is unmounted on every exit path.
set -euo pipefail

MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${FRESH_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
[ $# -eq 1 ] || { echo "usage: $0 WORKDIR" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
work=$(cd "$1" && pwd)
base=$work/base root=$work/root logs=$work/logs cache=$work/apt
src=/root/slicehv                     # the tree, inside the root
started=$(date +%s)

say() { echo "check-fresh: $*"; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap, chroot and mount need it)"

# The host tools this needs, installed the way tests/deps.sh installs the project's.
host_tools() {
    local missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v git >/dev/null 2>&1 || missing+=(git)
    [ ${#missing[@]} -eq 0 ] && return
    command -v apt-get >/dev/null 2>&1 || fail "needs ${missing[*]}, and there is no apt-get"
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Mount points below the root, deepest first.
mounts_below() {
    awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r
}

# Processes still running inside the root (this run's, when it is being stopped), by their root.
pids_inside() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
    done
    return 0
}

# Unmount everything below the root, first stopping what still runs there (a busy mount will not
# go); a last lazy unmount for anything left. Never stops on an error: it runs from the EXIT trap.
unmount_all() {
    local m pass pids
    for pass in TERM TERM KILL; do
        [ -n "$(mounts_below)" ] || return 0
        pids=$(pids_inside)
        if [ -n "$pids" ]; then kill -s "$pass" $pids 2>/dev/null || true; sleep 1; fi
        for m in $(mounts_below); do umount "$m" 2>/dev/null || true; done
    done
    for m in $(mounts_below); do umount -l "$m" 2>/dev/null || true; done
    [ -z "$(mounts_below)" ] || { say "could not unmount: $(mounts_below | tr '\n' ' ')"; return 1; }
}

# The pristine root, kept in base/ once complete; a run that died half-way leaves no base/.
make_base() {
    if [ -f "$base/.complete" ]; then
        say "reusing the $SUITE root in $base (rm -rf it to download afresh)"
        return
    fi
    say "debootstrap --variant=minbase $SUITE from $MIRROR (log: $logs/debootstrap.log)"
    rm -rf --one-file-system "$base" "$base.tmp"
    debootstrap --variant=minbase "$SUITE" "$base.tmp" "$MIRROR" >"$logs/debootstrap.log" 2>&1 \
        || { tail -n 20 "$logs/debootstrap.log"; fail "debootstrap failed"; }
    # Its own downloads are not needed again: the copy is the cache.
    rm -f "$base.tmp"/var/cache/apt/archives/*.deb
    touch "$base.tmp/.complete"
    mv "$base.tmp" "$base"
}

# A fresh copy of base/ with the tree in $src, /proc, /sys and /dev mounted, apt's downloads cached.
make_root() {
    rm -rf --one-file-system "$root"
    cp -a "$base" "$root"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # The suites Debian's installer sets up, not only debootstrap's one: the pinned kernel
    # (guest/linux/linux.mk) comes from bookworm-security, as on any installed Debian 12.
    rm -f "$root/etc/apt/sources.list"
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' \
        "$MIRROR" "$SUITE" "$SUITE" "$SECURITY_MIRROR" "$SUITE" >"$root/etc/apt/sources.list.d/debian.sources"
    # Inside a chroot no package may start a service (the standard policy-rc.d "no").
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    mkdir -p "$root$src" "$cache/partial"
    # The tracked files as they are now: git stash create gives a commit of them (HEAD if clean).
    local tree
    tree=$(git -C "$repo" stash create 2>/dev/null || true)
    git -C "$repo" archive "${tree:-HEAD}" | tar -x -C "$root$src"
    say "copied $( [ -n "$tree" ] && echo "the working tree (uncommitted changes included)" || echo HEAD) to $src"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
    mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
    mount --bind "$cache" "$root/var/cache/apt/archives"
}

# The commands of the README's first sh block after "## Quick start", one a line.
quick_start() {
    awk '/^## Quick start/ { q = 1 } q && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b && NF' \
        "$root$src/README.md"
}

# Run command $2 (the n-th, $1) in the root as a newcomer's root shell would; check its output.
run_step() {
    local n=$1 cmd=$2 log t0 status=0 last
    log=$logs/$n-$(echo "$cmd" | sed 's/#.*//; s/[^a-zA-Z0-9]\+/-/g; s/^-//; s/-$//' | cut -c1-40).log
    say "[$n] $cmd"
    t0=$(date +%s)
    chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd $src && $cmd" </dev/null >"$log" 2>&1 || status=$?
    last=$(tail -n 1 "$log")
    local problems=()
    [ "$status" -eq 0 ] || problems+=("exit status $status")
    case $cmd in
    "make run"*)
        grep -qx 'slicehv: all partitions done' "$log" || problems+=("no 'slicehv: all partitions done'")
        grep -qx 'slicehv: exit 0 (ok)' "$log" || problems+=("no 'slicehv: exit 0 (ok)'")
        [[ $last =~ ^run:\ slicehv\ exited\ 0\ \(ok\)\  ]] || problems+=("last line '$last'") ;;
    "make test"*)
        [[ $last =~ ^[0-9]+\ passed,\ 0\ failed,\ [0-9]+\ skipped$ ]] || problems+=("last line '$last'") ;;
    esac
    if [ ${#problems[@]} -gt 0 ]; then
        tail -n 25 "$log"
        fail "[$n] $cmd: $(IFS=';'; echo "${problems[*]}") (log: $log)"
    fi
    say "[$n] ok in $(( $(date +%s) - t0 )) s: $last"
}

host_tools
mkdir -p "$work"
unmount_all                            # what a killed earlier run may have left
trap 'unmount_all' EXIT
trap 'exit 130' INT TERM HUP           # through the EXIT trap
rm -rf "$logs" && mkdir -p "$logs"
make_base
make_root
mapfile -t commands < <(quick_start)
printf '%s\n' "${commands[@]}" | grep -q '^make run' || fail "README's quick start has no make run"
printf '%s\n' "${commands[@]}" | grep -q '^make test' || fail "README's quick start has no make test"
for i in "${!commands[@]}"; do run_step $((i + 1)) "${commands[$i]}"; done
unmount_all
rm -rf --one-file-system "$root"
took=$(( $(date +%s) - started ))
say "the README's ${#commands[@]} quick-start commands passed on a bare Debian 12 in $((took / 60)) min $((took % 60)) s"
