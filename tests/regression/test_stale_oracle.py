"""Regression: stale and broken price feeds.

Historical class: lending against a stale or broken oracle. Venus (May
2022, LUNA: the feed's floor price outlived the crash, about $14M of bad
debt), Inverse Finance and the many forks that read ``latestAnswer``
without a staleness or sanity check: a price that no longer moves, or a
feed that answers nonsense, must not let anyone borrow against it or pull
it out. The opposite failure matters as much: a feed that dies must not
freeze the rest of the market (Compound v2's frozen cTokens, Aave v2's
reverting fallback oracles during outages), or positions that should be
liquidated sink while nobody can touch them.

What already held on the old code (positive cases, passing there): a stale
price counts nothing at LTV, so borrowing against it and withdrawing it
while in debt are refused, while repayment and liquidation at the last
price stay open.

The hole (spec, hole 4): the old market reverted a whole valuation on a
single broken feed (an answer <= 0, or struck in the future). A position
holding fund A plus the wrapper whose feed then breaks could no longer be
read (``position`` reverted) nor liquidated on its healthy fund A: every
liquidation path valued all assets and reverted "market: bad price" (or
"market: price from the future"). The new market values a broken feed at
zero everywhere and counts it stale: the position reads, its fund A is
liquidated, borrowing against and withdrawing the broken asset are refused,
and liquidating the broken asset itself reverts "market: bad price".

How each test fails on the vulnerable (old) code, as seen when run on it:
- ``test_liquidate__other_asset_after_a_feed_breaks__works`` and
  ``test_position__feed_broken__valued_at_zero_and_readable``: the call
  reverts "market: bad price" ("market: price from the future" for a
  future round).
- ``test_borrow_and_withdraw__feed_broken__refused``: the refusals carry
  the old valuation's "market: bad price" / "market: price from the
  future" instead of "market: exceeds borrow limit" / "market: stale
  price", and the borrow within the fund A limit reverts.
- ``test_liquidate__broken_asset_itself__reverts_bad_price[future]``: the
  old reason is "market: price from the future" (``[zero]`` passes: the
  reason was already "market: bad price").
"""

import ape
import pytest
from navlend.constants import BPS, WAD

USD = 10**6
MAX = 2**256 - 1
# Oldest answer the market accepts for borrowing (the listing default).
MAX_AGE = 100 * 3_600
# Listing defaults: LTV 85 %, threshold 90 %.
LTV_BPS = 8_500
THRESHOLD_BPS = 9_000
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}
# How a feed breaks: an answer of zero, or a round struck an hour ahead.
BREAKS = ["zero", "future"]


def units(c, usd: int) -> int:
    """The amount of ``c`` worth ``usd`` dollars at BASE_PRICE."""
    return usd * 10 ** (c.decimals + 8) // BASE_PRICE[c.name]


def make_stale(feed, chain, owner, price=None):
    """Strikes the feed's answer (or ``price``) MAX_AGE + 1 s before the head."""
    answer = feed.latestRoundData()[1] if price is None else price
    feed.set_answer(answer, chain.blocks.head.timestamp - MAX_AGE - 1, sender=owner)


def break_feed(feed, chain, owner, how: str):
    """Makes ``feed`` answer zero, or a round from an hour in the future."""
    if how == "zero":
        feed.set_answer(0, 0, sender=owner)
    else:
        feed.set_answer(
            feed.latestRoundData()[1], chain.blocks.head.timestamp + 3_600, sender=owner
        )


@pytest.fixture
def books(flat_books, borrower, liquidator):
    """$1M lent under a flat 0 % curve; borrower and liquidator hold
    $10,000 each, approved."""
    flat_books(1_000_000, borrower, liquidator)


@pytest.fixture
def single(market, collateral, borrower, give_collateral, set_price, books):
    """``borrower`` posts $10,000 of ``collateral`` (settable feed) and
    borrows $8,000; returns the feed."""
    feed = set_price(collateral, BASE_PRICE[collateral.name])
    amount = give_collateral(collateral, borrower, units(collateral, 10_000))
    market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    return feed


