"""SuperstateRedemption's ``redeem_received`` and the FlashLiquidator's
gathered batch over USTB (test_superstate_market.py's market and
position): the seize route sends the shares to the adapter, which the
issuer admits, and one redemption pays the liquidator. Superstate has no
minimum, so this only mirrors Ondo's case (test_ondo_gathered.py)."""

import ape
import pytest
from test_superstate_market import (  # noqa: F401 (fixtures)
    a_block_later,
    market_owner,
    ss_market,
    ss_position,
    ss_unhealthy,
)

USD = 10**6
MAX = 2**256 - 1
ZERO = "0x" + "00" * 20
STRAY = 100 * 10**6  # 100 USTB


def test_liquidate_gathered__outsider_with_no_capital__shares_to_the_adapter_one_redemption(
    ss_unhealthy, ss_market, ustb, stablecoin, project, outsider  # noqa: F811
):
    flash = outsider.deploy(project.FlashLiquidator, ss_market)
    assert not ustb.compliance.is_allowlisted(flash) and not ustb.compliance.is_allowlisted(outsider)
    assert ustb.compliance.is_allowlisted(ustb.adapter)
    repay, seize = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)
    payout = ustb.adapter.preview_redeem(seize)
    fee = ss_market.flashFee(stablecoin, repay)

    tx = flash.liquidate_gathered(ustb.token, [ss_unhealthy], [MAX], repay, 1, sender=outsider)

    (liquidated,) = tx.decode_logs(ss_market.Liquidate)
    assert (liquidated.receiver, liquidated.repaid, liquidated.seized, liquidated.payout) == (
        ustb.adapter.address, repay, seize, seize,
    )
    (redeemed,) = tx.decode_logs(ustb.adapter.Redeemed)
    assert (redeemed.caller, redeemed.receiver, redeemed.shares) == (flash.address, flash.address, seize)
    assert a_block_later(payout) <= redeemed.payout <= payout
    (batch,) = tx.decode_logs(flash.BatchLiquidated)
    assert (batch.liquidated, batch.repaid, batch.payout, batch.flash_fee) == (1, repay, redeemed.payout, fee)
    assert tx.return_value == batch.profit == redeemed.payout - repay - fee > 0
    assert stablecoin.balanceOf(outsider) == batch.profit
    assert ustb.token.balanceOf(ustb.adapter) == 0 and ustb.token.balanceOf(flash) == 0


@pytest.fixture
def stray(ustb, deployer, liquidator):
    """An allowlisted investor (``liquidator``) sends STRAY USTB to the
    adapter outside any redemption."""
    ustb.token.mint(liquidator, STRAY, sender=deployer)
    ustb.token.transfer(ustb.adapter, STRAY, sender=liquidator)
    return ustb.adapter


def test_redeem_received__shares_held__paid_to_the_callers_receiver(stray, ustb, stablecoin, outsider):
    expected = stray.preview_redeem(STRAY)
    assert expected > 0

    tx = stray.redeem_received(a_block_later(expected), outsider, sender=outsider)

    (redeemed,) = tx.decode_logs(stray.Redeemed)
    assert (redeemed.caller, redeemed.receiver, redeemed.shares) == (outsider.address, outsider.address, STRAY)
    assert stablecoin.balanceOf(outsider) == redeemed.payout == tx.return_value
    assert ustb.token.balanceOf(stray) == 0


def test_redeem_received__nothing_held__zero_amount(ustb, outsider):
    with ape.reverts("adapter: zero amount"):
        ustb.adapter.redeem_received(0, outsider, sender=outsider)


@pytest.mark.parametrize("receiver", ["zero", "token"])
def test_redeem_received__bad_receiver__refused(stray, ustb, outsider, receiver):
    with ape.reverts("adapter: bad receiver"):
        stray.redeem_received(0, ZERO if receiver == "zero" else ustb.token.address, sender=outsider)


def test_redeem_received__min_out_above_the_payout__slippage(stray, ustb, outsider):
    with ape.reverts("adapter: slippage"):
        stray.redeem_received(2 * stray.preview_redeem(STRAY), outsider, sender=outsider)
    assert ustb.token.balanceOf(stray) == STRAY
