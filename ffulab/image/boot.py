"""The kernel command line of a direct-kernel-boot guest: where root is, plus the per-lab settings.

The image carries no lab identity; the hostname (systemd's own ``systemd.hostname=``) and the lab's
SSH public key (read by ``rootfs/usr/local/sbin/ffulab-firstboot``) travel on the command line.
"""

from __future__ import annotations

import base64
import re

from ffulab.errors import ImageError

ROOT_ARGS = "root=/dev/vda rw console=ttyS0"
SSH_KEY_PARAM = "ffulab.ssh_key"
# x86 COMMAND_LINE_SIZE is 2048 bytes, including the trailing NUL.
MAX_CMDLINE = 2047

_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"  # RFC 1123
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_PUBKEY = re.compile(r"^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]+( [^\n]*)?$")


def kernel_cmdline(hostname: str, ssh_pubkey: str) -> str:
    """``root=/dev/vda rw console=ttyS0 systemd.hostname=H ffulab.ssh_key=<base64 of the key line>``.

    base64 because a key line holds spaces, which the kernel would split into separate words.
    """
    if not _HOSTNAME.match(hostname):
        raise ImageError("boot", f"not a valid hostname: {hostname!r}")
    line = ssh_pubkey.strip()
    if not _PUBKEY.match(line):
        raise ImageError("boot", f"not one OpenSSH public key line: {line[:60]!r}")
    encoded = base64.b64encode((line + "\n").encode()).decode()
    cmdline = f"{ROOT_ARGS} systemd.hostname={hostname} {SSH_KEY_PARAM}={encoded}"
    if len(cmdline) > MAX_CMDLINE:
        raise ImageError("boot", f"kernel command line is {len(cmdline)} bytes, the limit {MAX_CMDLINE}")
    return cmdline
