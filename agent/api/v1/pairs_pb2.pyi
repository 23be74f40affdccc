from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_KIND_UNSPECIFIED: _ClassVar[SourceKind]
    SOURCE_KIND_SCAN: _ClassVar[SourceKind]
    SOURCE_KIND_SCAN_THEN_CHANGE_LOG: _ClassVar[SourceKind]
    SOURCE_KIND_AZURE_SNAPSHOTS: _ClassVar[SourceKind]

class PointConsistency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POINT_CONSISTENCY_UNSPECIFIED: _ClassVar[PointConsistency]
    POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS: _ClassVar[PointConsistency]
    POINT_CONSISTENCY_CRASH_RESTORE_POINTS: _ClassVar[PointConsistency]
    POINT_CONSISTENCY_APP_RESTORE_POINTS: _ClassVar[PointConsistency]

class PairState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAIR_STATE_UNSPECIFIED: _ClassVar[PairState]
    PAIR_STATE_DISCONNECTED: _ClassVar[PairState]
    PAIR_STATE_RESYNCING: _ClassVar[PairState]
    PAIR_STATE_REPLICATING: _ClassVar[PairState]
    PAIR_STATE_SYNCED: _ClassVar[PairState]
    PAIR_STATE_BACKPRESSURE: _ClassVar[PairState]
    PAIR_STATE_AT_POINT: _ClassVar[PairState]
    PAIR_STATE_COMMITTED: _ClassVar[PairState]
    PAIR_STATE_FAILED: _ClassVar[PairState]

class HealthState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATE_UNSPECIFIED: _ClassVar[HealthState]
    HEALTH_STATE_OK: _ClassVar[HealthState]
    HEALTH_STATE_WARNING: _ClassVar[HealthState]
    HEALTH_STATE_ERROR: _ClassVar[HealthState]

class SourcePhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_PHASE_UNSPECIFIED: _ClassVar[SourcePhase]
    SOURCE_PHASE_SCAN: _ClassVar[SourcePhase]
    SOURCE_PHASE_CHANGE_LOG: _ClassVar[SourcePhase]
    SOURCE_PHASE_SNAPSHOT_CYCLES: _ClassVar[SourcePhase]
SOURCE_KIND_UNSPECIFIED: SourceKind
SOURCE_KIND_SCAN: SourceKind
SOURCE_KIND_SCAN_THEN_CHANGE_LOG: SourceKind
SOURCE_KIND_AZURE_SNAPSHOTS: SourceKind
POINT_CONSISTENCY_UNSPECIFIED: PointConsistency
POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS: PointConsistency
POINT_CONSISTENCY_CRASH_RESTORE_POINTS: PointConsistency
POINT_CONSISTENCY_APP_RESTORE_POINTS: PointConsistency
PAIR_STATE_UNSPECIFIED: PairState
PAIR_STATE_DISCONNECTED: PairState
PAIR_STATE_RESYNCING: PairState
PAIR_STATE_REPLICATING: PairState
PAIR_STATE_SYNCED: PairState
PAIR_STATE_BACKPRESSURE: PairState
PAIR_STATE_AT_POINT: PairState
PAIR_STATE_COMMITTED: PairState
PAIR_STATE_FAILED: PairState
HEALTH_STATE_UNSPECIFIED: HealthState
HEALTH_STATE_OK: HealthState
HEALTH_STATE_WARNING: HealthState
HEALTH_STATE_ERROR: HealthState
SOURCE_PHASE_UNSPECIFIED: SourcePhase
SOURCE_PHASE_SCAN: SourcePhase
SOURCE_PHASE_CHANGE_LOG: SourcePhase
SOURCE_PHASE_SNAPSHOT_CYCLES: SourcePhase

