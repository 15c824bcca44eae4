"""The undercloud's release mirror: the lab's artifacts laid out per series, copied only when missing.

On the undercloud the mirror is ``/srv/ffulab/mirror/<series>/<name>-<version>.squashfs`` plus
``index.json`` (:func:`ffulab.artifacts.mirror_index`: file, sha256, size, venv of each artifact),
served on the ctlplane by the undercloud role. A sync asks the undercloud for its index and the
sizes of its files (one SSH round trip), sends only the artifacts whose sha256 or size differ,
checks their sha256 there with ``sha256sum`` (C, ~1 s per 40 MB under TCG), moves them in place,
removes files no longer in the index and writes the index last. A rerun sends nothing.

How the bytes travel, measured on a TCG undercloud (38 MB archive): SSH ~4 MB/s whatever the
cipher (the guest's sshd decrypts under emulation), HTTP ~19 MB/s. So the undercloud pulls the files
with ``curl`` from a short-lived HTTP server on the ctlplane bridge's address of the virthost: when
the virthost is this machine (sandbox or local) ffulab serves its cache's files there
(:func:`serve_files`); on an ssh virthost the files are first copied once into the remote's artifact
store and the server runs there (:func:`serve_from_virthost`). Without a server (``serve=None``)
the files go as one tar stream over SSH. Never scp/rsync, never Ansible's copy module (in-guest
Python hashing).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffulab.errors import FfulabError
from ffulab.proc import stop_process
from ffulab.provision.access import ssh_argv
from ffulab.virthost.base import Virthost

MIRROR_DIR = "/srv/ffulab/mirror"
MIRROR_PORT = 8787
INDEX_FILE = "index.json"
SUMS_FILE = "SHA256SUMS"
INCOMING = ".incoming"
_LISTING_MARK = "--- ffulab mirror files ---"

Progress = Callable[[str], None]


class MirrorError(FfulabError):
    """The undercloud's mirror could not be read or filled."""

    def __init__(self, problem: str):
        super().__init__(f"release mirror on the undercloud: {problem}")


@dataclass
class MirrorSync:
    """What one sync did: files sent (and how), kept, removed; bytes and seconds."""

    sent: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    method: str = "none"
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "kept": self.kept,
            "removed": self.removed,
            "bytes_sent": self.bytes_sent,
            "method": self.method,
            "seconds": self.seconds,
        }


def mirror_url(address: str, port: int = MIRROR_PORT) -> str:
    return f"http://{address}:{port}"


