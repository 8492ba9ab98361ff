"""Regression: gas griefing through dust positions (spec, hole 3).

The class: a lending market writes bad debt off only when a liquidation
leaves a position with NO collateral value, and liquidating a crumb costs
more gas than its bonus pays. Whoever leaves a crumb of collateral behind
keeps the insolvent position open forever: nobody will spend gas to
liquidate ten micro-dollars, so the debt is never realised, the lenders'
share price keeps counting a loan that will never be repaid, and the
reserves never take the loss. Older pooled markets carried many such
small underwater positions that no liquidator would touch; Aave 3.3
(2025) added its $1,000 leftover rule and the "deficit" write-off for
exactly these stranded positions. Anyone can create the crumb: ``supply_collateral``
is open on behalf of any account, so an attacker posts one base unit of
a second asset to the victim's position just before it is liquidated.

The hole (old code): ``liquidate`` wrote the rest off only if the value
left was exactly zero. Fund A is 6 decimals at about $10.50, so ONE unit
of it is worth about ten base units of the stablecoin (not zero): posted
for an insolvent borrower, it dodged the write-off, and liquidating it
later repays 11 base units for a transaction's gas. Likewise a remnant of
the wrapper (18 decimals) worth cents.

The rule (new code): after a liquidation, if the collateral left (all
assets, at the liquidation price) is worth less than the dust floor
($1,000) AND less than the debt left, the debt left is written off
(``BadDebt``) and every remaining collateral unit moves to the treasury's
own position. A remnant worth more than the debt left, or more than the
floor, is a position someone will still repay or liquidate: untouched.

How the tests fail on the vulnerable variant (both seen failing on the old
code): ``..._fund_a_unit_posted_by_attacker__written_off`` and
``..._wrapper_remnant_left__written_off`` find no ``BadDebt`` event in the
liquidation (the debt stays on the borrower, the unit stays in its
position). The two negative cases pass on either code: a write-off rule
too eager (e.g. on value below the floor alone) would fail them.

Positions are opened under a flat 0 % curve with settable feeds, so every
amount is exact."""

import pytest
from navlend.constants import BPS

USD = 10**6
MAX = 2**256 - 1
BONUS = BPS + 300
DUST = 1_000 * USD
# Settable prices, 8 decimals.
FUND_A_PRICE = 1_050_000_000  # $10.50 a fund A share
WRAPPER_PRICE = 10**8  # $1.00 a wrapper share


def value(c, amount: int, price: int) -> int:
    """Base units ``amount`` of ``c`` is worth at ``price`` (rounded down)."""
    return amount * price // 10 ** (c.decimals + 2)