class AzurePermissionsRequest(_message.Message):
    __slots__ = ("vm_resource_id", "consistency", "disk_resource_ids", "snapshot_resource_group")
    VM_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    DISK_RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_RESOURCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    vm_resource_id: str
    consistency: PointConsistency
    disk_resource_ids: _containers.RepeatedScalarFieldContainer[str]
    snapshot_resource_group: str
    def __init__(self, vm_resource_id: _Optional[str] = ..., consistency: _Optional[_Union[PointConsistency, str]] = ..., disk_resource_ids: _Optional[_Iterable[str]] = ..., snapshot_resource_group: _Optional[str] = ...) -> None: ...

class AzurePermissionsResponse(_message.Message):
    __slots__ = ("azure_configured", "vms")
    AZURE_CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    VMS_FIELD_NUMBER: _ClassVar[int]
    azure_configured: bool
    vms: _containers.RepeatedCompositeFieldContainer[VmAzurePermissions]
    def __init__(self, azure_configured: _Optional[bool] = ..., vms: _Optional[_Iterable[_Union[VmAzurePermissions, _Mapping]]] = ...) -> None: ...

class VmAzurePermissions(_message.Message):
    __slots__ = ("vm_resource_id", "consistency", "scopes")
    VM_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    vm_resource_id: str
    consistency: PointConsistency
    scopes: _containers.RepeatedCompositeFieldContainer[ScopeAzurePermissions]
    def __init__(self, vm_resource_id: _Optional[str] = ..., consistency: _Optional[_Union[PointConsistency, str]] = ..., scopes: _Optional[_Iterable[_Union[ScopeAzurePermissions, _Mapping]]] = ...) -> None: ...

class ScopeAzurePermissions(_message.Message):
    __slots__ = ("scope", "roles", "missing_actions", "granted_actions", "error")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    MISSING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    GRANTED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    scope: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    missing_actions: _containers.RepeatedScalarFieldContainer[str]
    granted_actions: _containers.RepeatedScalarFieldContainer[str]
    error: str
    def __init__(self, scope: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., missing_actions: _Optional[_Iterable[str]] = ..., granted_actions: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ...) -> None: ...

class RetentionPolicy(_message.Message):
    __slots__ = ("window_seconds", "crash_interval_seconds", "rpo_threshold_seconds", "threshold_pct", "shorten_when_full")
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CRASH_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RPO_THRESHOLD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PCT_FIELD_NUMBER: _ClassVar[int]
    SHORTEN_WHEN_FULL_FIELD_NUMBER: _ClassVar[int]
    window_seconds: float
    crash_interval_seconds: float
    rpo_threshold_seconds: float
    threshold_pct: float
    shorten_when_full: bool
    def __init__(self, window_seconds: _Optional[float] = ..., crash_interval_seconds: _Optional[float] = ..., rpo_threshold_seconds: _Optional[float] = ..., threshold_pct: _Optional[float] = ..., shorten_when_full: _Optional[bool] = ...) -> None: ...

class TargetPair(_message.Message):
    __slots__ = ("pair_id", "generation", "disk_id", "path", "disk_size", "sender", "retention_dir", "policy", "group")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    DISK_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DIR_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    generation: int
    disk_id: str
    path: str
    disk_size: int
    sender: str
    retention_dir: str
    policy: RetentionPolicy
    group: str
    def __init__(self, pair_id: _Optional[str] = ..., generation: _Optional[int] = ..., disk_id: _Optional[str] = ..., path: _Optional[str] = ..., disk_size: _Optional[int] = ..., sender: _Optional[str] = ..., retention_dir: _Optional[str] = ..., policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ..., group: _Optional[str] = ...) -> None: ...

class AzureSnapshotSource(_message.Message):
    __slots__ = ("vm_resource_id", "disk_resource_id", "interval_seconds", "consistency", "snapshot_resource_group")
    VM_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DISK_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_RESOURCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    vm_resource_id: str
    disk_resource_id: str
    interval_seconds: float
    consistency: PointConsistency
    snapshot_resource_group: str
    def __init__(self, vm_resource_id: _Optional[str] = ..., disk_resource_id: _Optional[str] = ..., interval_seconds: _Optional[float] = ..., consistency: _Optional[_Union[PointConsistency, str]] = ..., snapshot_resource_group: _Optional[str] = ...) -> None: ...

