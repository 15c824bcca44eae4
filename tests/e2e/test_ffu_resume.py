"""The iteration loop on CI's job's lab: rerun the FFU from a release and step (the lab
reverted to the snapshot before it), kill the run during step 6, and ``ffulab ffu`` continues at
step 6 and finishes, the resources still verified."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import JobRun, ffulab

pytestmark = pytest.mark.e2e
STEP = 6


def _ffu(job: JobRun) -> dict:
    return json.loads((job.workspace / "state.json").read_text()).get("ffu", {})


def _kill_at_step(job: JobRun, release: str, step: int, timeout: float = 1800) -> dict:
    """Start the rerun in its own process group; SIGKILL the group a second into ``step``."""
    argv = [sys.executable, "-m", "ffulab", "ffu", "-w", str(job.workspace), "--from-release", release]
    run = subprocess.Popen([*argv, "--from-step", str(step)], start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and run.poll() is None:
            ffu = _ffu(job)
            if (ffu.get("release"), ffu.get("step"), ffu.get("status")) == (release, step, "running"):
                time.sleep(1)  # into its work: keystone's step 6 took 5-7 s, on an idle machine under 5
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
                return _ffu(job)
            time.sleep(0.2)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    pytest.fail(f"the rerun never reached {release} step {step} (exit {run.returncode})")


def test_a_killed_ffu_resumes_at_the_step_it_was_in(job: JobRun):
    if job.returncode != 0:
        pytest.skip("the job failed: nothing to rerun")
    release = _ffu(job)["chain"][-2]  # the last intermediate release
    killed = _kill_at_step(job, release, STEP)
    assert killed["status"] == "running" and killed["step"] == STEP, "the state names the step that was cut"
    assert killed["steps"][f"{release}/{STEP - 1}"]["status"] in ("done", "nothing to do")
    cut_at = time.time()

    resumed = ffulab("ffu", "-w", str(job.workspace), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"{release} step {STEP} on" in resumed.stdout, "the resumed run starts at the step that was cut"
    assert f"{release} step {STEP - 1}" not in resumed.stdout, "steps done before the kill are not rerun"
    ffu = _ffu(job)
    assert ffu["status"] == "done"
    assert ffu["steps"][f"{release}/{STEP}"]["started"] > cut_at
    assert ffu["steps"][f"{release}/{STEP - 1}"]["started"] < cut_at
    state = json.loads((job.workspace / "state.json").read_text())
    chain = ffu["chain"]
    assert state["overcloud"]["release"] == chain[-1]
    verified = state["resources"]["verified"]
    assert (verified["release"], verified["failed"]) == (chain[-1], []), verified
    assert verified["ok"] == verified["items"] > 0
