"""The one place where a disk id is normalised.

A replicated disk is identified by the VMDK's UUID, which VMware shows to a guest (with ``disk.EnableUUID = TRUE``)
as the SCSI page-83 NAA designator of the virtual disk: NAA type 6 ("IEEE Registered Extended"), 16 bytes, VMware's
IEEE company id ``00:0c:29``, hence ids that start with ``6000c29``. The same 16 bytes show up in many spellings:

==========================================  ====================================================
where                                        spelling
==========================================  ====================================================
vSphere ``VirtualDisk.backing.uuid``         ``6000C29a-bcde-f012-3456-789abcdef012``
VMDK descriptor ``ddb.uuid``                 ``60 00 C2 9a bc de f0 12-34 56 78 9a bc de f0 12``
kernel ``device/wwid``, SCSI name string     ``naa.6000c29abcdef0123456789abcdef012``
udev ``ID_WWN_WITH_EXTENSION``               ``0x6000c29abcdef0123456789abcdef012``
udev ``ID_SERIAL`` (designator type 3)       ``36000c29abcdef0123456789abcdef012``
``/dev/disk/by-id``                          ``wwn-0x6000c29a…`` and ``scsi-36000c29a…``
Windows ``Get-Disk`` ``UniqueId`` (FCPH)     ``6000C29ABCDEF0123456789ABCDEF012``
==========================================  ====================================================

udev's ``ID_WWN`` alone holds only the first 8 bytes of a 16-byte NAA id (``scsi_id`` copies 16 hex digits and puts
the rest in ``ID_WWN_VENDOR_EXTENSION``), so an 8-byte value that claims NAA type 6 is refused as truncated rather
than matched on half an id. EUI-64 designators (8, 12 or 16 bytes; NVMe NGUIDs) are accepted when spelled with an
``eui.`` prefix or the udev type digit ``2``.

It lives in the common package because both sides need it: the agent to match guest devices, the controller to
store VMDK UUIDs from vSphere in the same form.

The canonical form is the kernel's: ``naa.`` or ``eui.`` followed by lower-case hex. This module never stores or
returns device paths (``/dev/sdX``); those are not identities.
"""

from __future__ import annotations

import re
from typing import Literal

from failback.errors import PermanentError

__all__ = ["InvalidDiskId", "normalize_disk_id"]


class InvalidDiskId(PermanentError):
    """A value is not a disk id in any form we recognise; nothing was done with it."""


_HEX = re.compile(r"[0-9a-f]+")
_BY_ID_DIR = "/dev/disk/by-id/"
_PARTITION_SUFFIX = re.compile(r"-part\d+$")
# NAA field (first hex digit) -> designator length in hex digits, SPC-4 7.8.6.6.
_NAA_LENGTH = {"2": 16, "3": 16, "5": 16, "6": 32}
_EUI_LENGTHS = (16, 24, 32)


def normalize_disk_id(value: str, *, designator: Literal["naa", "eui"] | None = None) -> str:
    """Return the canonical id (``naa.<hex>`` or ``eui.<hex>``) for any spelling listed in the module docstring.

    ``designator`` says how to read bare hex when the source knows the designator type (Windows reports it as
    ``UniqueIdFormat``: FCPH Name is NAA, EUI64 is EUI-64); without it, bare hex must be a valid NAA.

    Raises :class:`~agent.discovery.errors.InvalidDiskId`, saying what was wrong, for anything else: partitions,
    truncated udev ``ID_WWN`` values, vendor-specific or T10 ids (not unique), or hex that is not a valid NAA.
    """
    if not isinstance(value, str):
        raise InvalidDiskId(f"a disk id must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidDiskId("empty disk id", remedy="give the VMDK's backing UUID, e.g. 6000C29a-bcde-f012-...")
    low = text.lower()
    if low.startswith(_BY_ID_DIR):
        low = low[len(_BY_ID_DIR) :]
    if _PARTITION_SUFFIX.search(low):
        raise InvalidDiskId(f"{value!r} names a partition, not a disk", remedy="drop the -partN suffix")

    if low.startswith("naa."):
        return _naa(low[4:], value)
    if low.startswith("eui."):
        return _eui(low[4:], value)
    # ``0x`` spellings come from udev (ID_WWN*, wwn- links), which uses them for NAA designators only.
    if low.startswith("wwn-0x"):
        return _naa(low[6:], value)
    if low.startswith("scsi-"):
        return _typed_serial(low[5:], value)
    if low.startswith("0x"):
        return _naa(low[2:], value)
    if low.startswith(("t10.", "t10-", "scsi-1", "scsi-0")):
        raise _not_unique(value)

    compact = low.replace("-", "").replace(" ", "")
    if not _HEX.fullmatch(compact):
        raise InvalidDiskId(
            f"{value!r} is not a disk id",
            remedy="use the VMDK backing UUID (6000C29a-...), an naa./eui. id, a udev ID_SERIAL or a by-id name",
        )
    if designator == "eui":
        return _eui(compact, value)
    if len(compact) % 2 == 1 and designator is None:
        # udev ID_SERIAL: one hex digit for the designator type, then the designator.
        return _typed_serial(compact, value)
    return _naa(compact, value)


def _typed_serial(serial: str, original: str) -> str:
    kind, body = serial[:1], serial[1:]
    if kind == "3":
        return _naa(body, original)
    if kind == "2":
        return _eui(body, original)
    if kind == "8" and body.startswith(("naa.", "eui.")):
        return normalize_disk_id(body)
    if kind in ("0", "1"):
        raise _not_unique(original)
    raise InvalidDiskId(f"{original!r} is not a udev SCSI serial with an NAA (3) or EUI-64 (2) designator")


def _naa(body: str, original: str) -> str:
    if not _HEX.fullmatch(body):
        raise InvalidDiskId(f"{original!r}: an NAA id is hexadecimal")
    naa_type = body[:1]
    want = _NAA_LENGTH.get(naa_type)
    if want is None:
        raise InvalidDiskId(
            f"{original!r}: NAA type {naa_type or '?'} is not a valid NAA designator (types 2, 3, 5 and 6 exist)",
            remedy="if this is an EUI-64 or NVMe NGUID, prefix it with eui.",
        )
    if len(body) != want:
        if naa_type == "6" and len(body) == 16:
            raise InvalidDiskId(
                f"{original!r} is only the first 8 bytes of a 16-byte NAA type 6 id (udev ID_WWN is truncated so)",
                remedy="use ID_WWN_WITH_EXTENSION, ID_SERIAL or the full VMDK UUID",
            )
        raise InvalidDiskId(f"{original!r}: an NAA type {naa_type} id has {want} hex digits, not {len(body)}")
    return f"naa.{body}"


def _eui(body: str, original: str) -> str:
    if not _HEX.fullmatch(body) or len(body) not in _EUI_LENGTHS:
        raise InvalidDiskId(f"{original!r}: an EUI-64 id is 16, 24 or 32 hex digits")
    return f"eui.{body}"


def _not_unique(original: str) -> InvalidDiskId:
    return InvalidDiskId(
        f"{original!r} is a vendor-specific or T10 vendor id, which is not unique across disks",
        remedy="use the disk's NAA id; on VMware set disk.EnableUUID = TRUE on the master target",
    )
