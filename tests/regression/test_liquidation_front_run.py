"""Regression: the 1-wei repayment front-run of a liquidation.

Historical pattern: lending markets whose liquidation took an exact
repayment (Compound v2 forks, early Aave v2 integrations and bots) let a
borrower watching the mempool repay 1 wei, or post 1 wei more collateral,
just before the liquidation landed: the exact amount then exceeded the
close factor or the debt, or broke a dust rule, and the liquidation
reverted, again and again, while the position sank. Aave 3.3 answers with
"up to" amounts and its dust rules.

Here ``max_repay`` is an upper bound, the close factor caps it, and a
repayment that would leave dust is trimmed rather than refused, so each
front-run below changes the liquidation by at most a wei or two and never
makes it revert. A liquidator's ``min_out`` with a hair of tolerance
survives too."""

import pytest

USD = 10**6
MAX = 2**256 - 1
DUST = 1_000 * USD
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}


@pytest.fixture
def unhealthy(
    market,
    owner,
    stablecoin,
    collateral,
    borrower,
    liquidator,
    lend,
    mint_stable,
    open_position,
    set_price,
):
    """``unhealthy(hf_bps)``: under a flat curve with $1M lent, ``borrower``
    posts $10,000 of ``collateral``, borrows $8,500 and the price moves to
    that health factor. Borrower and liquidator hold cash, approved."""

    def go(hf_bps: int):
        market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
        lend(1_000_000 * USD)
        feed = set_price(collateral, BASE_PRICE[collateral.name])
        open_position(
            collateral,
            borrower,
            10_000 * 10 ** (collateral.decimals + 8) // BASE_PRICE[collateral.name],
            8_500 * USD,
        )
        feed.set_answer(BASE_PRICE[collateral.name] * hf_bps * 85 // (10_000 * 90), 0, sender=owner)
        for who in (borrower, liquidator):
            mint_stable(who, 10_000 * USD)
            stablecoin.approve(market, MAX, sender=who)

    return go


@pytest.mark.parametrize(
    "hf_bps,ask", [(9_400, 8_500 * USD), (9_800, 4_250 * USD)], ids=["full_close", "half"]
)
def test_front_run__one_wei_repaid_first__exact_liquidation_still_lands(
    market, collateral, borrower, liquidator, unhealthy, hf_bps, ask
):
    """The liquidator asks for the whole debt (HF 0.94) or exactly half of
    it (HF 0.98), with min_out 1 bps under the preview; the borrower repays
    1 wei first. The liquidation repays one wei less (the debt or the cap
    having fallen) and goes through."""
    unhealthy(hf_bps)
    repaid, seized = market.preview_liquidation(borrower, collateral.token, ask)
    assert repaid == ask

    market.repay(1, borrower, sender=borrower)
    tx = market.liquidate(
        borrower,
        collateral.token,
        ask,
        seized - seized // 10_000,
        False,
        liquidator,
        sender=liquidator,
    )

    assert ask - 1 <= tx.return_value[0] < ask
    assert market.debt_of(borrower) == (
        0 if hf_bps < 9_500 else 8_500 * USD - 1 - tx.return_value[0]
    )


def test_front_run__one_wei_repaid_first__partial_at_the_dust_floor_trimmed_not_refused(
    market, collateral, borrower, liquidator, unhealthy
):
    """At HF 0.94 the liquidator asks to leave exactly $1,000 of debt; after
    the borrower's 1-wei repayment that would leave $999.999999, under the
    floor. The repayment is trimmed by the wei and the floor is kept."""
    unhealthy(9_400)
    ask = 8_500 * USD - DUST
    market.repay(1, borrower, sender=borrower)
    tx = market.liquidate(borrower, collateral.token, ask, 0, False, liquidator, sender=liquidator)
    assert tx.return_value[0] == ask - 1
    assert market.debt_of(borrower) == DUST


def test_front_run__one_wei_of_collateral_posted_first__liquidation_still_lands(
    market, collateral, borrower, liquidator, give_collateral, unhealthy
):
    unhealthy(9_800)
    repaid, seized = market.preview_liquidation(borrower, collateral.token, MAX)
    give_collateral(collateral, borrower, 1)
    market.supply_collateral(collateral.token, 1, borrower, sender=borrower)
    tx = market.liquidate(
        borrower, collateral.token, MAX, seized, False, liquidator, sender=liquidator
    )
    assert tx.return_value[:2] == (repaid, seized)
