"""The Site Recovery adapter: read a vault's failed-over estate and run the failback actions on it.

It owns one ``SiteRecoveryManagementClient`` (2.0.x: resource group and vault name are the first arguments of every
call) and translates everything at its edge: SDK models become :mod:`controller.azure._models` dataclasses,
azure-core errors become :mod:`controller.azure.errors`. It never writes controller state and never retries an
action on its own: the workflow decides, with the job id every action returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.core.polling import LROPoller
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from controller.azure import _convert
from controller.azure._config import AzureClientConfig
from controller.azure._inputs import (
    RecoveryPointChoice,
    ReprotectInput,
    failover_body,
    plan_failover_body,
    reprotect_body,
)
from controller.azure._lro import run_operation
from controller.azure._models import (
    Fabric,
    FailoverDirection,
    ItemOperation,
    ItemRef,
    Job,
    PlanOperation,
    ProtectedItem,
    ProtectionContainer,
    RecoveryPlan,
    RecoveryPoint,
    RecoveryPointType,
    VaultEstate,
    VaultRef,
)
from controller.azure._translate import translate
from controller.azure.errors import InvalidRequest, OperationFailed
from failback.retry import Policy

__all__ = ["SiteRecovery"]

_log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class SiteRecovery:
    """One Recovery Services vault, read and driven through azure-mgmt-recoveryservicessiterecovery 2.0."""

    def __init__(
        self, vault: VaultRef, credential: TokenCredential, *, config: AzureClientConfig | None = None
    ) -> None:
        self.vault = vault
        self.config = config or AzureClientConfig()
        self._client = SiteRecoveryManagementClient(credential, vault.subscription_id, **self.config.client_kwargs())
        self._scope = (vault.resource_group, vault.name)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SiteRecovery:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SiteRecovery({self.vault.subscription_id}/{self.vault.resource_group}/{self.vault.name})"

    # Reads

    def _read(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except AzureError as exc:
            raise translate(exc, what=what) from exc

    def _list(self, what: str, pages: Callable[[], Iterable[Any]], convert: Callable[[Any], R]) -> tuple[R, ...]:
        return self._read(what, lambda: tuple(convert(model) for model in pages()))

    def list_fabrics(self) -> tuple[Fabric, ...]:
        ops = self._client.replication_fabrics
        return self._list(
            f"listing the fabrics of vault {self.vault.name}", lambda: ops.list(*self._scope), _convert.fabric
        )

    def get_fabric(self, name: str) -> Fabric:
        ops = self._client.replication_fabrics
        return _convert.fabric(self._read(f"reading fabric {name}", lambda: ops.get(*self._scope, name)))

    def list_containers(self) -> tuple[ProtectionContainer, ...]:
        ops = self._client.replication_protection_containers
        return self._list("listing protection containers", lambda: ops.list(*self._scope), _convert.container)

    def list_protected_items(self) -> tuple[ProtectedItem, ...]:
        ops = self._client.replication_protected_items
        return self._list("listing protected items", lambda: ops.list(*self._scope), _convert.protected_item)

    def get_protected_item(self, item: ItemRef) -> ProtectedItem:
        ops = self._client.replication_protected_items
        model = self._read(
            f"reading protected item {item.name}",
            lambda: ops.get(*self._scope, item.fabric, item.container, item.name),
        )
        return _convert.protected_item(model)

    def list_recovery_points(self, item: ItemRef) -> tuple[RecoveryPoint, ...]:
        """The item's recovery points, oldest first."""
        ops = self._client.recovery_points
        points = self._list(
            f"listing recovery points of {item.name}",
            lambda: ops.list_by_replication_protected_items(*self._scope, item.fabric, item.container, item.name),
            _convert.recovery_point,
        )
        return tuple(sorted(points, key=lambda p: (p.time is None, p.time)))

    def list_recovery_plans(self) -> tuple[RecoveryPlan, ...]:
        ops = self._client.replication_recovery_plans
        return self._list("listing recovery plans", lambda: ops.list(*self._scope), _convert.recovery_plan)

    def get_recovery_plan(self, name: str) -> RecoveryPlan:
        ops = self._client.replication_recovery_plans
        return _convert.recovery_plan(self._read(f"reading recovery plan {name}", lambda: ops.get(*self._scope, name)))

    def list_jobs(self) -> tuple[Job, ...]:
        ops = self._client.replication_jobs
        return self._list("listing ASR jobs", lambda: ops.list(*self._scope), _convert.job)

    def get_job(self, job_id: str) -> Job:
        name = _convert.job_name(job_id)
        if name is None:
            raise InvalidRequest(f"{job_id!r} does not name an ASR job")
        ops = self._client.replication_jobs
        return _convert.job(self._read(f"reading ASR job {name}", lambda: ops.get(*self._scope, name)))

    def import_vault(self) -> VaultEstate:
        """Everything the failback needs from the vault: fabrics with their servers, containers, items with their
        recovery points, plans and jobs. One list call per collection (paged) plus one per item for its points."""
        fabrics = self.list_fabrics()
        items = self.list_protected_items()
        points = {item.ref: self.list_recovery_points(item.ref) for item in items}
        return VaultEstate(
            vault=self.vault,
            fabrics=fabrics,
            containers=self.list_containers(),
            items=items,
            plans=self.list_recovery_plans(),
            recovery_points=MappingProxyType(points),
            jobs=self.list_jobs(),
        )

    def wait_for_job(self, job_id: str, policy: Policy) -> Job:
        """Poll an ASR job until it ends (a job found in a controller restart, or after OperationTimedOut).

        Returns the job when it succeeded; raises :class:`OperationFailed` when it ended otherwise and
        ``DeadlineExceeded`` when ``policy``'s deadline passes first. Temporary errors while polling are retried.
        """
        job = policy.wait_for(lambda: self._finished(job_id), what=f"ASR job {job_id}")
        if not job.succeeded:
            first = job.errors[0] if job.errors else None
            raise OperationFailed(
                f"ASR job {job.name} ({job.friendly_name}) ended {job.state}"
                + (f": {first.message} ({first.code})" if first else ""),
                remedy=(first.recommended_action if first else None) or "read the job's tasks for the failed step",
                code=first.code if first else None,
                job_id=job.name,
            )
        return job

    def _finished(self, job_id: str) -> Job | None:
        job = self.get_job(job_id)
        return job if job.finished else None

    # Actions

    def _operate(self, what: str, start: Callable[..., LROPoller[T]], deadline: Policy | None) -> tuple[T, str | None]:
        _log.info("starting %s", what)
        return run_operation(
            start,
            what=what,
            policy=deadline or self.config.operation_policy,
            interval=self.config.polling_interval,
            endpoint=self.config.base_url,
        )

    def _item_action(
        self, what: str, item: ItemRef, start: Callable[..., LROPoller[Any]], deadline: Policy | None
    ) -> ItemOperation:
        model, job_id = self._operate(f"{what} of {item.name}", start, deadline)
        result = _convert.protected_item(model)
        return ItemOperation(job_id=job_id or result.scenario.job_id, item=result)

    def reprotect(
        self,
        item: ItemRef,
        spec: ReprotectInput,
        *,
        direction: FailoverDirection,
        deadline: Policy | None = None,
    ) -> ItemOperation:
        """Reprotect (reverse replication). ``RECOVERY_TO_PRIMARY`` starts failback replication from Azure to the
        master target (:class:`InMageReprotect`); ``PRIMARY_TO_RECOVERY`` hands the on-premises machine back to ASR
        after failback (:class:`InMageAzureV2Reprotect`, or :class:`InMageReprotect` where the vault takes it)."""
        body = reprotect_body(spec, FailoverDirection(direction))
        ops = self._client.replication_protected_items
        return self._item_action(
            f"reprotect {FailoverDirection(direction).value}",
            item,
            lambda **kw: ops.begin_reprotect(*self._scope, item.fabric, item.container, item.name, body, **kw),
            deadline,
        )

    def unplanned_failover(
        self,
        item: ItemRef,
        point: RecoveryPointChoice,
        *,
        direction: FailoverDirection = FailoverDirection.RECOVERY_TO_PRIMARY,
        shut_down_source: bool = True,
        deadline: Policy | None = None,
    ) -> ItemOperation:
        """Fail the item over to ``point``. ``shut_down_source`` asks ASR to shut the source (the Azure VM, when
        failing back) down first, so no write is lost after the point."""
        body = failover_body(point, FailoverDirection(direction), shut_down_source)
        ops = self._client.replication_protected_items
        return self._item_action(
            f"unplanned failover ({point.type.value})",
            item,
            lambda **kw: ops.begin_unplanned_failover(*self._scope, item.fabric, item.container, item.name, body, **kw),
            deadline,
        )

    def commit_failover(self, item: ItemRef, *, deadline: Policy | None = None) -> ItemOperation:
        ops = self._client.replication_protected_items
        return self._item_action(
            "failover commit",
            item,
            lambda **kw: ops.begin_failover_commit(*self._scope, item.fabric, item.container, item.name, **kw),
            deadline,
        )

    def cancel_failover(self, item: ItemRef, *, deadline: Policy | None = None) -> ItemOperation:
        ops = self._client.replication_protected_items
        return self._item_action(
            "failover cancel",
            item,
            lambda **kw: ops.begin_failover_cancel(*self._scope, item.fabric, item.container, item.name, **kw),
            deadline,
        )

    # Plan actions

    def _plan_action(
        self, what: str, plan: str, start: Callable[..., LROPoller[Any]], deadline: Policy | None
    ) -> PlanOperation:
        model, job_id = self._operate(f"{what} of recovery plan {plan}", start, deadline)
        result = _convert.recovery_plan(model)
        return PlanOperation(job_id=job_id or result.scenario.job_id, plan=result)

    def plan_unplanned_failover(
        self,
        plan: str,
        point_type: RecoveryPointType,
        *,
        direction: FailoverDirection = FailoverDirection.RECOVERY_TO_PRIMARY,
        shut_down_source: bool = True,
        deadline: Policy | None = None,
    ) -> PlanOperation:
        """Fail a whole plan over, group by group in ASR's order, to the latest (tagged) point of each item."""
        body = plan_failover_body(RecoveryPointType(point_type), FailoverDirection(direction), shut_down_source)
        ops = self._client.replication_recovery_plans
        return self._plan_action(
            f"unplanned failover ({RecoveryPointType(point_type).value})",
            plan,
            lambda **kw: ops.begin_unplanned_failover(*self._scope, plan, body, **kw),
            deadline,
        )

    def plan_commit(self, plan: str, *, deadline: Policy | None = None) -> PlanOperation:
        ops = self._client.replication_recovery_plans
        return self._plan_action(
            "failover commit", plan, lambda **kw: ops.begin_failover_commit(*self._scope, plan, **kw), deadline
        )

    def plan_cancel(self, plan: str, *, deadline: Policy | None = None) -> PlanOperation:
        ops = self._client.replication_recovery_plans
        return self._plan_action(
            "failover cancel", plan, lambda **kw: ops.begin_failover_cancel(*self._scope, plan, **kw), deadline
        )

    def plan_reprotect(self, plan: str, *, deadline: Policy | None = None) -> PlanOperation:
        """Plan-level reprotect (no provider input). ASR refuses it for InMage providers: reprotect their items."""
        ops = self._client.replication_recovery_plans
        return self._plan_action(
            "reprotect", plan, lambda **kw: ops.begin_reprotect(*self._scope, plan, **kw), deadline
        )
