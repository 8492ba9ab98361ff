"""Addresses typed at the console or on the command line
(navlend/cli/contracts.py ``resolve_address``): EIP-55 enforced on mixed
case, a typo refused before anything is sent."""

from __future__ import annotations

import pytest

from navlend.cli.contracts import checked_address, resolve_address
from navlend.cli.errors import Refusal

CHECKSUMMED = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
# The same digits, one letter's case wrong (eth-utils' is_address says yes).
BAD_CHECKSUM = "0x70997970c51812dc3a010c7d01b50e0d17dc79C8"


def test_resolve_address__wrong_eip55_checksum__refused_naming_the_checksummed_form():
    with pytest.raises(Refusal, match=f"fails its EIP-55 checksum.*{CHECKSUMMED}"):
        resolve_address(BAD_CHECKSUM)


@pytest.mark.parametrize("typed", [CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()])
def test_resolve_address__checksummed_or_one_case__accepted_checksummed(typed):
    assert resolve_address(typed) == CHECKSUMMED


@pytest.mark.parametrize("typed", ["0x1234", "70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x" + "g" * 40])
def test_resolve_address__not_an_address__refused(typed):
    with pytest.raises(Refusal, match="is not an address"):
        resolve_address(typed)


def test_checked_address__not_hex__none_so_other_forms_are_tried():
    assert checked_address("TEST::1") is None
