"""Measure the image phase: cold build (per step), cached call, TCG boot to SSH, sizes -> JSON.

Usage: python bench/image.py [OUTPUT]   (default bench/results/image.json; needs root, ~2 min)
The cold build goes to a throwaway cache dir, so the user's cache is neither used nor touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ffulab.cache import remove_tree
from ffulab.image import ImageRecipe, ensure_image
from ffulab.image.cache import MANIFEST, default_cache_dir
from ffulab.image.smoke import SmokeVM
from ffulab.proc import run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="bench/results/image.json", type=Path)
    parser.add_argument("--boots", type=int, default=3, help="TCG boots to time (default 3)")
    args = parser.parse_args()

    recipe = ImageRecipe()
    parent = default_cache_dir().parent
    parent.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="bench-images-", dir=parent))
    try:
        cold = ensure_image(recipe, cache, progress=lambda line: print(line, file=sys.stderr))
        cached = ensure_image(recipe, cache)
        manifest = json.loads((cold.disk.parent / MANIFEST).read_text())
        boots, overlay_bytes = [], 0
        for n in range(args.boots):
            with tempfile.TemporaryDirectory() as workdir, SmokeVM(cold, Path(workdir), f"bench-{n}") as vm:
                boots.append(vm.wait_for_ssh(timeout=300))
                overlay_bytes = vm.overlay.stat().st_blocks * 512
            print(f"boot {n}: SSH after {boots[-1]} s", file=sys.stderr)
    finally:
        remove_tree(cache, unmount=True)

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "qemu": _qemu_version()},
        "recipe": recipe.as_dict(),
        "digest": cold.digest,
        "kernel_version": cold.kernel_version,
        "seconds": {
            "mmdebstrap": manifest["seconds"]["mmdebstrap"],
            "configure": manifest["seconds"]["configure"],
            "mkfs_and_convert": round(manifest["seconds"]["mkfs"] + manifest["seconds"]["convert"], 1),
            "mkfs": manifest["seconds"]["mkfs"],
            "convert": manifest["seconds"]["convert"],
            "total_cold": cold.seconds,
            "cached_call": cached.seconds,
            "tcg_boot_to_ssh": boots,
            "tcg_boot_to_ssh_median": statistics.median(boots) if boots else None,
        },
        "bytes": {**manifest["bytes"], "overlay_after_boot": overlay_bytes},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["seconds"]), file=sys.stderr)
    return 0


def _qemu_version() -> str:
    return run(["qemu-system-x86_64", "--version"]).stdout.splitlines()[0]


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"bench done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    sys.exit(code)
