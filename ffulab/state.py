"""The workspace's ``state.json``: what the lab is, what it owns, how far it got — one typed model.

Every resource is recorded here *before* it is created (status ``planned``), then marked
``created``; ``ffulab destroy`` walks the records newest first and removes each, so a crash at any
point leaves nothing that destroy cannot find (tenks' and molecule's lesson). Every change is
written at once, atomically. :class:`LabState` names every key a lab has (molecule's ``state.py``
keeps a fixed set the same way); a phase reads ``state.ffu.steps`` instead of digging in dicts.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ffulab.errors import FfulabError

STATE_FILE = "state.json"
FORMAT = 2
"""1: untyped (ffulab before the service catalog); its labs can still be destroyed (:meth:`State.salvage`)."""


class StateError(FfulabError):
    exit_code = 2


class Record(BaseModel):
    """A part of the state: known keys typed, unknown ones refused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Owned(BaseModel):
    """A resource the lab created (or is about to): what destroy removes. Kinds add their own keys."""

    model_config = ConfigDict(extra="allow")

    kind: str
    name: str
    status: Literal["planned", "created"] = "planned"


class PhaseRecord(Record):
    status: str
    seconds: float | None = None
    started: float | None = None
    ended: float | None = None
    error: str | None = None


class StepRun(Record):
    """One run within an FFU position, in the order they went: a playbook on its nodes, or the canary's
    check between its final deploy and the other nodes'."""

    what: str
    hosts: list[str]
    started: float
    seconds: float | None = None
    status: str = "running"
    detail: str = ""


class StepRecord(Record):
    """One FFU position (release, step) as the engine ran it; ``timings`` are the seconds its scripts
    reported (``ffulab-step:``), e.g. each service's part of the step; ``runs`` what ran, in order."""

    status: str
    started: float | None = None
    ended: float | None = None
    seconds: float | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    runs: list[StepRun] = Field(default_factory=list)


class Versions(Record):
    """A release and what each service's venv holds there (read from the nodes)."""

    release: str
    versions: dict[str, str] = Field(default_factory=dict)


class Window(Record):
    start: float
    end: float
    open: bool = False


class Downtime(Record):
    """One API's outages while the poller watched it (``ffulab.ffu.downtime``)."""

    url: str
    windows: list[Window] = Field(default_factory=list)
    samples: int = 0
    failed_samples: int = 0
    seconds: float = 0.0
    interval: float = 1.0
    timeout: float = 3.0


class ProbeRecord(Record):
    """One data-plane probe (ICMP echo or TCP connect) of a workload, every second while it ran."""

    kind: Literal["icmp", "tcp"]
    target: str
    started: float | None = None
    """The first sample's time; ``ended`` the last's: the span the probe watched."""
    ended: float | None = None
    samples: int = 0
    lost: int = 0
    loss_percent: float = 0.0
    windows: list[Window] = Field(default_factory=list)
    longest: float = 0.0
    """The longest outage's seconds (first lost sample to the next answered one)."""
    longest_window: Window | None = None


class UptimeRecord(Record):
    """The workload's own uptime counter as its responder gave it: a reboot makes it go back."""

    first: float
    first_at: float
    last: float
    last_at: float
    continuous: bool
    """Never went back, and grew at least as much as the wall clock minus the probes' spacing."""


class Dataplane(Record):
    """A workload's data plane through the FFU (``ffulab.ffu.dataplane``)."""

    address: str
    server: str | None = None
    host: str | None = None
    probes: dict[str, ProbeRecord] = Field(default_factory=dict)
    """icmp / tcp -> what that probe saw."""
    uptime: UptimeRecord | None = None
    instance: str | None = None
    """What its role's probe found on its host when it had stopped answering (``ffulab.ffu.diagnose``)."""


class Workload(Record):
    """A workload a service's resources made, that the data-plane probes watch (``ffulab-dataplane:``)."""

    address: str
    tcp: int | None = None
    server: str | None = None
    host: str | None = None
    service: str | None = None


class CheckResult(Record):
    """A service's upgrade check at one release (``<service>-status upgrade check``, schema at head)."""

    status: Literal["ok", "warning", "failed"]
    detail: str = ""


class RollbackDrill(Record):
    release: str
    restored: str
    status: str
    seconds: float | None = None
    error: str | None = None
    verified: int | None = None
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    downtime: dict[str, Downtime] = Field(default_factory=dict)
    dataplane: dict[str, Dataplane] = Field(default_factory=dict)


class FfuRecord(Record):
    """Where the FFU is: ``release``/``step`` is the next position to run (step 10: release done)."""

    chain: list[str] = Field(default_factory=list)
    path: str = "ffu"
    """ffu (through every release) or slurp (one skip-level hop): ffulab/ffu/positions.py."""
    release: str | None = None
    step: int | None = None
    status: str | None = None
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    before: Versions | None = None
    after: Versions | None = None
    downtime: dict[str, Downtime] = Field(default_factory=dict)
    """API (service) -> its outages, added up over resumed runs."""
    dataplane: dict[str, Dataplane] = Field(default_factory=dict)
    """workload -> its data plane from before step 1 to the end of the final deploy."""
    paused: list[Window] = Field(default_factory=list)
    """When the FFU's snapshots had every domain paused (wall clock): the poller's samples then do
    not count, and a workload's uptime does not run on through them."""
    checks: dict[str, dict[str, dict[str, CheckResult]]] = Field(default_factory=dict)
    """release -> service -> check name -> result, from step 9 (and the final deploy)."""
    rollback_drill: RollbackDrill | None = None


