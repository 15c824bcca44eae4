"""Idempotent steps that make this machine able to run libvirt labs (DESIGN.md, "libvirtd without systemd").

Each step looks before it acts, so a second ``prepare`` only reads: dpkg's database, the
interpreter's import path, the account databases, one config file and a few directories.
"""

from __future__ import annotations

import grp
import importlib
import importlib.util
import os
import pwd
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ffulab import proc
from ffulab.errors import VirthostError
from ffulab.virthost.base import Step
from ffulab.virthost.probe import OnHost

PACKAGES = (
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "libvirt-dev",
    "pkg-config",
    "ipmitool",
    "dnsmasq-base",
    "iptables",
    "bridge-utils",
    "mmdebstrap",
    "e2fsprogs",
    "socat",
    "zstd",
    "libssl-dev",
)
PYTHON_MODULES = {"libvirt": "libvirt-python==11.6.0", "virtualbmc": "virtualbmc==3.3.0"}
"""Importable name -> requirement; the versions proven here (libvirt-python 11.6 builds on libvirt 9.0)."""
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
QEMU_SETTINGS = {"user": '"root"', "group": '"root"', "dynamic_ownership": "0"}
"""Without systemd and its libvirt-qemu setup, qemu runs as root and libvirt leaves file owners alone."""
SYSTEM_USER, SYSTEM_GROUP = "libvirt-qemu", "kvm"
DIRS = (Path("/var/log/libvirt"), Path("/var/run/libvirt"))
_SETTING = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*$")


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        raise VirthostError(f"{what} needs root: rerun 'ffulab virthost prepare' as root")


def missing_packages(packages: Sequence[str] = PACKAGES, on_host: OnHost = list) -> list[str]:
    """The ``packages`` dpkg does not report as installed (on the machine ``on_host`` reaches)."""
    argv = on_host(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *packages])
    output = proc.run(argv, check=False).stdout
    installed = {line.split()[0] for line in output.splitlines() if line.split()[1:2] == ["ii"]}
    return [name for name in packages if name not in installed]


def packages_step(extra: Sequence[str] = ()) -> Step:
    packages = [*PACKAGES, *extra]

    def missing() -> str | None:
        names = missing_packages(packages)
        return f"packages not installed: {' '.join(names)}" if names else None

    def apply() -> list[str]:
        names = missing_packages(packages)
        _need_root("installing packages")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        proc.run(["apt-get", "update"], env=env, timeout=900)
        proc.run(["apt-get", "install", "-y", "--no-install-recommends", *names], env=env, timeout=1800)
        return [f"installed packages: {' '.join(names)}"]

    return Step("packages", missing, apply)


def missing_modules() -> list[str]:
    return [name for name in PYTHON_MODULES if importlib.util.find_spec(name) is None]


def python_step() -> Step:
    """libvirt-python and virtualbmc in the interpreter that runs ffulab (vbmcd runs from it too)."""

    def missing() -> str | None:
        names = missing_modules()
        return f"Python modules missing in {sys.executable}: {' '.join(names)}" if names else None

    def apply() -> list[str]:
        requirements = [PYTHON_MODULES[name] for name in missing_modules()]
        uv = Path(sys.executable).parent / "uv"
        if uv.exists():
            argv = [str(uv), "pip", "install", "--python", sys.executable, *requirements]
        else:
            argv = [sys.executable, "-m", "pip", "install", *requirements]
        proc.run(argv, timeout=1800)
        importlib.invalidate_caches()
        return [f"installed into {sys.executable}: {' '.join(requirements)}"]

    return Step("python", missing, apply)


def accounts_step() -> Step:
    """The account and group Debian's libvirt expects even when qemu runs as root."""

    def missing_accounts() -> list[str]:
        gaps = []
        try:
            grp.getgrnam(SYSTEM_GROUP)
        except KeyError:
            gaps.append(f"group {SYSTEM_GROUP}")
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            gaps.append(f"user {SYSTEM_USER}")
        return gaps

    def missing() -> str | None:
        gaps = missing_accounts()
        return f"missing {', '.join(gaps)}" if gaps else None

    def apply() -> list[str]:
        gaps = missing_accounts()
        _need_root("creating system accounts")
        if f"group {SYSTEM_GROUP}" in gaps:
            proc.run(["groupadd", "-r", SYSTEM_GROUP])
        if f"user {SYSTEM_USER}" in gaps:
            proc.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", SYSTEM_USER])
        return [f"created {', '.join(gaps)}"]

    return Step("accounts", missing, apply)


def with_settings(text: str, settings: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with every ``key = value`` of ``settings`` active; also the keys that changed.

    Active lines for a key are rewritten in place, absent keys appended; comments and every
    other line are kept as they are, so running it twice changes nothing the second time.
    """
    lines = text.splitlines()
    changed: list[str] = []
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = _SETTING.match(line)
        if match and match[1] in settings:
            key = match[1]
            seen.add(key)
            if match[2] != settings[key]:
                lines[index] = f"{key} = {settings[key]}"
                changed.append(key)
    absent = [key for key in settings if key not in seen]
    if absent:
        lines += [""] if lines else []
        lines += ["# set by ffulab (virthost prepare)"] + [f"{key} = {settings[key]}" for key in absent]
        changed += absent
    return "\n".join(lines) + "\n", changed


def qemu_conf_step(path: Path = QEMU_CONF, after_change: Callable[[], list[str]] = list) -> Step:
    """QEMU_SETTINGS in qemu.conf; ``after_change`` restarts what read the old file."""

    def current() -> str:
        return path.read_text() if path.exists() else ""

    def missing() -> str | None:
        _, changed = with_settings(current(), QEMU_SETTINGS)
        return f"{path} lacks {', '.join(f'{k} = {QEMU_SETTINGS[k]}' for k in changed)}" if changed else None

    def apply() -> list[str]:
        text, changed = with_settings(current(), QEMU_SETTINGS)
        _need_root(f"editing {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return [f"{path}: set {', '.join(changed)}", *after_change()]

    return Step("qemu.conf", missing, apply)


def dirs_step() -> Step:
    def missing() -> str | None:
        absent = [str(d) for d in DIRS if not d.is_dir()]
        return f"missing directories: {' '.join(absent)}" if absent else None

    def apply() -> list[str]:
        absent = [d for d in DIRS if not d.is_dir()]
        for directory in absent:
            directory.mkdir(parents=True, exist_ok=True)
        return [f"created {' '.join(map(str, absent))}"]

    return Step("directories", missing, apply)
