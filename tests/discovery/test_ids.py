import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.discovery import normalize_disk_id
from failback.diskid import InvalidDiskId

# A VMware VMDK id: NAA type 6, IEEE company id 00:0c:29, 16 bytes.


def _naa6(tail: bytes) -> str:
    return ("6000c29" + tail.hex())[:32]


naa6_ids = st.binary(min_size=13, max_size=13).map(_naa6)
naa6_any_vendor = st.binary(min_size=16, max_size=16).map(lambda b: "6" + b.hex()[1:])
naa8_ids = st.tuples(st.sampled_from("235"), st.binary(min_size=8, max_size=8)).map(lambda t: t[0] + t[1].hex()[1:])
eui_ids = st.sampled_from([8, 12, 16]).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(bytes.hex)


def vsphere_backing_uuid(h: str) -> str:
    # vSphere prints VirtualDisk.backing.uuid with VMware's prefix upper-case: 6000C29a-bcde-f012-3456-789abcdef012.
    mixed = h[:7].upper() + h[7:]
    return f"{mixed[:8]}-{mixed[8:12]}-{mixed[12:16]}-{mixed[16:20]}-{mixed[20:]}"


def vmdk_ddb_uuid(h: str) -> str:
    pairs = [h[i : i + 2] for i in range(0, 32, 2)]
    return " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])


NAA_FORMS = {
    "kernel wwid": lambda h: f"naa.{h}",
    "udev ID_WWN_WITH_EXTENSION": lambda h: f"0x{h}",
    "udev ID_SERIAL": lambda h: f"3{h}",
    "by-id wwn": lambda h: f"wwn-0x{h}",
    "by-id scsi": lambda h: f"scsi-3{h}",
    "by-id full path": lambda h: f"/dev/disk/by-id/wwn-0x{h}",
    "windows UniqueId": lambda h: h.upper(),
    "padded": lambda h: f"  naa.{h}\n",
}
VMDK_FORMS = {"vSphere backing.uuid": vsphere_backing_uuid, "VMDK ddb.uuid": vmdk_ddb_uuid}


@pytest.mark.parametrize("form", sorted(NAA_FORMS))
@given(h=naa6_ids)
def test_every_spelling_of_a_vmware_naa_id_normalises_to_the_kernel_form(form, h):
    assert normalize_disk_id(NAA_FORMS[form](h)) == f"naa.{h}"


@pytest.mark.parametrize("form", sorted(VMDK_FORMS))
@given(h=naa6_any_vendor)
def test_vsphere_and_vmdk_descriptor_uuids_normalise_to_the_guest_id(form, h):
    assert normalize_disk_id(VMDK_FORMS[form](h)) == f"naa.{h}"


@pytest.mark.parametrize("form", sorted(NAA_FORMS))
@given(h=naa8_ids)
def test_eight_byte_naa_ids_round_trip(form, h):
    assert normalize_disk_id(NAA_FORMS[form](h)) == f"naa.{h}"


@given(h=eui_ids, form=st.sampled_from(["eui.{}", "scsi-2{}", "2{}", "EUI.{}"]))
def test_eui64_spellings_round_trip(h, form):
    assert normalize_disk_id(form.format(h)) == f"eui.{h}"


@given(h=eui_ids)
def test_a_windows_eui64_unique_id_is_read_as_eui_when_windows_says_so(h):
    assert normalize_disk_id(h.upper(), designator="eui") == f"eui.{h}"


@given(h=naa6_ids, flips=st.lists(st.booleans(), min_size=36, max_size=36))
def test_case_never_matters(h, flips):
    text = vsphere_backing_uuid(h)
    scrambled = "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=False))
    assert normalize_disk_id(scrambled) == f"naa.{h}"


@given(h=st.one_of(naa6_ids, naa8_ids))
def test_normalising_is_idempotent(h):
    once = normalize_disk_id(f"0x{h}")
    assert normalize_disk_id(once) == once


@given(h=naa6_ids)
def test_a_truncated_udev_id_wwn_is_refused_not_matched_on_half_an_id(h):
    with pytest.raises(InvalidDiskId, match="first 8 bytes of a 16-byte NAA type 6 id"):
        normalize_disk_id(f"0x{h[:16]}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty disk id"),
        ("/dev/sdb", "not a disk id"),
        ("sdb", "not a disk id"),
        (r"\\.\PhysicalDrive1", "not a disk id"),
        ("wwn-0x6000c29abcdef0123456789abcdef012-part1", "names a partition"),
        ("t10.VMware  Virtual disk", "not unique"),
        ("scsi-1VMware_Virtual_disk", "not unique"),
        ("scsi-0VMware_Virtual_disk_6000c29a", "not unique"),
        ("1234567890abcdef1234567890abcdef", "NAA type 1 is not a valid NAA"),
        ("naa.6000c29abcdef0", "has 32 hex digits, not 14"),
        ("eui.0011", "EUI-64 id is 16, 24 or 32 hex digits"),
        ("naa.6000c29abcdef0123456789abcdefxyz", "hexadecimal"),
    ],
)
def test_values_that_are_not_disk_ids_are_refused_with_the_reason(value, message):
    with pytest.raises(InvalidDiskId, match=message):
        normalize_disk_id(value)


def test_a_non_string_is_refused():
    with pytest.raises(InvalidDiskId, match="must be a string"):
        normalize_disk_id(0x6000C29)  # type: ignore[arg-type]


def test_an_scsi_name_string_carrying_an_naa_name_is_accepted():
    assert normalize_disk_id("scsi-8naa.6000c29abcdef0123456789abcdef012") == "naa.6000c29abcdef0123456789abcdef012"


@given(h=naa6_ids)
def test_udev_id_wwn_and_its_vendor_extension_reassemble_the_full_id(h):
    from agent.discovery._udev import udev_identity

    identity = udev_identity({"ID_WWN": f"0x{h[:16]}", "ID_WWN_VENDOR_EXTENSION": f"0x{h[16:]}"})
    assert identity is not None
    assert identity.disk_id == f"naa.{h}"
