"""FlashLiquidator: a liquidation financed by the market's own flash loan
and paid through the redeem route, in one transaction, by an owner with no
capital and no allowlisting.

Positions are made unhealthy by moving the real NAV (``move_nav``), so the
market and the redemption facility price the seized shares alike. The
market's rates are set to zero here, so that no interest accrues between
blocks and a preview made one block before a liquidation is exact.
"""

import ape
import pytest
from eth_abi import encode

USD = 10**6
MAX = 2**256 - 1
# Collateral posted and debt taken per asset: about 85 % of $10,500 and $10,000.
POSITIONS = {"fund_a": (1_000 * 10**6, 8_900 * USD), "wrapper": (10_000 * 10**18, 8_400 * USD)}
# A NAV drop that takes both positions below a health factor of 1 (not 0.95).
CRASH_BPS = -700


def logged(tx, event) -> list[dict]:
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


@pytest.fixture
def make_unhealthy(market, lend, open_position, move_nav, owner, borrower):
    """``make_unhealthy(collateral, crash_bps=CRASH_BPS)``: 100,000 lent at a
    zero rate; ``borrower`` at about 85 % LTV in the asset; its NAV moved
    by ``crash_bps``. Returns the borrower."""

    def go(collateral, crash_bps: int = CRASH_BPS):
        market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
        lend(100_000 * USD)
        open_position(collateral, borrower, *POSITIONS[collateral.name])
        move_nav(collateral, crash_bps)
        return borrower

    return go


def expected_liquidation(market, stablecoin, collateral, borrower) -> dict:
    """What a full redeem-route flash liquidation of ``borrower`` in
    ``collateral`` should yield at the current block."""
    repaid, seized = market.preview_liquidation(borrower, collateral.token, MAX)
    payout = collateral.facility.preview_redeem(seized)
    fee = market.flashFee(stablecoin, repaid)
    return {
        "borrower": borrower.address,
        "token": collateral.token.address,
        "repaid": repaid,
        "seized": seized,
        "payout": payout,
        "flash_fee": fee,
        "profit": payout - repaid - fee,
    }


def test_init__wiring__market_base_and_deployer_as_owner(
    capitalless_liquidator, market, stablecoin, outsider
):
    assert capitalless_liquidator.MARKET() == market.address
    assert capitalless_liquidator.BASE() == stablecoin.address
    assert capitalless_liquidator.owner() == outsider.address


# ---- the redeem route, end to end ----


def test_liquidate__capitalless_owner__profit_to_owner_in_one_tx(
    market, capitalless_liquidator, make_unhealthy, collateral, world, stablecoin, outsider
):
    flash = capitalless_liquidator
    borrower = make_unhealthy(collateral)
    assert stablecoin.balanceOf(outsider) == 0
    assert not any(fund.is_allowlisted(outsider) for fund in world.funds())
    assert not any(fund.is_allowlisted(flash) for fund in world.funds())
    expected = expected_liquidation(market, stablecoin, collateral, borrower)
    assert expected["repaid"] > 0 and expected["profit"] > 0
    debt_before = market.debt_of(borrower)

    tx = flash.liquidate(borrower, collateral.token, MAX, expected["profit"], sender=outsider)

    assert tx.return_value == expected["profit"]
    assert logged(tx, flash.Liquidated) == [expected]
    (liq,) = tx.events.filter(market.Liquidate)
    assert (liq.liquidator, liq.receiver, liq.repaid, liq.seized, liq.payout) == (
        flash.address,
        flash.address,
        expected["repaid"],
        expected["seized"],
        expected["payout"],
    )
    (loan,) = tx.events.filter(market.FlashLoan)
    assert (loan.receiver, loan.initiator, loan.amount, loan.fee) == (
        flash.address,
        flash.address,
        expected["repaid"],
        expected["flash_fee"],
    )
    assert stablecoin.balanceOf(outsider) == expected["profit"]
    assert stablecoin.balanceOf(flash) == 0
    assert stablecoin.allowance(flash, market) == 0
    assert collateral.token.balanceOf(flash) == 0
    assert market.debt_of(borrower) == debt_before - expected["repaid"]


