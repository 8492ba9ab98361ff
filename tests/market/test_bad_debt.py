"""Bad debt: a liquidation that leaves no collateral value writes the rest
of the debt off, reserves first, then lenders through the share price
(``BadDebt``); a wei of collateral left behind, in the seized asset or in
another, cannot dodge the write-off.

Positions are opened under a flat 0 % curve, so that the only reserves
are those a test puts there (flash-loan fees) and every amount is exact."""

import ape
import pytest
from navlend.constants import BPS

USD = 10**6
MAX = 2**256 - 1
BONUS = BPS + 300
DUST = 1_000 * USD
# A lender share (12 decimals).
SHARE = 10**12
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}


def value(c, amount: int, price: int) -> int:
    """Base units ``amount`` of ``c`` is worth at ``price`` (rounded down)."""
    return amount * price // 10 ** (c.decimals + 2)


@pytest.fixture
def crashed(
    market, owner, stablecoin, lend, mint_stable, liquidator, borrower, open_position, set_price
):
    """``crashed(c)``: under a flat curve with $1M lent, ``borrower`` posts
    $10,000 of ``c`` and borrows $8,500, then the price halves ($5,000 of
    collateral, health factor 0.53). Returns (price, amount, debt); the
    liquidator holds $1M, approved."""

    def go(c):
        market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
        lend(1_000_000 * USD)
        mint_stable(liquidator, 1_000_000 * USD)
        stablecoin.approve(market, MAX, sender=liquidator)
        feed = set_price(c, BASE_PRICE[c.name])
        amount = 10_000 * 10 ** (c.decimals + 8) // BASE_PRICE[c.name]
        open_position(c, borrower, amount, 8_500 * USD)
        feed.set_answer(BASE_PRICE[c.name] // 2, 0, sender=owner)
        return BASE_PRICE[c.name] // 2, amount, 8_500 * USD

    return go


def buys_all(c, amount: int, price: int) -> int:
    """The repayment that buys all of ``amount`` with the bonus (rounded
    up, against the liquidator)."""
    return -(-amount * price * BPS // (10 ** (c.decimals + 2) * BONUS))


def flash_fee_to_reserves(market, owner, project, stablecoin, mint_stable, fee_usd: int):
    """Books ``fee_usd`` of reserves: a 1 % flash loan of 100 x that."""
    market.set_fees(100, 0, sender=owner)
    flash = owner.deploy(project.FlashBorrowerMock)
    mint_stable(flash, fee_usd * USD)
    flash.borrow(market, stablecoin, 100 * fee_usd * USD, b"", sender=owner)
    market.book_surplus(sender=owner)
    assert market.market_state()[2] == fee_usd * USD


# ---- the write-off ----


def test_liquidate__no_value_left__writes_the_rest_off_to_lenders(
    market, collateral, borrower, liquidator, crashed
):
    price, amount, debt = crashed(collateral)
    repaid = buys_all(collateral, amount, price)
    lost = debt - repaid
    assets_before = market.totalAssets()
    share_price = market.convertToAssets(SHARE)

    tx = market.liquidate(borrower, collateral.token, MAX, 0, False, liquidator, sender=liquidator)

    assert tx.return_value == (repaid, amount, amount)
    assert (
        market.BadDebt(borrower=borrower, amount=lost, from_reserves=0, socialized=lost)
        in tx.events
    )
    assert market.Liquidate(repaid=repaid, seized=amount, scaled_debt=0, collateral=0) in tx.events
    position = market.position(borrower)
    assert (position.debt, position.scaled_debt, position.assets_bitmap) == (0, 0, 0)
    assert market.market_state()[4] == 0
    assert market.totalAssets() == assets_before - lost
    assert market.convertToAssets(SHARE) < share_price
    with ape.reverts("market: no debt"):
        market.liquidate(borrower, collateral.token, MAX, 0, False, liquidator, sender=liquidator)


@pytest.mark.parametrize("reserves_usd", [5_000, 1_000], ids=["cover_it", "fall_short"])
def test_write_off__reserves__absorb_first_lenders_the_rest(
    market,
    owner,
    project,
    stablecoin,
    mint_stable,
    collaterals,
    borrower,
    liquidator,
    crashed,
    reserves_usd,
):
    """$3,645.63 is written off: $5,000 of reserves cover it and lenders
    lose nothing; $1,000 of reserves do not and lenders lose the rest."""
    fund_a = collaterals["fund_a"]
    price, amount, debt = crashed(fund_a)
    flash_fee_to_reserves(market, owner, project, stablecoin, mint_stable, reserves_usd)
    lost = debt - buys_all(fund_a, amount, price)
    from_reserves = min(lost, reserves_usd * USD)
    assets_before = market.totalAssets()

    tx = market.liquidate(borrower, fund_a.token, MAX, 0, False, liquidator, sender=liquidator)

    assert (
        market.BadDebt(
            borrower=borrower,
            amount=lost,
            from_reserves=from_reserves,
            socialized=lost - from_reserves,
        )
        in tx.events
    )
    assert market.market_state()[2] == reserves_usd * USD - from_reserves
    assert market.totalAssets() == assets_before - (lost - from_reserves)


def test_write_off__redeem_route__same_write_off(
    market, stablecoin, collateral, borrower, liquidator, crashed
):
    price, amount, debt = crashed(collateral)
    lost = debt - buys_all(collateral, amount, price)
    payout = collateral.facility.preview_redeem(amount)
    held = stablecoin.balanceOf(liquidator)
    tx = market.liquidate(borrower, collateral.token, MAX, 0, True, liquidator, sender=liquidator)
    assert market.BadDebt(amount=lost, socialized=lost) in tx.events
    assert stablecoin.balanceOf(liquidator) == held - (debt - lost) + payout
    assert market.debt_of(borrower) == 0


# ---- a wei left behind ----


def test_write_off__one_wei_of_another_asset_left__does_not_dodge_it(
    market, collaterals, borrower, liquidator, give_collateral, crashed
):
    """One wei of the wrapper (18 decimals) is worth nothing: seizing all
    the fund A still writes the debt off, and the wei stays behind."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    give_collateral(wrapper, borrower, 1)
    market.supply_collateral(wrapper.token, 1, borrower, sender=borrower)
    price, amount, debt = crashed(fund_a)
    assert market.position(borrower).assets_bitmap == 5

    tx = market.liquidate(borrower, fund_a.token, MAX, 0, False, liquidator, sender=liquidator)

    lost = debt - buys_all(fund_a, amount, price)
    assert market.BadDebt(borrower=borrower, amount=lost) in tx.events
    assert market.debt_of(borrower) == 0
    assert market.collateral_of(borrower, wrapper.token) == 1


def test_liquidate__asking_to_leave_a_wei__trimmed_to_the_floor_then_cleared(
    market, collateral, borrower, liquidator, crashed
):
    """Asking to repay just short of buying all the collateral would leave
    a worthless crumb and the debt on the books. The dust rule leaves
    $1,000 of collateral instead (no write-off yet), and the next
    liquidation takes it all and writes the rest off."""
    price, amount, _debt = crashed(collateral)
    tx = market.liquidate(
        borrower,
        collateral.token,
        buys_all(collateral, amount, price) - 1,
        0,
        False,
        liquidator,
        sender=liquidator,
    )
    left = market.collateral_of(borrower, collateral.token)
    assert value(collateral, left, price) >= DUST - 1
    assert not tx.events.filter(market.BadDebt)

    tx = market.liquidate(borrower, collateral.token, MAX, 0, False, liquidator, sender=liquidator)
    assert tx.events.filter(market.BadDebt)
    assert market.position(borrower).debt == 0


def test_write_off__no_dust_floor_worthless_crumb_left__still_written_off(
    market, owner, collaterals, borrower, liquidator, crashed
):
    """With the dust floor at zero a liquidation may leave a crumb of the
    wrapper worth nothing: the write-off tests value, not balances."""
    wrapper = collaterals["wrapper"]
    price, amount, debt = crashed(wrapper)
    market.set_borrow_limits(100, 2_000, 0, sender=owner)
    max_repay = value(wrapper, amount, price) * BPS // BONUS

    tx = market.liquidate(
        borrower, wrapper.token, max_repay, 0, False, liquidator, sender=liquidator
    )

    crumb = market.collateral_of(borrower, wrapper.token)
    assert crumb > 0 and value(wrapper, crumb, price) == 0
    assert market.BadDebt(amount=debt - max_repay) in tx.events
    assert market.debt_of(borrower) == 0
