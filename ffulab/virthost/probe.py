"""Decide the libvirt domain type: ``kvm`` only if a probe guest really runs fast under KVM, else ``qemu``.

On the project's machines ``/dev/kvm`` exists and a trivial real-mode guest even prints under KVM
(3 runs in 4), yet Linux guests never boot: writing guest memory the first time crawls (measured:
16 MiB in 5 s, 256 MiB not within 10 s; a Debian cloud kernel printed nothing in 20 s under KVM and
reached its panic in 2 s under TCG). So the probe guest is a boot sector that does what a kernel
does first: BIOS boot, timer interrupts, long mode, then it writes 128 MiB of memory, prints a
marker on the serial port and powers off through ``isa-debug-exit``. It runs under TCG first
(which proves the probe itself and times it), then under KVM with a deadline of the TCG time plus
a grace: KVM is chosen only if it finishes by then.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ffulab import proc
from ffulab.errors import VirthostError

MARKER = b"FFULAB-OK"
KVM_GRACE_SECONDS = 2.0
TCG_TIMEOUT_SECONDS = 60.0
ORG = 0x7C00  # where the BIOS loads a boot sector

OnHost = Callable[[list[str]], list[str]]
"""Prefixes a command so that it runs on the virthost machine (``Virthost.on_host``)."""

# Assembled with GNU as (.code16 / .code32 / .code64) and checked with objdump; the unit tests
# check that the absolute addresses below land on the labels named in the comments.
_REAL_MODE = [
    ("fa 31c0 8ed8 8ec0 8ed0", "cli; xor ax,ax; mov ds,ax; mov es,ax; mov ss,ax"),
    ("bc007c fc", "mov sp,0x7c00; cld"),
    ("fb 8b1e6c04 83c302", "sti; mov bx,[0x46c]; add bx,2   ; BIOS tick count (IRQ0, 18.2 Hz) + 2"),
    ("f4 3b1e6c04 75f9 fa", "1: hlt; cmp bx,[0x46c]; jne 1b; cli   ; timer interrupts work"),
    ("bf0010 b90018 31c0 f3ab", "zero 0x1000-0x3fff: PML4, PDPT, PD"),
    ("c7060010 0320", "mov word [0x1000],0x2003   ; PML4[0] -> PDPT"),
    ("c7060020 0330", "mov word [0x2000],0x3003   ; PDPT[0] -> PD"),
    ("bf0030 66b883000000 b90002", "mov di,0x3000; mov eax,0x83; mov cx,512"),
    ("668905 660500002000 83c708 e2f2", "2: PD[i] = eax (2 MiB page); eax += 2 MiB; loop 2b   ; 1 GiB"),
    ("660f0116e87c", "lgdt [0x7ce8]   ; gdtr"),
    ("0f20c0 0c01 0f22c0", "cr0.PE = 1"),
    ("66ea637c00000800", "jmp dword 0x08:0x7c63   ; pm32"),
]
_PROTECTED_MODE = [  # pm32 at 0x7c63
    ("66b81000 8ed8 8ec0 8ed0", "mov ax,0x10; mov ds,ax; mov es,ax; mov ss,ax"),
    ("0f20e0 83c820 0f22e0", "cr4.PAE = 1"),
    ("b800100000 0f22d8", "cr3 = 0x1000"),
    ("b9800000c0 0f32 0d00010000 0f30", "EFER.LME = 1 (rdmsr/wrmsr 0xc0000080)"),
    ("0f20c0 0d00000080 0f22c0", "cr0.PG = 1"),
    ("ea9e7c00001800", "jmp 0x18:0x7c9e   ; lm64"),
]
_LONG_MODE = [  # lm64 at 0x7c9e
    ("bf00000001 b900000001 31c0 f348ab", "rep stosq: zero 128 MiB at 16 MiB (touch every page)"),
    ("66baf803 beee7c0000", "mov dx,0x3f8 (COM1); mov esi,0x7cee   ; msg"),
    ("ac 84c0 7403 ee ebf8", "3: lodsb; test al,al; jz 4f; out dx,al; jmp 3b"),
    ("66baf400 ee f4 ebf8", "4: mov dx,0xf4; out dx,al (isa-debug-exit: qemu exits); hlt; jmp 4b"),
    ("6690", "padding: the GDT starts 8-aligned at 0x7cc8"),
]
_DATA = [
    ("0000000000000000", "gdt: null"),
    ("ffff0000009acf00", "0x08: 32-bit code"),
    ("ffff00000092cf00", "0x10: data"),
    ("ffff0000009aaf00", "0x18: 64-bit code"),
    ("1f00c87c0000", "gdtr at 0x7ce8: limit 31, base 0x7cc8"),
]


def boot_sector() -> bytes:
    """The probe guest: 512 bytes a BIOS boots, printing MARKER + newline at the end."""
    listing = _REAL_MODE + _PROTECTED_MODE + _LONG_MODE + _DATA
    code = b"".join(bytes.fromhex(hexbytes) for hexbytes, _ in listing) + MARKER + b"\n\0"
    return code.ljust(510, b"\0") + b"\x55\xaa"


@dataclass
class ProbeResult:
    """The decision and why: both runs' times, keyed by the kernel it was measured on."""

    virt_type: str
    reason: str
    kernel: str
    tcg_seconds: float
    kvm_seconds: float | None