class OvercloudRecord(Record):
    """The services as deployed: the release, each service's version on the nodes, the APIs."""

    release: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    apis: dict[str, str] = Field(default_factory=dict)
    """service -> its public URL (through the load balancer), for Tempest and the checks."""
    polls: dict[str, str] = Field(default_factory=dict)
    """service -> what the downtime poller GETs (the catalog's ``api.poll``: what answers without a
    token, e.g. a /healthcheck where the versioned root answers 401); a lab recorded before it polls
    ``apis``."""
    identity_url: str | None = None
    overcloudrc: str | None = None
    seconds: float | None = None
    changed: dict[str, int] = Field(default_factory=dict)
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    deployed_at: float | None = None
    idempotence: dict[str, Any] | None = None

    def poll_urls(self) -> dict[str, str]:
        """service -> the URL the downtime poller GETs."""
        return {service: self.polls.get(service, url) for service, url in self.apis.items()}


class ResourcesRecord(Record):
    created: list[dict[str, str]] = Field(default_factory=list)
    workloads: dict[str, Workload] = Field(default_factory=dict)
    """name -> a workload whose data plane the FFU watches."""
    seconds: float | None = None
    created_at: str | None = None
    verified: dict[str, Any] | None = None


class UpdateRecord(Record):
    """The minor update at N (phase update): from the older point releases to N's, node by node."""

    status: str
    before: dict[str, str] = Field(default_factory=dict)
    after: dict[str, str] = Field(default_factory=dict)
    nodes: dict[str, float] = Field(default_factory=dict)
    """node -> the seconds its update took, in the order they went."""
    seconds: float | None = None
    downtime: dict[str, Downtime] = Field(default_factory=dict)


class LabState(Record):
    """Every key of ``state.json``."""

    format: int = FORMAT
    lab: str
    created: float = Field(default_factory=time.time)
    owned: list[Owned] = Field(default_factory=list)
    phases: dict[str, PhaseRecord] = Field(default_factory=dict)
    config: dict[str, Any] | None = None
    """The resolved config as the last run had it (``Resolved.to_dict``: files, overrides, config)."""
    virthost_spec: str | None = None
    virthost: dict[str, Any] | None = None
    virt_type: str | None = None
    image: dict[str, Any] | None = None
    layout: dict[str, Any] | None = None
    bmc: dict[str, Any] | None = None
    ssh_seconds: dict[str, float] = Field(default_factory=dict)
    undercloud: dict[str, Any] | None = None
    overcloud: OvercloudRecord = Field(default_factory=OvercloudRecord)
    resources: ResourcesRecord = Field(default_factory=ResourcesRecord)
    validations: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="validate")
    """label (baseline, final) -> that validation's result."""
    update: UpdateRecord | None = None
    ffu: FfuRecord = Field(default_factory=FfuRecord)
    snapshots: list[dict[str, Any]] = Field(default_factory=list)
    last_revert: dict[str, Any] | None = None
    clock_gaps: list[Window] = Field(default_factory=list)
    """When the guests lived through none of the wall clock: a revert puts every guest back to the moment
    its snapshot was taken (from then to the revert); the machine itself stood still (ffulab/host_stalls.py).
    Not restored by a revert: it is the lab's history."""
    reuse: dict[str, Any] | None = None
    """``job run --reuse``: the key of what made the deployed lab kept for the next run (job/reuse.py)."""
    report: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    """What the lab had to do otherwise than asked (``ffulab-warning:`` lines of the roles), once each."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @property
    def chain(self) -> list[str]:
        """The FFU chain: the FFU's own record, else the config's."""
        config = (self.config or {}).get("config") or {}
        return list(self.ffu.chain or config.get("release", {}).get("ffu_chain") or [])

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def stood_still(self) -> list[Window]:
        """When the guests' clocks did not run on (wall clock, overlaps merged): ffulab had every domain
        paused for a snapshot (the FFU's, every listed one's), a revert took the lab back or the machine
        stood still. A workload's uptime and the poller's samples are judged without them."""
        windows = [(w.start, w.end) for w in (*self.ffu.paused, *self.clock_gaps)]
        windows += [(r["paused"]["start"], r["paused"]["end"]) for r in self.snapshots if r.get("paused")]
        merged: list[Window] = []
        for start, end in sorted(windows):
            if merged and start <= merged[-1].end:
                merged[-1].end = max(merged[-1].end, end)
            else:
                merged.append(Window(start=start, end=end))
        return merged

    def contents(self) -> dict[str, Any]:
        """The parts that describe the lab's contents, as a snapshot keeps them."""
        return self.model_dump(mode="json", by_alias=True, include=set(RESTORABLE))

    def restore_contents(self, phases: dict[str, Any], contents: dict[str, Any]) -> None:
        """Put back the phases and contents a snapshot kept (parts it did not keep start empty)."""
        restored = LabState.model_validate({"lab": self.lab, "phases": phases, **contents})
        for key in ("phases", *RESTORABLE):
            setattr(self, key, getattr(restored, key))


