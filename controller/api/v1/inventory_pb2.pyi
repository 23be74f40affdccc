import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from controller.api.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AddVCenterRequest(_message.Message):
    __slots__ = ("name", "address", "username", "password", "ca_pem", "thumbprint_sha256", "refresh")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    THUMBPRINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    username: str
    password: str
    ca_pem: str
    thumbprint_sha256: str
    refresh: bool
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., ca_pem: _Optional[str] = ..., thumbprint_sha256: _Optional[str] = ..., refresh: _Optional[bool] = ...) -> None: ...

class AddVaultRequest(_message.Message):
    __slots__ = ("name", "subscription_id", "resource_group", "vault", "tenant_id", "client_id", "client_secret", "base_url", "authority", "ca_pem", "run_import")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    VAULT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    CA_PEM_FIELD_NUMBER: _ClassVar[int]
    RUN_IMPORT_FIELD_NUMBER: _ClassVar[int]
    name: str
    subscription_id: str
    resource_group: str
    vault: str
    tenant_id: str
    client_id: str
    client_secret: str
    base_url: str
    authority: str
    ca_pem: str
    run_import: bool
    def __init__(self, name: _Optional[str] = ..., subscription_id: _Optional[str] = ..., resource_group: _Optional[str] = ..., vault: _Optional[str] = ..., tenant_id: _Optional[str] = ..., client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., base_url: _Optional[str] = ..., authority: _Optional[str] = ..., ca_pem: _Optional[str] = ..., run_import: _Optional[bool] = ...) -> None: ...

class AddSourceResponse(_message.Message):
    __slots__ = ("name", "job")
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    name: str
    job: _jobs_pb2.Job
    def __init__(self, name: _Optional[str] = ..., job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class SnapshotInfo(_message.Message):
    __slots__ = ("id", "taken_at", "counts", "job_id")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    taken_at: _timestamp_pb2.Timestamp
    counts: _containers.ScalarMap[str, int]
    job_id: int
    def __init__(self, id: _Optional[int] = ..., taken_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., counts: _Optional[_Mapping[str, int]] = ..., job_id: _Optional[int] = ...) -> None: ...

class VCenterRecord(_message.Message):
    __slots__ = ("name", "address", "username", "verify", "created_at", "snapshot")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    VERIFY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    username: str
    verify: str
    created_at: _timestamp_pb2.Timestamp
    snapshot: SnapshotInfo
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., username: _Optional[str] = ..., verify: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot: _Optional[_Union[SnapshotInfo, _Mapping]] = ...) -> None: ...

class ListVCentersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListVCentersResponse(_message.Message):
    __slots__ = ("vcenters",)
    VCENTERS_FIELD_NUMBER: _ClassVar[int]
    vcenters: _containers.RepeatedCompositeFieldContainer[VCenterRecord]
    def __init__(self, vcenters: _Optional[_Iterable[_Union[VCenterRecord, _Mapping]]] = ...) -> None: ...

class VaultRecord(_message.Message):
    __slots__ = ("name", "subscription_id", "resource_group", "vault", "tenant_id", "client_id", "base_url", "created_at", "snapshot")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_GROUP_FIELD_NUMBER: _ClassVar[int]
    VAULT_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    name: str
    subscription_id: str
    resource_group: str
    vault: str
    tenant_id: str
    client_id: str
    base_url: str
    created_at: _timestamp_pb2.Timestamp
    snapshot: SnapshotInfo
    def __init__(self, name: _Optional[str] = ..., subscription_id: _Optional[str] = ..., resource_group: _Optional[str] = ..., vault: _Optional[str] = ..., tenant_id: _Optional[str] = ..., client_id: _Optional[str] = ..., base_url: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot: _Optional[_Union[SnapshotInfo, _Mapping]] = ...) -> None: ...

class ListVaultsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListVaultsResponse(_message.Message):
    __slots__ = ("vaults",)
    VAULTS_FIELD_NUMBER: _ClassVar[int]
    vaults: _containers.RepeatedCompositeFieldContainer[VaultRecord]
    def __init__(self, vaults: _Optional[_Iterable[_Union[VaultRecord, _Mapping]]] = ...) -> None: ...

class RefreshSourceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListObjectsRequest(_message.Message):
    __slots__ = ("kinds", "source")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    source: str
    def __init__(self, kinds: _Optional[_Iterable[str]] = ..., source: _Optional[str] = ...) -> None: ...

class InventoryObject(_message.Message):
    __slots__ = ("source_kind", "source_name", "kind", "key", "name", "parent_key", "details_json")
    SOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_KEY_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    source_kind: str
    source_name: str
    kind: str
    key: str
    name: str
    parent_key: str
    details_json: str
    def __init__(self, source_kind: _Optional[str] = ..., source_name: _Optional[str] = ..., kind: _Optional[str] = ..., key: _Optional[str] = ..., name: _Optional[str] = ..., parent_key: _Optional[str] = ..., details_json: _Optional[str] = ...) -> None: ...

class ListObjectsResponse(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[InventoryObject]
    def __init__(self, objects: _Optional[_Iterable[_Union[InventoryObject, _Mapping]]] = ...) -> None: ...
