"""The market's views against independent computation: position values
from oracle answers and balances, debt from the scaled debt and a borrow
index grown by the documented curve, and the books' identity
``totalAssets = cash + borrows - reserves``.

Views run at the head block's timestamp, so a test that mines a block at a
known time knows exactly how much interest the views accrue.
"""

import ape
import pytest

from navlend.constants import BPS, PAUSE_LIQUIDATION, PAUSE_SUPPLY, PAUSE_WITHDRAW, WAD, YEAR

USD = 10**6
ZERO = ape.utils.ZERO_ADDRESS
HOUR = 3_600
ORACLE_UNIT = 10**8
BASE_DECIMALS = 6
# Listing defaults (tests/market/conftest.py) and the market's default curve.
LTV, THRESHOLD = 8_500, 9_000
MAX_AGE = 100 * HOUR
SLOPE1 = 4 * WAD // 100 // YEAR
SLOPE2 = 60 * WAD // 100 // YEAR
KINK = 9_000 * WAD // BPS
RESERVE_FACTOR = 1_000


@pytest.fixture(scope="module", autouse=True)
def _setup_first(
    market,
    collaterals,
    lend,
    give_collateral,
    open_position,
    set_price,
    advance,
    stablecoin,
    owner,
    guardian,
    borrower,
    borrower2,
):
    """Sets up every higher-scoped fixture this module uses before its first
    test, so that Ape never rebases its snapshots mid-module."""


# ---- independent models ----


def _price(collateral) -> int:
    return collateral.oracle.latestRoundData()[1]


def _value(amount: int, price: int, collateral) -> int:
    return (
        amount * price // 10 ** (collateral.decimals + collateral.oracle.decimals() - BASE_DECIMALS)
    )


def _rate(utilization: int) -> int:
    """Per-second rate of the default kinked curve (base rate zero)."""
    if utilization <= KINK:
        return SLOPE1 * utilization // KINK
    return SLOPE1 + SLOPE2 * (utilization - KINK) // (WAD - KINK)