RESTORABLE = ("ffu", "overcloud", "resources", "validations", "update")
"""The parts that describe the lab's contents: a snapshot keeps them, a revert puts them back."""
SALVAGED = ("lab", "owned", "layout", "virthost")
"""What destroy needs of a state file it cannot load otherwise (another format): same shape in all."""


class State:
    """One lab's state file: ``state.data`` is the typed :class:`LabState`; ``save`` writes it at once."""

    def __init__(self, workspace: Path, data: LabState):
        self.workspace = workspace
        self.data = data

    @property
    def path(self) -> Path:
        return self.workspace / STATE_FILE

    @classmethod
    def exists(cls, workspace: Path) -> bool:
        return (workspace / STATE_FILE).is_file()

    @classmethod
    def load(cls, workspace: Path) -> State:
        path = workspace / STATE_FILE
        if workspace.exists() and not workspace.is_dir():
            raise StateError(f"{workspace}: not a directory, so no lab here: pass a workspace with -w")
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise StateError(f"{workspace}: no lab here (no {STATE_FILE})") from None
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: unreadable state file: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            found = raw.get("format") if isinstance(raw, dict) else None
            raise StateError(f"{path}: state format {found} is not {FORMAT}; destroy and recreate")
        try:
            return cls(workspace, LabState.model_validate(raw))
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            raise StateError(f"{path}: {key}: {error['msg']} (written by another ffulab version?)") from None

    @classmethod
    def salvage(cls, workspace: Path) -> State:
        """What destroy needs from a state file of another format: the owned resources, the layout
        and the virthost, whose shape every format shares. Never saved back as it is."""
        raw = json.loads((workspace / STATE_FILE).read_text())
        if isinstance(raw.get("resources"), list) and "owned" not in raw:
            raw["owned"] = raw.pop("resources")
        return cls(workspace, LabState.model_validate({key: raw[key] for key in SALVAGED if key in raw}))

    @classmethod
    def open(cls, workspace: Path, lab: str) -> State:
        """Load the lab at ``workspace`` or start a new state there."""
        if cls.exists(workspace):
            state = cls.load(workspace)
            if state.data.lab != lab:
                raise StateError(
                    f"{workspace} holds lab '{state.data.lab}', not '{lab}': "
                    f"use another -w or 'ffulab destroy -w {workspace}' first"
                )
            return state
        if workspace.exists() and not workspace.is_dir():
            raise StateError(
                f"{workspace}: not a directory: pass a directory for the lab's workspace with -w"
            )
        workspace.mkdir(parents=True, exist_ok=True)
        os.chmod(workspace, 0o700)
        state = cls(workspace, LabState(lab=lab))
        state.save()
        return state

    def save(self) -> None:
        """Write atomically (temp file + fsync + rename) so a kill never leaves half a file."""
        fd, tmp = tempfile.mkstemp(dir=self.workspace, prefix=".state.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.data.dump(), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def warn(self, warnings: list[str]) -> None:
        """Keep each new warning once (the same one comes back at every deploy) and save."""
        new = [w for w in warnings if w not in self.data.warnings]
        if new:
            self.data.warnings = [*self.data.warnings, *new]
            self.save()

    def update(self, **parts: Any) -> None:
        """Set some parts (validated) and save."""
        for name, value in parts.items():
            setattr(self.data, name, value)
        self.save()

    # owned resources: what destroy removes ---------------------------------------------------

    def resources(self, kind: str | None = None) -> list[Owned]:
        return [r for r in self.data.owned if kind is None or r.kind == kind]

    def find(self, kind: str, name: str) -> Owned | None:
        return next((r for r in self.data.owned if r.kind == kind and r.name == name), None)

    @contextmanager
    def creating(self, kind: str, name: str, **attrs: Any) -> Iterator[Owned]:
        """Record a resource as planned, let the caller create it, then mark it created.

        If creation raises, the record stays ``planned``: destroy still tries to remove it.
        """
        record = self.find(kind, name)
        if record is None:
            record = Owned(kind=kind, name=name, **attrs)
            self.data.owned.append(record)
        else:
            for key, value in attrs.items():
                setattr(record, key, value)
        self.save()
        yield record
        record.status = "created"
        self.save()

    def forget(self, kind: str, name: str) -> None:
        self.data.owned = [r for r in self.data.owned if not (r.kind == kind and r.name == name)]
        self.save()

    # phases --------------------------------------------------------------------------------

    def phase(self, name: str) -> PhaseRecord | None:
        return self.data.phases.get(name)

    def mark_phase(self, name: str, status: str, **extra: Any) -> None:
        entry = self.data.phases.get(name)
        if entry is None:
            self.data.phases[name] = PhaseRecord(status=status, **extra)
        else:
            entry.status = status
            for key, value in extra.items():
                setattr(entry, key, value)
        self.save()
