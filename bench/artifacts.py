"""Measure the service artifacts: venv archive vs wheelhouse, per-series cold builds, the client -> JSON.

Usage: python bench/artifacts.py [OUTPUT] [--series S ...] [--skip-wheelhouse]
(default output bench/results/artifacts.json; needs root and PyPI; ~10-15 min on 2 cores).

"Cold" builds use a throwaway cache (empty uv/pip caches: every wheel downloaded, every sdist
compiled); the builder and runtime roots come from the user's cache (built first if missing, timed
apart). "warm" is a rebuild with the download/build cache kept; "cached" a second ensure_artifact.
The guest-side costs (TCG) cannot be measured here; the numbers measured in a guest are in DESIGN.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ffulab.artifacts import build, cache
from ffulab.artifacts.build import ensure_artifact, find_uv
from ffulab.artifacts.chroot import Overlay, run_in, stream
from ffulab.artifacts.release import plan_artifacts
from ffulab.artifacts.roots import Root, builder_recipe, ensure_root, runtime_recipe
from ffulab.cache import remove_tree
from ffulab.config.resolve import resolve
from ffulab.paths import data_root

GUEST_SIDE_TCG_SECONDS = {
    "venv_archive": {"copy_and_unpack": 58},
    "wheelhouse": {"python3 -m venv (ensurepip)": 106, "pip install --no-index --find-links": 450},
    "source": "DESIGN.md, keystone 25.0.0 in a 2 vCPU / 3 GiB TCG guest",
}


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="bench/results/artifacts.json", type=Path)
    parser.add_argument("--series", nargs="*", help="series for the per-series cold builds (default: all)")
    parser.add_argument("--skip-wheelhouse", action="store_true")
    args = parser.parse_args()

    resolved = resolve()
    config = resolved.config
    root = data_root()
    started = time.monotonic()
    load_start = os.getloadavg()
    mark = time.monotonic()
    builder = ensure_root(builder_recipe(config.image.suite, config.image.mirror), progress=log)
    runtime = ensure_root(runtime_recipe(config.image.suite, config.image.mirror), progress=log)
    roots_seconds = round(time.monotonic() - mark, 1)

    first = plan_artifacts(resolved, root, [config.release.ffu_chain[0]], ["keystone"])[0]
    result: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_start": load_start},
        "uv": build._uv_version(),
        "roots": {
            "builder": {"python": builder.python, "built": builder.built, "seconds": builder.seconds},
            "runtime": {"python": runtime.python, "built": runtime.built, "seconds": runtime.seconds},
            "seconds": roots_seconds,
        },
        "venv_archive": _venv_archive(first, builder, runtime),
    }
    if not args.skip_wheelhouse:
        result["wheelhouse"] = _wheelhouse(first, builder)
    result["guest_side_tcg_seconds"] = GUEST_SIDE_TCG_SECONDS
    series = args.series or list(config.series)
    result["per_series_cold"] = [
        _cold(request, builder, runtime) for request in plan_artifacts(resolved, root, series, ["keystone"])
    ]
    client = plan_artifacts(resolved, root, [config.release.undercloud], ["openstackclient"])
    result["openstackclient_cold"] = _cold(client[0], builder, runtime)
    result["host"]["loadavg_end"] = os.getloadavg()
    result["total_seconds"] = round(time.monotonic() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


def _venv_archive(request, builder: Root, runtime: Root) -> dict:
    """Cold build, rebuild with uv's cache warm, and a cache hit, of the first series' keystone."""
    with _throwaway_cache() as cache_dir:
        options = {"cache_dir": cache_dir, "builder": builder, "runtime": runtime, "project": request.project}
        lock = request.existing_lock()
        cold = ensure_artifact(
            request.name, request.version, request.series, request.constraints, lock, log, **options
        )
        warm = ensure_artifact(
            request.name,
            request.version,
            request.series,
            request.constraints,
            lock,
            log,
            force=True,
            **options,
        )
        hit = ensure_artifact(
            request.name, request.version, request.series, request.constraints, lock, **options
        )
        manifest = warm.manifest
    return {
        "artifact": f"{request.name} {request.version} ({request.series})",
        "locked": lock is not None,
        "cold_seconds": cold.seconds,
        "warm_uv_cache_seconds": warm.seconds,
        "cached_seconds": hit.seconds,
        "archive_bytes": warm.size,
        "venv_bytes": manifest["venv_bytes"],
        "packages": len(manifest["freeze"]),
        "steps_warm": manifest["seconds"],
    }


def _wheelhouse(request, builder: Root) -> dict:
    """pip wheel of the same requirements in the same builder root: a wheelhouse for a guest-side install."""
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-pip-", dir=cache.default_cache()) as tmp:
        pip_cache = Path(tmp) / "pip-cache"
        pip_cache.mkdir()
        for label in ("cold", "warm"):
            work = Path(tmp) / label
            overlay = Overlay.create(work, [builder.tree], {"/var/cache/ffulab-pip": pip_cache})
            stage = overlay.upper / "tmp/ffulab"
            stage.mkdir(parents=True)
            pins = ["-c", "/tmp/ffulab/constraints.txt", "-c", "/tmp/ffulab/ffulab-constraints.txt"]
            shutil.copyfile(request.constraints, stage / "constraints.txt")
            (stage / "ffulab-constraints.txt").write_text("".join(f"{p}\n" for p in build.EXTRA_CONSTRAINTS))
            if request.existing_lock():
                shutil.copyfile(request.lock, stage / "lock.txt")
                pins = ["-c", "/tmp/ffulab/lock.txt"]
            bundle = build._ca_bundle()
            if bundle:
                shutil.copyfile(bundle, stage / "ca.pem")
            (overlay.upper / "etc").mkdir(exist_ok=True)
            (overlay.upper / "etc/resolv.conf").write_bytes(Path("/etc/resolv.conf").read_bytes())
            mark = time.monotonic()
            run_in(overlay, ["/usr/bin/python3", "-m", "venv", "/tmp/pip-venv"], timeout=600)
            argv = [
                "/tmp/pip-venv/bin/pip", "wheel", "--disable-pip-version-check", "--use-pep517",
                "--index-url", build.PYPI, "--cache-dir", "/var/cache/ffulab-pip", "-w", "/tmp/wheelhouse",
                *pins,
                f"{request.project}=={request.version}", *build.SERVICE_EXTRAS,
            ]  # fmt: skip
            # no pip config in the chroot, a clean env; PIP_CERT reaches pip's build-isolation children too
            env = {"PIP_CERT": "/tmp/ffulab/ca.pem"} if bundle else {}
            output = run_in(overlay, argv, env=env, timeout=1800)
            seconds = round(time.monotonic() - mark, 1)
            wheelhouse = overlay.upper / "tmp/wheelhouse"
            archive = work / "wheelhouse.tar.zst"
            stream(["tar", "-C", str(wheelhouse), "-I", "zstd -3 -T0 -q", "-cf", str(archive), "."])
            wheels = sorted(p.name for p in wheelhouse.glob("*.whl"))
            runs[label] = {
                "seconds": seconds,
                "wheels": len(wheels),
                "wheels_bytes": sum(p.stat().st_size for p in wheelhouse.glob("*.whl")),
                "archive_bytes": archive.stat().st_size,
                "built_from_source": sorted(set(re.findall(r"Building wheel for (\S+)", output))),
            }
            log(f"wheelhouse {label}: {seconds} s, {len(wheels)} wheels")
            remove_tree(work)
    return {"artifact": f"{request.name} {request.version} ({request.series})", "tool": "pip wheel", **runs}


def _cold(request, builder: Root, runtime: Root) -> dict:
    """One cold build (empty uv cache) of one request; which dependencies were compiled."""
    compiled: list[str] = []

    def progress(line: str) -> None:
        match = re.search(r": Built (\S+)$", line)
        if match:
            compiled.append(match[1])
        log(line)

    lock = request.existing_lock()
    with _throwaway_cache() as cache_dir:
        try:
            artifact = ensure_artifact(
                request.name, request.version, request.series, request.constraints, lock, progress,
                project=request.project, cache_dir=cache_dir, builder=builder, runtime=runtime,
            )  # fmt: skip
        except Exception as error:  # a failing series is a result, not the end of the bench
            return {
                "series": request.series,
                "artifact": request.name,
                "version": request.version,
                "error": str(error),
            }
        manifest = artifact.manifest
    return {
        "series": request.series,
        "artifact": request.name,
        "version": request.version,
        "locked": lock is not None,
        "cold_seconds": artifact.seconds,
        "steps": manifest["seconds"],
        "archive_bytes": artifact.size,
        "venv_bytes": manifest["venv_bytes"],
        "packages": len(manifest["freeze"]),
        "compiled": compiled,
        "check": manifest["check"]["output"],
    }


@contextmanager
def _throwaway_cache() -> Iterator[Path]:
    """A fresh cache dir next to the user's (same file system), removed afterwards."""
    parent = cache.default_cache()
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="bench-artifacts-", dir=parent))
    try:
        yield path
    finally:
        remove_tree(path)


if __name__ == "__main__":
    find_uv()
    sys.exit(main())
