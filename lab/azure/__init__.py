"""A local Azure endpoint for tests and the lab: Site Recovery and Compute over HTTPS on 127.0.0.1.

The real ``azure-mgmt-recoveryservicessiterecovery`` and ``azure-mgmt-compute`` clients talk to it unchanged
(``base_url=endpoint.base_url``, ``connection_verify=endpoint.ca_file``). Its state is a declarative :class:`Estate`
that actions change as Azure Site Recovery would. Product code never imports this package.

::

    with LocalAzure(token="t") as azure:                 # demo_estate(); or LocalAzure(my_estate, ...)
        azure.lro.in_progress_polls = 3                  # next operations answer InProgress 3 times
        azure.lro.fail_next("95117", "datastore unreachable")
        azure.inject(Fault(path=r"/replicationFabrics$", status=429, retry_after=5))
        client = SiteRecoveryManagementClient(cred, azure.estate.subscription_id,
                                              base_url=azure.base_url, connection_verify=azure.ca_file)
        ...
        azure.requests                                   # every request: method, path, query, headers, body
        azure.estate.item("…").protection_state          # the state after the actions
"""

from lab.azure._asr import API_VERSION
from lab.azure._compute import COMPUTE_API_VERSION
from lab.azure._demo import demo_estate
from lab.azure._estate import (
    AzureVm,
    Datastore,
    Disk,
    Estate,
    Fabric,
    HealthIssue,
    Item,
    Job,
    MasterTarget,
    Plan,
    PlanGroup,
    Policy,
    ProcessServer,
    RecoveryPoint,
    RetentionVolume,
    RunAsAccount,
)
from lab.azure._http import Fault, RecordedRequest
from lab.azure._lro import LroSettings
from lab.azure._permissions import AUTHORIZATION_API_VERSION, DOCUMENTED_ACTIONS, PermissionsService
from lab.azure._server import LocalAzure

__all__ = [
    "API_VERSION",
    "AUTHORIZATION_API_VERSION",
    "COMPUTE_API_VERSION",
    "DOCUMENTED_ACTIONS",
    "AzureVm",
    "Datastore",
    "Disk",
    "Estate",
    "Fabric",
    "Fault",
    "HealthIssue",
    "Item",
    "Job",
    "LocalAzure",
    "LroSettings",
    "MasterTarget",
    "PermissionsService",
    "Plan",
    "PlanGroup",
    "Policy",
    "ProcessServer",
    "RecordedRequest",
    "RecoveryPoint",
    "RetentionVolume",
    "RunAsAccount",
    "demo_estate",
]
