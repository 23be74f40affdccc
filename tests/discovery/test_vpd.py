import pytest

from agent.discovery import lu_identifier, parse_vpd_pg80, parse_vpd_pg83
from agent.discovery.errors import SourceError
from tests.discovery.sysfs_tree import (
    ASCII,
    EUI64,
    LU,
    SCSI_NAME,
    TARGET_DEVICE,
    TARGET_PORT,
    designator,
    naa,
    pg80,
    pg83,
    rel_port,
    t10,
    vmware_pg83,
)

VMDK = "6000c29abcdef0123456789abcdef012"


def test_the_designators_of_a_vmware_page_are_split_with_their_fields():
    found = parse_vpd_pg83(vmware_pg83(VMDK))
    assert [(d.designator_type, d.association, d.code_set) for d in found] == [(1, LU, 2), (3, LU, 1), (4, 1, 1)]
    assert found[1].value == bytes.fromhex(VMDK)
    assert found[0].text() == "VMware  Virtual disk"


def test_the_logical_unit_naa_is_chosen_over_t10_and_port_designators():
    chosen = lu_identifier(parse_vpd_pg83(vmware_pg83(VMDK)))
    assert chosen is not None
    assert chosen.text() == f"naa.{VMDK}"


def test_an_naa_of_the_target_port_or_device_never_identifies_the_disk():
    page = pg83(naa("5000c50000000001", association=TARGET_PORT), naa("5000c50000000002", association=TARGET_DEVICE))
    assert lu_identifier(parse_vpd_pg83(page)) is None


def test_a_16_byte_naa_is_preferred_to_an_8_byte_one_and_to_eui64():
    page = pg83(naa("5000c500a1b2c3d4"), designator(EUI64, bytes.fromhex("0011223344556677")), naa(VMDK))
    chosen = lu_identifier(parse_vpd_pg83(page))
    assert chosen is not None
    assert chosen.text() == f"naa.{VMDK}"


def test_eui64_is_used_when_there_is_no_naa():
    page = pg83(t10("ACME    DISK"), designator(EUI64, bytes.fromhex("0011223344556677")))
    chosen = lu_identifier(parse_vpd_pg83(page))
    assert chosen is not None
    assert chosen.text() == "eui.0011223344556677"


def test_an_scsi_name_string_with_an_naa_name_is_the_last_resort():
    page = pg83(t10("ACME    DISK"), designator(SCSI_NAME, f"naa.{VMDK}\0\0\0".encode(), code_set=ASCII))
    chosen = lu_identifier(parse_vpd_pg83(page))
    assert chosen is not None
    assert chosen.text() == f"naa.{VMDK}"


def test_a_page_with_only_vendor_ids_has_no_identity():
    assert lu_identifier(parse_vpd_pg83(pg83(t10("VMware  Virtual disk"), rel_port(1)))) is None


def test_an_empty_page_has_no_designators():
    assert parse_vpd_pg83(pg83()) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x83", "shorter than its 4-byte header"),
        (pg80("ABC"), "expected VPD page 0x83, the data is page 0x80"),
        (pg83(naa(VMDK))[:-3], "says 20 bytes follow, only 17 do"),
        (bytes([0, 0x83, 0, 6]) + bytes([1, 3, 0, 16]) + b"\x60\x00", "runs past the end of the page"),
        (bytes([0, 0x83, 0, 2, 1, 3]), "designator header at byte 4 runs past"),
    ],
)
def test_malformed_pages_are_refused_with_what_is_wrong(data, message):
    with pytest.raises(SourceError, match=message):
        parse_vpd_pg83(data)


def test_the_unit_serial_number_is_read_from_page_80():
    assert parse_vpd_pg80(pg80("6000c29abcdef012  ")) == "6000c29abcdef012"