def test_liquidate__partial_max_repay__repays_only_that(
    market, capitalless_liquidator, make_unhealthy, asset_a, stablecoin, outsider
):
    borrower = make_unhealthy(asset_a)
    repaid, seized = market.preview_liquidation(borrower, asset_a.token, 1_000 * USD)

    tx = capitalless_liquidator.liquidate(borrower, asset_a.token, 1_000 * USD, 0, sender=outsider)

    (event,) = tx.events.filter(capitalless_liquidator.Liquidated)
    assert repaid == 1_000 * USD
    assert (event.repaid, event.seized) == (repaid, seized)
    assert stablecoin.balanceOf(outsider) == event.profit > 0


def test_liquidate__min_profit_one_above__reverts(
    market, capitalless_liquidator, make_unhealthy, asset_a, stablecoin, outsider
):
    borrower = make_unhealthy(asset_a)
    profit = expected_liquidation(market, stablecoin, asset_a, borrower)["profit"]

    with ape.reverts("flash liquidator: profit below minimum"):
        capitalless_liquidator.liquidate(borrower, asset_a.token, MAX, profit + 1, sender=outsider)


def test_liquidate__payout_below_cost__reverts(
    market, capitalless_liquidator, make_unhealthy, asset_a, set_price, outsider
):
    # The facility redeems at a NAV 10 % down while the market's feed is
    # only 7 % down: the bonus no longer covers the gap.
    borrower = make_unhealthy(asset_a, -1_000)
    set_price(asset_a, 1_050 * 10**6 * 93 // 100)
    assert market.position(borrower).health_factor < 10**18

    with ape.reverts("flash liquidator: payout below cost"):
        capitalless_liquidator.liquidate(borrower, asset_a.token, MAX, 0, sender=outsider)


def test_liquidate__facility_out_of_liquidity__reverts_with_its_reason(
    market, capitalless_liquidator, make_unhealthy, collateral, issuer_facility, issuer, outsider
):
    borrower = make_unhealthy(collateral)
    facility = issuer_facility(collateral)
    facility.withdraw_liquidity(facility.available_liquidity() - 1_000 * USD, issuer, sender=issuer)

    with ape.reverts("facility: insufficient liquidity"):
        capitalless_liquidator.liquidate(borrower, collateral.token, MAX, 0, sender=outsider)


# ---- who may make it act ----


def test_liquidate__not_the_owner__reverts(
    flash_liquidator, make_unhealthy, asset_a, attacker, outsider
):
    borrower = make_unhealthy(asset_a)
    for caller in (attacker, outsider):
        with ape.reverts("ownable: caller is not the owner"):
            flash_liquidator.liquidate(borrower, asset_a.token, MAX, 0, sender=caller)


def test_liquidate__healthy_or_debt_free__nothing_to_liquidate(
    market, flash_liquidator, lend, open_position, asset_a, borrower, borrower2, liquidator
):
    lend(100_000 * USD)
    open_position(asset_a, borrower, *POSITIONS["fund_a"])  # healthy at the current NAV
    for who in (borrower, borrower2):  # borrower2 has no position at all
        with ape.reverts("flash liquidator: nothing to liquidate"):
            flash_liquidator.liquidate(who, asset_a.token, MAX, 0, sender=liquidator)


def test_on_flash_loan__third_party_flash_loan__not_initiated_here(
    market, flash_liquidator, make_unhealthy, asset_a, stablecoin, attacker
):
    borrower = make_unhealthy(asset_a)
    repay = market.preview_liquidation(borrower, asset_a.token, MAX)[0]
    data = encode(
        ["address", "address", "uint256"], [borrower.address, asset_a.token.address, repay]
    )

    with ape.reverts("flash liquidator: not initiated here"):
        market.flashLoan(flash_liquidator, stablecoin, repay, data, sender=attacker)


def test_on_flash_loan__called_directly__not_the_market(
    flash_liquidator, asset_a, stablecoin, attacker
):
    data = encode(["address", "address", "uint256"], [attacker.address, asset_a.token.address, USD])
    for initiator in (flash_liquidator, attacker):
        with ape.reverts("flash liquidator: not the market"):
            flash_liquidator.onFlashLoan(initiator, stablecoin, USD, 1, data, sender=attacker)