class SourcePair(_message.Message):
    __slots__ = ("pair_id", "generation", "source_path", "kind", "change_log_dir", "master_target_address", "master_target_name", "bandwidth_bytes_per_second", "azure")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANGE_LOG_DIR_FIELD_NUMBER: _ClassVar[int]
    MASTER_TARGET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MASTER_TARGET_NAME_FIELD_NUMBER: _ClassVar[int]
    BANDWIDTH_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    AZURE_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    generation: int
    source_path: str
    kind: SourceKind
    change_log_dir: str
    master_target_address: str
    master_target_name: str
    bandwidth_bytes_per_second: int
    azure: AzureSnapshotSource
    def __init__(self, pair_id: _Optional[str] = ..., generation: _Optional[int] = ..., source_path: _Optional[str] = ..., kind: _Optional[_Union[SourceKind, str]] = ..., change_log_dir: _Optional[str] = ..., master_target_address: _Optional[str] = ..., master_target_name: _Optional[str] = ..., bandwidth_bytes_per_second: _Optional[int] = ..., azure: _Optional[_Union[AzureSnapshotSource, _Mapping]] = ...) -> None: ...

class DeletePairRequest(_message.Message):
    __slots__ = ("pair_id",)
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    def __init__(self, pair_id: _Optional[str] = ...) -> None: ...

class DeletePairResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPairStatusRequest(_message.Message):
    __slots__ = ("pair_id",)
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    def __init__(self, pair_id: _Optional[str] = ...) -> None: ...

class ListPairsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TargetPairStatus(_message.Message):
    __slots__ = ("pair", "state", "reason", "health", "health_reasons", "durable_seq", "applied_seq", "bytes_received", "batches_received", "batches_replayed", "batches_rejected", "sender_connected", "points", "latest_point_time", "last_error", "last_error_time")
    PAIR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    HEALTH_REASONS_FIELD_NUMBER: _ClassVar[int]
    DURABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_REJECTED_FIELD_NUMBER: _ClassVar[int]
    SENDER_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LATEST_POINT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    pair: TargetPair
    state: PairState
    reason: str
    health: HealthState
    health_reasons: _containers.RepeatedScalarFieldContainer[str]
    durable_seq: int
    applied_seq: int
    bytes_received: int
    batches_received: int
    batches_replayed: int
    batches_rejected: int
    sender_connected: bool
    points: int
    latest_point_time: float
    last_error: str
    last_error_time: float
    def __init__(self, pair: _Optional[_Union[TargetPair, _Mapping]] = ..., state: _Optional[_Union[PairState, str]] = ..., reason: _Optional[str] = ..., health: _Optional[_Union[HealthState, str]] = ..., health_reasons: _Optional[_Iterable[str]] = ..., durable_seq: _Optional[int] = ..., applied_seq: _Optional[int] = ..., bytes_received: _Optional[int] = ..., batches_received: _Optional[int] = ..., batches_replayed: _Optional[int] = ..., batches_rejected: _Optional[int] = ..., sender_connected: _Optional[bool] = ..., points: _Optional[int] = ..., latest_point_time: _Optional[float] = ..., last_error: _Optional[str] = ..., last_error_time: _Optional[float] = ...) -> None: ...