# The image travels on stdin (base64), qemu's serial port on stdout: this works the same through ssh.
_SCRIPT = """
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not found"; exit 127; }
d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && base64 -d > "$d/boot.img" || exit 126
timeout -k 1 "$2" qemu-system-x86_64 -accel "$1" -m 256 -display none -nodefaults -no-reboot \
  -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -drive "format=raw,file=$d/boot.img" </dev/null
"""


def run_guest(on_host: OnHost, accel: str, timeout: float) -> tuple[bool, float, str]:
    """Boot the probe guest with ``accel``; return (marker printed, seconds, qemu's output)."""
    argv = on_host(["sh", "-c", _SCRIPT, "ffulab-probe", accel, f"{timeout:.1f}"])
    payload = base64.b64encode(boot_sector()).decode()
    started = time.monotonic()
    try:
        result = proc.run(argv, check=False, input=payload, timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started, ""
    seconds = time.monotonic() - started
    if result.returncode in (126, 127):
        raise VirthostError(f"cannot run the virt-type probe: {result.stdout.strip()}")
    return MARKER.decode() in result.stdout, seconds, result.stdout


def probe(on_host: OnHost, kernel: str) -> ProbeResult:
    """Run the probe guest under TCG, then under KVM; decide."""
    tcg_ok, tcg_seconds, output = run_guest(on_host, "tcg", TCG_TIMEOUT_SECONDS)
    if not tcg_ok:
        raise VirthostError(
            f"the probe guest did not print {MARKER.decode()} under TCG within {TCG_TIMEOUT_SECONDS:.0f} s, "
            f"so qemu cannot run guests on this virthost; qemu said: {output.strip()[-500:] or 'nothing'}"
        )
    deadline = tcg_seconds + KVM_GRACE_SECONDS
    kvm_ok, kvm_seconds, output = run_guest(on_host, "kvm", deadline)
    if kvm_ok:
        reason = f"probe guest ran under KVM in {kvm_seconds:.1f} s, TCG {tcg_seconds:.1f} s"
        return ProbeResult("kvm", reason, kernel, round(tcg_seconds, 2), round(kvm_seconds, 2))
    last = output.strip().splitlines()[-1:] if output.strip() else []
    why = f"failed: {last[0]}" if kvm_seconds < deadline - 0.5 and last else f"not done in {deadline:.1f} s"
    reason = f"KVM probe guest {why}; TCG took {tcg_seconds:.1f} s"
    return ProbeResult("qemu", reason, kernel, round(tcg_seconds, 2), None)


def virt_type(on_host: OnHost, cache: Path) -> tuple[ProbeResult, bool]:
    """The cached decision for the virthost's running kernel, probing when there is none.

    Returns the result and whether it was probed just now.
    """
    kernel = proc.run(on_host(["uname", "-r"])).stdout.strip()
    try:
        cached = ProbeResult(**json.loads(cache.read_text()))
        if cached.kernel == kernel:
            return cached, False
    except (OSError, ValueError, TypeError):
        pass
    result = probe(on_host, kernel)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(asdict(result), indent=1) + "\n")
    return result, True
