#!/bin/sh
# qemu-boot.sh KERNEL INITRD CMDLINE MEM_MIB TIMEOUT_S LOG: boots the Linux guest bare under QEMU's
# TCG, without slicehv, its serial console into LOG; QEMU ends when init powers off. Passes when
# the log shows the init up, its workload done and the kernel's version; prints the init's lines.
# An ELF KERNEL takes the PVH entry (QEMU reads its Xen note); a bzImage the 16-bit boot protocol.
set -eu
kernel=$1 initrd=$2 cmdline=$3 mem=$4 limit=$5 log=$6

echo "  QEMU    $kernel"
status=0
timeout "$limit" qemu-system-x86_64 -accel tcg -m "$mem" -display none -monitor none -no-reboot \
    -serial "file:$log" -kernel "$kernel" -initrd "$initrd" -append "$cmdline" </dev/null || status=$?
grep -a 'linux-init:' "$log" || true
if [ "$status" = 124 ]; then
    echo "linux-qemu: FAIL: QEMU still running after ${limit}s (log: $log)" >&2
    exit 1
fi
for want in 'linux-init: up [0-9]' 'linux-init: work [0-9]* sum [0-9a-f]' 'Linux version'; do
    if ! grep -aq "$want" "$log"; then
        echo "linux-qemu: FAIL: no '$want' in $log (QEMU exit status $status)" >&2
        exit 1
    fi
done
echo "linux-qemu: PASS ($kernel)"
