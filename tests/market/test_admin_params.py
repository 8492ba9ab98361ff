"""Owner control of the market-wide parameters and roles: fees, borrow
limits, guardian, treasury and the two-step ownership transfer.

Every setter is owner-only, validates each bound at its edge and emits an
event with the new values; ``control()`` reads them back (limits in base
units, stored in whole units).
"""

import ape
import pytest
from eth_utils import keccak

from navlend.constants import PAUSE_SUPPLY

NOT_OWNER = "ownable: caller is not the owner"
ZERO = ape.utils.ZERO_ADDRESS
USD = 10**6
LIMIT_MAX = 2**48 - 1


@pytest.fixture(scope="module", autouse=True)
def _setup_first(
    market, collaterals, open_position, lend, guardian, outsider, borrower, lender, treasury
):
    """Sets up every higher-scoped fixture this module uses before its first
    test, so that Ape never rebases its snapshots mid-module."""


# ---- set_fees ----


@pytest.mark.parametrize("flash_fee, liquidation_fee", [(0, 0), (100, 5_000), (37, 1_234)])
def test_set_fees__within_bounds__stored_and_emitted(market, owner, flash_fee, liquidation_fee):
    tx = market.set_fees(flash_fee, liquidation_fee, sender=owner)

    assert tuple(market.control()[2:4]) == (flash_fee, liquidation_fee)
    assert tx.events == [
        market.FeesSet(flash_fee_bps=flash_fee, liquidation_fee_bps=liquidation_fee)
    ]


