"""The stream's protobuf messages to and from the data path's values.

Receiving (:func:`batch_from_proto`) trusts nothing: any protobuf message, however built, becomes either the entries
``agent.dataplane.decode_batch`` then validates, or an :class:`agent.dataplane.errors.InvalidInput`. Sizes are not
checked here (decode_batch checks them all before decompressing anything); only the shapes protobuf cannot express
(an empty oneof, an enum value outside the contract).
"""

from __future__ import annotations

from agent.api.v1 import replication_pb2 as pb
from agent.dataplane import Bookmark, BookmarkKind, Codec, EncodedBatch, EncodedBlock
from agent.dataplane.errors import InvalidBookmark, InvalidInput, UnsupportedEncoding

__all__ = ["batch_from_proto", "batch_to_proto"]


def batch_to_proto(batch: EncodedBatch) -> pb.Batch:
    message = pb.Batch(seq=batch.seq)
    entries = message.entries
    for entry in batch.entries:
        if isinstance(entry, EncodedBlock):
            block = entries.add().block
            block.offset = entry.offset
            block.length = entry.length
            block.codec = int(entry.codec)  # type: ignore[assignment]
            block.payload = bytes(entry.compressed)
            block.digest = entry.digest
        else:
            bookmark = entries.add().bookmark
            bookmark.id = entry.id
            bookmark.kind = int(entry.kind)  # type: ignore[assignment]
            if entry.tag is not None:
                bookmark.tag = entry.tag
            if entry.group is not None:
                bookmark.group = entry.group
            if entry.source_time is not None:
                bookmark.source_time = entry.source_time
    return message


def batch_from_proto(message: pb.Batch) -> tuple[int, list[EncodedBlock | Bookmark]]:
    """The sequence number and entries of a received batch; raises :class:`InvalidInput` for a shape outside the
    contract. Nothing is decompressed or verified here."""
    entries: list[EncodedBlock | Bookmark] = []
    for index, entry in enumerate(message.entries):
        kind = entry.WhichOneof("kind")
        if kind == "block":
            block = entry.block
            try:
                codec = Codec(block.codec)
            except ValueError:
                raise UnsupportedEncoding(f"batch {message.seq}, entry {index}: unknown codec {block.codec}") from None
            entries.append(EncodedBlock(block.offset, block.length, block.payload, block.digest, codec))
        elif kind == "bookmark":
            mark = entry.bookmark
            try:
                mark_kind = BookmarkKind(mark.kind)
            except ValueError:
                raise InvalidBookmark(
                    f"batch {message.seq}, entry {index}: bookmark kind {mark.kind} is not CRASH, APP, "
                    "RESYNC_COMPLETE or RESYNC_START"
                ) from None
            entries.append(
                Bookmark(
                    mark.id,
                    mark_kind,
                    mark.tag if mark.HasField("tag") else None,
                    mark.group if mark.HasField("group") else None,
                    mark.source_time if mark.HasField("source_time") else None,
                )
            )
        else:
            raise InvalidInput(f"batch {message.seq}, entry {index} is neither a block nor a bookmark")
    return message.seq, entries
