"""Retirement certificates: locked ERC-721 tokens (ERC-5192) that no transfer or approval path can move, and
their on-chain metadata (base64 JSON with an SVG image)."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
from eth_utils import keccak

from support import ZERO_ADDRESS, Factory, compliance_period, plain, retirement_input, reverts

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures(
    "project", "admin", "compliance", "period_regulator", "periods", "other_holder", "stranger", "attacker"
)


@dataclass
class Certs:
    """Module state: `holder` holds 100,000 units of `token_id` and certificate 1 (from retiring 1,500 units in
    "US-CA", certificate to `holder`); certificate 2 (retired by `holder` for `other_holder`, 2,000 units)."""

    token_id: int
    own: int
    gifted: int


@pytest.fixture(scope="module")
def certs(registry, credit, retirement, registrar, verifier, issuer, holder, other_holder) -> Certs:
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    token_id = make.issued(holder, tonnes=100)
    own = retirement.retire([token_id], [1_500], retirement_input(jurisdiction="US-CA"), sender=holder)
    gifted = retirement.retire([token_id], [2_000], retirement_input(beneficiary=other_holder), sender=holder)
    return Certs(token_id, own.return_value, gifted.return_value)


# ------------------------------------------------------------------ nothing moves, nothing is approved

MOVES = ("transferFrom", "safeTransferFrom", "safeTransferFrom+data", "approve", "setApprovalForAll")


def attempt(retirement, how: str, *, sender, owner, to, certificate_id: int):
    if how == "transferFrom":
        return retirement.transferFrom(owner, to, certificate_id, sender=sender)
    if how == "safeTransferFrom":
        return retirement.safeTransferFrom(owner, to, certificate_id, sender=sender)
    if how == "safeTransferFrom+data":
        return retirement.safeTransferFrom(owner, to, certificate_id, b"\x01", sender=sender)
    # Both approvals are non-view on purpose, so wallets send them as transactions and see the revert.
    if how == "approve":
        return retirement.approve(to, certificate_id, sender=sender)
    if how == "setApprovalForAll":
        return retirement.setApprovalForAll(to, True, sender=sender)
    raise ValueError(how)


def unmoved(retirement, certs: Certs, holder, other_holder, stranger) -> bool:
    return (
        retirement.ownerOf(certs.own) == holder.address
        and retirement.ownerOf(certs.gifted) == other_holder.address
        and retirement.balanceOf(holder) == retirement.balanceOf(other_holder) == 1
        and retirement.balanceOf(stranger) == 0
        and retirement.getApproved(certs.own) == ZERO_ADDRESS
        and not retirement.isApprovedForAll(holder, stranger)
    )


@pytest.mark.parametrize("how", MOVES)
@pytest.mark.parametrize("by", ["owner", "stranger", "retiring-account"])
def test_certificate__any_transfer_or_approval__reverts_non_transferable(
    retirement, holder, other_holder, stranger, certs, how, by
):
    # "retiring-account": `holder` retired certificate `gifted` but does not own it.
    certificate_id, owner = (certs.gifted, other_holder) if by == "retiring-account" else (certs.own, holder)
    sender = {"owner": owner, "stranger": stranger, "retiring-account": holder}[by]
    expected_id = 0 if how == "setApprovalForAll" else certificate_id

    with reverts(retirement.CertificateNonTransferable, certificateId=expected_id):
        attempt(retirement, how, sender=sender, owner=owner, to=stranger, certificate_id=certificate_id)
    assert unmoved(retirement, certs, holder, other_holder, stranger)


@pytest.mark.parametrize("how", ["transferFrom", "safeTransferFrom", "safeTransferFrom+data"])
def test_certificate__owner_sends_to_itself__reverts_non_transferable(retirement, holder, certs, how):
    with reverts(retirement.CertificateNonTransferable, certificateId=certs.own):
        attempt(retirement, how, sender=holder, owner=holder, to=holder, certificate_id=certs.own)
    assert retirement.ownerOf(certs.own) == holder.address


@pytest.mark.parametrize("how", ["approve", "setApprovalForAll"])
def test_certificate__approval_revoked_to_zero__still_reverts(retirement, holder, certs, how):
    # Even "no approval" cannot be written: nothing about a certificate is ever set by its owner.
    expected_id = 0 if how == "setApprovalForAll" else certs.own
    with reverts(retirement.CertificateNonTransferable, certificateId=expected_id):
        if how == "approve":
            retirement.approve(ZERO_ADDRESS, certs.own, sender=holder)
        else:
            retirement.setApprovalForAll(ZERO_ADDRESS, False, sender=holder)


def test_certificate__transfer_to_zero_address__reverts_and_is_not_burned(retirement, holder, certs):
    with reverts(retirement.ERC721InvalidReceiver, receiver=ZERO_ADDRESS):
        retirement.transferFrom(holder, ZERO_ADDRESS, certs.own, sender=holder)
    assert retirement.ownerOf(certs.own) == holder.address


@pytest.mark.parametrize("how", ["transferFrom", "safeTransferFrom", "safeTransferFrom+data"])
def test_certificate__transfer_of_unminted_id__reverts_and_mints_nothing(retirement, stranger, certs, how):
    # The transfer path must not become a mint: the next id does not exist yet.
    next_id = retirement.certificateCount() + 1
    with reverts(retirement.ERC721NonexistentToken, tokenId=next_id):
        attempt(retirement, how, sender=stranger, owner=ZERO_ADDRESS, to=stranger, certificate_id=next_id)
    assert retirement.balanceOf(stranger) == 0
    assert retirement.certificateCount() == next_id - 1


# ------------------------------------------------------------------ ERC-5192


def test_locked__existing_certificates__true(retirement, certs):
    assert retirement.locked(certs.own) is True
    assert retirement.locked(certs.gifted) is True


@pytest.mark.parametrize("which", ["zero", "next"])
def test_locked__unknown_id__reverts(retirement, stranger, certs, which):
    certificate_id = 0 if which == "zero" else certs.gifted + 1
    with reverts(retirement.ERC721NonexistentToken, tokenId=certificate_id):
        retirement.locked.transact(certificate_id, sender=stranger)


@pytest.mark.parametrize(
    ("interface", "supported"),
    [
        ("01ffc9a7", True),  # ERC-165
        ("80ac58cd", True),  # ERC-721
        ("5b5e139f", True),  # ERC-721 metadata
        ("b45a3c0e", True),  # ERC-5192
        ("7965db0b", True),  # IAccessControl
        ("31498786", True),  # IAccessControlDefaultAdminRules
        ("ICarbonRetirement", True),
        ("ffffffff", False),  # ERC-165 requires false for this id
        ("780e9d63", False),  # ERC-721 enumerable: not implemented
        ("d9b67a26", False),  # ERC-1155: the certificate is not a credit
    ],
)
def test_supports_interface__known_ids__as_declared(project, retirement, interface, supported):
    if interface == "ICarbonRetirement":
        value = 0
        for abi in project.ICarbonRetirement.contract_type.methods:
            value ^= int.from_bytes(keccak(text=abi.selector)[:4], "big")
        interface_id = value.to_bytes(4, "big")
    else:
        interface_id = bytes.fromhex(interface)
    assert retirement.supportsInterface(interface_id) is supported


def test_erc5192_interface_id__is_the_locked_selector():
    assert keccak(text="locked(uint256)")[:4].hex() == "b45a3c0e"


# ------------------------------------------------------------------ metadata


def decode_uri(uri: str) -> dict:
    prefix = "data:application/json;base64,"
    assert uri.startswith(prefix)
    return json.loads(base64.b64decode(uri[len(prefix) :], validate=True))


def decode_image(image: str) -> str:
    prefix = "data:image/svg+xml;base64,"
    assert image.startswith(prefix)
    svg = base64.b64decode(image[len(prefix) :], validate=True).decode()
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return svg


def test_token_uri__certificate__json_with_every_stored_field(retirement, holder, certs):
    view = retirement.certificate(certs.own)
    meta = decode_uri(retirement.tokenURI(certs.own))

    assert meta["name"] == f"Tonne retirement certificate #{certs.own}"
    assert meta["description"].startswith("1.5 t CO2e retired for good.")
    assert "RetirementRecorded" in meta["description"]
    fields = {k: v for k, v in meta.items() if k not in ("name", "description", "image")}
    assert fields == dict(
        beneficiary=plain(holder),
        retiring_account=plain(holder),
        first_id=str(certs.token_id),
        id_count=1,
        amount_units="1500",
        amount_tonnes="1.5",
        purpose="voluntary",
        country="US",
        period_start=view.periodStart,
        period_end=view.periodEnd,
        timestamp=view.timestamp,
    )


def test_token_uri__gifted_certificate__beneficiary_and_retiring_account_differ(
    retirement, holder, other_holder, certs
):
    meta = decode_uri(retirement.tokenURI(certs.gifted))
    assert (meta["beneficiary"], meta["retiring_account"]) == (plain(other_holder), plain(holder))
    assert meta["name"].endswith(f"#{certs.gifted}")
    assert (meta["amount_units"], meta["amount_tonnes"], meta["country"]) == ("2000", "2", "DE")


def test_token_uri__image__svg_showing_amount_country_and_accounts(retirement, holder, certs):
    meta = decode_uri(retirement.tokenURI(certs.own))
    svg = decode_image(meta["image"])

    assert "1.5 t CO2e" in svg
    assert f"Retirement certificate #{certs.own}" in svg
    assert "retired for good in US</text>" in svg
    assert "(compliance)" not in svg
    assert plain(holder) in svg
    assert str(certs.token_id) in svg
    assert str(meta["timestamp"]) in svg


@pytest.mark.parametrize(
    ("units", "tonnes"),
    [
        (1_500, "1.5"),
        (1, "0.001"),
        (12_000, "12"),
        (1_000, "1"),
        (10, "0.01"),
        (100, "0.1"),
        (999, "0.999"),
        (1_010, "1.01"),
        (20_050, "20.05"),
        (1_234_567, "1234.567"),
    ],
)
def test_token_uri__amounts__formatted_as_tonnes_without_trailing_zeros(
    registry, credit, retirement, registrar, verifier, issuer, holder, units, tonnes
):
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project(), 1, 10_000, ref="ISS-FORMAT")
    credit.issue(token_id, holder, units, b"\x00" * 32, sender=issuer)
    certificate_id = retirement.retire([token_id], [units], retirement_input(), sender=holder).return_value

    meta = decode_uri(retirement.tokenURI(certificate_id))
    assert (meta["amount_units"], meta["amount_tonnes"]) == (str(units), tonnes)
    assert meta["description"].startswith(f"{tonnes} t CO2e ")
    assert f">{tonnes} t CO2e</text>" in decode_image(meta["image"])


def test_token_uri__several_ids__total_amount_and_first_id(registry, credit, retirement, holder, certs):
    receipt = retirement.retire([certs.token_id, certs.token_id], [250, 5], retirement_input(), sender=holder)
    meta = decode_uri(retirement.tokenURI(receipt.return_value))
    assert (meta["id_count"], meta["amount_units"], meta["amount_tonnes"]) == (2, "255", "0.255")
    assert meta["first_id"] == str(certs.token_id)


def test_token_uri__compliance_certificate__says_compliance(retirement, periods, period_regulator, holder, certs):
    # A real surrender through the bound CompliancePeriods module, in a period whose jurisdiction is "DE".
    periods.openPeriod(compliance_period(), sender=period_regulator)
    periods.setObligations(1, [holder], ["Acme Steel AG"], [3_000], sender=period_regulator)
    receipt = periods.surrender(1, [certs.token_id], [3_000], b"\x00" * 32, sender=holder)

    meta = decode_uri(retirement.tokenURI(receipt.return_value))
    assert meta["purpose"] == "compliance"
    assert "retired for good in DE (compliance)</text>" in decode_image(meta["image"])


@pytest.mark.parametrize("which", ["zero", "next"])
def test_token_uri_and_certificate__unknown_id__revert(retirement, stranger, certs, which):
    certificate_id = 0 if which == "zero" else certs.gifted + 1
    with reverts(retirement.CertificateUnknown, certificateId=certificate_id):
        retirement.tokenURI.transact(certificate_id, sender=stranger)
    with reverts(retirement.CertificateUnknown, certificateId=certificate_id):
        retirement.certificate.transact(certificate_id, sender=stranger)


def test_token_uri__rendered_by_the_renderer_it_deployed__same_uri_and_no_state(project, retirement, certs):
    renderer = project.CertificateRenderer.at(retirement.renderer())
    assert len(retirement.provider.get_code(renderer.address)) > 0
    view = retirement.certificate(certs.gifted)
    assert renderer.tokenURI(certs.gifted, view) == retirement.tokenURI(certs.gifted)
    # Stateless: the same fields under another id render only the id differently.
    other = decode_uri(renderer.tokenURI(certs.gifted + 1000, view))
    assert other["name"] == f"Tonne retirement certificate #{certs.gifted + 1000}"
    assert {k: v for k, v in other.items() if k not in ("name", "image")} == {
        k: v for k, v in decode_uri(retirement.tokenURI(certs.gifted)).items() if k not in ("name", "image")
    }