class SourcePairStatus(_message.Message):
    __slots__ = ("pair", "state", "reason", "phase", "connected", "plain_bytes_sent", "wire_bytes_sent", "plain_bytes_acknowledged", "last_sent_seq", "acknowledged_seq", "backlog_bytes", "backlog_batches", "lag_seconds", "resync_percent", "connects", "last_error", "last_error_time", "acknowledged_point", "point_age_seconds", "log_durable_position", "log_acknowledged_position", "source_writing")
    PAIR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    PLAIN_BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    WIRE_BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    PLAIN_BYTES_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    LAST_SENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_SEQ_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_BATCHES_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RESYNC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CONNECTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_POINT_FIELD_NUMBER: _ClassVar[int]
    POINT_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LOG_DURABLE_POSITION_FIELD_NUMBER: _ClassVar[int]
    LOG_ACKNOWLEDGED_POSITION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_WRITING_FIELD_NUMBER: _ClassVar[int]
    pair: SourcePair
    state: PairState
    reason: str
    phase: SourcePhase
    connected: bool
    plain_bytes_sent: int
    wire_bytes_sent: int
    plain_bytes_acknowledged: int
    last_sent_seq: int
    acknowledged_seq: int
    backlog_bytes: int
    backlog_batches: int
    lag_seconds: float
    resync_percent: float
    connects: int
    last_error: str
    last_error_time: float
    acknowledged_point: str
    point_age_seconds: float
    log_durable_position: int
    log_acknowledged_position: int
    source_writing: bool
    def __init__(self, pair: _Optional[_Union[SourcePair, _Mapping]] = ..., state: _Optional[_Union[PairState, str]] = ..., reason: _Optional[str] = ..., phase: _Optional[_Union[SourcePhase, str]] = ..., connected: _Optional[bool] = ..., plain_bytes_sent: _Optional[int] = ..., wire_bytes_sent: _Optional[int] = ..., plain_bytes_acknowledged: _Optional[int] = ..., last_sent_seq: _Optional[int] = ..., acknowledged_seq: _Optional[int] = ..., backlog_bytes: _Optional[int] = ..., backlog_batches: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., resync_percent: _Optional[float] = ..., connects: _Optional[int] = ..., last_error: _Optional[str] = ..., last_error_time: _Optional[float] = ..., acknowledged_point: _Optional[str] = ..., point_age_seconds: _Optional[float] = ..., log_durable_position: _Optional[int] = ..., log_acknowledged_position: _Optional[int] = ..., source_writing: _Optional[bool] = ...) -> None: ...

class SourceDigestRequest(_message.Message):
    __slots__ = ("pair_id", "generation", "bookmark_id", "at_end")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_ID_FIELD_NUMBER: _ClassVar[int]
    AT_END_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    generation: int
    bookmark_id: str
    at_end: bool
    def __init__(self, pair_id: _Optional[str] = ..., generation: _Optional[int] = ..., bookmark_id: _Optional[str] = ..., at_end: _Optional[bool] = ...) -> None: ...

class SourceDigestReport(_message.Message):
    __slots__ = ("digest", "disk_size", "bookmark_id", "bookmark_kind", "bookmark_tag", "bookmark_time", "log_position")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_KIND_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_TAG_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_TIME_FIELD_NUMBER: _ClassVar[int]
    LOG_POSITION_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    disk_size: int
    bookmark_id: str
    bookmark_kind: int
    bookmark_tag: str
    bookmark_time: float
    log_position: int
    def __init__(self, digest: _Optional[bytes] = ..., disk_size: _Optional[int] = ..., bookmark_id: _Optional[str] = ..., bookmark_kind: _Optional[int] = ..., bookmark_tag: _Optional[str] = ..., bookmark_time: _Optional[float] = ..., log_position: _Optional[int] = ...) -> None: ...

class ListTargetPairsResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[TargetPairStatus]
    def __init__(self, pairs: _Optional[_Iterable[_Union[TargetPairStatus, _Mapping]]] = ...) -> None: ...

class ListSourcePairsResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[SourcePairStatus]
    def __init__(self, pairs: _Optional[_Iterable[_Union[SourcePairStatus, _Mapping]]] = ...) -> None: ...

class SetBandwidthRequest(_message.Message):
    __slots__ = ("bytes_per_second",)
    BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    bytes_per_second: int
    def __init__(self, bytes_per_second: _Optional[int] = ...) -> None: ...

class SetBandwidthResponse(_message.Message):
    __slots__ = ("bytes_per_second",)
    BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    bytes_per_second: int
    def __init__(self, bytes_per_second: _Optional[int] = ...) -> None: ...
