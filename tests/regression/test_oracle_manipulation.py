"""Regression: borrowing against a NAV the oracle has already refused.

Historical class: oracle-manipulation and stale-mark borrowing (Mango
Markets, October 2022, about $115M; the many Compound-fork drains that
borrowed against a price the market knew was about to move). A lending
market that values collateral at a price it has reason to distrust lends
against value that is not there, and the lenders eat the difference.

The hole (spec, hole 1): a ``NavOracle`` does not apply a NAV move beyond
its bound (default 100 bps); it parks it as a pending round until the
guardian confirms it (a real loss) or rejects it (a fat finger). The old
market ignored the pending round: while a -30 % NAV waited for the
guardian, a borrower could borrow, or pull collateral, at the old NAV and
walk away with more than the collateral will be worth once the loss is
confirmed. The new market values ``borrow`` and ``withdraw_collateral``
(and ``position().borrow_value``) at min(confirmed, pending) when the feed
offers ``pending_answer()``; liquidation keeps the confirmed price, so a
fat finger cannot liquidate anyone. The ``WrapperNavOracle`` relays its
fund's pending round the same way; a plain AggregatorV3 feed (the
MockAggregator) has no pending round and works as before.

How each test fails on the vulnerable (old) code, as seen when run on it:
- ``test_borrow__pending_lower_nav__max_at_old_nav_reverts`` and
  ``test_borrow__wrapper_pending_lower_nav__max_at_old_nav_reverts``: the
  borrow at the old NAV goes through (DID NOT RAISE).
- ``test_withdraw_collateral__pending_lower_nav__valued_above_it_reverts``:
  the withdrawal goes through (DID NOT RAISE).
- ``test_pending_answer__nav_oracle_and_wrapper__report_the_parked_round``:
  the feeds have no ``pending_answer`` (AttributeError).
The other tests encode what must keep holding (they pass on the old code):
borrowing and withdrawing within the limit at the pending NAV, liquidation
at the confirmed price until the guardian confirms, and the plain feed.
"""

import ape
import pytest
from navlend.constants import BPS, WAD

USD = 10**6
MAX = 2**256 - 1
# World NAVs (8 decimals): fund A $10.50, fund B $1.00.
NAV_A = 10_50_000_000
NAV_B = 1_00_000_000
# The out-of-bound NAVs published (-30 %).
PENDING_A = NAV_A * 70 // 100  # $7.35
PENDING_B = NAV_B * 70 // 100  # $0.70
# Listing defaults: LTV 85 %, threshold 90 %.
LTV_BPS = 8_500
THRESHOLD_BPS = 9_000
# Posted by the borrower: 1,000 fund A shares (6 decimals), 10,000 wrapper
# shares (18 decimals, one fund B share each).
SHARES_A = 1_000 * 10**6
SHARES_W = 10_000 * 10**18


def value_a(shares: int, nav: int) -> int:
    """Base units ``shares`` of fund A are worth at ``nav`` (rounded down)."""
    return shares * nav // 10**8


def value_w(shares: int, price: int) -> int:
    """Base units ``shares`` of the wrapper are worth at ``price``."""
    return shares * price // 10**20


@pytest.fixture
def books(market, owner, lend):
    """$1M lent under a flat 0 % curve, so values and debts are exact."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(1_000_000 * USD)


@pytest.fixture
def posted_a(market, collaterals, borrower, give_collateral, books):
    """``borrower`` posts 1,000 fund A shares ($10,500 at the confirmed
    NAV, priced by the real NavOracle A); returns the collateral."""
    fund_a = collaterals["fund_a"]
    give_collateral(fund_a, borrower, SHARES_A)
    market.supply_collateral(fund_a.token, SHARES_A, borrower, sender=borrower)
    return fund_a


def park_a(oracle_a, publish_next):
    """Publishes fund A's NAV 30 % down: parked as pending, not applied."""
    tx = publish_next(oracle_a, PENDING_A)
    assert oracle_a.NavPending(answer=PENDING_A, previous_answer=NAV_A) in tx.events
    assert oracle_a.latestRoundData()[1] == NAV_A
    return tx


# ---- borrow ----


def test_borrow__pending_lower_nav__max_at_old_nav_reverts(
    market, oracle_a, borrower, posted_a, publish_next
):
    """The whole limit at the confirmed $10.50 ($8,925) is refused while
    $7.35 is pending; the limit the market reports is the pending one."""
    old_limit = value_a(SHARES_A, NAV_A) * LTV_BPS // BPS
    assert market.position(borrower).borrow_value == old_limit
    park_a(oracle_a, publish_next)
    assert market.asset_price(posted_a.token) == (NAV_A, False)

    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(old_limit, borrower, borrower, sender=borrower)

    assert market.position(borrower).borrow_value == value_a(SHARES_A, PENDING_A) * LTV_BPS // BPS


def test_borrow__pending_lower_nav__within_limit_at_pending_nav_works(
    market, oracle_a, borrower, posted_a, publish_next
):
    park_a(oracle_a, publish_next)
    limit = value_a(SHARES_A, PENDING_A) * LTV_BPS // BPS  # $6,247.50

    tx = market.borrow(limit, borrower, borrower, sender=borrower)

    assert market.Borrow(on_behalf=borrower, receiver=borrower, amount=limit) in tx.events
    assert market.debt_of(borrower) == limit


# ---- withdraw_collateral ----


def test_withdraw_collateral__pending_lower_nav__valued_above_it_reverts(
    market, oracle_a, borrower, posted_a, publish_next
):
    """$6,000 owed. 800 shares left cover it at $10.50 ($7,140 at LTV) but
    not at the pending $7.35 ($4,998): taking 200 shares out is refused."""
    market.borrow(6_000 * USD, borrower, borrower, sender=borrower)
    park_a(oracle_a, publish_next)

    with ape.reverts("market: exceeds borrow limit"):
        market.withdraw_collateral(posted_a.token, 200 * 10**6, borrower, borrower, sender=borrower)

    assert market.collateral_of(borrower, posted_a.token) == SHARES_A


