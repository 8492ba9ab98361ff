"""Prices as the market uses them: stale answers (no borrowing against
them, no withdrawing them while in debt), price caps, answers that are
not positive or come from the future, and frozen assets (no deposits, no
new borrowing, still withdrawable).

Each asset's feed is swapped for a settable mock (``set_price``)."""

import ape
import pytest

USD = 10**6
MAX = 2**256 - 1
# Oldest answer the market accepts for borrowing (the listing default).
MAX_AGE = 100 * 3_600
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}


def units(collateral, usd: int) -> int:
    """The amount of ``collateral`` worth ``usd`` dollars at BASE_PRICE."""
    return usd * 10 ** (collateral.decimals + 8) // BASE_PRICE[collateral.name]


@pytest.fixture
def feed(market, collateral, borrower, give_collateral, set_price, lend):
    """``borrower`` with $10,000 of ``collateral`` posted at BASE_PRICE and
    $100,000 of cash lent; returns the asset's settable feed."""
    lend(100_000 * USD)
    mock = set_price(collateral, BASE_PRICE[collateral.name])
    amount = give_collateral(collateral, borrower, units(collateral, 10_000))
    market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    return mock


def make_stale(feed, chain, owner):
    """Strikes the feed's answer again, more than MAX_AGE before the next
    block."""
    feed.set_answer(
        feed.latestRoundData()[1], chain.blocks.head.timestamp - MAX_AGE - 1, sender=owner
    )


def assert_counts_nothing_to_borrow(market, borrower):
    """The $10,000 posted counts nothing at LTV but fully at the threshold
    (health factor, liquidation), and no borrow passes."""
    position = market.position(borrower)
    assert position.borrow_value == 0
    assert position.liquidation_value == 9_000 * USD
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


# ---- stale ----


def test_borrow__stale_price__counts_nothing_and_reverts(
    market, chain, owner, collateral, borrower, feed
):
    make_stale(feed, chain, owner)
    assert market.asset_price(collateral.token) == (BASE_PRICE[collateral.name], True)
    assert_counts_nothing_to_borrow(market, borrower)


def test_borrow__answer_exactly_max_age_old__fresh_a_second_later__stale(
    market, chain, owner, borrower, feed
):
    """Stale means strictly older than the maximum age."""
    now = chain.blocks.head.timestamp + 10
    feed.set_answer(feed.latestRoundData()[1], now - MAX_AGE, sender=owner)
    chain.pending_timestamp = now
    market.borrow(100 * USD, borrower, borrower, sender=borrower)
    chain.pending_timestamp = now + 1
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


def test_withdraw_collateral__stale_with_debt__reverts(
    market, chain, owner, collateral, borrower, feed
):
    market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    make_stale(feed, chain, owner)
    with ape.reverts("market: stale price"):
        market.withdraw_collateral(collateral.token, 1, borrower, borrower, sender=borrower)


def test_withdraw_collateral__stale_without_debt__allowed(
    market, chain, owner, collateral, borrower, feed
):
    make_stale(feed, chain, owner)
    amount = market.collateral_of(borrower, collateral.token)
    market.withdraw_collateral(collateral.token, amount, borrower, borrower, sender=borrower)
    assert collateral.token.balanceOf(borrower) == amount


def test_supply_and_repay__stale__allowed(
    market, chain, owner, stablecoin, collateral, borrower, give_collateral, mint_stable, feed
):
    """Posting more collateral and repaying need no price."""
    market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    make_stale(feed, chain, owner)
    more = give_collateral(collateral, borrower, collateral.unit)
    market.supply_collateral(collateral.token, more, borrower, sender=borrower)
    mint_stable(borrower, USD)  # the interest
    stablecoin.approve(market, MAX, sender=borrower)
    market.repay(MAX, borrower, sender=borrower)
    assert market.debt_of(borrower) == 0


