"""End to end: OUSG positions each too small for Ondo's $50,000 minimum,
liquidated together by the FlashLiquidator's gathered batch
(``liquidate_gathered``): one flash loan, each position through the seize
route with OndoRedemption (KYC'd by Ondo) as the receiver of the shares,
then one ``redeem_received`` of everything the adapter got. The
liquidator's owner is ``outsider``: Ondo never KYC'd it or its contract,
and it has no USDC.

The market over OUSG is test_ondo_market.py's (``ousg_market``: the market
and the adapter KYC'd, OndoCompliance as the compliance source, a 0 %
curve); each position: 500 OUSG ($57,500) and $51,000 of debt, made
liquidatable by Ondo's largest drop (-2 %): half the debt plus the 3 %
bonus is $26,265 of OUSG, under the minimum alone, $78,795 for three."""

import ape
import pytest
from test_ondo_market import DROPPED, ousg_market, price_drop  # noqa: F401 (fixtures)

USDC = 10**6
OUSG = 10**18
MAX_UINT = 2**256 - 1
ZERO = "0x" + "00" * 20
MINIMUM = 50_000 * USDC
# One small position: collateral and debt (HF ~0.994 after the drop: the
# 50 % close factor applies).
SMALL = (500 * OUSG, 51_000 * USDC)
# Smaller still: three of them seize $47,277, under the minimum together.
SMALLER = (300 * OUSG, 30_600 * USDC)
# A position the drop leaves healthy.
HEALTHY = (500 * OUSG, 30_000 * USDC)


def _value(shares: int, price: int) -> int:
    return shares * price // 10**30


@pytest.fixture(scope="session")
def small_borrowers(borrower, accounts):
    """Three borrowers: ``borrower`` and accounts 10 and 11 (borrower2 and
    the operator of the market suite; no role in tests/world)."""
    return borrower, accounts[10], accounts[11]


@pytest.fixture
def open_positions(ondo, ousg_market, small_borrowers, price_drop):  # noqa: F811
    """``open_positions(*shapes)``: Ondo KYCs and mints each borrower its
    (shares, debt) in order, posted and borrowed; then Ondo's -2 % post.
    Returns the borrowers used."""
    market = ousg_market[0]

    def go(*shapes):
        used = small_borrowers[: len(shapes)]
        for who, (shares, debt) in zip(used, shapes):
            ondo.kyc(who)
            ondo.mint_ousg(who, shares)
            ondo.ousg.approve(market, shares, sender=who)
            market.supply_collateral(ondo.ousg, shares, who, sender=who)
            market.borrow(debt, who, who, sender=who)
        price_drop()
        return used

    return go


@pytest.fixture
def flash(project, ousg_market, outsider):  # noqa: F811
    """A FlashLiquidator owned by ``outsider`` (no KYC, no USDC)."""
    return outsider.deploy(project.FlashLiquidator, ousg_market[0])


def _previews(market, ondo, borrowers) -> list[tuple[int, int]]:
    """(repay, seize) of each of ``borrowers`` at the current block."""
    return [market.preview_liquidation(who, ondo.ousg, MAX_UINT) for who in borrowers]


def _state(market, ondo, adapter, flash, borrowers) -> tuple:
    """What a refused batch must leave as it was."""
    return (
        [market.debt_of(who) for who in borrowers],
        [market.collateral_of(who, ondo.ousg) for who in borrowers],
        ondo.ousg.balanceOf(market),
        ondo.ousg.balanceOf(adapter),
        ondo.usdc.balanceOf(flash),
        ondo.usdc.balanceOf(ondo.manager),
    )


def _totals(market, ondo, adapter, borrowers) -> tuple[int, int, int, int]:
    """(repaid, shares seized, redemption payout, flash fee) of a gathered
    batch of ``borrowers`` at the current block."""
    previews = _previews(market, ondo, borrowers)
    repaid = sum(repay for repay, _ in previews)
    shares = sum(seize for _, seize in previews)
    return repaid, shares, adapter.preview_redeem(shares), market.flashFee(ondo.usdc, repaid)


def _refused(ondo, ousg_market, flash, owner, borrowers, reason: str, min_profit: int = 0):  # noqa: F811
    """Sends the gathered batch of ``borrowers`` (the loan: their
    repayments), expects ``reason`` and checks that nothing changed."""
    market, feed, adapter, compliance = ousg_market
    repaid = _totals(market, ondo, adapter, borrowers)[0]
    before = _state(market, ondo, adapter, flash, borrowers)
    with ape.reverts(reason):
        flash.liquidate_gathered(
            ondo.ousg, list(borrowers), [MAX_UINT] * len(borrowers), repaid, min_profit, sender=owner
        )
    assert _state(market, ondo, adapter, flash, borrowers) == before


# ---- the gathered batch, end to end ----