def test_withdraw_collateral__pending_lower_nav__within_limit_works(
    market, oracle_a, borrower, posted_a, publish_next
):
    """970 shares left are worth $6,060.22 at LTV even at $7.35."""
    market.borrow(6_000 * USD, borrower, borrower, sender=borrower)
    park_a(oracle_a, publish_next)

    tx = market.withdraw_collateral(posted_a.token, 30 * 10**6, borrower, borrower, sender=borrower)

    assert market.WithdrawCollateral(
        on_behalf=borrower, token=posted_a.token, receiver=borrower, amount=30 * 10**6
    ) in tx.events
    assert market.collateral_of(borrower, posted_a.token) == SHARES_A - 30 * 10**6


# ---- liquidation ----


def test_liquidation__pending_round__confirmed_price_until_the_guardian_confirms(
    market, oracle_a, stablecoin, mint_stable,
    guardian, borrower, liquidator, posted_a, publish_next,
):
    """$8,000 owed against $9,450 at the threshold: the pending $7.35 moves
    neither the health factor nor liquidability (a fat finger must not
    liquidate anyone); once the guardian confirms it, it does."""
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    mint_stable(liquidator, 10_000 * USD)
    stablecoin.approve(market, MAX, sender=liquidator)
    before = market.position(borrower)
    assert before.health_factor > WAD

    park_a(oracle_a, publish_next)
    during = market.position(borrower)
    assert (during.health_factor, during.liquidation_value) == (
        before.health_factor,
        before.liquidation_value,
    )
    with ape.reverts("market: position healthy"):
        market.liquidate(borrower, posted_a.token, MAX, 0, False, liquidator, sender=liquidator)

    oracle_a.confirm_pending(sender=guardian)
    assert market.asset_price(posted_a.token)[0] == PENDING_A
    after = market.position(borrower)
    assert after.liquidation_value == value_a(SHARES_A, PENDING_A) * THRESHOLD_BPS // BPS
    assert after.health_factor < WAD
    tx = market.liquidate(
        borrower, posted_a.token, 1_000 * USD, 0, False, liquidator, sender=liquidator
    )
    assert market.Liquidate(
        borrower=borrower, token=posted_a.token, repaid=1_000 * USD
    ) in tx.events


# ---- plain feed control ----


def test_borrow__plain_feed__no_pending_interface__works_as_before(
    market, oracle_a, borrower, posted_a, publish_next, set_price
):
    """Fund A priced by a MockAggregator at $10.50 (no ``pending_answer``):
    a round parked on NavOracle A, which the market no longer reads, changes
    nothing; the whole limit is borrowable and a unit more is not."""
    set_price(posted_a, NAV_A)
    park_a(oracle_a, publish_next)
    limit = value_a(SHARES_A, NAV_A) * LTV_BPS // BPS
    assert market.position(borrower).borrow_value == limit

    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(limit + 1, borrower, borrower, sender=borrower)
    tx = market.borrow(limit, borrower, borrower, sender=borrower)
    assert market.Borrow(on_behalf=borrower, amount=limit) in tx.events


# ---- the wrapper relays its fund's pending round ----


def test_borrow__wrapper_pending_lower_nav__max_at_old_nav_reverts(
    market, collaterals, oracle_b, borrower, give_collateral, books, publish_next
):
    """10,000 wrapper shares ($10,000 at fund B's $1.00): with $0.70 pending
    on fund B, borrowing the old limit ($8,500) is refused and the pending
    limit ($5,950) is what is left."""
    wrapper = collaterals["wrapper"]
    posted = give_collateral(wrapper, borrower, SHARES_W)
    assert posted == SHARES_W
    market.supply_collateral(wrapper.token, posted, borrower, sender=borrower)
    old_limit = value_w(posted, NAV_B) * LTV_BPS // BPS
    assert market.position(borrower).borrow_value == old_limit
    tx = publish_next(oracle_b, PENDING_B)
    assert oracle_b.NavPending(answer=PENDING_B) in tx.events

    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(old_limit, borrower, borrower, sender=borrower)

    new_limit = value_w(posted, PENDING_B) * LTV_BPS // BPS
    assert market.position(borrower).borrow_value == new_limit
    market.borrow(new_limit, borrower, borrower, sender=borrower)


# ---- the feeds' new view ----


def test_pending_answer__nav_oracle_and_wrapper__report_the_parked_round(
    oracle_a, oracle_b, wrapper_oracle, guardian, publish_next
):
    """(0, 0) with nothing pending; the parked answer and its strike time
    while a round waits (the wrapper's at one fund B share per wrapper
    share); (0, 0) again once the guardian rejects it."""
    assert oracle_a.pending_answer() == (0, 0)
    assert wrapper_oracle.pending_answer() == (0, 0)

    tx_a = publish_next(oracle_a, PENDING_A)
    tx_b = publish_next(oracle_b, PENDING_B)
    as_of_a = oracle_a.pending_round().as_of
    as_of_b = oracle_b.pending_round().as_of
    assert oracle_a.NavPending(answer=PENDING_A) in tx_a.events
    assert oracle_b.NavPending(answer=PENDING_B) in tx_b.events
    assert oracle_a.pending_answer() == (PENDING_A, as_of_a)
    assert wrapper_oracle.assets_per_share() == 10**18
    assert wrapper_oracle.pending_answer() == (PENDING_B, as_of_b)

    oracle_b.reject_pending(sender=guardian)
    assert wrapper_oracle.pending_answer() == (0, 0)
