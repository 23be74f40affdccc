"""The Azure adapter: a Recovery Services vault through azure-mgmt-recoveryservicessiterecovery 2.0 and the
failed-over VMs through azure-mgmt-compute.

It reads the failed-over estate (fabrics with process servers, master targets, retention volumes, datastores and
run-as accounts; protection containers; protected items and their state; recovery plans with ordered groups;
recovery points; jobs) and runs the failback actions (reprotect both ways, unplanned failover to a chosen point,
commit, cancel, plan-level actions, VM power). Results are frozen dataclasses; errors are
:mod:`controller.azure.errors`. It never writes controller state.
"""

from controller.azure._compute import AzureVms
from controller.azure._config import AzureClientConfig
from controller.azure._credentials import ManagedIdentity, Secret, ServicePrincipal, make_credential
from controller.azure._inputs import InMageAzureV2Reprotect, InMageReprotect, RecoveryPointChoice, ReprotectInput
from controller.azure._models import (
    Datastore,
    Fabric,
    FailoverDirection,
    HealthIssue,
    InMageAzureV2State,
    InMageRcmFailbackState,
    InMageRcmState,
    InMageState,
    ItemOperation,
    ItemRef,
    Job,
    JobTask,
    MasterTarget,
    PlanGroup,
    PlanOperation,
    ProcessServer,
    ProtectedDisk,
    ProtectedItem,
    ProtectionContainer,
    ProviderState,
    RecoveryPlan,
    RecoveryPoint,
    RecoveryPointType,
    RetentionVolume,
    RunAsAccount,
    Scenario,
    VaultEstate,
    VaultRef,
    VmPowerState,
    VmRef,
    same_id,
)
from controller.azure._site_recovery import SiteRecovery

__all__ = [
    "AzureClientConfig",
    "AzureVms",
    "Datastore",
    "Fabric",
    "FailoverDirection",
    "HealthIssue",
    "InMageAzureV2Reprotect",
    "InMageAzureV2State",
    "InMageRcmFailbackState",
    "InMageRcmState",
    "InMageReprotect",
    "InMageState",
    "ItemOperation",
    "ItemRef",
    "Job",
    "JobTask",
    "ManagedIdentity",
    "MasterTarget",
    "PlanGroup",
    "PlanOperation",
    "ProcessServer",
    "ProtectedDisk",
    "ProtectedItem",
    "ProtectionContainer",
    "ProviderState",
    "RecoveryPlan",
    "RecoveryPoint",
    "RecoveryPointChoice",
    "RecoveryPointType",
    "ReprotectInput",
    "RetentionVolume",
    "RunAsAccount",
    "Scenario",
    "Secret",
    "ServicePrincipal",
    "SiteRecovery",
    "VaultEstate",
    "VaultRef",
    "VmPowerState",
    "VmRef",
    "make_credential",
    "same_id",
]
