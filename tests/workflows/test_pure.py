"""The pure parts of the workflows: plan files, where an item fails back to, disk placement, the sync forecast and
which workflow may start from which state."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from controller.workflows._forecast import forecast
from controller.workflows._location import OnPremVm, decide_location
from controller.workflows._placement import MasterTargetRoom, PlacementUnit, place
from controller.workflows._spec import parse_plan, plan_from_json
from controller.workflows._states import WORKFLOWS, ItemState
from controller.workflows.errors import NotEligible, PlacementFailed, PlanInvalid

PLAN_TOML = textwrap.dedent(
    """
    name = "web-tier"
    vault = "dr-vault"
    vcenter = "vc1"
    datastore = "LocalDS_0"
    retention_volume = "/mnt/retention"
    master_targets = ["mt-01", "mt-02"]
    process_server = "ps-01"
    policy = "failback-24h"
    rollback_window = "12h"

    [network]
    map = { "VM Network" = "DR Network" }
    domain = "corp.example.com"

    [[agents]]
    name = "mt-01"
    role = "master-target"
    address = "10.0.0.5:9443"
    vm = "5012c0de-0000-0000-0000-000000000001"

    [[agents]]
    name = "mt-02"
    role = "master-target"
    address = "10.0.0.6:9443"
    vm = "5012c0de-0000-0000-0000-000000000002"

    [[agents]]
    name = "ps-01"
    role = "process-server"
    address = "10.200.0.4:9443"

    [[vms]]
    item = "web01"
    boot_group = 2
    disks = [{ id = "6000C29a-1b2c-3d4e-5f60-718293a4b5c6", source = "/dev/sdb" }]
    ips = [{ address = "10.10.5.11", prefix = 24, gateways = ["10.10.5.1"] }]

    [[vms]]
    item = "db01"
    boot_group = 1
    location = "alternate"
    """
)

PLAN_YAML = textwrap.dedent(
    """
    name: web-tier
    vault: dr-vault
    vcenter: vc1
    datastore: LocalDS_0
    retention_volume: /mnt/retention
    master_targets: [mt-01]
    process_server: ps-01
    policy: failback-24h
    agents:
      - {name: mt-01, role: master-target, address: "10.0.0.5:9443", vm: 5012c0de-0000-0000-0000-000000000001}
      - {name: ps-01, role: process-server, address: "10.200.0.4:9443"}
    vms:
      - item: web01
    """
)


def test_a_toml_plan_parses_with_every_field():
    plan = parse_plan(PLAN_TOML)
    assert plan.name == "web-tier"
    assert plan.master_targets == ("mt-01", "mt-02")
    assert plan.rollback_window == dt.timedelta(hours=12)
    assert plan.network.map == {"VM Network": "DR Network"}
    assert [vm.item for vm in plan.vms] == ["web01", "db01"]
    assert plan.vms[0].disks[0].source == "/dev/sdb"
    assert plan.vms[0].ips[0].gateways == ("10.10.5.1",)
    assert plan.vms[1].location == "alternate"
    assert plan.agent("mt-02").vm == "5012c0de-0000-0000-0000-000000000002"


def test_a_yaml_plan_parses_to_the_same_model():
    plan = parse_plan(PLAN_YAML, yaml_syntax=True)
    assert plan.vms[0].item == "web01"
    assert plan.agent("ps-01").role == "process-server"


def test_a_stored_plan_reads_back_identical():
    plan = parse_plan(PLAN_TOML)
    assert plan_from_json(plan.to_json()) == plan


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda t: t.replace('policy = "failback-24h"', 'policy = "failback-24h"\ncolour = "red"'), "colour"),
        (lambda t: t.replace('location = "alternate"', 'location = "somewhere"'), "location"),
        (lambda t: t.replace('master_targets = ["mt-01", "mt-02"]', 'master_targets = ["mt-09"]'), "mt-09"),
        (lambda t: t.replace('address = "10.0.0.6:9443"', 'address = "nowhere"'), "address"),
        (lambda t: t.replace('"10.10.5.11"', '"fe80::1"'), "IPv4"),
        (lambda t: t.replace('item = "db01"', 'item = "web01"'), "listed twice"),
        (lambda t: t.replace('rollback_window = "12h"', 'rollback_window = "1m"'), "rollback_window"),
        (lambda t: t.replace('vm = "5012c0de-0000-0000-0000-000000000002"\n', ""), "instance UUID"),
    ],
)
def test_a_bad_plan_is_refused_naming_what_to_fix(edit, named):
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(edit(PLAN_TOML))
    assert named in str(caught.value)


def test_broken_syntax_is_refused():
    with pytest.raises(PlanInvalid, match="not valid TOML"):
        parse_plan("name = ")
    with pytest.raises(PlanInvalid, match="not valid YAML"):
        parse_plan("a: [", yaml_syntax=True)


# -- location -------------------------------------------------------------------------------------------------------

DISK = "naa.6000c29a1b2c3d4e5f60718293a4b5c6"
VM = OnPremVm("4210aaaa", "web01", {DISK: "datastore-1"}, {"datastore-1": "ssd-01"})


def decide(**overrides):
    arguments = {
        "item": "web01",
        "requested": "auto",
        "physical": False,
        "protected_disks": [DISK],
        "candidate": VM,
        "master_target_datastores": frozenset({"datastore-1"}),
        "master_target_host": "esx-01",
    }
    arguments.update(overrides)
    return decide_location(**arguments)


def test_an_existing_vm_on_a_reachable_datastore_fails_back_to_its_original_location():
    decision = decide()
    assert (decision.location, decision.vm) == ("original", "4210aaaa")
    assert any("checksum resync" in reason for reason in decision.reasons)


def test_a_vm_whose_datastore_the_master_target_cannot_see_goes_to_an_alternate_location():
    decision = decide(master_target_datastores=frozenset({"datastore-2"}))
    assert decision.location == "alternate"
    assert "cannot see datastore ssd-01" in decision.reasons[0]


def test_a_deleted_vm_goes_to_an_alternate_location():
    assert decide(candidate=None).location == "alternate"


def test_a_vm_missing_a_protected_disk_goes_to_an_alternate_location():
    decision = decide(protected_disks=[DISK, "naa.6000c29ffffffffffffffffffffffff0"])
    assert decision.location == "alternate"
    assert "lacks 1 of the protected disks" in decision.reasons[0]


def test_a_physical_server_always_becomes_a_new_vm():
    assert decide(physical=True).location == "alternate"
    with pytest.raises(NotEligible, match="physical server"):
        decide(physical=True, requested="original")


def test_asking_for_the_original_location_when_it_is_impossible_is_refused_with_the_reason():
    with pytest.raises(NotEligible, match="no on-premises VM"):
        decide(candidate=None, requested="original")


def test_asking_for_an_alternate_location_is_honoured():
    assert decide(requested="alternate").location == "alternate"


# -- placement ------------------------------------------------------------------------------------------------------


def unit(name: str, disks: int, *, pinned: str | None = None, size: int = 2**30) -> PlacementUnit:
    return PlacementUnit(name, (name,), disks, disks * size, ("mt-01", "mt-02"), pinned)


def test_placement_spreads_disks_by_free_slots():
    rooms = [MasterTargetRoom("mt-01", 60, 2**40), MasterTargetRoom("mt-02", 60, 2**40)]
    placed = place([unit(f"g{i}", 25) for i in range(4)], rooms)
    assert sorted(placed.values()) == ["mt-01", "mt-01", "mt-02", "mt-02"]


def test_placement_never_exceeds_the_sixty_disk_limit():
    rooms = [MasterTargetRoom("mt-01", 60, 2**40), MasterTargetRoom("mt-02", 20, 2**40)]
    placed = place([unit("big", 50), unit("small", 15)], rooms)
    assert placed == {"big": "mt-01", "small": "mt-02"}
    with pytest.raises(PlacementFailed, match="needs 61 disk slots"):
        place([unit("huge", 61)], rooms)


def test_placement_weighs_retention_space_and_load():
    rooms = [MasterTargetRoom("mt-01", 60, 2**30), MasterTargetRoom("mt-02", 60, 2**40)]
    assert place([unit("g", 5, size=100 * 2**30)], rooms) == {"g": "mt-02"}
    loaded = [MasterTargetRoom("mt-01", 30, 2**40, load_bytes=2**42), MasterTargetRoom("mt-02", 30, 2**40)]
    assert place([unit("g", 1)], loaded) == {"g": "mt-02"}


def test_a_pinned_unit_goes_to_its_master_target_or_fails():
    rooms = [MasterTargetRoom("mt-01", 60, 2**40), MasterTargetRoom("mt-02", 2, 2**40)]
    assert place([unit("g", 2, pinned="mt-02")], rooms) == {"g": "mt-02"}
    with pytest.raises(PlacementFailed) as caught:
        place([unit("g", 3, pinned="mt-02")], rooms)
    assert "unpin it" in (caught.value.remedy or "")


def test_a_master_target_that_never_reported_is_named():
    with pytest.raises(PlacementFailed, match="mt-02 has not reported"):
        place([unit("g", 1, pinned="mt-02")], [MasterTargetRoom("mt-01", 60, 2**40)])


# -- forecast -------------------------------------------------------------------------------------------------------


def test_eta_comes_from_measured_throughput():
    result = forecast(
        bytes_done=100, bytes_total=300, elapsed_seconds=10, plain_sent=100, wire_sent=40, churn_bytes_per_second=None
    )
    assert result.eta_seconds == pytest.approx(20)
    assert result.compression_ratio == pytest.approx(2.5)
    assert result.rpo_seconds is None


def test_rpo_forecast_grows_with_churn_and_refuses_an_unsustainable_one():
    calm = forecast(
        bytes_done=1,
        bytes_total=1,
        elapsed_seconds=10,
        plain_sent=10_000_000,
        wire_sent=4_000_000,
        churn_bytes_per_second=100_000,
    )
    busy = forecast(
        bytes_done=1,
        bytes_total=1,
        elapsed_seconds=10,
        plain_sent=10_000_000,
        wire_sent=4_000_000,
        churn_bytes_per_second=800_000,
    )
    assert calm.sustainable
    assert busy.sustainable
    assert 30 < calm.rpo_seconds < busy.rpo_seconds
    flood = forecast(
        bytes_done=1,
        bytes_total=1,
        elapsed_seconds=10,
        plain_sent=10_000_000,
        wire_sent=4_000_000,
        churn_bytes_per_second=2_000_000,
    )
    assert flood.sustainable is False
    assert flood.rpo_seconds is None
    assert "not sustainable" in flood.note


# -- states ---------------------------------------------------------------------------------------------------------


def test_workflows_start_only_from_their_states():
    assert WORKFLOWS["failover"].may_start(ItemState.REPLICATING)
    assert not WORKFLOWS["failover"].may_start(ItemState.FAILED_OVER_TO_AZURE)
    assert WORKFLOWS["failover"].may_start(ItemState.FAILING_OVER)  # resume a stopped failover
    assert WORKFLOWS["cancel"].may_start(ItemState.FAILING_OVER)  # or roll it back
    assert not WORKFLOWS["commit"].may_start(ItemState.FAILING_OVER)
    assert not WORKFLOWS["reprotect-back"].may_start(ItemState.FAILED_OVER)