def _grow(index: int, rate: int, elapsed: int) -> int:
    """The borrow index after `elapsed` seconds: exp(x) - 1 to the third
    order, rounded up."""
    x = rate * elapsed
    growth = x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)
    return index + -(-index * growth // WAD)


def _ceil_debt(scaled: int, index: int) -> int:
    return -(-scaled * index // WAD)


def _post(market, collateral, who, give_collateral, amount: int) -> int:
    """Posts `amount` (minted; wrapped for the wrapper); returns what was posted."""
    posted = give_collateral(collateral, who, amount)
    market.supply_collateral(collateral.token, posted, who, sender=who)
    return posted


# ---- position, collateral_of, debt_of ----


@pytest.mark.parametrize("name", ["fund_a", "wrapper"])
def test_position__one_asset__values_from_oracle_and_balance(
    market, collaterals, lend, give_collateral, borrower, name
):
    collateral = collaterals[name]
    lend(100_000 * USD)
    posted = _post(market, collateral, borrower, give_collateral, 1_000 * collateral.unit)
    value = _value(posted, _price(collateral), collateral)
    borrowed = value * LTV // BPS // 2
    tx = market.borrow(borrowed, borrower, borrower, sender=borrower)

    p = market.position(borrower)
    assert p.scaled_debt == tx.events.filter(market.Borrow)[0].scaled_debt
    assert p.debt == borrowed
    assert p.borrow_value == value * LTV // BPS
    assert p.liquidation_value == value * THRESHOLD // BPS
    assert p.health_factor == p.liquidation_value * WAD // borrowed
    assert p.assets_bitmap == 1 << collateral.asset_id


def test_position__three_assets__sums_each_asset_with_fund_c_capped(
    market, owner, collaterals, give_collateral, set_price, borrower
):
    fund_a, fund_c, wrapper = collaterals["fund_a"], collaterals["fund_c"], collaterals["wrapper"]
    # Fund C capped at $1.00, its feed at $1.05: valued at the cap.
    market.set_asset_limits(fund_c.token, 2**120 - 1, ORACLE_UNIT, MAX_AGE, sender=owner)
    set_price(fund_c, 105_000_000)
    posted = {
        c.name: _post(market, c, borrower, give_collateral, 100 * c.unit)
        for c in (fund_a, fund_c, wrapper)
    }
    prices = {"fund_a": _price(fund_a), "fund_c": ORACLE_UNIT, "wrapper": _price(wrapper)}

    values = [_value(posted[c.name], prices[c.name], c) for c in (fund_a, fund_c, wrapper)]
    p = market.position(borrower)
    assert p.borrow_value == sum(v * LTV // BPS for v in values)
    assert p.liquidation_value == sum(v * THRESHOLD // BPS for v in values)
    assert p.assets_bitmap == 0b111
    assert (p.debt, p.scaled_debt, p.health_factor) == (0, 0, 2**256 - 1)


def test_collateral_of__supply_and_withdraw__tracks_each_asset(
    market, collaterals, give_collateral, borrower, borrower2
):
    fund_a, fund_c = collaterals["fund_a"], collaterals["fund_c"]
    _post(market, fund_a, borrower, give_collateral, 30 * fund_a.unit)
    _post(market, fund_c, borrower, give_collateral, 20 * fund_c.unit)
    market.withdraw_collateral(fund_c.token, 5 * fund_c.unit, borrower, borrower, sender=borrower)

    assert market.collateral_of(borrower, fund_a.token) == 30 * fund_a.unit
    assert market.collateral_of(borrower, fund_c.token) == 15 * fund_c.unit
    assert market.collateral_of(borrower, collaterals["wrapper"].token) == 0
    assert market.collateral_of(borrower2, fund_a.token) == 0


def test_collateral_of__unlisted_token__reverts(market, stablecoin, borrower):
    with ape.reverts("market: asset not listed"):
        market.collateral_of(borrower, stablecoin)


def test_debt_of__after_time__scaled_debt_times_the_grown_index(
    market, collaterals, lend, open_position, advance, borrower
):
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    tx = open_position(fund_a, borrower, 1_000 * fund_a.unit, 8_000 * USD)
    scaled = tx.events.filter(market.Borrow)[0].scaled_debt
    assert market.debt_of(borrower) == 8_000 * USD

    elapsed = advance(30 * 86_400) - tx.timestamp

    index = _grow(WAD, _rate(8_000 * WAD // 10_000), elapsed)
    assert market.debt_of(borrower) == _ceil_debt(scaled, index)
    assert market.position(borrower).debt == market.debt_of(borrower)
    assert market.debt_of(borrower) > 8_000 * USD


# ---- market_state, utilization, borrow_rate ----


def test_market_state__lend_and_borrow__books_match_balances(
    market, stablecoin, collaterals, lend, open_position, borrower
):
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    open_position(fund_a, borrower, 1_000 * fund_a.unit, 2_500 * USD)

    cash, borrows, reserves, index, scaled = market.market_state()
    assert (cash, borrows, reserves, index, scaled) == (
        7_500 * USD,
        2_500 * USD,
        0,
        WAD,
        2_500 * USD,
    )
    assert cash == stablecoin.balanceOf(market)
    assert market.totalAssets() == cash + borrows - reserves
    assert market.utilization() == borrows * WAD // (borrows + cash)


def test_market_state__after_a_year__accrues_by_the_curve(
    market, stablecoin, collaterals, lend, open_position, advance, borrower, mint_stable
):
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    borrowed_at = open_position(fund_a, borrower, 1_200 * fund_a.unit, 9_500 * USD).timestamp
    mint_stable(market, 1_000 * USD)  # a donation moves nothing

    elapsed = advance(YEAR) - borrowed_at

    index = _grow(WAD, _rate(95 * WAD // 100), elapsed)
    interest = 9_500 * USD * index // WAD - 9_500 * USD
    cash, borrows, reserves, new_index, scaled = market.market_state()
    assert (cash, new_index, scaled) == (500 * USD, index, 9_500 * USD)
    assert stablecoin.balanceOf(market) == cash + 1_000 * USD
    assert borrows == scaled * index // WAD
    assert reserves == interest * RESERVE_FACTOR // BPS
    assert market.totalAssets() == cash + borrows - reserves
    assert market.utilization() == borrows * WAD // (borrows + cash)
    assert market.borrow_rate() == _rate(market.utilization())


# ---- asset_config, asset_at, asset_price ----


def test_asset_config__fund_c__listing_and_total_supplied(
    market, collaterals, give_collateral, borrower, borrower2
):
    fund_c = collaterals["fund_c"]
    _post(market, fund_c, borrower, give_collateral, 7 * fund_c.unit)
    _post(market, fund_c, borrower2, give_collateral, 5 * fund_c.unit)

    cfg = market.asset_config(fund_c.token)
    assert cfg.token == fund_c.token.address
    assert cfg.oracle == fund_c.oracle.address
    assert cfg.facility == fund_c.facility.address
    # No price cap: fund C's NAV accrues.
    assert (cfg.supply_cap, cfg.price_cap, cfg.max_oracle_age) == (2**120 - 1, 0, MAX_AGE)
    assert cfg.total_supplied == 12 * fund_c.unit


def test_asset_config__unlisted_token__reverts(market, stablecoin):
    with ape.reverts("market: asset not listed"):
        market.asset_config(stablecoin)


@pytest.mark.parametrize("asset_id", [3, 15, 16])
def test_asset_at__beyond_the_listed__zero_address(market, asset_id):
    assert market.asset_at(asset_id) == ZERO


def test_asset_price__each_asset__the_oracle_answer_uncapped(market, collaterals):
    """The local market caps no asset: fund A and fund C accrue, and the
    wrapper's share price rises with fund B's dividends."""
    for c in collaterals.values():
        assert market.asset_config(c.token).price_cap == 0
        assert market.asset_price(c.token) == (_price(c), False)


def test_asset_price__unlisted_token__reverts(market, stablecoin):
    with ape.reverts("market: asset not listed"):
        market.asset_price(stablecoin)


# ---- control ----


def test_control__after_configuration__reads_every_field(market, owner, guardian):
    market.pause(PAUSE_SUPPLY | PAUSE_WITHDRAW, sender=guardian)
    market.pause(PAUSE_LIQUIDATION, sender=owner)
    resume_at = market.unpause(PAUSE_LIQUIDATION, HOUR, sender=owner).timestamp + HOUR
    market.set_fees(7, 250, sender=owner)
    market.set_borrow_limits(50, 3_000, 500, sender=owner)

    assert tuple(market.control()) == (
        PAUSE_SUPPLY | PAUSE_WITHDRAW,
        resume_at,
        7,
        250,
        50 * USD,
        3_000 * USD,
        500 * USD,
    )
