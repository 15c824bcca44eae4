"""Measure TCG's guest-speed levers on the lab's own image: CPU model, the guest kernel's mitigations,
the translation-cache size, vCPUs, memory -> JSON.

Usage: python bench/guest.py [OUTPUT] [--rounds N] [--only NAME,...]
(default bench/results/guest.json; needs root and the lab image in the cache, ~2 min per variant)

Each variant boots the cached lab image once with plain qemu (:class:`SmokeVM`: user-mode networking,
SSH on 127.0.0.1 only) with a prebuilt keystone venv attached read-only as a second disk, and times in
the guest what a lab's steps are made of: Python start-up, importing a service (the venv's bytecode is
present), pure-Python CPU work alone and two at once, and process creation. Run it on an idle host:
the variants are compared with each other, not with a goal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import header, log, write

from ffulab.image import ImageRecipe, ensure_image
from ffulab.image.cache import default_cache_dir
from ffulab.image.smoke import SmokeVM
from ffulab.paths import cache_root

# name -> (SmokeVM keyword arguments); the first is the lab's setting today (libvirt's TCG default).
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "cpu-max": {"qemu_extra": ("-cpu", "max")},
    "mitigations-off": {"cmdline_extra": "mitigations=off"},
    "cpu-max+mitigations-off": {"qemu_extra": ("-cpu", "max"), "cmdline_extra": "mitigations=off"},
    "tb-cache-128M": {"accel": "tcg,tb-size=128"},
    "tb-cache-2G": {"accel": "tcg,tb-size=2048"},
    "vcpus-1": {"vcpus": 1},
    "memory-2G": {"memory_mib": 2048},
}
# One shell script, one SSH session: each line it prints is "name milliseconds".
WORKLOAD = r"""
set -e
ms() {
    local name=$1 s e; shift
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo "$name $(( (e - s) / 1000000 ))"
}
mkdir -p __VENV__ && mount -t squashfs -o ro /dev/vdb __VENV__
py=__VENV__/bin/python
cpu() { python3 -c 'sum(i * i for i in range(1500000))'; }
two() { cpu & cpu & wait; }
forks() { for _ in $(seq 200); do /bin/true; done; }
ms python_start_cold python3 -c pass
for n in 1 2 3; do ms python_start python3 -c pass; done
ms import_keystone_cold $py -c 'import keystone.server.flask.application'
for n in 1 2; do ms import_keystone $py -c 'import keystone.server.flask.application'; done
ms keystone_manage_help __VENV__/bin/keystone-manage --help
for n in 1 2; do ms cpu_one cpu; done
for n in 1 2; do ms cpu_two_at_once two; done
for n in 1 2; do ms fork_exec_200 forks; done
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="bench/results/guest.json", type=Path)
    parser.add_argument("--rounds", type=int, default=1, help="boots per variant (default 1)")
    parser.add_argument("--only", default="", help="comma-separated variant names (default all)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")

    image = ensure_image(ImageRecipe(), default_cache_dir())
    venv = _keystone_venv()
    results: dict[str, Any] = {**header("guest"), "image": image.digest, "venv": venv.name, "variants": {}}
    for round_ in range(args.rounds):
        for name in names:
            log(f"round {round_ + 1}: {name}")
            sample = _measure(image, venv, VARIANTS[name], f"bench-guest-{round_}")
            log(f"  {sample}")
            results["variants"].setdefault(name, {"settings": _settings(VARIANTS[name]), "samples": []})
            results["variants"][name]["samples"].append(sample)
    for entry in results["variants"].values():
        entry["median_ms"] = _medians(entry["samples"])
    write(args.output, results)
    return 0


def _keystone_venv() -> Path:
    """The newest keystone release's venv squashfs in ffulab's cache (a deploy fills it)."""
    found = sorted((cache_root() / "artifacts").glob("*/keystone-*.squashfs"), key=lambda p: p.name)
    if not found:
        sys.exit("bench/guest.py: no keystone venv in the artifacts cache; run `ffulab job run` once first")
    return found[-1]


def _measure(image: Any, venv: Path, settings: dict[str, Any], hostname: str) -> dict[str, float]:
    extra = (*settings.get("qemu_extra", ()), "-drive", f"file={venv},if=virtio,format=raw,readonly=on")
    options = {**settings, "qemu_extra": extra, "memory_mib": settings.get("memory_mib", 3072)}
    with tempfile.TemporaryDirectory() as workdir, SmokeVM(image, Path(workdir), hostname, **options) as vm:
        sample: dict[str, float] = {"boot_to_ssh_ms": vm.wait_for_ssh(timeout=300) * 1000}
        started = time.monotonic()
        output = vm.ssh(WORKLOAD.replace("__VENV__", f"/opt/openstack/{venv.stem}"))
        sample["workload_wall_ms"] = round((time.monotonic() - started) * 1000)
    repeats: dict[str, list[int]] = {}
    for line in output.splitlines():
        name, _, value = line.partition(" ")
        if value.isdigit():
            repeats.setdefault(name, []).append(int(value))
    return sample | {name: statistics.median(values) for name, values in repeats.items()}


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {"vcpus": 2, "memory_mib": 3072, "accel": "tcg", **settings}


def _medians(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(s[key] for s in samples if key in s) for key in samples[0]}


if __name__ == "__main__":
    raise SystemExit(main())
