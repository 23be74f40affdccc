from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListDisksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RescanRequest(_message.Message):
    __slots__ = ("expected_ids",)
    EXPECTED_IDS_FIELD_NUMBER: _ClassVar[int]
    expected_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, expected_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DiskRequest(_message.Message):
    __slots__ = ("disk_id",)
    DISK_ID_FIELD_NUMBER: _ClassVar[int]
    disk_id: str
    def __init__(self, disk_id: _Optional[str] = ...) -> None: ...

class Disk(_message.Message):
    __slots__ = ("disk_id", "id_problem", "name", "path", "size_bytes", "vendor", "model", "controller", "controller_key", "hctl", "roles", "read_only", "offline", "in_use", "needs_enable_uuid")
    DISK_ID_FIELD_NUMBER: _ClassVar[int]
    ID_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_KEY_FIELD_NUMBER: _ClassVar[int]
    HCTL_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ENABLE_UUID_FIELD_NUMBER: _ClassVar[int]
    disk_id: str
    id_problem: str
    name: str
    path: str
    size_bytes: int
    vendor: str
    model: str
    controller: str
    controller_key: str
    hctl: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    read_only: bool
    offline: bool
    in_use: bool
    needs_enable_uuid: bool
    def __init__(self, disk_id: _Optional[str] = ..., id_problem: _Optional[str] = ..., name: _Optional[str] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., vendor: _Optional[str] = ..., model: _Optional[str] = ..., controller: _Optional[str] = ..., controller_key: _Optional[str] = ..., hctl: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., read_only: _Optional[bool] = ..., offline: _Optional[bool] = ..., in_use: _Optional[bool] = ..., needs_enable_uuid: _Optional[bool] = ...) -> None: ...

class ControllerUsage(_message.Message):
    __slots__ = ("key", "controller", "disks", "free")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    key: str
    controller: str
    disks: int
    free: int
    def __init__(self, key: _Optional[str] = ..., controller: _Optional[str] = ..., disks: _Optional[int] = ..., free: _Optional[int] = ...) -> None: ...

class AttachCapacity(_message.Message):
    __slots__ = ("controllers", "attached", "limit", "free", "controllers_free")
    CONTROLLERS_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    CONTROLLERS_FREE_FIELD_NUMBER: _ClassVar[int]
    controllers: _containers.RepeatedCompositeFieldContainer[ControllerUsage]
    attached: int
    limit: int
    free: int
    controllers_free: int
    def __init__(self, controllers: _Optional[_Iterable[_Union[ControllerUsage, _Mapping]]] = ..., attached: _Optional[int] = ..., limit: _Optional[int] = ..., free: _Optional[int] = ..., controllers_free: _Optional[int] = ...) -> None: ...

class DiskInventory(_message.Message):
    __slots__ = ("platform", "source", "disks", "problems", "capacity")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DISKS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    platform: str
    source: str
    disks: _containers.RepeatedCompositeFieldContainer[Disk]
    problems: _containers.RepeatedScalarFieldContainer[str]
    capacity: AttachCapacity
    def __init__(self, platform: _Optional[str] = ..., source: _Optional[str] = ..., disks: _Optional[_Iterable[_Union[Disk, _Mapping]]] = ..., problems: _Optional[_Iterable[str]] = ..., capacity: _Optional[_Union[AttachCapacity, _Mapping]] = ...) -> None: ...
