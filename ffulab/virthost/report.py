"""What ``ffulab virthost check`` reports: facts a lab needs, and each gap with its fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Missing:
    """One thing the virthost lacks, and the exact command that provides it."""

    what: str
    fix: str


@dataclass
class CheckReport:
    """The state of one virthost; ``None`` means "could not be found out" (see ``missing``)."""

    kind: str
    uri: str
    netns: str | None = None
    libvirt_version: str | None = None
    virt_type: str | None = None
    virt_type_reason: str | None = None
    memory_total_mib: int | None = None
    memory_available_mib: int | None = None
    disk_free_mib: dict[str, int | None] = field(default_factory=dict)
    missing: list[Missing] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def lines(self) -> list[str]:
        """Human-readable lines, one fact per line, gaps last with their fix."""
        where = f"{self.uri}, netns {self.netns}" if self.netns else self.uri
        virt = self.virt_type or "-"
        if self.virt_type_reason:
            virt += f" ({self.virt_type_reason})"
        memory = f"{_gib(self.memory_total_mib)} total, {_gib(self.memory_available_mib)} available"
        disks = "; ".join(f"{path} {_gib(mib)}" for path, mib in self.disk_free_mib.items())
        lines = [
            f"virthost   {self.kind} ({where})",
            f"libvirt    {self.libvirt_version or '-'}",
            f"virt type  {virt}",
            f"memory     {memory}",
            f"disk free  {disks or '-'}",
        ]
        for gap in self.missing:
            lines += [f"missing    {gap.what}", f"  fix:     {gap.fix}"]
        if self.ok:
            lines.append("ready      yes")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {**asdict(self), "ok": self.ok}


def _gib(mib: int | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.1f} GiB"
