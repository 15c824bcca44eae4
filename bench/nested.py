"""Does a workload instance (KVM inside a TCG node) hang, and after how long? -> JSON.

Usage: python bench/nested.py [OUTPUT] [--minutes M] [--cpu MODEL] [--hogs N] [--rate R]
(default bench/results/nested.json; needs root and a compute lab's images in the cache)

A compute lab's instance once froze for good under nested KVM in a TCG compute (docs/design.md, "The
workload instance can hang"). This reproduces the setting without a lab: a compute's image (qemu and
libvirt in it) booted with plain qemu as the L1 node (:class:`SmokeVM`, TCG, ``--cpu`` its CPU
model), the workload image's kernel and initramfs given to it on a read-only ext4 drive, the instance
started inside it with ``-accel kvm`` as nova would, the node loaded by ``--hogs`` busy loops and a
``systemctl daemon-reload`` every 5 s (what the FFU steps do there), and the instance kept busy by
``--rate`` TCP requests a second to its responder (each forks shells in it, as the data-plane
poller's connects do, only faster: page faults and exits are where nested virtualization's bugs
live). Every 10 s the instance's
registers are read three times through its QEMU monitor: the same RIP with interrupts off every time
is a frozen vCPU.
"""

from __future__ import annotations

import argparse
import shlex
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import header, log, write

from ffulab.config.resolve import resolve
from ffulab.image import ensure_image
from ffulab.image.cache import default_cache_dir
from ffulab.image.smoke import SmokeVM
from ffulab.image.workload import CMDLINE, INITRD, KERNEL
from ffulab.paths import cache_root
from ffulab.phases.image import lab_recipe
from ffulab.proc import run

START = """set -e
modprobe kvm_amd 2>/dev/null || modprobe kvm_intel
mkdir -p /mnt/w && mount -o ro /dev/vdb /mnt/w
qemu-system-x86_64 -accel kvm -m 128 -smp 1 -kernel /mnt/w/{kernel} -initrd /mnt/w/{initrd} \
    -append {cmdline} -display none -serial file:/root/l2.console \
    -nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:8080-:80 \
    -monitor unix:/root/l2.mon,server,nowait -daemonize -pidfile /root/l2.pid
for _ in $(seq {hogs}); do nohup sh -c 'while :; do :; done' >/dev/null 2>&1 & done
nohup sh -c 'while sleep 5; do systemctl daemon-reload; done' >/dev/null 2>&1 &
cat > /root/traffic.py <<'EOF'
import socket, time
answered = 0
while True:
    try:
        with socket.create_connection(("127.0.0.1", 8080), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            answered += bool(s.recv(4096))
    except OSError:
        pass
    with open("/root/answered", "w") as f:
        f.write(str(answered))
    time.sleep({pause})
EOF
{traffic}
"""
TRAFFIC = "nohup python3 /root/traffic.py </dev/null >/dev/null 2>&1 &"
# three reads of the instance's registers through its monitor, one second apart: "RIP RFL" each
SAMPLE = r"""python3 - <<'EOF'
import re, socket, time
for _ in range(3):
    s = socket.socket(socket.AF_UNIX); s.connect("/root/l2.mon"); s.settimeout(5)
    s.sendall(b"info registers\n"); time.sleep(0.5); out = s.recv(65536).decode(errors="replace"); s.close()
    m = re.search(r"RIP=(\w+) RFL=(\w+)", out)
    print(m.group(1), m.group(2)) if m else print("none none")
    time.sleep(1)
EOF
kill -0 "$(cat /root/l2.pid)" && echo alive
echo "answered $(cat /root/answered 2>/dev/null || echo 0)"
tail -n 1 /root/l2.console
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="bench/results/nested.json", type=Path)
    parser.add_argument("--minutes", type=float, default=30, help="how long to watch (default 30)")
    parser.add_argument("--cpu", default="", help="the L1 node's CPU model (default: qemu's, as the lab)")
    parser.add_argument("--hogs", type=int, default=2, help="busy loops on the node (default 2)")
    parser.add_argument("--rate", type=float, default=5, help="TCP requests a second (default 5)")
    args = parser.parse_args()

    image = ensure_image(lab_recipe(resolve(job="ffu-compute")), default_cache_dir())  # a compute's image
    extra = ("-cpu", args.cpu) if args.cpu else ()
    result: dict[str, Any] = {
        **header("nested"),
        "cpu": args.cpu or "default",
        "hogs": args.hogs,
        "rate": args.rate,
    }
    with tempfile.TemporaryDirectory() as workdir:
        files = Path(workdir) / "workload.ext4"
        run(["mke2fs", "-q", "-t", "ext4", "-d", str(_workload_dir()), str(files), "64M"])
        drive = ("-drive", f"file={files},format=raw,if=virtio,readonly=on")
        with SmokeVM(image, Path(workdir), "bench-nested", 1536, qemu_extra=(*extra, *drive)) as vm:
            _watch(vm, args, result)
    write(args.output, result)
    return 0


def _watch(vm: SmokeVM, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Start the instance in ``vm`` and sample it until it freezes, dies or ``--minutes`` pass."""
    vm.wait_for_ssh(timeout=300)
    vm.ssh(
        START.format(
            kernel=KERNEL,
            initrd=INITRD,
            cmdline=shlex.quote(CMDLINE),
            hogs=args.hogs,
            pause=1 / args.rate if args.rate else 0,
            traffic=TRAFFIC if args.rate else "",
        )
    )
    started = time.monotonic()
    result |= {"hung_after_s": None, "samples": 0, "last": ""}
    while time.monotonic() - started < args.minutes * 60:
        time.sleep(10)
        lines = vm.ssh(SAMPLE).splitlines()
        result["samples"] += 1
        result["last"] = lines[-1] if lines else ""
        result["answered"] = next(
            (int(x.split()[1]) for x in lines if x.startswith("answered ") and x[9:].isdigit()), 0
        )
        regs = [line.split() for line in lines[:3]]
        if "alive" not in lines:
            result["died_after_s"] = round(time.monotonic() - started)
            break
        if len({r[0] for r in regs}) == 1 and all(int(r[1], 16) & 0x200 == 0 for r in regs):
            result["hung_after_s"] = round(time.monotonic() - started)
            result["frozen"] = {"rip": regs[0][0], "rflags": regs[0][1]}
            log(f"instance frozen after {result['hung_after_s']} s at RIP {regs[0][0]}")
            break
        if result["samples"] % 30 == 0:
            log(f"{round(time.monotonic() - started)} s: {result['answered']} answered ({result['last']})")
    result["watched_s"] = round(time.monotonic() - started)


def _workload_dir() -> Path:
    """The workload image ffulab built last (an undercloud phase of a compute lab builds it)."""
    found = sorted((cache_root() / "workload").glob(f"*/{KERNEL}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(
            "bench/nested.py: no workload image in the cache; run a compute lab's undercloud phase"
        )
    return found[-1].parent


if __name__ == "__main__":
    raise SystemExit(main())