def parse_listing(output: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The undercloud's answer to :func:`listing_script`: its index (``{}`` if none) and file sizes."""
    text, _, files = output.partition(_LISTING_MARK)
    try:
        index = json.loads(text) if text.strip() else {}
    except ValueError:
        index = {}  # a torn index is as good as none: everything is checked again
    sizes: dict[str, int] = {}
    for line in files.splitlines():
        name, _, size = line.strip().rpartition(" ")
        if name and size.isdigit():
            sizes[name] = int(size)
    return index, sizes


def listing_script(directory: str = MIRROR_DIR) -> str:
    where = shlex.quote(directory)
    return (
        f"cat {where}/{INDEX_FILE} 2>/dev/null; echo {shlex.quote(_LISTING_MARK)}; "
        f"cd {where} 2>/dev/null && find . -path ./{INCOMING} -prune -o -type f "
        "\\( -name '*.squashfs' -o -name '*.tar.zst' \\) -printf '%P %s\\n' || true"
    )


def mirror_entries(index: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file of a mirror index: the venv archives (``artifacts``), then the images ffulab made for
    the lab's roles (``images``: e.g. the workload image, ``images/workload-<digest>.tar.zst``)."""
    return [*index.get("artifacts", []), *index.get("images", [])]


def plan_sync(
    index: dict[str, Any], remote_index: dict[str, Any], remote_sizes: dict[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(to send, to keep, to remove): an artifact is kept only if the undercloud's index has its sha256
    and the file there has its size; files the new index does not list are removed."""
    known = {entry["file"]: entry["sha256"] for entry in mirror_entries(remote_index)}
    send, keep = [], []
    for entry in mirror_entries(index):
        present = (
            known.get(entry["file"]) == entry["sha256"] and remote_sizes.get(entry["file"]) == entry["size"]
        )
        (keep if present else send).append(entry)
    wanted = {entry["file"] for entry in mirror_entries(index)}
    remove = sorted(name for name in remote_sizes if name not in wanted)
    return send, keep, remove


def apply_script(
    send: list[dict[str, Any]],
    remove: list[str],
    index_text: str,
    source: str | None,
    directory: str = MIRROR_DIR,
) -> str:
    """The undercloud's side of a sync. ``source``: an HTTP base URL to pull the files from; None: they
    come as a tar stream on stdin. Then: check every sha256, move in place, prune, write the index last.
    """
    where = shlex.quote(directory)
    incoming = shlex.quote(f"{directory}/{INCOMING}")
    lines = ["set -eu", f"rm -rf {incoming}", f"mkdir -p {incoming}", f"cd {incoming}"]
    if send and source is None:
        lines.append("tar -xf -")
    elif send:
        for entry in send:
            target = shlex.quote(entry["file"])
            url = shlex.quote(f"{source}/{entry['file']}")
            lines += [
                f"mkdir -p $(dirname {target})",
                f"curl --fail --silent --show-error --retry 3 -o {target} {url}",
            ]
    if send:
        sums = "".join(f"{entry['sha256']}  {entry['file']}\n" for entry in send)
        lines += [
            f"printf %s {shlex.quote(sums)} > {SUMS_FILE}",
            f"sha256sum --quiet --strict --check {SUMS_FILE}",
        ]
        for entry in send:
            target = shlex.quote(entry["file"])
            lines += [f"mkdir -p {where}/$(dirname {target})", f"mv -f {target} {where}/{target}"]
    lines += [f"rm -f {where}/{shlex.quote(name)}" for name in remove]
    lines += [
        f"cat > {INDEX_FILE} <<'FFULAB_INDEX'\n{index_text.rstrip()}\nFFULAB_INDEX",
        f"mv -f {INDEX_FILE} {where}/{INDEX_FILE}",
        "cd /",
        f"rm -rf {incoming}",
        f"find {where} -mindepth 1 -type d -empty -delete",
    ]
    return "\n".join(lines) + "\n"


def _ssh(
    workspace: Path, script: str, stdin: Any = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ssh_argv(workspace, "undercloud", ["sh", "-c", shlex.quote(script)]),
        stdin=stdin,
        capture_output=True,
        text=stdin is None,
        timeout=timeout,
        check=False,
    )


def _tar_stream(send: list[dict[str, Any]], files: dict[str, Path], out: Any) -> None:
    """Write a tar of the files to send, named as in the mirror (``<series>/<archive>``), to ``out``."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in send:
            tar.add(str(files[entry["file"]]), arcname=entry["file"], recursive=False)


@contextlib.contextmanager
def serve_files(
    wrap: Callable[[list[str]], list[str]], address: str, files: dict[str, Path]
) -> Iterator[str]:
    """A short-lived HTTP server on ``address`` (a lab bridge of the virthost) serving ``files`` under
    their mirror names; yields its base URL. It dies with ffulab (PR_SET_PDEATHSIG) if ffulab is killed.
    """
    with tempfile.TemporaryDirectory(prefix="ffulab-mirror-") as staging:
        for name, path in files.items():
            link = Path(staging) / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
        argv = wrap(
            [sys.executable, "-u", "-m", "http.server", "--bind", address, "--directory", staging, "0"]
        )
        with _server(argv, address, ends_with_stdin=False, preexec_fn=_die_with_parent) as url:
            yield url


SERVE_THERE = """set -eu
address=$1; store=$2; shift 2
staging=$(mktemp -d "${TMPDIR:-/tmp}/ffulab-mirror-XXXXXX")
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$staging"' EXIT
while [ $# -gt 0 ]; do
  mkdir -p "$staging/$(dirname "$1")"
  ln -s "$store/$2" "$staging/$1"
  shift 2
done
python3 -u -m http.server --bind "$address" --directory "$staging" 0 2>/dev/null &
server=$!
cat >/dev/null
"""
"""The HTTP server on an ssh virthost, serving the store's files under their mirror names; it runs
until its stdin closes, which happens when ffulab closes it or its ssh goes away (killed ffulab)."""


@contextlib.contextmanager
def serve_from_virthost(
    virthost: Virthost, address: str, sums: dict[str, str], files: dict[str, Path], progress: Progress
) -> Iterator[str]:
    """Serve ``files`` from the virthost itself (an ssh virthost: this client cannot reach the lab's
    bridges). They are copied into its artifact store first, once (``sums``: mirror name -> sha256);
    the HTTP server then runs there on ``address`` (a lab bridge) for the undercloud to pull from."""
    store = virthost.stage_files({sums[name]: path for name, path in files.items()}, progress)
    pairs = [part for name in files for part in (name, sums[name])]
    argv = virthost.wrap(["sh", "-c", SERVE_THERE, "sh", address, store, *pairs])
    with _server(argv, address, ends_with_stdin=True) as url:
        yield url


@contextlib.contextmanager
def _server(argv: list[str], address: str, ends_with_stdin: bool, **popen: Any) -> Iterator[str]:
    """Run ``argv`` (an HTTP server whose first line names its port) until the block ends, then stop
    it: by closing its stdin (``ends_with_stdin``: the remote side's way), else with SIGTERM."""
    stdin = subprocess.PIPE if ends_with_stdin else subprocess.DEVNULL
    server = subprocess.Popen(
        argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **popen
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        # "Serving HTTP on 192.168.101.1 port 40123 (http://192.168.101.1:40123/) ..."
        words = line.split()
        if "port" not in words:
            raise MirrorError(f"the virthost's HTTP server did not start on {address}: {line.strip()!r}")
        port = int(words[words.index("port") + 1])
        yield mirror_url(address, port)
    finally:
        if server.stdin:
            server.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
        stop_process(server)


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def sync_mirror(
    workspace: Path,
    index: dict[str, Any],
    files: dict[str, Path],
    progress: Progress,
    serve: Callable[[dict[str, Path]], contextlib.AbstractContextManager[str]] | None = None,
    directory: str = MIRROR_DIR,
) -> MirrorSync:
    """Make the undercloud's mirror hold exactly ``index`` (``files``: mirror name -> local archive).

    ``serve``: a context manager factory that serves files over HTTP to the undercloud (see
    :func:`serve_files`); None sends them as a tar stream over SSH.
    """
    started = time.monotonic()
    listed = _ssh(workspace, listing_script(directory))
    if listed.returncode != 0:
        raise MirrorError(f"could not list {directory}: {listed.stderr.strip()}")
    remote_index, remote_sizes = parse_listing(listed.stdout)
    send, keep, remove = plan_sync(index, remote_index, remote_sizes)
    index_text = json.dumps(index, indent=2, sort_keys=True) + "\n"
    result = MirrorSync(
        sent=[e["file"] for e in send], kept=[e["file"] for e in keep], removed=remove,
        bytes_sent=sum(e["size"] for e in send),
    )  # fmt: skip
    if not send and not remove and remote_index == json.loads(index_text):
        result.seconds = round(time.monotonic() - started, 1)
        progress(f"mirror up to date: {len(keep)} artifact(s) already on the undercloud")
        return result
    mib = result.bytes_sent / 2**20
    if send:
        progress(f"mirror: sending {len(send)} artifact(s), {mib:.0f} MiB ({len(keep)} already there)")
    if serve is not None and send:
        result.method = "http"
        with serve({e["file"]: files[e["file"]] for e in send}) as url:
            done = _ssh(workspace, apply_script(send, remove, index_text, url, directory), timeout=1800)
    else:
        result.method = "ssh-tar" if send else "index-only"
        script = apply_script(send, remove, index_text, None, directory)
        done = _stream_over_ssh(workspace, script, send, files)
    if done.returncode != 0:
        error = done.stderr if isinstance(done.stderr, str) else done.stderr.decode(errors="replace")
        raise MirrorError(f"filling {directory} failed: {error.strip()[-800:]}")
    result.seconds = round(time.monotonic() - started, 1)
    rate = f", {mib / result.seconds:.1f} MiB/s" if send and result.seconds else ""
    progress(f"mirror filled by {result.method} in {result.seconds:.1f} s{rate}")
    return result


def _stream_over_ssh(
    workspace: Path, script: str, send: list[dict[str, Any]], files: dict[str, Path]
) -> subprocess.CompletedProcess:
    argv = ssh_argv(workspace, "undercloud", ["sh", "-c", shlex.quote(script)])
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            assert proc.stdin is not None
            if send:
                _tar_stream(send, files, proc.stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        returncode = proc.wait(timeout=1800)
        err.seek(0)
        return subprocess.CompletedProcess(argv, returncode, b"", err.read())
