"""The real base image: built (or found in the cache), booted under TCG, reached by SSH with a lab key.

Needs root (mmdebstrap), the Debian mirror, qemu; ~1 min to build cold, ~15-25 s to boot.
"""

import os
import shutil

import pytest

from ffulab.image import ImageRecipe, ensure_image
from ffulab.image.smoke import SmokeVM

TOOLS = ("mmdebstrap", "mkfs.ext4", "qemu-img", "qemu-system-x86_64", "ssh", "ssh-keygen")

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="building the image needs root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS), reason=f"needs all of {', '.join(TOOLS)}"),
]


@pytest.fixture(scope="module")
def image():
    return ensure_image(ImageRecipe(), progress=print)


def test_image_boots_and_takes_hostname_and_ssh_key_from_the_cmdline(image, tmp_path):
    base_mtime = image.disk.stat().st_mtime_ns
    with SmokeVM(image, tmp_path, hostname="ffulab-func-0") as vm:
        print(f"boot to SSH: {vm.wait_for_ssh(timeout=300)} s")
        assert vm.ssh("uname -r").strip() == image.kernel_version
        assert vm.ssh("cat /proc/sys/kernel/hostname").strip() == "ffulab-func-0"
        sshd = vm.ssh("sshd -T").splitlines()
        assert "permitrootlogin without-password" in sshd
        assert "passwordauthentication no" in sshd
        assert vm.ssh("systemctl --failed --no-legend --plain").strip() == ""
        assert len(vm.ssh("cat /etc/machine-id").strip()) == 32
    assert vm.process.returncode is not None, "qemu must be gone after the with block"
    assert image.disk.stat().st_mtime_ns == base_mtime, "the guest must write to its overlay only"


def test_a_second_call_is_a_cache_hit(image):
    again = ensure_image(ImageRecipe())
    assert not again.built and again.seconds < 1
    assert again.disk == image.disk
