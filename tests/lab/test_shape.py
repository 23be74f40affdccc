"""A lab's shape: master targets named in order, protection groups of the given size in the Azure estate, and the
multi-VM consistency group each VM's workload stamps matching its failback group."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.workflows import failback_group_name
from lab.world import MASTER_TARGET, Layout, Shape
from lab.world._azure import build_estate, consistency_group
from lab.world._layout import Record
from lab.world._up import _protection_group


def test_master_targets_are_named_after_the_first_in_order() -> None:
    assert Shape(master_targets=3).master_target_names == ("mt-lab", "mt-lab-2", "mt-lab-3")
    assert Shape().master_target_names == (MASTER_TARGET.name,)


@pytest.mark.parametrize("shape", [{"vms": ()}, {"master_targets": 0}, {"group_size": -1}])
def test_a_shape_without_vms_or_master_targets_is_refused(shape: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="at least one VM"):
        Shape(**shape)  # type: ignore[arg-type]


def test_vms_fill_protection_groups_of_the_given_size_in_order() -> None:
    assert [_protection_group(i, 3) for i in range(7)] == ["pg-01"] * 3 + ["pg-02"] * 3 + ["pg-03"]
    assert _protection_group(5, 0) is None


def _record(tmp_path: Path, groups: list[str | None]) -> Record:
    record = Record(dir=str(tmp_path))
    record.azure = {"subscription_id": "s", "resource_group": "rg", "vault": "v"}
    record.vcenter = {
        "datastore": {"name": "LocalDS_0", "path": str(tmp_path)},
        "datastores": {"LocalDS_0": str(tmp_path), "LocalDS_1": str(tmp_path / "ds1")},
    }
    record.master_targets = {"mt-lab": {}, "mt-lab-2": {}}
    for index, group in enumerate(groups):
        disk = {"disk_id": f"d{index}", "file_name": f"[LocalDS_0] vm{index}/vm{index}.vmdk", "size_bytes": 1 << 20}
        record.vms.append({"name": f"vm{index}", "disks": [disk], "group": group})
    return record


def test_the_estate_has_a_protection_group_per_lab_group_and_every_master_target(tmp_path: Path) -> None:
    estate = build_estate(_record(tmp_path, ["pg-01", "pg-01", "pg-02"]), Layout(tmp_path))
    (fabric,) = estate.fabrics
    assert [mt.name for mt in fabric.master_targets] == ["mt-lab", "mt-lab-2"]
    # Each master target's host mounts every datastore of the lab, as the configuration server reports them.
    assert all([d.symbolic_name for d in mt.datastores] == ["LocalDS_0", "LocalDS_1"] for mt in fabric.master_targets)
    named = {fabric.container_names[item.container] for item in estate.items}
    assert named == {"pg-01", "pg-02"}
    assert len({item.container for item in estate.items}) == 2


def test_a_vm_stamps_its_failback_groups_name_on_shared_bookmarks() -> None:
    assert consistency_group({"group": "pg-07"}) == failback_group_name("pg-07")
    assert consistency_group({"group": None}) == failback_group_name("cs-lab")
