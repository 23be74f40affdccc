from agent.api.v1 import pairs_pb2 as _pairs_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PointKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POINT_KIND_UNSPECIFIED: _ClassVar[PointKind]
    POINT_KIND_CRASH: _ClassVar[PointKind]
    POINT_KIND_APP: _ClassVar[PointKind]
    POINT_KIND_RESYNC_COMPLETE: _ClassVar[PointKind]
POINT_KIND_UNSPECIFIED: PointKind
POINT_KIND_CRASH: PointKind
POINT_KIND_APP: PointKind
POINT_KIND_RESYNC_COMPLETE: PointKind

class PointTarget(_message.Message):
    __slots__ = ("pair_id", "group", "generation")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    group: str
    generation: int
    def __init__(self, pair_id: _Optional[str] = ..., group: _Optional[str] = ..., generation: _Optional[int] = ...) -> None: ...

class ListPointsRequest(_message.Message):
    __slots__ = ("target",)
    TARGET_FIELD_NUMBER: _ClassVar[int]
    target: PointTarget
    def __init__(self, target: _Optional[_Union[PointTarget, _Mapping]] = ...) -> None: ...

class RecoveryPoint(_message.Message):
    __slots__ = ("id", "kind", "time", "seq", "tag", "group", "history_bytes", "pending", "members")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    HISTORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: PointKind
    time: float
    seq: int
    tag: str
    group: str
    history_bytes: int
    pending: bool
    members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[PointKind, str]] = ..., time: _Optional[float] = ..., seq: _Optional[int] = ..., tag: _Optional[str] = ..., group: _Optional[str] = ..., history_bytes: _Optional[int] = ..., pending: _Optional[bool] = ..., members: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPointsResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[RecoveryPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[RecoveryPoint, _Mapping]]] = ...) -> None: ...

class PointSelector(_message.Message):
    __slots__ = ("latest", "latest_app", "point_id", "at_time")
    LATEST_FIELD_NUMBER: _ClassVar[int]
    LATEST_APP_FIELD_NUMBER: _ClassVar[int]
    POINT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_TIME_FIELD_NUMBER: _ClassVar[int]
    latest: _empty_pb2.Empty
    latest_app: _empty_pb2.Empty
    point_id: str
    at_time: float
    def __init__(self, latest: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ..., latest_app: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ..., point_id: _Optional[str] = ..., at_time: _Optional[float] = ...) -> None: ...

class BringToPointRequest(_message.Message):
    __slots__ = ("target", "selector")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    target: PointTarget
    selector: PointSelector
    def __init__(self, target: _Optional[_Union[PointTarget, _Mapping]] = ..., selector: _Optional[_Union[PointSelector, _Mapping]] = ...) -> None: ...

class MemberPoint(_message.Message):
    __slots__ = ("pair_id", "point")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    point: RecoveryPoint
    def __init__(self, pair_id: _Optional[str] = ..., point: _Optional[_Union[RecoveryPoint, _Mapping]] = ...) -> None: ...

class BringToPointResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[MemberPoint]
    def __init__(self, members: _Optional[_Iterable[_Union[MemberPoint, _Mapping]]] = ...) -> None: ...

class PointTargetResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[_pairs_pb2.TargetPairStatus]
    def __init__(self, pairs: _Optional[_Iterable[_Union[_pairs_pb2.TargetPairStatus, _Mapping]]] = ...) -> None: ...

class DigestReport(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[MemberDigest]
    def __init__(self, members: _Optional[_Iterable[_Union[MemberDigest, _Mapping]]] = ...) -> None: ...

class MemberDigest(_message.Message):
    __slots__ = ("pair_id", "digest", "disk_size", "applied_seq", "point_id")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    POINT_ID_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    digest: bytes
    disk_size: int
    applied_seq: int
    point_id: str
    def __init__(self, pair_id: _Optional[str] = ..., digest: _Optional[bytes] = ..., disk_size: _Optional[int] = ..., applied_seq: _Optional[int] = ..., point_id: _Optional[str] = ...) -> None: ...

class ListRetentionVolumesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RetentionVolume(_message.Message):
    __slots__ = ("mountpoint", "device", "fstype", "capacity_bytes", "free_bytes", "used_pct", "threshold_pct", "eligible", "reasons", "eligibility_waived")
    MOUNTPOINT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FSTYPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_PCT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PCT_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_WAIVED_FIELD_NUMBER: _ClassVar[int]
    mountpoint: str
    device: str
    fstype: str
    capacity_bytes: int
    free_bytes: int
    used_pct: float
    threshold_pct: float
    eligible: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    eligibility_waived: bool
    def __init__(self, mountpoint: _Optional[str] = ..., device: _Optional[str] = ..., fstype: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., used_pct: _Optional[float] = ..., threshold_pct: _Optional[float] = ..., eligible: _Optional[bool] = ..., reasons: _Optional[_Iterable[str]] = ..., eligibility_waived: _Optional[bool] = ...) -> None: ...

class ListRetentionVolumesResponse(_message.Message):
    __slots__ = ("volumes",)
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    volumes: _containers.RepeatedCompositeFieldContainer[RetentionVolume]
    def __init__(self, volumes: _Optional[_Iterable[_Union[RetentionVolume, _Mapping]]] = ...) -> None: ...
