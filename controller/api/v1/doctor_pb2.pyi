import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckRequest(_message.Message):
    __slots__ = ("plan", "vms", "all", "offline")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    VMS_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    plan: str
    vms: _containers.RepeatedScalarFieldContainer[str]
    all: bool
    offline: bool
    def __init__(self, plan: _Optional[str] = ..., vms: _Optional[_Iterable[str]] = ..., all: _Optional[bool] = ..., offline: _Optional[bool] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("id", "title", "status", "subject", "evidence", "remedy")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    REMEDY_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    status: str
    subject: str
    evidence: str
    remedy: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., status: _Optional[str] = ..., subject: _Optional[str] = ..., evidence: _Optional[str] = ..., remedy: _Optional[str] = ...) -> None: ...

class FactSource(_message.Message):
    __slots__ = ("name", "how", "at", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    how: str
    at: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, name: _Optional[str] = ..., how: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class CheckReport(_message.Message):
    __slots__ = ("scope", "live", "taken_at", "status", "checks", "sources", "problems")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    scope: str
    live: bool
    taken_at: _timestamp_pb2.Timestamp
    status: str
    checks: _containers.RepeatedCompositeFieldContainer[CheckResult]
    sources: _containers.RepeatedCompositeFieldContainer[FactSource]
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scope: _Optional[str] = ..., live: _Optional[bool] = ..., taken_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ..., checks: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ..., sources: _Optional[_Iterable[_Union[FactSource, _Mapping]]] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...
