"""The real keystone artifact of the default job's first series: built (or from the cache), a squashfs
image of the venv, unpacked over a guest-like Debian root, and run there with the guest's /usr/bin/python3.

Needs root (mmdebstrap, mount, chroot), the Debian mirror and PyPI; ~2 min cold, seconds when cached.
"""

import os
import shutil
import subprocess

import pytest

from ffulab.artifacts import ensure_artifact, ensure_root, plan_artifacts
from ffulab.artifacts.chroot import Overlay, run_in
from ffulab.artifacts.roots import builder_recipe, runtime_recipe
from ffulab.config.resolve import resolve

TOOLS = ("mmdebstrap", "unshare", "chroot", "mksquashfs", "unsquashfs")

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="building in a chroot needs root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS), reason=f"needs all of {', '.join(TOOLS)}"),
]


@pytest.fixture(scope="module")
def request_and_roots():
    resolved = resolve()
    first = resolved.config.release.ffu_chain[0]
    request = plan_artifacts(resolved, series=[first], services=["keystone"])[0]
    image = resolved.config.image
    builder = ensure_root(builder_recipe(image.suite, image.mirror), progress=print)
    runtime = ensure_root(runtime_recipe(image.suite, image.mirror), progress=print)
    return request, builder, runtime


@pytest.fixture(scope="module")
def artifact(request_and_roots):
    request, builder, runtime = request_and_roots
    return ensure_artifact(
        request.spec,
        request.version,
        request.series,
        request.constraints,
        request.existing_lock(),
        print,
        builder=builder,
        runtime=runtime,
    )


def test_the_image_holds_only_the_venv_its_guest_path_mounts(artifact):
    listing = subprocess.run(
        ["unsquashfs", "-lls", "-d", "", str(artifact.path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    entries = [line.split(None, 5) for line in listing if line[:1] in "-dl" and len(line.split()) >= 6]
    members = {fields[5].split(" -> ")[0] for fields in entries}
    assert artifact.path.suffix == ".squashfs"
    assert artifact.venv_path == f"/opt/openstack/keystone-{artifact.version}"
    assert "/bin/keystone-manage" in members and "/pyvenv.cfg" in members
    assert "/.lock" not in members, "uv's lock file of the venv stays on the virthost"
    assert not any("openstackclient" in m for m in members), "the client is its own artifact"
    assert {fields[1] for fields in entries} == {"root/root"}, "every file root's: -all-root"


def test_keystone_manage_runs_with_the_guests_python_in_a_guest_like_root(
    artifact, request_and_roots, tmp_path
):
    _, _, runtime = request_and_roots
    layer = tmp_path / "layer"
    venv = layer / artifact.venv_path.lstrip("/")
    venv.parent.mkdir(parents=True)
    subprocess.run(["unsquashfs", "-q", "-n", "-d", str(venv), str(artifact.path)], check=True)
    assert os.readlink(venv / "bin/python3") == "/usr/bin/python3"
    assert "home = /usr/bin" in (venv / "pyvenv.cfg").read_text()
    overlay = Overlay.create(tmp_path / "ovl", [layer, runtime.tree])
    out = run_in(overlay, [f"{artifact.venv_path}/bin/keystone-manage", "--version"], timeout=300)
    assert out.split()[-1] == artifact.version
    modules = run_in(
        overlay, [f"{artifact.venv_path}/bin/python", "-c", "import pymysql, gunicorn; print('ok')"]
    )
    assert modules.strip().endswith("ok")


def test_the_manifest_records_the_build(artifact):
    manifest = artifact.manifest
    assert manifest["service"] == "keystone" and manifest["version"] == artifact.version
    assert manifest["check"]["output"].split()[-1] == artifact.version
    assert manifest["check"]["pyc_written"] == 0, "bytecode in the archive must be valid for the guest"
    assert f"keystone=={artifact.version}" in manifest["freeze"]
    assert manifest["builder"]["python"] == manifest["runtime"]["python"]


def test_a_second_call_is_a_cache_hit(artifact, request_and_roots):
    request, builder, runtime = request_and_roots
    again = ensure_artifact(
        request.spec,
        request.version,
        request.series,
        request.constraints,
        request.existing_lock(),
        builder=builder,
        runtime=runtime,
    )
    assert not again.built and again.seconds < 1
    assert again.path == artifact.path
