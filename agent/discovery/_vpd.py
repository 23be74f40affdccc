"""SCSI Vital Product Data pages 0x83 (Device Identification) and 0x80 (Unit Serial Number), as the kernel exposes
them raw in ``/sys/block/<disk>/device/vpd_pg83`` and ``vpd_pg80``.

Page 0x83 layout (SPC-4 7.8.6): a 4-byte header (peripheral byte, page code 0x83, 16-bit big-endian page length)
followed by designation descriptors, each::

    byte 0   protocol identifier (bits 7-4) | code set (bits 3-0: 1 binary, 2 ASCII, 3 UTF-8)
    byte 1   PIV (bit 7) | association (bits 5-4: 0 logical unit, 1 target port, 2 target device)
             | designator type (bits 3-0: 0 vendor, 1 T10 vendor id, 2 EUI-64, 3 NAA, 8 SCSI name string, ...)
    byte 2   reserved
    byte 3   designator length n
    4..4+n   designator

Only designators associated with the logical unit (association 0) identify the disk; target-port and
target-device designators are shared by every LUN behind a port. Among those we prefer, as the kernel's
``scsi_vpd_lun_id`` does, NAA (16-byte before 8-byte), then EUI-64, then an SCSI name string that carries an naa./eui.
name. T10 vendor ids and vendor-specific designators are not unique and are never used as identity.

This module parses bytes; it never opens devices.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.discovery.errors import SourceError

__all__ = ["Designator", "lu_identifier", "parse_vpd_pg80", "parse_vpd_pg83"]

PAGE_DEVICE_ID = 0x83
PAGE_SERIAL = 0x80

ASSOC_LOGICAL_UNIT = 0
TYPE_VENDOR_SPECIFIC = 0x0
TYPE_T10_VENDOR = 0x1
TYPE_EUI64 = 0x2
TYPE_NAA = 0x3
TYPE_SCSI_NAME = 0x8
CODE_SET_BINARY = 1
CODE_SET_ASCII = 2
CODE_SET_UTF8 = 3


@dataclass(frozen=True)
class Designator:
    """One designation descriptor of page 0x83."""

    protocol: int
    code_set: int
    piv: bool
    association: int
    designator_type: int
    value: bytes

    def text(self) -> str:
        """The designator as the kernel spells it: ``naa.``/``eui.`` + hex for binary ones, the string otherwise."""
        if self.designator_type == TYPE_NAA:
            return "naa." + self.value.hex()
        if self.designator_type == TYPE_EUI64:
            return "eui." + self.value.hex()
        if self.code_set in (CODE_SET_ASCII, CODE_SET_UTF8):
            return self.value.rstrip(b"\0").decode("utf-8", "replace").strip()
        return self.value.hex()


def _check_header(data: bytes, page: int, source: str) -> int:
    if len(data) < 4:
        raise SourceError(f"{source}: VPD page 0x{page:02x} is {len(data)} bytes long, shorter than its 4-byte header")
    if data[1] != page:
        raise SourceError(f"{source}: expected VPD page 0x{page:02x}, the data is page 0x{data[1]:02x}")
    length = int.from_bytes(data[2:4], "big")
    if 4 + length > len(data):
        raise SourceError(f"{source}: VPD page 0x{page:02x} says {length} bytes follow, only {len(data) - 4} do")
    return length


def parse_vpd_pg83(data: bytes, *, source: str = "vpd_pg83") -> list[Designator]:
    """Split a raw page 0x83 into its designators; raise SourceError on a malformed or truncated page."""
    end = 4 + _check_header(data, PAGE_DEVICE_ID, source)
    designators: list[Designator] = []
    offset = 4
    while offset < end:
        if offset + 4 > end:
            raise SourceError(f"{source}: designator header at byte {offset} runs past the end of the page")
        b0, b1, length = data[offset], data[offset + 1], data[offset + 3]
        if offset + 4 + length > end:
            raise SourceError(f"{source}: designator at byte {offset} ({length} bytes) runs past the end of the page")
        designators.append(
            Designator(
                protocol=b0 >> 4,
                code_set=b0 & 0x0F,
                piv=bool(b1 & 0x80),
                association=(b1 >> 4) & 0x03,
                designator_type=b1 & 0x0F,
                value=bytes(data[offset + 4 : offset + 4 + length]),
            )
        )
        offset += 4 + length
    return designators


def _rank(designator: Designator) -> int | None:
    """Lower is better; None means "not an identity of this logical unit"."""
    if designator.association != ASSOC_LOGICAL_UNIT:
        return None
    kind, size = designator.designator_type, len(designator.value)
    if kind == TYPE_NAA and designator.code_set == CODE_SET_BINARY and size in (8, 16):
        return 0 if size == 16 else 2
    if kind == TYPE_EUI64 and designator.code_set == CODE_SET_BINARY and size in (8, 12, 16):
        return 1
    if kind == TYPE_SCSI_NAME and designator.text().lower().startswith(("naa.", "eui.")):
        return 3
    return None


def lu_identifier(designators: list[Designator]) -> Designator | None:
    """The designator that identifies the logical unit, or None when the page has no unique one."""
    ranked = [(rank, index, d) for index, d in enumerate(designators) if (rank := _rank(d)) is not None]
    if not ranked:
        return None
    return min(ranked, key=lambda item: (item[0], item[1]))[2]


def parse_vpd_pg80(data: bytes, *, source: str = "vpd_pg80") -> str:
    """The unit serial number of a raw page 0x80 (ASCII, trailing blanks and NULs removed)."""
    length = _check_header(data, PAGE_SERIAL, source)
    return data[4 : 4 + length].rstrip(b"\0").decode("ascii", "replace").strip()