@pytest.fixture
def mixed(market, collaterals, borrower, give_collateral, set_price, books):
    """``borrower`` posts $10,000 of fund A and $1,000 of the wrapper (both
    on settable feeds) and borrows $8,000 (limit $9,350). Returns the
    feeds by name."""
    feeds = {}
    for name, usd in (("fund_a", 10_000), ("wrapper", 1_000)):
        c = collaterals[name]
        feeds[name] = set_price(c, BASE_PRICE[name])
        amount = give_collateral(c, borrower, units(c, usd))
        market.supply_collateral(c.token, amount, borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    return feeds


# ---- stale: what already held ----


def test_borrow_and_withdraw__stale_price__refused(
    market, chain, owner, collateral, borrower, single
):
    """A stale asset counts nothing at LTV (fully at the threshold): no
    borrow against it, no withdrawal of it while in debt."""
    make_stale(single, chain, owner)
    assert market.asset_price(collateral.token) == (BASE_PRICE[collateral.name], True)
    position = market.position(borrower)
    assert (position.borrow_value, position.liquidation_value) == (0, 9_000 * USD)

    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)
    with ape.reverts("market: stale price"):
        market.withdraw_collateral(collateral.token, 1, borrower, borrower, sender=borrower)


def test_repay_and_liquidate__stale_price__stay_open(
    market, chain, owner, collateral, borrower, liquidator, single
):
    """Repayment needs no price; liquidation uses the last one, stale or not
    (health factor 0.97 at 85 % of the base price, $7,900 owed)."""
    make_stale(single, chain, owner)
    tx = market.repay(100 * USD, borrower, sender=borrower)
    assert market.Repay(on_behalf=borrower, amount=100 * USD) in tx.events

    make_stale(single, chain, owner, BASE_PRICE[collateral.name] * 85 // 100)
    assert market.position(borrower).health_factor < WAD
    tx = market.liquidate(
        borrower, collateral.token, 1_000 * USD, 0, False, liquidator, sender=liquidator
    )
    assert market.Liquidate(
        borrower=borrower, token=collateral.token, repaid=1_000 * USD
    ) in tx.events


# ---- a feed that breaks later ----


@pytest.mark.parametrize("how", BREAKS)
def test_liquidate__other_asset_after_a_feed_breaks__works(
    market, chain, owner, collaterals, borrower, liquidator, mixed, liquidate_shares, how
):
    """The wrapper's feed breaks, fund A falls to $8.80: the wrapper counts
    zero, fund A alone is worth $7,920 at the threshold against $8,000
    owed, and a liquidator takes fund A."""
    fund_a = collaterals["fund_a"]
    break_feed(mixed["wrapper"], chain, owner, how)
    mixed["fund_a"].set_answer(88 * 10**7, 0, sender=owner)

    liquidate_shares(borrower, fund_a.token, 1_000 * USD, liquidator)

    assert market.debt_of(borrower) == 7_000 * USD


@pytest.mark.parametrize("how", BREAKS)
def test_position__feed_broken__valued_at_zero_and_readable(
    market, chain, owner, borrower, mixed, how
):
    break_feed(mixed["wrapper"], chain, owner, how)

    position = market.position(borrower)

    assert position.debt == 8_000 * USD
    assert position.borrow_value == 10_000 * USD * LTV_BPS // BPS
    assert position.liquidation_value == 10_000 * USD * THRESHOLD_BPS // BPS
    assert position.health_factor == 9_000 * USD * WAD // (8_000 * USD)


@pytest.mark.parametrize("how", BREAKS)
def test_borrow_and_withdraw__feed_broken__refused(
    market, chain, owner, collaterals, borrower, mixed, how
):
    """$8,000 owed; fund A alone allows $8,500. Borrowing $600 more would
    need the wrapper: refused; $400 is within fund A's limit. The broken
    wrapper itself cannot be withdrawn."""
    wrapper = collaterals["wrapper"]
    break_feed(mixed["wrapper"], chain, owner, how)

    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(600 * USD, borrower, borrower, sender=borrower)
    with ape.reverts("market: stale price"):
        market.withdraw_collateral(wrapper.token, 1, borrower, borrower, sender=borrower)
    tx = market.borrow(400 * USD, borrower, borrower, sender=borrower)
    assert market.Borrow(on_behalf=borrower, amount=400 * USD) in tx.events


@pytest.mark.parametrize("how", BREAKS)
def test_liquidate__broken_asset_itself__reverts_bad_price(
    market, chain, owner, collaterals, borrower, liquidator, mixed, how
):
    wrapper = collaterals["wrapper"]
    break_feed(mixed["wrapper"], chain, owner, how)
    mixed["fund_a"].set_answer(88 * 10**7, 0, sender=owner)

    with ape.reverts("market: bad price"):
        market.liquidate(borrower, wrapper.token, MAX, 0, False, liquidator, sender=liquidator)
