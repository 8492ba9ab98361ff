"""Regression: self-liquidation is not a way to make money.

Historical exploit: Euler Finance (March 2023, about $197M). An attacker
used ``donateToReserves`` to push its own leveraged position deep into
insolvency without repaying anything, then liquidated itself from a
second account at a discount larger than what it had given up.

Here a borrower at its maximum LTV is still healthy (the threshold sits
above the LTV) and cannot lower its own health factor: withdrawing or
borrowing past the limit reverts, and the market has no donation. After a
price drop, liquidating yourself goes by the same rules as anyone else's
liquidation, and the bonus you "earn" is your own collateral: you end no
richer, at market prices, than if nobody had liquidated you, and poorer
by the protocol's fee share when there is one."""

import ape
import pytest

USD = 10**6
MAX = 2**256 - 1
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}


@pytest.fixture
def at_max_ltv(
    market,
    owner,
    stablecoin,
    collateral,
    attacker,
    liquidator,
    lend,
    mint_stable,
    open_position,
    set_price,
):
    """Under a flat curve with $1M lent, ``attacker`` posts $10,000 of
    ``collateral`` and borrows its whole limit ($8,500); it and the
    liquidator hold $10,000 more, approved. Returns the feed."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(1_000_000 * USD)
    feed = set_price(collateral, BASE_PRICE[collateral.name])
    open_position(
        collateral,
        attacker,
        10_000 * 10 ** (collateral.decimals + 8) // BASE_PRICE[collateral.name],
        0,
    )
    market.borrow(market.position(attacker).borrow_value, attacker, attacker, sender=attacker)
    for who in (attacker, liquidator):
        mint_stable(who, 10_000 * USD)
        stablecoin.approve(market, MAX, sender=who)
    return feed


def net_worth(market, stablecoin, c, who, price: int) -> int:
    """Cash plus collateral held and posted, at ``price``, minus the debt."""
    shares = c.token.balanceOf(who) + market.collateral_of(who, c.token)
    return (
        stablecoin.balanceOf(who) + shares * price // 10 ** (c.decimals + 2) - market.debt_of(who)
    )


def test_self_liquidation__at_max_ltv__healthy_and_cannot_push_itself_under(
    market, collateral, attacker, at_max_ltv
):
    position = market.position(attacker)
    assert position.debt == position.borrow_value == 8_500 * USD
    assert position.health_factor > 10**18
    with ape.reverts("market: position healthy"):
        market.liquidate(attacker, collateral.token, MAX, 0, False, attacker, sender=attacker)
    with ape.reverts("market: exceeds borrow limit"):
        market.withdraw_collateral(collateral.token, 1, attacker, attacker, sender=attacker)
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(1, attacker, attacker, sender=attacker)


@pytest.mark.parametrize("fee_bps", [0, 1_000], ids=["no_fee", "fee_10pct"])
def test_self_liquidation__after_a_drop__same_terms_as_anyone_and_no_gain(
    market, chain, owner, stablecoin, collateral, attacker, liquidator, at_max_ltv, fee_bps
):
    """At HF 0.98 the attacker liquidates itself, then (on the same state)
    a third party does: same repayment, same seizure. The attacker's net
    worth at the market price does not rise (by rounding it may fall a
    unit); with a protocol fee share it falls by the fee."""
    price = BASE_PRICE[collateral.name] * 98 * 85 // (100 * 90)
    at_max_ltv.set_answer(price, 0, sender=owner)
    market.set_fees(5, fee_bps, sender=owner)
    assert market.position(attacker).health_factor < 10**18
    before = net_worth(market, stablecoin, collateral, attacker, price)

    with chain.isolate():
        third_party = market.liquidate(
            attacker, collateral.token, MAX, 0, False, liquidator, sender=liquidator
        ).return_value
    own = market.liquidate(
        attacker, collateral.token, MAX, 0, False, attacker, sender=attacker
    ).return_value

    assert own == third_party
    _repaid, seized, taken = own
    fee_value = (seized - taken) * price // 10 ** (collateral.decimals + 2)
    after = net_worth(market, stablecoin, collateral, attacker, price)
    assert after <= before - fee_value
    assert after >= before - fee_value - 2
    assert (fee_value > 0) == (fee_bps > 0)
