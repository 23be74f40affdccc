"""Where a new disk goes on a VM's SCSI controllers."""

from __future__ import annotations

import pytest

from controller.vsphere import Controller, DiskPosition, SlotPlan, plan_disk_slot
from controller.vsphere.errors import InvalidRequest

SCSI0 = Controller(key=1000, kind="pvscsi", bus_number=0, shared_bus="noSharing")
SCSI1 = Controller(key=1001, kind="lsilogic-sas", bus_number=1, shared_bus="noSharing")
IDE0 = Controller(key=200, kind="ide", bus_number=0, shared_bus=None)
FULL_UNITS = [*range(7), *range(8, 16)]


def test_the_first_free_unit_of_the_first_controller_is_chosen() -> None:
    assert plan_disk_slot([SCSI0], [(1000, 0), (1000, 1)]) == SlotPlan(1000, 2, None)


def test_unit_seven_is_never_chosen() -> None:
    assert plan_disk_slot([SCSI0], [(1000, u) for u in range(7)]) == SlotPlan(1000, 8, None)


def test_controllers_are_filled_in_bus_order_and_other_kinds_are_ignored() -> None:
    used = [(1000, u) for u in FULL_UNITS]
    assert plan_disk_slot([SCSI1, IDE0, SCSI0], used) == SlotPlan(1001, 0, None)


def test_a_new_pvscsi_controller_goes_on_the_lowest_free_bus_when_all_are_full() -> None:
    used = [(1000, u) for u in FULL_UNITS] + [(1001, u) for u in FULL_UNITS]
    plan = plan_disk_slot([SCSI0, SCSI1], used)
    assert plan.new_bus == 2
    assert plan.unit_number == 0
    assert plan.controller_key < 0


def test_a_vm_without_scsi_controllers_gets_one_on_bus_zero() -> None:
    plan = plan_disk_slot([IDE0], [])
    assert (plan.new_bus, plan.unit_number) == (0, 0)


def test_past_four_full_controllers_the_disk_is_refused() -> None:
    controllers = [Controller(1000 + b, "pvscsi", b, None) for b in range(4)]
    used = [(1000 + b, u) for b in range(4) for u in FULL_UNITS]
    with pytest.raises(InvalidRequest, match="no free SCSI slot"):
        plan_disk_slot(controllers, used)


def test_a_requested_free_position_is_used() -> None:
    assert plan_disk_slot([SCSI0], [(1000, 0)], DiskPosition(0, 3)) == SlotPlan(1000, 3, None)


def test_a_requested_position_on_a_missing_bus_adds_that_controller() -> None:
    plan = plan_disk_slot([SCSI0], [], DiskPosition(3, 1))
    assert (plan.new_bus, plan.unit_number) == (3, 1)


def test_a_requested_position_in_use_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="already in use"):
        plan_disk_slot([SCSI0], [(1000, 4)], DiskPosition(0, 4))


@pytest.mark.parametrize("position", [DiskPosition(0, 7), DiskPosition(0, 16), DiskPosition(4, 0), DiskPosition(-1, 0)])
def test_an_impossible_position_is_refused(position: DiskPosition) -> None:
    with pytest.raises(InvalidRequest):
        plan_disk_slot([SCSI0], [], position)
