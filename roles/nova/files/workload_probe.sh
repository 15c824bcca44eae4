#!/bin/sh
# What became of an instance that stopped answering (ffulab.ffu.diagnose runs it as root on the
# instance's compute, the server's ID as $1; it changes nothing). One line: the libvirt domain's
# state; for a running one its only vCPU read three times through QEMU's monitor a second apart (the
# same RIP every time with interrupts off, RFLAGS bit 9 clear, is a frozen vCPU: docs/design.md, "The
# workload instance can hang"), the CPU time it burned meanwhile, and its console's last line.
server=$1
state=$(virsh -c qemu:///system domstate "$server" 2>&1) || {
    echo "instance $server: no libvirt domain on $(hostname): $state"
    exit 0
}
if [ "$state" != running ]; then
    echo "instance $server: $state on $(hostname)"
    exit 0
fi
cpu0=$(virsh -c qemu:///system domstats --vcpu "$server" | sed -n 's/^ *vcpu.0.time=//p')
regs=""
for _ in 1 2 3; do
    read_=$(virsh -c qemu:///system qemu-monitor-command "$server" --hmp 'info registers' |
        grep -o 'RIP=[0-9a-f]* RFL=[0-9a-f]*' | head -n 1 | tr ' ' ,)
    regs="${regs:+$regs }$read_"
    sleep 1
done
cpu1=$(virsh -c qemu:///system domstats --vcpu "$server" | sed -n 's/^ *vcpu.0.time=//p')
console=$(tail -n 1 "${NOVA_INSTANCES_PATH:-/var/lib/nova/instances}/$server/console.log" 2>/dev/null | tr -d '\r')
verdict="running"
# shellcheck disable=SC2086 # three words, one per read
set -- $regs
if [ $# -eq 3 ] && [ "$1" = "$2" ] && [ "$2" = "$3" ]; then
    flags=$(echo "$1" | sed 's/.*RFL=//')
    if [ $((0x$flags & 0x200)) -eq 0 ]; then
        verdict="FROZEN (its vCPU stands still with interrupts off: a hang of nested virtualization, not the network)"
    fi
fi
busy=""
if [ -n "$cpu0" ] && [ -n "$cpu1" ]; then
    busy=", vCPU busy $(((cpu1 - cpu0) / 30000000))% of 3 s"
fi
echo "instance $server on $(hostname): $verdict; registers $regs$busy; console: ${console:-nothing}"
