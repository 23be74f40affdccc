"""Errors of the data path (codec, validation, change log, backlog, flow control).

::

    failback.errors.PermanentError
    └── DataplaneError                  everything this package raises on purpose
        ├── RejectedInput               input from the peer is refused whole; nothing of it was written or kept
        │   ├── InvalidInput            malformed request          -> gRPC INVALID_ARGUMENT
        │   │   ├── BlockOutOfBounds    negative offset, past the end of the disk, offset+length overflows
        │   │   ├── MisalignedBlock     offset or length not a multiple of 4096, zero length
        │   │   ├── TooLarge            a block, batch or hash request above its limit
        │   │   ├── SizeMismatch        payload or zstd frame size differs from the declared length
        │   │   ├── UnsupportedEncoding unknown codec, unreadable frame header, frame without content size,
        │   │   │                       dictionary, window above the limit, ZERO block with a payload
        │   │   └── InvalidBookmark     empty or oversized id, tag or group; non-finite time; APP without tag
        │   └── CorruptData             payload does not decode to its digest -> gRPC DATA_LOSS
        │       ├── UndecodablePayload  the zstd body fails to decode, or trailing data follows the frame
        │       └── DigestMismatch      the decoded block's blake3 differs from the declared digest
        ├── SourceError                 the source disk cannot be read as asked (shorter than its size, I/O error)
        ├── InUse                       another tracker or sender holds this log or backlog directory
        ├── ChangeLogError              the change log cannot serve the request
        │   ├── CursorTrimmed           the cursor is below the oldest retained record: a resync is needed
        │   ├── BadCursor               the cursor is not at a record boundary or beyond the end
        │   ├── LogCorrupt              a record before the tail fails its checksum: a resync is needed
        │   ├── BookmarkNotFound        no such bookmark in the retained log (trimmed, or never taken)
        │   └── SourceNotQuiescent      a digest at a bookmark needs the source stopped there: a tracker still
        │                               writes, or writes follow the bookmark
        ├── TrackerFailed               a write or fsync failed; the tracker acknowledges nothing more (reopen)
        └── BacklogError
            ├── BacklogMismatch         the directory belongs to another pair or generation
            ├── BacklogFailed           a write or fsync failed; the backlog takes nothing more (reopen)
            ├── SequenceGap             an appended batch does not continue the sequence
            ├── WatermarkAhead          the master target acknowledged past the backlog: a resync is needed
            ├── WatermarkBehind         the master target lost batches it had acknowledged: a resync is needed
            └── BacklogCorrupt          a frame before the tail fails its checksum

Waits that run out of time (in-flight window, bandwidth limiter) raise :class:`failback.errors.DeadlineExceeded`,
which is temporary. The two :class:`RejectedInput` branches are the classification the stream servicer maps to
status codes: :class:`InvalidInput` means the sender broke the contract (it would fail the same way again), while
:class:`CorruptData` means the bytes were damaged somewhere between the source's read and here, so the process server
should re-read the source before resending. Both refuse the whole batch; neither ever writes.
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = [
    "BacklogCorrupt",
    "BacklogError",
    "BacklogFailed",
    "BacklogMismatch",
    "BadCursor",
    "BlockOutOfBounds",
    "BookmarkNotFound",
    "ChangeLogError",
    "CorruptData",
    "CursorTrimmed",
    "DataplaneError",
    "DigestMismatch",
    "InUse",
    "InvalidBookmark",
    "InvalidInput",
    "LogCorrupt",
    "MisalignedBlock",
    "RejectedInput",
    "SequenceGap",
    "SizeMismatch",
    "SourceError",
    "SourceNotQuiescent",
    "TooLarge",
    "TrackerFailed",
    "UndecodablePayload",
    "UnsupportedEncoding",
    "WatermarkAhead",
    "WatermarkBehind",
]


class DataplaneError(PermanentError):
    """Base of every error the data path raises on purpose."""


class RejectedInput(DataplaneError):
    """Input from the peer was refused whole before any I/O."""


class InvalidInput(RejectedInput):
    """The request breaks the contract (maps to INVALID_ARGUMENT)."""


class BlockOutOfBounds(InvalidInput):
    """The block does not lie inside the disk."""


class MisalignedBlock(InvalidInput):
    """Offset or length is not a positive multiple of the block size."""


class TooLarge(InvalidInput):
    """A block, batch or request exceeds a declared limit."""


class SizeMismatch(InvalidInput):
    """The payload or its frame header declares a size other than the block's length."""


class UnsupportedEncoding(InvalidInput):
    """The codec or zstd frame uses a feature this receiver does not accept."""


class InvalidBookmark(InvalidInput):
    """A bookmark's fields are out of their allowed ranges."""


class CorruptData(RejectedInput):
    """The payload does not decode to the declared digest (maps to DATA_LOSS)."""


class UndecodablePayload(CorruptData):
    """The compressed body is damaged."""


class DigestMismatch(CorruptData):
    """The decoded block hashes to something other than its declared digest."""


class SourceError(DataplaneError):
    """The source disk cannot be read as asked."""


class InUse(DataplaneError):
    """A change log or backlog directory is already open in another process or object."""


class ChangeLogError(DataplaneError):
    """The change log cannot serve the request."""


class CursorTrimmed(ChangeLogError):
    """The records at this cursor were already trimmed."""


class BadCursor(ChangeLogError):
    """The cursor does not point at a record boundary inside the log."""


class LogCorrupt(ChangeLogError):
    """A record that is not the torn tail fails its checksum."""


class BookmarkNotFound(ChangeLogError):
    """The bookmark is not in the retained change log."""


class SourceNotQuiescent(ChangeLogError):
    """The source may differ from its state at the bookmark (a tracker writes, or writes follow it)."""


class TrackerFailed(DataplaneError):
    """A durable write failed; the tracker refuses further writes until it is reopened (and recovers)."""


class BacklogError(DataplaneError):
    """The on-disk backlog cannot be used as asked."""


class BacklogMismatch(BacklogError):
    """The backlog directory was created for another pair or generation."""


class BacklogFailed(BacklogError):
    """A backlog write or fsync failed; the backlog refuses further appends until it is reopened."""


class SequenceGap(BacklogError):
    """A batch was appended out of sequence."""


class WatermarkAhead(BacklogError):
    """The receiver's durable watermark is beyond the newest batch the backlog holds."""


class BacklogCorrupt(BacklogError):
    """A backlog frame that is not the torn tail fails its checksum."""


class WatermarkBehind(BacklogError):
    """The receiver's durable watermark is below batches it acknowledged before and the backlog already dropped."""