def buys_all(c, amount: int, price: int) -> int:
    """The repayment that buys all of ``amount`` with the 3 % bonus
    (rounded up, against the liquidator)."""
    return -(-amount * price * BPS // (10 ** (c.decimals + 2) * BONUS))


@pytest.fixture
def funded(market, owner, stablecoin, lend, mint_stable, liquidator, collaterals, set_price):
    """A flat curve, $1M lent, the liquidator holding $1M approved, and
    settable feeds: fund A at $10.50, the wrapper at $1.00. Returns the
    feeds by name."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(1_000_000 * USD)
    mint_stable(liquidator, 1_000_000 * USD)
    stablecoin.approve(market, MAX, sender=liquidator)
    return {
        "fund_a": set_price(collaterals["fund_a"], FUND_A_PRICE),
        "wrapper": set_price(collaterals["wrapper"], WRAPPER_PRICE),
    }


@pytest.fixture
def post_for(market, give_collateral):
    """``post_for(c, who, beneficiary, amount)``: ``who`` gets ``amount``
    of ``c`` and posts all of it for ``beneficiary``; returns what it
    posted."""

    def go(c, who, beneficiary, amount: int) -> int:
        posted = give_collateral(c, who, amount)
        market.supply_collateral(c.token, posted, beneficiary, sender=who)
        return posted

    return go


def assert_written_off_to_treasury(
    market, tx, borrower, treasury, lost, crumb_token, crumb, treasury_before
):
    """``tx`` wrote ``lost`` off (no reserves: all socialised), and moved
    the ``crumb`` of ``crumb_token`` from the borrower to the treasury."""
    written_off = market.BadDebt(borrower=borrower, amount=lost, from_reserves=0, socialized=lost)
    assert written_off in tx.events, "no write-off: the crumb dodged it"
    assert market.debt_of(borrower) == 0
    position = market.position(borrower)
    assert (position.debt, position.scaled_debt, position.assets_bitmap) == (0, 0, 0)
    assert market.market_state()[4] == 0  # no scaled debt left in the market
    assert market.collateral_of(borrower, crumb_token) == 0
    assert market.collateral_of(treasury, crumb_token) == treasury_before + crumb


def test_liquidate__wrapper_seized__fund_a_unit_posted_by_attacker__written_off(
    market,
    owner,
    collaterals,
    borrower,
    attacker,
    liquidator,
    treasury,
    funded,
    post_for,
    open_position,
):
    """The borrower's $10,000 of wrapper (18 decimals) falls to $5,000
    against $8,500 of debt; the attacker posts ONE unit of fund A (about
    ten base units of value) for it. Seizing all the wrapper writes the
    rest off and moves the unit to the treasury; the treasury can take it
    out like any debt-free position."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    open_position(wrapper, borrower, 10_000 * 10**18, 8_500 * USD)
    amount = market.collateral_of(borrower, wrapper.token)
    price = WRAPPER_PRICE // 2
    funded["wrapper"].set_answer(price, 0, sender=owner)
    assert post_for(fund_a, attacker, borrower, 1) == 1
    assert 0 < value(fund_a, 1, FUND_A_PRICE) < 20  # a crumb: worth ~10 base units
    treasury_before = market.collateral_of(treasury, fund_a.token)
    held = fund_a.token.balanceOf(market)

    tx = market.liquidate(borrower, wrapper.token, MAX, 0, False, liquidator, sender=liquidator)

    repaid = buys_all(wrapper, amount, price)
    assert tx.return_value == (repaid, amount, amount)
    liquidated = market.Liquidate(borrower=borrower, repaid=repaid, seized=amount, collateral=0)
    assert liquidated in tx.events
    assert_written_off_to_treasury(
        market, tx, borrower, treasury, 8_500 * USD - repaid, fund_a.token, 1, treasury_before
    )
    assert market.collateral_of(borrower, wrapper.token) == 0
    assert fund_a.token.balanceOf(market) == held  # moved inside the market, not paid out
    market.withdraw_collateral(fund_a.token, 1, treasury, treasury, sender=treasury)
    assert market.collateral_of(treasury, fund_a.token) == treasury_before


def test_liquidate__fund_a_seized__wrapper_remnant_left__written_off(
    market,
    owner,
    collaterals,
    borrower,
    attacker,
    liquidator,
    treasury,
    funded,
    post_for,
    open_position,
):
    """The reverse, at 18 decimals: $10,000 of fund A (at $10.00, then
    $5.00) against $8,500, and about $1 of the wrapper posted for the
    borrower, far below the $1,000 floor and the $3,645 left owing."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    funded["fund_a"].set_answer(10 * 10**8, 0, sender=owner)
    amount = 1_000 * 10**6
    open_position(fund_a, borrower, amount, 8_500 * USD)
    crumb = post_for(wrapper, attacker, borrower, 10**18)
    assert 0 < value(wrapper, crumb, WRAPPER_PRICE) < DUST
    price = 5 * 10**8
    funded["fund_a"].set_answer(price, 0, sender=owner)
    treasury_before = market.collateral_of(treasury, wrapper.token)

    tx = market.liquidate(borrower, fund_a.token, MAX, 0, False, liquidator, sender=liquidator)

    repaid = buys_all(fund_a, amount, price)
    assert tx.return_value == (repaid, amount, amount)
    assert_written_off_to_treasury(
        market, tx, borrower, treasury, 8_500 * USD - repaid, wrapper.token, crumb, treasury_before
    )
    assert market.collateral_of(borrower, fund_a.token) == 0


def test_liquidate__sub_dust_left_worth_more_than_the_debt_left__not_written_off(
    market, owner, collaterals, borrower, liquidator, treasury, funded, post_for, open_position
):
    """$500 of wrapper stays behind against $291 of debt left: below the
    floor, but the borrower is solvent again (health factor above 1) and
    can repay; nothing is written off and nothing moves to the treasury."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    funded["fund_a"].set_answer(14 * 10**8, 0, sender=owner)
    amount = 1_000 * 10**6
    remnant = post_for(wrapper, borrower, borrower, 500 * 10**18)
    open_position(fund_a, borrower, amount, 10_000 * USD)
    price = 10 * 10**8
    funded["fund_a"].set_answer(price, 0, sender=owner)  # HF 0.945: full close
    treasury_before = market.collateral_of(treasury, wrapper.token)

    tx = market.liquidate(borrower, fund_a.token, MAX, 0, False, liquidator, sender=liquidator)

    debt_left = 10_000 * USD - buys_all(fund_a, amount, price)
    assert 0 < debt_left < value(wrapper, remnant, WRAPPER_PRICE) < DUST
    assert not tx.events.filter(market.BadDebt)
    assert market.debt_of(borrower) == debt_left
    assert market.collateral_of(borrower, wrapper.token) == remnant
    assert market.collateral_of(treasury, wrapper.token) == treasury_before
    assert market.position(borrower).health_factor > 10**18


def test_liquidate__remnant_above_the_floor_left__not_written_off_until_seized(
    market, owner, collaterals, borrower, liquidator, treasury, funded, post_for, open_position
):
    """$1,500 of wrapper stays behind against $3,645 of debt left: worth
    less than the debt but above the floor, so a liquidator will still
    take it. No write-off yet; seizing it all then writes the rest off."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    funded["fund_a"].set_answer(10 * 10**8, 0, sender=owner)
    amount = 1_000 * 10**6
    remnant = post_for(wrapper, borrower, borrower, 1_500 * 10**18)
    open_position(fund_a, borrower, amount, 8_500 * USD)
    funded["fund_a"].set_answer(5 * 10**8, 0, sender=owner)

    tx = market.liquidate(borrower, fund_a.token, MAX, 0, False, liquidator, sender=liquidator)

    debt_left = 8_500 * USD - buys_all(fund_a, amount, 5 * 10**8)
    assert DUST <= value(wrapper, remnant, WRAPPER_PRICE) < debt_left
    assert not tx.events.filter(market.BadDebt)
    assert market.debt_of(borrower) == debt_left
    assert market.collateral_of(borrower, wrapper.token) == remnant

    tx = market.liquidate(borrower, wrapper.token, MAX, 0, False, liquidator, sender=liquidator)
    lost = debt_left - buys_all(wrapper, remnant, WRAPPER_PRICE)
    written_off = market.BadDebt(borrower=borrower, amount=lost, from_reserves=0, socialized=lost)
    assert written_off in tx.events
    assert market.debt_of(borrower) == 0
