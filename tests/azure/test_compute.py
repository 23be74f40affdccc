"""Power control of failed-over Azure VMs through the real azure-mgmt-compute client."""

from __future__ import annotations

import pytest

from controller.azure import AzureVms, VmRef
from controller.azure.errors import AzureNotFound, InvalidRequest, OperationFailed
from lab.azure import COMPUTE_API_VERSION, LocalAzure


def vm_ref(endpoint: LocalAzure, name: str) -> VmRef:
    vm = endpoint.estate.vm(name)
    return VmRef(endpoint.estate.subscription_id, vm.resource_group, vm.name)


def test_power_off_stops_the_vm_and_reads_the_state_back(vms: AzureVms, endpoint: LocalAzure) -> None:
    endpoint.lro.in_progress_polls = 2
    state = vms.power_off(vm_ref(endpoint, "web01"))
    assert (state.power_state, state.provisioning_state, state.display_status) == ("stopped", "succeeded", "VM stopped")
    assert endpoint.estate.vm("web01").power_state == "stopped"
    (post,) = [r for r in endpoint.requests if r.method == "POST"]
    assert post.path.endswith("/virtualMachines/web01/powerOff")
    assert post.param("api-version") == COMPUTE_API_VERSION
    assert post.param("skipShutdown") == "false"


def test_power_off_without_guest_shutdown_says_so(vms: AzureVms, endpoint: LocalAzure) -> None:
    vms.power_off(vm_ref(endpoint, "web01"), skip_shutdown=True)
    (post,) = [r for r in endpoint.requests if r.method == "POST"]
    assert post.param("skipShutdown") == "true"


def test_deallocate_then_start_by_arm_id(vms: AzureVms, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    vm_id = f"/subscriptions/{e.subscription_id}/resourceGroups/rg-dr/providers/Microsoft.Compute/virtualMachines/app01"
    assert vms.deallocate(vm_id).power_state == "deallocated"
    assert vms.start(vm_id).power_state == "running"
    assert [r.path.rsplit("/", 1)[-1] for r in endpoint.requests if r.method == "POST"] == ["deallocate", "start"]


def test_power_state_during_a_power_change_is_transitional(vms: AzureVms, endpoint: LocalAzure) -> None:
    endpoint.estate.vm("app01").power_state = "stopping"
    assert vms.power_state(vm_ref(endpoint, "app01")).power_state == "stopping"


def test_failed_power_off_leaves_the_vm_running(vms: AzureVms, endpoint: LocalAzure) -> None:
    endpoint.lro.fail_next("OperationPreempted", "The operation was preempted by a more recent operation.")
    with pytest.raises(OperationFailed, match="preempted"):
        vms.power_off(vm_ref(endpoint, "web01"))
    assert endpoint.estate.vm("web01").power_state == "running"


def test_unknown_vm_is_not_found(vms: AzureVms, endpoint: LocalAzure) -> None:
    with pytest.raises(AzureNotFound, match="no-such-vm"):
        vms.power_state(VmRef(endpoint.estate.subscription_id, "rg-dr", "no-such-vm"))


def test_a_non_vm_id_is_refused_before_any_call(vms: AzureVms, endpoint: LocalAzure) -> None:
    with pytest.raises(InvalidRequest):
        vms.start("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x")
    assert endpoint.requests == []


def test_starting_a_running_vm_is_a_no_op_that_still_reports_running(vms: AzureVms, endpoint: LocalAzure) -> None:
    assert vms.start(vm_ref(endpoint, "crm01")).power_state == "running"
    assert not [r for r in endpoint.requests if "/operations/" in r.path]  # answered at once, nothing to poll
