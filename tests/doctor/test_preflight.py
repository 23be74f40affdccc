"""The preflight in front of reprotect and failover, on the simulators' site (tests/doctor/conftest.py): it refuses
on a failing check with every failure's remedy, lets an operator override named checks, and records what it found.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from controller.doctor import PREFLIGHT_STEP, SKIP_PARAM, preflight_step, with_preflight
from controller.jobs import InvalidParameters
from controller.workflows import FAILOVER, REPROTECT, PreflightFailed, job_types

pytestmark = pytest.mark.vcsim


class Context:
    """The StepContext a step sees (our own seam): parameters and the progress it reports."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.job_id = 1
        self.params = MappingProxyType(dict(params))
        self.outputs: Mapping[str, Mapping[str, Any]] = {}
        self.attempt = 1
        self.messages: list[str | None] = []

    def report(self, fraction=None, *, bytes_done=None, bytes_total=None, message=None) -> None:
        self.messages.append(message)

    def checkpoint(self) -> None:
        return None


def test_a_failing_check_stops_the_preflight_with_each_failure_and_its_remedy(make_site):
    site = make_site()  # disk.EnableUUID is not set on the master target; db01 is already protected back
    step = preflight_step(site.doctor, site.deps)
    with pytest.raises(PreflightFailed) as refused:
        step.run(Context({"plan": "web"}))
    message = refused.value.message
    assert "master-target-enable-uuid (master target mt-linux-01)" in message
    assert "set disk.EnableUUID = TRUE" in message
    assert "asr-state (vm db01)" in message
    assert "--skip-doctor" in (refused.value.remedy or "")


def test_overridden_checks_let_the_preflight_pass_and_are_recorded_in_its_output(make_site):
    site = make_site()
    site.vc.set_extra_config(site.mt.instance_uuid, {"disk.EnableUUID": "TRUE"})
    step = preflight_step(site.doctor, site.deps)
    # db01 (asr-state) and the agents nobody registered here (reachability) are what still fails.
    output = step.run(Context({"plan": "web", SKIP_PARAM: ["asr-state", "reachability"]}))
    assert {(o["check"], o["subject"]) for o in output["overridden"]} >= {("asr-state", "vm db01")}
    assert {o["check"] for o in output["overridden"]} == {"asr-state", "reachability"}
    assert output["counts"]["fail"] == len(output["overridden"])


def test_reprotect_and_failover_start_with_the_preflight_and_other_workflows_do_not(make_site):
    site = make_site()
    wrapped = {t.name: t for t in with_preflight(job_types(site.deps), site.doctor, site.deps)}
    firsts = {name: t.steps[0].name for name, t in wrapped.items()}
    assert firsts[REPROTECT] == firsts[FAILOVER] == PREFLIGHT_STEP
    assert [name for name, first in firsts.items() if first == PREFLIGHT_STEP] == [REPROTECT, FAILOVER]


def test_an_unknown_check_to_skip_is_refused_before_the_job_is_recorded(make_site):
    site = make_site()
    reprotect = next(t for t in with_preflight(job_types(site.deps), site.doctor, site.deps) if t.name == REPROTECT)
    with pytest.raises(InvalidParameters, match="unknown doctor checks \\['no-such-check'\\]"):
        reprotect.validate({"plan": "web", SKIP_PARAM: ["no-such-check"]})
