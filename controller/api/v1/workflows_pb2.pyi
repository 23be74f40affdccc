import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from controller.api.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApplyPlanRequest(_message.Message):
    __slots__ = ("text", "syntax", "dry_run")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SYNTAX_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    text: str
    syntax: str
    dry_run: bool
    def __init__(self, text: _Optional[str] = ..., syntax: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class PlannedStep(_message.Message):
    __slots__ = ("workflow", "step", "item", "action")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    step: str
    item: str
    action: str
    def __init__(self, workflow: _Optional[str] = ..., step: _Optional[str] = ..., item: _Optional[str] = ..., action: _Optional[str] = ...) -> None: ...

class ApplyPlanResponse(_message.Message):
    __slots__ = ("name", "stored", "steps", "plan_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PLAN_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    stored: bool
    steps: _containers.RepeatedCompositeFieldContainer[PlannedStep]
    plan_json: str
    def __init__(self, name: _Optional[str] = ..., stored: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[PlannedStep, _Mapping]]] = ..., plan_json: _Optional[str] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlanRecord(_message.Message):
    __slots__ = ("name", "source", "vault", "document_json", "updated_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VAULT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    source: str
    vault: str
    document_json: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., source: _Optional[str] = ..., vault: _Optional[str] = ..., document_json: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans",)
    PLANS_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[PlanRecord]
    def __init__(self, plans: _Optional[_Iterable[_Union[PlanRecord, _Mapping]]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("vault",)
    VAULT_FIELD_NUMBER: _ClassVar[int]
    vault: str
    def __init__(self, vault: _Optional[str] = ...) -> None: ...

class ItemRecord(_message.Message):
    __slots__ = ("key", "vault", "name", "group", "state", "job_id", "rollback_until", "asr_json", "record_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VAULT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ASR_JSON_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    vault: str
    name: str
    group: str
    state: str
    job_id: int
    rollback_until: _timestamp_pb2.Timestamp
    asr_json: str
    record_json: str
    def __init__(self, key: _Optional[str] = ..., vault: _Optional[str] = ..., name: _Optional[str] = ..., group: _Optional[str] = ..., state: _Optional[str] = ..., job_id: _Optional[int] = ..., rollback_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asr_json: _Optional[str] = ..., record_json: _Optional[str] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ItemRecord]
    def __init__(self, items: _Optional[_Iterable[_Union[ItemRecord, _Mapping]]] = ...) -> None: ...

class ListGroupsRequest(_message.Message):
    __slots__ = ("vault",)
    VAULT_FIELD_NUMBER: _ClassVar[int]
    vault: str
    def __init__(self, vault: _Optional[str] = ...) -> None: ...

class GroupRecord(_message.Message):
    __slots__ = ("name", "vault", "protection_group", "protection_group_name", "members")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VAULT_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_GROUP_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    vault: str
    protection_group: str
    protection_group_name: str
    members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., vault: _Optional[str] = ..., protection_group: _Optional[str] = ..., protection_group_name: _Optional[str] = ..., members: _Optional[_Iterable[str]] = ...) -> None: ...

class ListGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[GroupRecord]
    def __init__(self, groups: _Optional[_Iterable[_Union[GroupRecord, _Mapping]]] = ...) -> None: ...

class StartWorkflowRequest(_message.Message):
    __slots__ = ("workflow", "plan", "items", "options_json")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    plan: str
    items: _containers.RepeatedScalarFieldContainer[str]
    options_json: str
    def __init__(self, workflow: _Optional[str] = ..., plan: _Optional[str] = ..., items: _Optional[_Iterable[str]] = ..., options_json: _Optional[str] = ...) -> None: ...
