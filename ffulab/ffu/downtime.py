"""Control-plane downtime during the FFU: run the poller beside the lab, turn its samples into windows.

The poller (:mod:`ffulab.ffu.poller`) runs where the lab is reachable (``virthost.wrap``), polls
every public API of the lab and writes one JSON sample per API and second into
``<workspace>/logs/downtime-<time>.jsonl``. For each API a window of downtime opens at the first
failed sample and closes at the next answered one (or at the end of the FFU when the API never
came back). Each run of ``ffulab ffu`` adds its windows to the state's ``ffu.downtime[api]``, so a
resumed FFU still reports the whole outage.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffulab.ffu import poller
from ffulab.proc import stop_process
from ffulab.state import Downtime, Window
from ffulab.virthost.base import Virthost

log = logging.getLogger(__name__)

INTERVAL = 1.0
TIMEOUT = 3.0
"""An answer slower than this counts as down: generous, since one TCG WSGI worker is slow under load."""
MAX_SECONDS = 6 * 3600
"""The poller's own bound: longer than any FFU, in case ffulab could not stop it."""


@dataclass
class Poller:
    """A running poller and the file its samples go to."""

    urls: dict[str, str]
    """API (service) -> the URL polled."""
    path: Path
    process: subprocess.Popen

    @classmethod
    def start(
        cls, virthost: Virthost, urls: dict[str, str], logs: Path, probes: list[str] | None = None
    ) -> Poller:
        """``probes``: the poller's data-plane arguments (:func:`ffulab.ffu.dataplane.poller_args`)."""
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"downtime-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        source = Path(poller.__file__).read_text()
        argv = [
            "python3",
            "-u",
            "-c",
            source,
            *(arg for api, url in urls.items() for arg in ("--url", f"{api}={url}")),
            *(probes or []),
            "--interval",
            str(INTERVAL),
            "--timeout",
            str(TIMEOUT),
        ]
        argv += ["--max-seconds", str(MAX_SECONDS)]
        with path.open("w") as out:
            process = subprocess.Popen(
                virthost.wrap(argv), stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
            )
        watched = [*urls.values(), *(probes or [])[1::2]]
        log.info("poller %d on %s -> %s", process.pid, ", ".join(watched), path)
        return cls(urls, path, process)

    def stop(self) -> list[dict[str, Any]]:
        """Stop the poller and return its samples."""
        stop_process(self.process)
        return read_samples(self.path)


def read_samples(path: Path) -> list[dict[str, Any]]:
    samples = []
    for line in path.read_text().splitlines():
        try:
            samples.append(json.loads(line))
        except ValueError:
            continue  # a line cut by the kill
    return samples


def unpaused(samples: list[dict[str, Any]], paused: list[Window]) -> list[dict[str, Any]]:
    """The samples not sent while ffulab itself had the lab paused (a snapshot: every domain stopped
    for its length), nor in the ``TIMEOUT`` before a pause (their answer could not come) or the
    ``INTERVAL`` after it: an outage ffulab made is not the upgrade's."""
    return [s for s in samples if not any(w.start - TIMEOUT <= s["t"] <= w.end + INTERVAL for w in paused)]


def windows(samples: list[dict[str, Any]], until: float | None = None) -> list[Window]:
    """The outages in one API's ``samples`` ({start, end}; ``open`` when the API never came back);
    samples after ``until`` (the end of the FFU) do not count."""
    found: list[Window] = []
    opened: float | None = None
    last = 0.0
    for sample in sorted(samples, key=lambda s: s["t"]):
        if until is not None and sample["t"] > until:
            break
        last = sample["t"]
        if not sample["ok"] and opened is None:
            opened = sample["t"]
        elif sample["ok"] and opened is not None:
            found.append(Window(start=opened, end=sample["t"]))
            opened = None
    if opened is not None:
        found.append(Window(start=opened, end=last, open=True))
    return found


def merge(
    previous: Downtime | None, url: str, samples: list[dict[str, Any]], until: float | None
) -> Downtime:
    """One API's ``ffu.downtime`` record after one more run's samples of it."""
    record = previous.model_copy(deep=True) if previous else Downtime(url=url)
    old, new = list(record.windows), windows(samples, until)
    first = min((s["t"] for s in samples), default=None)
    if old and old[-1].open and new and new[0].start == first:
        # the API was down when the last run stopped and still is: one outage, also while unwatched
        old[-1] = new.pop(0).model_copy(update={"start": old[-1].start})
    record.windows = old + new
    record.samples += len(samples)
    record.failed_samples += sum(not s["ok"] for s in samples)
    record.seconds = round(sum(w.end - w.start for w in record.windows), 1)
    record.url, record.interval, record.timeout = url, INTERVAL, TIMEOUT
    return record


def merge_all(
    previous: dict[str, Downtime], urls: dict[str, str], samples: list[dict[str, Any]], until: float | None
) -> dict[str, Downtime]:
    """Every polled API's record after one more run (samples carry their ``api``)."""
    merged = dict(previous)
    for api, url in urls.items():
        mine = [sample for sample in samples if sample.get("api") == api]
        merged[api] = merge(previous.get(api), url, mine, until)
    return merged