@pytest.mark.parametrize(
    "flash_fee, liquidation_fee, reason",
    [(101, 0, "market: flash fee too high"), (0, 5_001, "market: liquidation fee too high")],
)
def test_set_fees__past_bound__reverts(market, owner, flash_fee, liquidation_fee, reason):
    with ape.reverts(reason):
        market.set_fees(flash_fee, liquidation_fee, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_fees__by_non_owner__reverts(market, caller, request):
    with ape.reverts(NOT_OWNER):
        market.set_fees(10, 10, sender=request.getfixturevalue(caller))


def test_set_fees__flash_fee__quoted_by_flash_fee(market, owner, stablecoin):
    market.set_fees(100, 0, sender=owner)

    assert market.flashFee(stablecoin, 10_000 * USD) == 100 * USD
    assert market.flashFee(stablecoin, 1) == 1  # rounds up, never to zero


# ---- set_borrow_limits ----


@pytest.mark.parametrize(
    "min_borrow, small_position, dust_floor",
    [(0, 0, 0), (LIMIT_MAX, LIMIT_MAX, LIMIT_MAX), (250, 5_000, 5_000), (1, 3_000, 0)],
)
def test_set_borrow_limits__within_bounds__stored_in_base_units(
    market, owner, min_borrow, small_position, dust_floor
):
    tx = market.set_borrow_limits(min_borrow, small_position, dust_floor, sender=owner)

    assert tuple(market.control()[4:]) == (min_borrow * USD, small_position * USD, dust_floor * USD)
    assert tx.events == [
        market.BorrowLimitsSet(
            min_borrow=min_borrow, small_position=small_position, dust_floor=dust_floor
        )
    ]


@pytest.mark.parametrize(
    "min_borrow, small_position, dust_floor, reason",
    [
        (LIMIT_MAX + 1, 2_000, 1_000, "market: limit too high"),
        (100, LIMIT_MAX + 1, 1_000, "market: limit too high"),
        (100, 2_000, 2_001, "market: dust above small position"),
        (100, LIMIT_MAX, LIMIT_MAX + 1, "market: dust above small position"),
    ],
)
def test_set_borrow_limits__past_bound__reverts(
    market, owner, min_borrow, small_position, dust_floor, reason
):
    with ape.reverts(reason):
        market.set_borrow_limits(min_borrow, small_position, dust_floor, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_borrow_limits__by_non_owner__reverts(market, caller, request):
    with ape.reverts(NOT_OWNER):
        market.set_borrow_limits(100, 2_000, 1_000, sender=request.getfixturevalue(caller))


def test_set_borrow_limits__min_borrow__enforced_in_whole_units(
    market, owner, collaterals, lend, open_position, borrower
):
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    open_position(fund_a, borrower, 1_000 * fund_a.unit, 0)

    market.set_borrow_limits(500, 2_000, 1_000, sender=owner)

    with ape.reverts("market: below min borrow"):
        market.borrow(500 * USD - 1, borrower, borrower, sender=borrower)
    market.borrow(500 * USD, borrower, borrower, sender=borrower)
    assert market.debt_of(borrower) == 500 * USD


# ---- set_guardian and set_treasury ----


def test_set_guardian__by_owner__hands_over_the_role(market, owner, guardian, outsider):
    tx = market.set_guardian(outsider, sender=owner)

    assert market.guardian() == outsider.address
    assert tx.events == [market.GuardianSet(guardian=outsider)]
    market.pause(PAUSE_SUPPLY, sender=outsider)
    with ape.reverts("market: not guardian"):
        market.unpause(PAUSE_SUPPLY, 0, sender=guardian)


def test_set_treasury__by_owner__stored_and_emitted(market, owner, outsider):
    tx = market.set_treasury(outsider, sender=owner)

    assert market.treasury() == outsider.address
    assert tx.events == [market.TreasurySet(treasury=outsider)]


@pytest.mark.parametrize(
    "setter, reason",
    [("set_guardian", "market: zero guardian"), ("set_treasury", "market: zero treasury")],
)
def test_set_role__zero_address__reverts(market, owner, setter, reason):
    with ape.reverts(reason):
        getattr(market, setter)(ZERO, sender=owner)


@pytest.mark.parametrize("setter", ["set_guardian", "set_treasury"])
@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_role__by_non_owner__reverts(market, setter, caller, request):
    who = request.getfixturevalue(caller)
    with ape.reverts(NOT_OWNER):
        getattr(market, setter)(who, sender=who)


# ---- two-step ownership ----


def test_transfer_ownership__by_owner__only_sets_pending(market, owner, outsider):
    tx = market.transfer_ownership(outsider, sender=owner)

    assert market.pending_owner() == outsider.address
    assert market.owner() == owner.address
    assert tx.events == [market.OwnershipTransferStarted(previous_owner=owner, new_owner=outsider)]
    # Until accepted, the old owner keeps every power and the new one has none.
    market.set_fees(1, 0, sender=owner)
    with ape.reverts(NOT_OWNER):
        market.set_fees(2, 0, sender=outsider)


def test_accept_ownership__by_pending_owner__hands_over_the_market(market, owner, outsider):
    market.transfer_ownership(outsider, sender=owner)

    tx = market.accept_ownership(sender=outsider)

    assert market.owner() == outsider.address
    assert market.pending_owner() == ZERO
    assert tx.events == [market.OwnershipTransferred(previous_owner=owner, new_owner=outsider)]
    market.set_fees(1, 0, sender=outsider)
    with ape.reverts(NOT_OWNER):
        market.set_fees(2, 0, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "owner"])
def test_accept_ownership__by_other_than_pending__reverts(market, owner, outsider, caller, request):
    market.transfer_ownership(outsider, sender=owner)

    with ape.reverts("ownable_2step: caller is not the new owner"):
        market.accept_ownership(sender=request.getfixturevalue(caller))


def test_accept_ownership__nothing_pending__reverts(market, outsider):
    with ape.reverts("ownable_2step: caller is not the new owner"):
        market.accept_ownership(sender=outsider)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_transfer_ownership__by_non_owner__reverts(market, caller, request):
    who = request.getfixturevalue(caller)
    with ape.reverts(NOT_OWNER):
        market.transfer_ownership(who, sender=who)


def test_transfer_ownership__again__replaces_pending(market, owner, guardian, outsider):
    market.transfer_ownership(outsider, sender=owner)

    market.transfer_ownership(guardian, sender=owner)

    assert market.pending_owner() == guardian.address
    with ape.reverts("ownable_2step: caller is not the new owner"):
        market.accept_ownership(sender=outsider)
    market.accept_ownership(sender=guardian)
    assert market.owner() == guardian.address


def test_transfer_ownership__to_zero__cancels_pending(market, owner, outsider):
    market.transfer_ownership(outsider, sender=owner)

    tx = market.transfer_ownership(ZERO, sender=owner)

    assert market.pending_owner() == ZERO
    assert tx.events == [market.OwnershipTransferStarted(previous_owner=owner, new_owner=ZERO)]
    with ape.reverts("ownable_2step: caller is not the new owner"):
        market.accept_ownership(sender=outsider)


def test_renounce_ownership__not_exposed__reverts(market, owner):
    """The market has no `renounce_ownership`: the fallback forwards the call
    to the admin extension, which has no such function either."""
    assert not hasattr(market, "renounce_ownership")
    selector = keccak(text="renounce_ownership()")[:4]
    with ape.reverts():
        owner.transfer(market, 0, data=selector)
    assert market.owner() == owner.address
