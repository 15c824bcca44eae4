"""The kernel command line that carries a lab's hostname and SSH key into a cached image."""

import base64
import subprocess

import pytest

from ffulab.errors import ImageError
from ffulab.image import guest
from ffulab.image.boot import MAX_CMDLINE, ROOT_ARGS, SSH_KEY_PARAM, kernel_cmdline

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDkq3nJ5m4sdZtV0Vq1z3Ym9m8yq4wV0b7l1N5q0e7rF lab key@host"
FIRSTBOOT = guest.ROOTFS / "usr/local/sbin/ffulab-firstboot"


def params(cmdline):
    return dict(word.split("=", 1) for word in cmdline.split() if "=" in word)


def test_cmdline_boots_vda_on_the_serial_console_and_names_the_host():
    cmdline = kernel_cmdline("overcloud-controller-0", KEY)
    assert cmdline.startswith(ROOT_ARGS + " ")
    assert params(cmdline)["systemd.hostname"] == "overcloud-controller-0"


def test_key_travels_as_one_base64_word_that_decodes_to_the_key_line():
    cmdline = kernel_cmdline("undercloud", KEY + "\n")
    assert base64.b64decode(params(cmdline)[SSH_KEY_PARAM]).decode() == KEY + "\n"
    assert len(cmdline.split()) == len(ROOT_ARGS.split()) + 2


@pytest.mark.parametrize("hostname", ["", "-lead", "under_cloud", "a b", "x" * 64, "node;reboot"])
def test_bad_hostnames_are_refused(hostname):
    with pytest.raises(ImageError, match="hostname"):
        kernel_cmdline(hostname, KEY)


@pytest.mark.parametrize("key", ["", "not a key", KEY + "\n" + KEY, "-----BEGIN OPENSSH PRIVATE KEY-----"])
def test_anything_but_one_public_key_line_is_refused(key):
    with pytest.raises(ImageError, match="public key"):
        kernel_cmdline("node", key)


def test_a_key_too_long_for_the_kernel_is_refused():
    with pytest.raises(ImageError, match=str(MAX_CMDLINE)):
        kernel_cmdline("node", "ssh-rsa " + "A" * 2000)


def test_firstboot_script_reads_the_parameter_boot_py_writes():
    assert f"{SSH_KEY_PARAM}=" in FIRSTBOOT.read_text()


def test_firstboot_script_is_valid_posix_shell_not_python():
    assert FIRSTBOOT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(FIRSTBOOT)], check=True)