def test_borrow__one_asset_stale__only_the_fresh_one_counts(
    market, chain, owner, collaterals, borrower, give_collateral, set_price, lend
):
    """Fund A ($4,000) goes stale beside the wrapper ($10,000)."""
    lend(100_000 * USD)
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    stale_feed = set_price(fund_a, BASE_PRICE["fund_a"])
    set_price(wrapper, BASE_PRICE["wrapper"])
    for c, usd in ((fund_a, 4_000), (wrapper, 10_000)):
        amount = give_collateral(c, borrower, units(c, usd))
        market.supply_collateral(c.token, amount, borrower, sender=borrower)
    assert market.position(borrower).borrow_value == 14_000 * USD * 85 // 100
    make_stale(stale_feed, chain, owner)
    assert market.position(borrower).borrow_value == 10_000 * USD * 85 // 100
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(10_000 * USD * 85 // 100 + 1, borrower, borrower, sender=borrower)
    market.borrow(10_000 * USD * 85 // 100, borrower, borrower, sender=borrower)
    with ape.reverts("market: stale price"):
        market.withdraw_collateral(fund_a.token, 1, borrower, borrower, sender=borrower)


# ---- price cap ----


def test_price__above_cap__capped_below__the_oracle(market, owner, collateral, borrower, feed):
    cap = BASE_PRICE[collateral.name] * 9 // 10
    market.set_asset_limits(collateral.token, 2**120 - 1, cap, MAX_AGE, sender=owner)
    assert market.asset_price(collateral.token) == (cap, False)
    assert market.position(borrower).borrow_value == 9_000 * USD * 85 // 100
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(9_000 * USD * 85 // 100 + 1, borrower, borrower, sender=borrower)
    feed.set_answer(cap - 1, 0, sender=owner)
    assert market.asset_price(collateral.token)[0] == cap - 1


def test_price__fund_c_capped_at_one_dollar__never_above_the_cap(market, owner, collaterals, set_price):
    """The 18-decimal raw fund C (NAV about $1.05) capped at $1.00: an
    answer above the cap is valued at the cap, one below it as answered."""
    fund_c = collaterals["fund_c"]
    tx = market.set_asset_limits(fund_c.token, 2**120 - 1, 100_000_000, MAX_AGE, sender=owner)
    assert market.AssetLimitsSet(token=fund_c.token, price_cap=100_000_000) in tx.events
    feed = set_price(fund_c, 105_000_000)
    assert market.asset_price(fund_c.token) == (100_000_000, False)
    feed.set_answer(99_000_000, 0, sender=owner)
    assert market.asset_price(fund_c.token) == (99_000_000, False)


def test_price__fund_c_listed_without_cap__follows_its_accruing_nav(market, collaterals, set_price):
    """The local market lists fund C with no price cap: its NAV accrues."""
    fund_c = collaterals["fund_c"]
    assert market.asset_config(fund_c.token).price_cap == 0
    set_price(fund_c, 105_000_000)
    assert market.asset_price(fund_c.token) == (105_000_000, False)


# ---- answers that are not usable ----


@pytest.mark.parametrize("answer", [0, -1], ids=["zero", "negative"])
def test_price__not_positive__worth_nothing_and_stale_views_do_not_revert(
    market, owner, collateral, borrower, feed, answer
):
    """A broken feed is valued at zero and counts as stale (AUDIT.md, "A
    feed that breaks"): the views answer, borrowing against it and
    withdrawing it are refused, and the position is liquidatable (its only
    collateral is worth nothing), though not on the broken asset itself."""
    market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    feed.set_answer(answer, 0, sender=owner)
    assert market.asset_price(collateral.token) == (0, True)
    position = market.position(borrower)
    assert (position.borrow_value, position.liquidation_value, position.health_factor) == (0, 0, 0)
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)
    with ape.reverts("market: stale price"):
        market.withdraw_collateral(collateral.token, 1, borrower, borrower, sender=borrower)
    assert market.preview_liquidation(borrower, collateral.token, MAX) == (0, 0)
    with ape.reverts("market: bad price"):
        market.liquidate(borrower, collateral.token, MAX, 0, False, borrower, sender=borrower)


def test_price__positive_again__valued_as_before(market, owner, collateral, borrower, feed):
    before = market.position(borrower).borrow_value
    feed.set_answer(0, 0, sender=owner)
    assert market.position(borrower).borrow_value == 0
    feed.set_answer(BASE_PRICE[collateral.name], 0, sender=owner)
    assert market.position(borrower).borrow_value == before
    market.borrow(100 * USD, borrower, borrower, sender=borrower)


def test_price__not_positive__no_debt_withdraw_and_repay_need_no_price(
    market, owner, stablecoin, collateral, borrower, borrower2, give_collateral, mint_stable, feed
):
    market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    spare_amount = give_collateral(collateral, borrower2, collateral.unit)
    market.supply_collateral(collateral.token, spare_amount, borrower2, sender=borrower2)
    feed.set_answer(0, 0, sender=owner)
    mint_stable(borrower, USD)  # the interest
    stablecoin.approve(market, MAX, sender=borrower)
    market.repay(MAX, borrower, sender=borrower)
    market.withdraw_collateral(
        collateral.token, spare_amount, borrower2, borrower2, sender=borrower2
    )
    assert collateral.token.balanceOf(borrower2) == spare_amount


def test_price__from_the_future__broken_worth_nothing(market, chain, owner, collateral, borrower, feed):
    feed.set_answer(BASE_PRICE[collateral.name], chain.blocks.head.timestamp + 3_600, sender=owner)
    assert market.asset_price(collateral.token) == (0, True)
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


# ---- frozen assets ----


def test_supply_collateral__frozen__reverts_until_unfrozen(
    market, owner, guardian, collateral, borrower, give_collateral
):
    amount = give_collateral(collateral, borrower, collateral.unit)
    tx = market.set_asset_frozen(collateral.token, True, sender=guardian)
    assert market.AssetFrozen(token=collateral.token, frozen=True) in tx.events
    assert market.asset_config(collateral.token).frozen
    with ape.reverts("market: asset frozen"):
        market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    market.set_asset_frozen(collateral.token, False, sender=owner)
    market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    assert market.collateral_of(borrower, collateral.token) == amount


def test_borrow__frozen__counts_nothing(market, guardian, collateral, borrower, feed):
    market.set_asset_frozen(collateral.token, True, sender=guardian)
    assert_counts_nothing_to_borrow(market, borrower)


def test_withdraw_collateral__frozen_with_debt__withdrawable_within_the_limit(
    market, guardian, collateral, borrower, feed
):
    """Freezing stops new exposure without trapping collateral: a frozen
    asset counts at full value (x LTV) for a withdrawal."""
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    market.set_asset_frozen(collateral.token, True, sender=guardian)
    # $10,000 x 85 % covers $5,000 down to $5,882.36 of collateral.
    keep = units(collateral, 5_883)
    amount = market.collateral_of(borrower, collateral.token)
    with ape.reverts("market: exceeds borrow limit"):
        market.withdraw_collateral(
            collateral.token, amount - units(collateral, 5_882), borrower, borrower, sender=borrower
        )
    market.withdraw_collateral(collateral.token, amount - keep, borrower, borrower, sender=borrower)
    assert collateral.token.balanceOf(borrower) == amount - keep