def test_liquidate_gathered__three_positions_each_under_the_minimum__one_redemption_profit_to_owner(
    ondo, ousg_market, open_positions, flash, outsider  # noqa: F811
):
    market, feed, adapter, compliance = ousg_market
    borrowers = open_positions(SMALL, SMALL, SMALL)
    previews = _previews(market, ondo, borrowers)
    # Each seizure alone is refused by the manager; together they pass.
    for repay, seize in previews:
        assert repay == 25_500 * USDC and _value(seize, DROPPED) < MINIMUM
        assert seize < adapter.min_redeem() and adapter.preview_redeem(seize) == 0
    repaid, shares, payout, fee = _totals(market, ondo, adapter, borrowers)
    assert payout == _value(shares, DROPPED) >= MINIMUM
    profit = payout - repaid - fee
    # The receiver of the seize route is admitted by the compliance source
    # and by OUSG; the liquidator and its owner are neither.
    assert compliance.is_allowlisted(adapter) and ondo.registry.getKYCStatus(1, adapter)
    assert not ondo.registry.getKYCStatus(1, flash) and not ondo.registry.getKYCStatus(1, outsider)
    assert ondo.usdc.balanceOf(outsider) == 0
    debts = [market.debt_of(who) for who in borrowers]
    supply = ondo.ousg.totalSupply()

    tx = flash.liquidate_gathered(ondo.ousg, list(borrowers), [MAX_UINT] * 3, repaid, profit, sender=outsider)

    assert tx.return_value == profit > 0
    liquidations = list(tx.events.filter(market.Liquidate))
    assert [(e.liquidator, e.borrower, e.receiver, e.repaid, e.seized, e.payout) for e in liquidations] == [
        (flash.address, who.address, adapter.address, repay, seize, seize)
        for who, (repay, seize) in zip(borrowers, previews)
    ]
    assert adapter.Redeemed(caller=flash, receiver=flash, shares=shares, payout=payout) in tx.events
    assert [dict(e.event_arguments) for e in tx.events.filter(flash.BatchLiquidated)] == [{
        "token": ondo.ousg.address, "liquidated": 3, "skipped": 0, "repaid": repaid, "payout": payout,
        "flash_fee": fee, "profit": profit,
    }]
    assert list(tx.events.filter(flash.LiquidationSkipped)) == []
    assert ondo.usdc.balanceOf(outsider) == profit
    # Nobody holds anything between transactions; Ondo burnt the shares.
    for holder in (flash, adapter):
        assert ondo.ousg.balanceOf(holder) == 0 and ondo.usdc.balanceOf(holder) == 0
    assert ondo.ousg.totalSupply() == supply - shares
    assert [market.debt_of(who) for who in borrowers] == [d - r for d, (r, _) in zip(debts, previews)]


def test_liquidate_gathered__one_position_healthy__skipped_the_others_gathered(
    ondo, ousg_market, open_positions, flash, outsider  # noqa: F811
):
    market, feed, adapter, compliance = ousg_market
    first, second, healthy = open_positions(SMALL, SMALL, HEALTHY)
    repaid, shares, payout, fee = _totals(market, ondo, adapter, (first, second))
    debt = market.debt_of(healthy)

    tx = flash.liquidate_gathered(ondo.ousg, [first, healthy, second], [MAX_UINT] * 3, repaid, 0, sender=outsider)

    skipped = [dict(e.event_arguments) for e in tx.events.filter(flash.LiquidationSkipped)]
    assert [(e["borrower"], e["token"]) for e in skipped] == [(healthy.address, ondo.ousg.address)]
    assert b"market: position healthy" in skipped[0]["reason"]
    (batch,) = tx.events.filter(flash.BatchLiquidated)
    assert (batch.liquidated, batch.skipped, batch.repaid) == (2, 1, repaid)
    assert adapter.Redeemed(caller=flash, receiver=flash, shares=shares, payout=payout) in tx.events
    assert [e.borrower for e in tx.events.filter(market.Liquidate)] == [first.address, second.address]
    assert market.debt_of(healthy) == debt
    assert ondo.usdc.balanceOf(outsider) == tx.return_value == batch.profit > 0


def test_liquidate_gathered__total_still_under_the_minimum__reverts_with_the_managers_reason(
    ondo, ousg_market, open_positions, flash, outsider  # noqa: F811
):
    borrowers = open_positions(SMALLER, SMALLER, SMALLER)
    repaid, shares, payout, fee = _totals(ousg_market[0], ondo, ousg_market[2], borrowers)
    assert _value(shares, DROPPED) < MINIMUM and payout == 0

    _refused(ondo, ousg_market, flash, outsider, borrowers, "manager: below minimum")


