"""failbackctl jobs / job show [--follow] / job cancel against a real controller running the test job types."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from controller.jobs import Jobs
from failback.retry import Policy
from tests.controller_cli._procs import ctl_json, wait_finished, wait_for_file
from tests.harness import ControllerProcess
from tests.harness._processes import ROOT, _env


def test_a_job_runs_to_the_end_and_shows_its_steps_and_outputs(controller: ControllerProcess, jobs: Jobs, work: Path):
    job_id = jobs.submit("test.effects", {"dir": str(work)}, created_by="operator/test").id
    wait_finished(jobs, job_id)
    shown = ctl_json(controller, "job", "show", str(job_id))
    assert (shown["id"], shown["state"], shown["percent"], shown["error"]) == (job_id, "succeeded", 100.0, None)
    assert shown["title"] == "Apply test effects"
    assert shown["params"] == {"dir": str(work)}
    assert [step["name"] for step in shown["steps"]] == ["s0", "s1", "s2"]
    assert [step["output"] for step in shown["steps"]] == [{"effect": f"s{n}", "attempt": 1} for n in range(3)]
    assert shown["steps"][2]["bytes_total"] == 1536
    listed = ctl_json(controller, "jobs")["jobs"]
    assert any(job["id"] == job_id and job["state"] == "succeeded" for job in listed)


def test_follow_streams_progress_as_json_lines_and_exits_zero_on_success(
    controller: ControllerProcess, jobs: Jobs, work: Path
):
    job_id = jobs.submit("test.effects", {"dir": str(work), "gates": True}, created_by="operator/test").id
    command = [sys.executable, "-m", "controller.cli", "--config", str(controller.ctl_config)]
    command += ["job", "show", str(job_id), "--follow", "--output", "json"]
    updates: list[dict] = []

    def seen(step: int, fraction: float) -> bool | None:
        return True if any(u["steps"][step]["state"] == "running" and u["steps"][step]["fraction"] == fraction
                           for u in list(updates)) else None  # fmt: skip

    with subprocess.Popen(command, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, text=True) as follower:
        assert follower.stdout is not None
        stream = follower.stdout
        reader = threading.Thread(target=lambda: updates.extend(json.loads(line) for line in stream))
        reader.start()
        for n in range(3):
            # Each gate opens only once the follower has shown the job waiting at it.
            for gate, fraction in ((f"before-s{n}", 0.0), (f"after-s{n}", 0.5)):
                wait_for_file(work / f"at-{gate}")
                Policy(deadline=30, initial=0.05, maximum=0.2).wait_for(lambda n=n, f=fraction: seen(n, f), what=gate)
                (work / f"go-{gate}").touch()
        assert follower.wait(60) == 0
        reader.join(10)
    assert updates[-1]["state"] == "succeeded"
    percents = [update["percent"] for update in updates]
    assert percents == sorted(percents)
    assert {0.0, 16.7, 33.3, 50.0, 66.7, 83.3, 100.0} <= set(percents)


def test_a_job_that_fails_shows_the_error_with_its_remedy_and_follow_exits_one(
    controller: ControllerProcess, jobs: Jobs
):
    job_id = jobs.submit("test.broken", {}, created_by="operator/test").id
    wait_finished(jobs, job_id)
    followed = controller.ctl("job", "show", str(job_id), "--follow")
    assert followed.returncode == 1
    assert "error:  Fill the datastore: the simulated datastore is full" in followed.stdout
    assert "remedy: free 40 GiB on datastore1, then run it again" in followed.stdout
    shown = ctl_json(controller, "job", "show", str(job_id))
    assert shown["steps"][0]["state"] == "failed"


def test_a_temporary_failure_is_retried_and_the_job_succeeds(controller: ControllerProcess, jobs: Jobs, work: Path):
    job_id = jobs.submit("test.flaky", {"dir": str(work), "failures": 2}, created_by="operator/test").id
    job = wait_finished(jobs, job_id)
    assert job.state == "succeeded"
    assert job.steps[0].attempts == 3
    assert job.steps[0].output == {"attempt": 3}


def test_cancel_stops_a_running_job_at_its_next_cancellation_point(
    controller: ControllerProcess, jobs: Jobs, work: Path
):
    job_id = jobs.submit("test.effects", {"dir": str(work), "gates": True}, created_by="operator/test").id
    wait_for_file(work / "at-before-s0")
    cancelled = ctl_json(controller, "job", "cancel", str(job_id))
    assert cancelled["cancel_requested"] is True
    job = wait_finished(jobs, job_id)
    assert (job.state, job.error) == ("cancelled", "cancelled by operator/admin")
    assert not (work / "effects").exists()
    again = controller.ctl("job", "cancel", str(job_id))
    assert again.returncode == 1
    assert "has already finished (cancelled)" in again.stderr


def test_an_unknown_job_is_an_error_that_says_where_to_look(controller: ControllerProcess):
    result = controller.ctl("job", "show", "999999")
    assert result.returncode == 1
    assert result.stderr.strip() == "failbackctl: error: there is no job 999999 (see 'failbackctl jobs')"


def test_a_bad_command_line_exits_two(controller: ControllerProcess):
    assert controller.ctl("job", "show", "not-a-number").returncode == 2
    assert controller.ctl("jobs", "--output", "yaml").returncode == 2


JOB_KEYS = {
    "id", "type", "title", "subject", "state", "cancel_requested", "cancellable", "percent", "bytes_done",
    "bytes_total", "eta_seconds", "current_step", "error", "remedy", "created_by", "created_at", "started_at",
    "finished_at", "updated_at", "not_before", "params", "steps",
}  # fmt: skip
STEP_KEYS = {
    "position", "name", "title", "state", "attempts", "fraction", "bytes_done", "bytes_total", "message",
    "last_error", "error", "remedy", "started_at", "finished_at", "retry_at", "cancellable", "output",
}  # fmt: skip


def test_the_job_json_has_exactly_the_documented_keys(controller: ControllerProcess, jobs: Jobs):
    job_id = jobs.submit("test.broken", {}, created_by="operator/test").id
    wait_finished(jobs, job_id)
    shown = ctl_json(controller, "job", "show", str(job_id))
    assert set(shown) == JOB_KEYS
    assert all(set(step) == STEP_KEYS for step in shown["steps"])
    listed = ctl_json(controller, "jobs", "--limit", "5")
    assert set(listed) == {"jobs"}
    assert all(set(job) == JOB_KEYS for job in listed["jobs"])


def test_the_job_table_shows_the_error_the_remedy_and_each_step(controller: ControllerProcess, jobs: Jobs):
    job_id = jobs.submit("test.broken", {}, created_by="operator/test").id
    wait_finished(jobs, job_id)
    shown = controller.ctl("job", "show", str(job_id))
    assert shown.returncode == 0, shown.stderr
    assert f"job {job_id}: Fail for good (test.broken)" in shown.stdout
    assert "remedy:   free 40 GiB on datastore1, then run it again" in shown.stdout
    assert any(line.split()[:3] == ["1", "Fill", "the"] and "failed" in line for line in shown.stdout.splitlines())
    listed = controller.ctl("jobs", "--unfinished")
    assert listed.returncode == 0
    assert f"\n{job_id} " not in listed.stdout
