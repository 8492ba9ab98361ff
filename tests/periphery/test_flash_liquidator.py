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


# ---- liquidate_many: several positions under one flash loan ----


def _reason(text: str) -> bytes:
    return bytes.fromhex("08c379a0") + encode(["string"], [text])


@pytest.fixture
def two_unhealthy(market, lend, open_position, move_nav, owner, borrower, borrower2, asset_a):
    """``borrower`` and ``borrower2`` both at about 85 % LTV in fund A, then
    a 7 % NAV drop: both liquidatable. Returns them."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(100_000 * USD)
    for who in (borrower, borrower2):
        open_position(asset_a, who, *POSITIONS["fund_a"])
    move_nav(asset_a, CRASH_BPS)
    return borrower, borrower2


def test_liquidate_many__two_unhealthy__one_loan_both_liquidated_profit_to_owner(
    market, capitalless_liquidator, two_unhealthy, asset_a, stablecoin, outsider
):
    flash = capitalless_liquidator
    expected = [expected_liquidation(market, stablecoin, asset_a, who) for who in two_unhealthy]
    repaid = sum(e["repaid"] for e in expected)
    payout = sum(e["payout"] for e in expected)
    loan = repaid + 10 * USD  # a margin, repaid unused with the rest
    fee = market.flashFee(stablecoin, loan)
    debts = [market.debt_of(who) for who in two_unhealthy]

    tx = flash.liquidate_many(asset_a.token, list(two_unhealthy), [MAX, MAX], loan, payout - repaid - fee,
                              sender=outsider)

    assert tx.return_value == payout - repaid - fee > 0
    (loan_event,) = tx.events.filter(market.FlashLoan)
    assert (loan_event.receiver, loan_event.amount, loan_event.fee) == (flash.address, loan, fee)
    liquidations = list(tx.events.filter(market.Liquidate))
    assert [(e.borrower, e.repaid, e.seized, e.payout) for e in liquidations] == [
        (e["borrower"], e["repaid"], e["seized"], e["payout"]) for e in expected
    ]
    assert logged(tx, flash.BatchLiquidated) == [{
        "token": asset_a.token.address, "liquidated": 2, "skipped": 0, "repaid": repaid, "payout": payout,
        "flash_fee": fee, "profit": payout - repaid - fee,
    }]
    assert logged(tx, flash.Liquidated) == [] and logged(tx, flash.LiquidationSkipped) == []
    assert stablecoin.balanceOf(outsider) == tx.return_value
    assert stablecoin.balanceOf(flash) == 0 and stablecoin.allowance(flash, market) == 0
    assert asset_a.token.balanceOf(flash) == 0
    assert [market.debt_of(who) for who in two_unhealthy] == [d - e["repaid"] for d, e in zip(debts, expected)]


def test_liquidate_many__one_position_healthy__skipped_with_the_markets_reason(
    market, capitalless_liquidator, lend, open_position, move_nav, owner, borrower, borrower2, asset_a,
    stablecoin, outsider
):
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(100_000 * USD)
    open_position(asset_a, borrower, *POSITIONS["fund_a"])
    open_position(asset_a, borrower2, 1_000 * 10**6, 5_000 * USD)  # ~48 % LTV: healthy after the drop
    move_nav(asset_a, CRASH_BPS)
    expected = expected_liquidation(market, stablecoin, asset_a, borrower)
    debt2 = market.debt_of(borrower2)

    tx = capitalless_liquidator.liquidate_many(asset_a.token, [borrower2, borrower], [MAX, MAX],
                                               expected["repaid"], 0, sender=outsider)

    assert logged(tx, capitalless_liquidator.LiquidationSkipped) == [{
        "borrower": borrower2.address, "token": asset_a.token.address,
        "reason": _reason("market: position healthy"),
    }]
    (batch,) = logged(tx, capitalless_liquidator.BatchLiquidated)
    assert (batch["liquidated"], batch["skipped"], batch["repaid"]) == (1, 1, expected["repaid"])
    assert [e.borrower for e in tx.events.filter(market.Liquidate)] == [borrower.address]
    assert market.debt_of(borrower2) == debt2
    assert stablecoin.balanceOf(outsider) == tx.return_value == batch["profit"] > 0


def test_liquidate_many__every_position_healthy__nothing_to_liquidate(
    market, capitalless_liquidator, lend, open_position, borrower, borrower2, asset_a, outsider
):
    lend(100_000 * USD)
    open_position(asset_a, borrower, *POSITIONS["fund_a"])  # healthy at the current NAV

    with ape.reverts("flash liquidator: nothing to liquidate"):
        capitalless_liquidator.liquidate_many(asset_a.token, [borrower, borrower2], [MAX, MAX], 1_000 * USD, 0,
                                              sender=outsider)


def test_liquidate_many__min_profit_one_above__reverts(
    market, capitalless_liquidator, two_unhealthy, asset_a, stablecoin, outsider
):
    expected = [expected_liquidation(market, stablecoin, asset_a, who) for who in two_unhealthy]
    loan = sum(e["repaid"] for e in expected)
    profit = sum(e["payout"] for e in expected) - loan - market.flashFee(stablecoin, loan)

    with ape.reverts("flash liquidator: profit below minimum"):
        capitalless_liquidator.liquidate_many(asset_a.token, list(two_unhealthy), [MAX, MAX], loan, profit + 1,
                                              sender=outsider)


def test_liquidate_many__loan_short_of_the_second_repayment__second_skipped(
    market, capitalless_liquidator, two_unhealthy, asset_a, stablecoin, outsider
):
    first = expected_liquidation(market, stablecoin, asset_a, two_unhealthy[0])

    tx = capitalless_liquidator.liquidate_many(asset_a.token, list(two_unhealthy), [MAX, MAX], first["repaid"], 0,
                                               sender=outsider)

    (skipped,) = logged(tx, capitalless_liquidator.LiquidationSkipped)
    assert skipped["borrower"] == two_unhealthy[1].address
    assert [e.borrower for e in tx.events.filter(market.Liquidate)] == [two_unhealthy[0].address]


def test_liquidate_many__gas_runs_out_inside_a_liquidation__whole_batch_reverts(
    market, capitalless_liquidator, two_unhealthy, asset_a, stablecoin, outsider
):
    expected = [expected_liquidation(market, stablecoin, asset_a, who) for who in two_unhealthy]
    loan = sum(e["repaid"] for e in expected)
    args = (asset_a.token, list(two_unhealthy), [MAX, MAX], loan, 0)
    needed = capitalless_liquidator.liquidate_many.estimate_gas_cost(*args, sender=outsider)

    # Enough for the first liquidation, not for the second: skipping the
    # second would cost the owner a position it meant to liquidate.
    with ape.reverts("flash liquidator: revert without reason"):
        capitalless_liquidator.liquidate_many(*args, sender=outsider, gas=needed * 3 // 4)
    assert all(market.position(who).health_factor < 10**18 for who in two_unhealthy)


# The checks both batch entries share (liquidate_gathered's own path, the
# seize route to the facility and one redemption, is tested end to end
# over Ondo's doubles in tests/world/test_ondo_gathered.py).
BATCH_ENTRIES = ["liquidate_many", "liquidate_gathered"]


@pytest.mark.parametrize("entry", BATCH_ENTRIES)
@pytest.mark.parametrize("shape", ["empty", "lengths differ"])
def test_liquidate_many__malformed_batch__reverts(capitalless_liquidator, asset_a, borrower, borrower2, outsider,
                                                  shape, entry):
    borrowers, repays = ([], []) if shape == "empty" else ([borrower, borrower2], [MAX])
    with ape.reverts("flash liquidator: bad batch"):
        getattr(capitalless_liquidator, entry)(asset_a.token, borrowers, repays, USD, 0, sender=outsider)


@pytest.mark.parametrize("entry", BATCH_ENTRIES)
def test_liquidate_many__zero_loan__nothing_to_liquidate(capitalless_liquidator, asset_a, borrower, outsider,
                                                         entry):
    with ape.reverts("flash liquidator: nothing to liquidate"):
        getattr(capitalless_liquidator, entry)(asset_a.token, [borrower], [MAX], 0, 0, sender=outsider)


@pytest.mark.parametrize("entry", BATCH_ENTRIES)
def test_liquidate_many__not_the_owner__reverts(flash_liquidator, two_unhealthy, asset_a, attacker, entry):
    with ape.reverts("ownable: caller is not the owner"):
        getattr(flash_liquidator, entry)(asset_a.token, list(two_unhealthy), [MAX, MAX], 1_000 * USD, 0,
                                         sender=attacker)


@pytest.mark.parametrize("entry", BATCH_ENTRIES)
def test_liquidate_many__more_than_max_batch__refused_by_the_abi(capitalless_liquidator, asset_a, outsider, entry):
    too_many = capitalless_liquidator.MAX_BATCH() + 1
    with pytest.raises(Exception):
        getattr(capitalless_liquidator, entry)(asset_a.token, [outsider] * too_many, [MAX] * too_many, USD, 0,
                                               sender=outsider)


def test_liquidate_gathered__facility_cannot_redeem_received__whole_batch_reverts(
    market, capitalless_liquidator, two_unhealthy, asset_a, stablecoin, outsider
):
    """Fund A's issuer facility has no ``redeem_received``: the seizures
    sent to it (the fund admits it) are undone when the call to it reverts
    (with no reason: no such function), nothing is left at the facility."""
    assert asset_a.token.is_allowlisted(asset_a.facility)
    expected = [expected_liquidation(market, stablecoin, asset_a, who) for who in two_unhealthy]
    loan = sum(e["repaid"] for e in expected)
    held = asset_a.token.balanceOf(asset_a.facility)
    debts = [market.debt_of(who) for who in two_unhealthy]

    with ape.reverts():
        capitalless_liquidator.liquidate_gathered(asset_a.token, list(two_unhealthy), [MAX, MAX], loan, 0,
                                                  sender=outsider)

    assert asset_a.token.balanceOf(asset_a.facility) == held
    assert [market.debt_of(who) for who in two_unhealthy] == debts
