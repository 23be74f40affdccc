from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PointFilter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POINT_FILTER_UNSPECIFIED: _ClassVar[PointFilter]
    POINT_FILTER_APP: _ClassVar[PointFilter]
    POINT_FILTER_CRASH: _ClassVar[PointFilter]
    POINT_FILTER_GROUP: _ClassVar[PointFilter]
POINT_FILTER_UNSPECIFIED: PointFilter
POINT_FILTER_APP: PointFilter
POINT_FILTER_CRASH: PointFilter
POINT_FILTER_GROUP: PointFilter

class ListPointsRequest(_message.Message):
    __slots__ = ("pair_id", "vm", "filter")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    VM_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    vm: str
    filter: PointFilter
    def __init__(self, pair_id: _Optional[str] = ..., vm: _Optional[str] = ..., filter: _Optional[_Union[PointFilter, str]] = ...) -> None: ...

class PairRef(_message.Message):
    __slots__ = ("pair_id", "vm", "item_key", "item_state", "disk_index", "source_disk_id", "target_disk_id", "disk_size", "master_target", "generation", "group", "state", "reason")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    VM_FIELD_NUMBER: _ClassVar[int]
    ITEM_KEY_FIELD_NUMBER: _ClassVar[int]
    ITEM_STATE_FIELD_NUMBER: _ClassVar[int]
    DISK_INDEX_FIELD_NUMBER: _ClassVar[int]
    SOURCE_DISK_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_DISK_ID_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_FIELD_NUMBER: _ClassVar[int]
    MASTER_TARGET_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    vm: str
    item_key: str
    item_state: str
    disk_index: int
    source_disk_id: str
    target_disk_id: str
    disk_size: int
    master_target: str
    generation: int
    group: str
    state: str
    reason: str
    def __init__(self, pair_id: _Optional[str] = ..., vm: _Optional[str] = ..., item_key: _Optional[str] = ..., item_state: _Optional[str] = ..., disk_index: _Optional[int] = ..., source_disk_id: _Optional[str] = ..., target_disk_id: _Optional[str] = ..., disk_size: _Optional[int] = ..., master_target: _Optional[str] = ..., generation: _Optional[int] = ..., group: _Optional[str] = ..., state: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PointRecord(_message.Message):
    __slots__ = ("id", "kind", "time", "seq", "tag", "group", "history_bytes", "pending")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    HISTORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    time: float
    seq: int
    tag: str
    group: str
    history_bytes: int
    pending: bool
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., time: _Optional[float] = ..., seq: _Optional[int] = ..., tag: _Optional[str] = ..., group: _Optional[str] = ..., history_bytes: _Optional[int] = ..., pending: _Optional[bool] = ...) -> None: ...

class PairPoints(_message.Message):
    __slots__ = ("pair", "points")
    PAIR_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    pair: PairRef
    points: _containers.RepeatedCompositeFieldContainer[PointRecord]
    def __init__(self, pair: _Optional[_Union[PairRef, _Mapping]] = ..., points: _Optional[_Iterable[_Union[PointRecord, _Mapping]]] = ...) -> None: ...

class ListPointsResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[PairPoints]
    def __init__(self, pairs: _Optional[_Iterable[_Union[PairPoints, _Mapping]]] = ...) -> None: ...

class BringToPointRequest(_message.Message):
    __slots__ = ("pair_id", "latest", "latest_app", "point_id", "at_time")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    LATEST_APP_FIELD_NUMBER: _ClassVar[int]
    POINT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_TIME_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    latest: _empty_pb2.Empty
    latest_app: _empty_pb2.Empty
    point_id: str
    at_time: float
    def __init__(self, pair_id: _Optional[str] = ..., latest: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ..., latest_app: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ..., point_id: _Optional[str] = ..., at_time: _Optional[float] = ...) -> None: ...

class CancelPointRequest(_message.Message):
    __slots__ = ("pair_id",)
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    def __init__(self, pair_id: _Optional[str] = ...) -> None: ...

class PairAtPoint(_message.Message):
    __slots__ = ("pair", "point", "held")
    PAIR_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    pair: PairRef
    point: PointRecord
    held: bool
    def __init__(self, pair: _Optional[_Union[PairRef, _Mapping]] = ..., point: _Optional[_Union[PointRecord, _Mapping]] = ..., held: _Optional[bool] = ...) -> None: ...

class GetRetentionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VolumeUsage(_message.Message):
    __slots__ = ("mountpoint", "device", "fstype", "capacity_bytes", "used_bytes", "free_bytes", "used_pct", "threshold_pct", "eligible", "reasons")
    MOUNTPOINT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_PCT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PCT_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    mountpoint: str
    device: str
    fstype: str
    capacity_bytes: int
    used_bytes: int
    free_bytes: int
    used_pct: float
    threshold_pct: float
    eligible: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mountpoint: _Optional[str] = ..., device: _Optional[str] = ..., fstype: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., used_pct: _Optional[float] = ..., threshold_pct: _Optional[float] = ..., eligible: _Optional[bool] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class MasterTargetRetention(_message.Message):
    __slots__ = ("name", "address", "volumes", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    volumes: _containers.RepeatedCompositeFieldContainer[VolumeUsage]
    error: str
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., volumes: _Optional[_Iterable[_Union[VolumeUsage, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class PairRetention(_message.Message):
    __slots__ = ("pair", "points", "oldest", "newest", "rpo_seconds", "rpo_threshold_seconds", "health", "health_reasons", "error")
    PAIR_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIELD_NUMBER: _ClassVar[int]
    RPO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RPO_THRESHOLD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    HEALTH_REASONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    pair: PairRef
    points: int
    oldest: PointRecord
    newest: PointRecord
    rpo_seconds: float
    rpo_threshold_seconds: float
    health: str
    health_reasons: _containers.RepeatedScalarFieldContainer[str]
    error: str
    def __init__(self, pair: _Optional[_Union[PairRef, _Mapping]] = ..., points: _Optional[int] = ..., oldest: _Optional[_Union[PointRecord, _Mapping]] = ..., newest: _Optional[_Union[PointRecord, _Mapping]] = ..., rpo_seconds: _Optional[float] = ..., rpo_threshold_seconds: _Optional[float] = ..., health: _Optional[str] = ..., health_reasons: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ...) -> None: ...

class RetentionReport(_message.Message):
    __slots__ = ("master_targets", "pairs")
    MASTER_TARGETS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    master_targets: _containers.RepeatedCompositeFieldContainer[MasterTargetRetention]
    pairs: _containers.RepeatedCompositeFieldContainer[PairRetention]
    def __init__(self, master_targets: _Optional[_Iterable[_Union[MasterTargetRetention, _Mapping]]] = ..., pairs: _Optional[_Iterable[_Union[PairRetention, _Mapping]]] = ...) -> None: ...
