from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Codec(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODEC_RAW: _ClassVar[Codec]
    CODEC_ZSTD: _ClassVar[Codec]
    CODEC_ZERO: _ClassVar[Codec]

class BookmarkKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKMARK_KIND_UNSPECIFIED: _ClassVar[BookmarkKind]
    BOOKMARK_KIND_CRASH: _ClassVar[BookmarkKind]
    BOOKMARK_KIND_APP: _ClassVar[BookmarkKind]
    BOOKMARK_KIND_RESYNC_COMPLETE: _ClassVar[BookmarkKind]
    BOOKMARK_KIND_RESYNC_START: _ClassVar[BookmarkKind]
CODEC_RAW: Codec
CODEC_ZSTD: Codec
CODEC_ZERO: Codec
BOOKMARK_KIND_UNSPECIFIED: BookmarkKind
BOOKMARK_KIND_CRASH: BookmarkKind
BOOKMARK_KIND_APP: BookmarkKind
BOOKMARK_KIND_RESYNC_COMPLETE: BookmarkKind
BOOKMARK_KIND_RESYNC_START: BookmarkKind

class StreamRequest(_message.Message):
    __slots__ = ("open", "batch")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    open: OpenStream
    batch: Batch
    def __init__(self, open: _Optional[_Union[OpenStream, _Mapping]] = ..., batch: _Optional[_Union[Batch, _Mapping]] = ...) -> None: ...

class OpenStream(_message.Message):
    __slots__ = ("pair_id", "generation")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    generation: int
    def __init__(self, pair_id: _Optional[str] = ..., generation: _Optional[int] = ...) -> None: ...

class Batch(_message.Message):
    __slots__ = ("seq", "entries")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    seq: int
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    def __init__(self, seq: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("block", "bookmark")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_FIELD_NUMBER: _ClassVar[int]
    block: Block
    bookmark: Bookmark
    def __init__(self, block: _Optional[_Union[Block, _Mapping]] = ..., bookmark: _Optional[_Union[Bookmark, _Mapping]] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("offset", "length", "codec", "payload", "digest")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    offset: int
    length: int
    codec: Codec
    payload: bytes
    digest: bytes
    def __init__(self, offset: _Optional[int] = ..., length: _Optional[int] = ..., codec: _Optional[_Union[Codec, str]] = ..., payload: _Optional[bytes] = ..., digest: _Optional[bytes] = ...) -> None: ...

class Bookmark(_message.Message):
    __slots__ = ("id", "kind", "tag", "group", "source_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: BookmarkKind
    tag: str
    group: str
    source_time: float
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[BookmarkKind, str]] = ..., tag: _Optional[str] = ..., group: _Optional[str] = ..., source_time: _Optional[float] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("opened", "ack")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    opened: StreamOpened
    ack: Ack
    def __init__(self, opened: _Optional[_Union[StreamOpened, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class StreamOpened(_message.Message):
    __slots__ = ("durable_seq", "disk_size", "session")
    DURABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    durable_seq: int
    disk_size: int
    session: int
    def __init__(self, durable_seq: _Optional[int] = ..., disk_size: _Optional[int] = ..., session: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("durable_seq",)
    DURABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    durable_seq: int
    def __init__(self, durable_seq: _Optional[int] = ...) -> None: ...

class Extent(_message.Message):
    __slots__ = ("offset", "length")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    offset: int
    length: int
    def __init__(self, offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class HashesRequest(_message.Message):
    __slots__ = ("pair_id", "generation", "unit", "extents")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    EXTENTS_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    generation: int
    unit: int
    extents: _containers.RepeatedCompositeFieldContainer[Extent]
    def __init__(self, pair_id: _Optional[str] = ..., generation: _Optional[int] = ..., unit: _Optional[int] = ..., extents: _Optional[_Iterable[_Union[Extent, _Mapping]]] = ...) -> None: ...

class HashesResponse(_message.Message):
    __slots__ = ("digests",)
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    digests: bytes
    def __init__(self, digests: _Optional[bytes] = ...) -> None: ...

class DigestRequest(_message.Message):
    __slots__ = ("pair_id", "generation")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    generation: int
    def __init__(self, pair_id: _Optional[str] = ..., generation: _Optional[int] = ...) -> None: ...

class DigestResponse(_message.Message):
    __slots__ = ("digest", "disk_size", "applied_seq", "point_id")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    POINT_ID_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    disk_size: int
    applied_seq: int
    point_id: str
    def __init__(self, digest: _Optional[bytes] = ..., disk_size: _Optional[int] = ..., applied_seq: _Optional[int] = ..., point_id: _Optional[str] = ...) -> None: ...
