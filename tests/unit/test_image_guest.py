"""Configuring the guest tree from the host: files, units, and no identity left behind."""

import pytest

from ffulab.image import guest


@pytest.fixture
def tree(tmp_path):
    """The parts of a fresh mmdebstrap tree that configure() touches."""
    root = tmp_path / "tree"
    files = {
        "etc/shadow": "root:*:20780:0:99999:7:::\ndaemon:*:20780:0:99999:7:::\n",
        "etc/hostname": "buildhost\n",
        "etc/resolv.conf": "nameserver 10.0.0.1\n",
        "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
        "etc/fstab": "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
        "etc/ssh/ssh_host_rsa_key": "private\n",
        "etc/ssh/ssh_host_rsa_key.pub": "public\n",
        "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def systemctl(monkeypatch):
    calls = []
    monkeypatch.setattr(guest, "run", lambda argv, **kw: calls.append(argv))
    return calls


def test_configure_copies_the_rootfs_files_with_their_modes(tree, systemctl):
    guest.configure(tree)
    for rel in guest.rootfs_files():
        assert (tree / rel).read_bytes() == (guest.ROOTFS / rel).read_bytes()
    assert (tree / "usr/local/sbin/ffulab-firstboot").stat().st_mode & 0o777 == 0o755
    assert (tree / "etc/systemd/network/80-dhcp.network").stat().st_mode & 0o777 == 0o644
    assert "/dev/vda" in (tree / "etc/fstab").read_text()


def test_configure_enables_and_masks_units_with_the_guests_own_systemctl(tree, systemctl):
    guest.configure(tree)
    assert ["chroot", str(tree), "systemctl", "enable", *guest.ENABLE_UNITS] in systemctl
    assert ["chroot", str(tree), "systemctl", "mask", *guest.MASK_UNITS] in systemctl
    assert "ffulab-firstboot.service" in guest.ENABLE_UNITS


def test_configure_leaves_no_host_identity_and_no_ssh_host_key(tree, systemctl):
    guest.configure(tree)
    assert not list((tree / "etc/ssh").glob("ssh_host_*"))
    assert not (tree / "etc/hostname").exists()
    assert not (tree / "etc/resolv.conf").exists()
    assert (tree / "etc/machine-id").read_text() == ""


def test_configure_locks_the_root_password_only(tree, systemctl):
    (tree / "etc/shadow").write_text("root:$6$salt$hash:20780:0:99999:7:::\ndaemon:*:20780::::::\n")
    guest.configure(tree)
    assert (tree / "etc/shadow").read_text().splitlines() == [
        "root:*:20780:0:99999:7:::",
        "daemon:*:20780::::::",
    ]


def test_sshd_allows_root_by_key_only():
    config = (guest.ROOTFS / "etc/ssh/sshd_config.d/ffulab.conf").read_text().splitlines()
    assert "PermitRootLogin prohibit-password" in config
    assert "PasswordAuthentication no" in config


def test_network_config_takes_dhcp_on_every_ethernet_nic():
    text = (guest.ROOTFS / "etc/systemd/network/80-dhcp.network").read_text()
    assert "Name=e*" in text and "DHCP=yes" in text
