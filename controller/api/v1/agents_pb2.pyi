import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from controller.api.v1 import controller_pb2 as _controller_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HeartbeatRequest(_message.Message):
    __slots__ = ("version", "sent_at", "started_at", "problems", "master_target", "process_server")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    MASTER_TARGET_FIELD_NUMBER: _ClassVar[int]
    PROCESS_SERVER_FIELD_NUMBER: _ClassVar[int]
    version: str
    sent_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    problems: _containers.RepeatedScalarFieldContainer[str]
    master_target: MasterTargetCapacity
    process_server: ProcessServerCapacity
    def __init__(self, version: _Optional[str] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., problems: _Optional[_Iterable[str]] = ..., master_target: _Optional[_Union[MasterTargetCapacity, _Mapping]] = ..., process_server: _Optional[_Union[ProcessServerCapacity, _Mapping]] = ...) -> None: ...

class MasterTargetCapacity(_message.Message):
    __slots__ = ("attached_disks", "disk_limit", "retention_volumes")
    ATTACHED_DISKS_FIELD_NUMBER: _ClassVar[int]
    DISK_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RETENTION_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    attached_disks: int
    disk_limit: int
    retention_volumes: _containers.RepeatedCompositeFieldContainer[RetentionVolume]
    def __init__(self, attached_disks: _Optional[int] = ..., disk_limit: _Optional[int] = ..., retention_volumes: _Optional[_Iterable[_Union[RetentionVolume, _Mapping]]] = ...) -> None: ...

class RetentionVolume(_message.Message):
    __slots__ = ("path", "capacity_bytes", "free_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    capacity_bytes: int
    free_bytes: int
    def __init__(self, path: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ...) -> None: ...

class ProcessServerCapacity(_message.Message):
    __slots__ = ("backlog_bytes", "throughput_bytes_per_second", "replicating_disks")
    BACKLOG_BYTES_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    REPLICATING_DISKS_FIELD_NUMBER: _ClassVar[int]
    backlog_bytes: int
    throughput_bytes_per_second: int
    replicating_disks: int
    def __init__(self, backlog_bytes: _Optional[int] = ..., throughput_bytes_per_second: _Optional[int] = ..., replicating_disks: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("interval_seconds", "controller_version")
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_VERSION_FIELD_NUMBER: _ClassVar[int]
    interval_seconds: int
    controller_version: str
    def __init__(self, interval_seconds: _Optional[int] = ..., controller_version: _Optional[str] = ...) -> None: ...

class ListServersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerRecord(_message.Message):
    __slots__ = ("agent", "health", "problems", "last_heartbeat", "started_at", "master_target", "process_server")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    MASTER_TARGET_FIELD_NUMBER: _ClassVar[int]
    PROCESS_SERVER_FIELD_NUMBER: _ClassVar[int]
    agent: _controller_pb2.AgentRecord
    health: str
    problems: _containers.RepeatedScalarFieldContainer[str]
    last_heartbeat: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    master_target: MasterTargetCapacity
    process_server: ProcessServerCapacity
    def __init__(self, agent: _Optional[_Union[_controller_pb2.AgentRecord, _Mapping]] = ..., health: _Optional[str] = ..., problems: _Optional[_Iterable[str]] = ..., last_heartbeat: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., master_target: _Optional[_Union[MasterTargetCapacity, _Mapping]] = ..., process_server: _Optional[_Union[ProcessServerCapacity, _Mapping]] = ...) -> None: ...

class ListServersResponse(_message.Message):
    __slots__ = ("servers", "controller_version")
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_VERSION_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[ServerRecord]
    controller_version: str
    def __init__(self, servers: _Optional[_Iterable[_Union[ServerRecord, _Mapping]]] = ..., controller_version: _Optional[str] = ...) -> None: ...