def test_liquidate_gathered__payout_below_cost__refused_by_the_adapters_min_out(
    ondo, ousg_market, open_positions, flash, deployer, outsider  # noqa: F811
):
    """A 1 % flash fee and Ondo's 2 % redemption fee eat the 3 % bonus:
    the one redemption would not repay the loan."""
    borrowers = open_positions(SMALL, SMALL, SMALL)
    ousg_market[0].set_fees(100, 0, sender=deployer)
    ondo.manager.set_redeem_fee(200, sender=ondo.admin)
    repaid, shares, payout, fee = _totals(ousg_market[0], ondo, ousg_market[2], borrowers)
    assert repaid < payout < repaid + fee

    _refused(ondo, ousg_market, flash, outsider, borrowers, "adapter: slippage")


def test_liquidate_gathered__min_profit_one_above__reverts(
    ondo, ousg_market, open_positions, flash, outsider  # noqa: F811
):
    borrowers = open_positions(SMALL, SMALL, SMALL)
    repaid, shares, payout, fee = _totals(ousg_market[0], ondo, ousg_market[2], borrowers)

    _refused(ondo, ousg_market, flash, outsider, borrowers, "flash liquidator: profit below minimum",
             min_profit=payout - repaid - fee + 1)


def test_liquidate_gathered__not_the_owner__reverts(ondo, open_positions, flash, attacker):
    borrowers = open_positions(SMALL, SMALL, SMALL)
    with ape.reverts("ownable: caller is not the owner"):
        flash.liquidate_gathered(ondo.ousg, list(borrowers), [MAX_UINT] * 3, 76_500 * USDC, 0, sender=attacker)


def test_liquidate_gathered__every_position_healthy__nothing_to_liquidate(
    ondo, open_positions, flash, outsider
):
    borrowers = open_positions(HEALTHY, HEALTHY)
    with ape.reverts("flash liquidator: nothing to liquidate"):
        flash.liquidate_gathered(ondo.ousg, list(borrowers), [MAX_UINT] * 2, 30_000 * USDC, 0, sender=outsider)


def test_liquidate_gathered__collateral_without_facility__reverts(
    ondo, ousg_market, open_positions, flash, deployer, outsider  # noqa: F811
):
    market = ousg_market[0]
    borrowers = open_positions(SMALL, SMALL, SMALL)
    market.set_asset_facility(ondo.ousg, ZERO, sender=deployer)
    with ape.reverts("flash liquidator: no facility"):
        flash.liquidate_gathered(ondo.ousg, list(borrowers), [MAX_UINT] * 3, 76_500 * USDC, 0, sender=outsider)


# ---- OndoRedemption.redeem_received ----


@pytest.fixture
def stray(ondo, ousg_market, attacker):  # noqa: F811
    """``stray(shares)``: a KYC'd holder (``attacker``) sends ``shares`` OUSG
    to the adapter outside any redemption. Returns the adapter."""
    adapter = ousg_market[2]

    def go(shares: int):
        ondo.kyc(attacker)
        ondo.mint_ousg(attacker, shares)
        ondo.ousg.transfer(adapter, shares, sender=attacker)
        return adapter

    return go


def test_redeem_received__shares_held__paid_to_the_callers_receiver(ondo, stray, outsider):
    """What @custom:security describes: shares sent to the adapter outside
    a gathered batch go to whoever calls next (only their sender loses)."""
    adapter = stray(500 * OUSG)
    expected = adapter.preview_redeem(500 * OUSG)
    assert expected == _value(500 * OUSG, 115 * 10**18) > MINIMUM

    tx = adapter.redeem_received(expected, outsider, sender=outsider)

    assert tx.return_value == expected
    assert adapter.Redeemed(caller=outsider, receiver=outsider, shares=500 * OUSG, payout=expected) in tx.events
    assert ondo.usdc.balanceOf(outsider) == expected
    assert ondo.ousg.balanceOf(adapter) == 0 and ondo.usdc.balanceOf(adapter) == 0


def test_redeem_received__nothing_held__zero_amount(ousg_market, outsider):  # noqa: F811
    with ape.reverts("adapter: zero amount"):
        ousg_market[2].redeem_received(0, outsider, sender=outsider)


def test_redeem_received__zero_receiver__refused(stray, outsider):
    adapter = stray(500 * OUSG)
    with ape.reverts("adapter: zero address"):
        adapter.redeem_received(0, ZERO, sender=outsider)


def test_redeem_received__min_out_one_above__slippage(ondo, stray, outsider):
    adapter = stray(500 * OUSG)
    with ape.reverts("adapter: slippage"):
        adapter.redeem_received(adapter.preview_redeem(500 * OUSG) + 1, outsider, sender=outsider)
    assert ondo.ousg.balanceOf(adapter) == 500 * OUSG


def test_redeem_received__held_under_the_minimum__managers_reason(ondo, stray, outsider):
    adapter = stray(400 * OUSG)  # $46,000
    assert adapter.preview_redeem(400 * OUSG) == 0
    with ape.reverts("manager: below minimum"):
        adapter.redeem_received(0, outsider, sender=outsider)
    assert ondo.ousg.balanceOf(adapter) == 400 * OUSG
