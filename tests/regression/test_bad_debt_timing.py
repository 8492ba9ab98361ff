"""Regression: bad-debt timing, or lenders racing the write-off (spec,
hole 3 seen from the lenders' side).

The class: a pooled lending market that recognises a loss LATER than the
liquidation that makes it certain hands an informed lender a free option.
Between the liquidation and the write-off, the share price still counts
the dead loan at face value; whoever knows redeems at that price, and the
lenders who stay absorb the whole loss when it is finally booked: a run
on the pool, paid for by the slowest lenders. Morpho Blue and Aave 3.3
both realise bad debt inside the liquidation that reveals it for this
reason, rather than leaving it on the books for a later clean-up.

The hole (old code): the write-off ran only when a liquidation left
exactly zero collateral value. An insolvent position with a crumb of a
second collateral (one unit of fund A, about ten base units: the dust
griefing of test_dust_griefing.py) kept its debt after the liquidation
took everything worth taking, so ``totalAssets`` and ``convertToAssets``
kept counting it. The attacker (a lender who posted the crumb) redeemed at
that price; the loss landed on the lender who redeemed after the crumb
was finally cleared (a liquidation repaying 11 base units).

The rule (new code): the liquidation that leaves collateral worth less
than the dust floor and less than the debt writes the rest off in the
same transaction, reserves first (``BadDebt.from_reserves``), lenders the
rest (``BadDebt.socialized``) through the share price.

How the tests fail on the vulnerable variant (all three seen failing on
the old code): ``..._share_price_drops_in_the_same_transaction`` finds
``totalAssets`` unchanged after the liquidation (and no ``BadDebt``);
``..._no_more_per_share_than_one_who_redeems_later`` sees the early
redeemer paid more per share than the late one (by the whole loss);
``..._reserves_first_then_lenders`` finds no ``BadDebt`` (so neither the
reserves nor the lenders take the loss). The negative case (a liquidation
that loses nothing: early and late redeemers paid alike) passes on either.

Flat 0 % curve, settable feeds: every amount is exact."""

import pytest
from navlend.constants import BPS

USD = 10**6
MAX = 2**256 - 1
BONUS = BPS + 300
# A lender share (12 decimals: the base's 6 plus 6).
SHARE = 10**12
LENT = 100_000 * USD
DEBT = 8_500 * USD
FUND_A_PRICE = 1_050_000_000  # $10.50
WRAPPER_PRICE = 10**8  # $1.00, halved by the crash


def buys_all(c, amount: int, price: int) -> int:
    """The repayment that buys all of ``amount`` with the 3 % bonus
    (rounded up)."""
    return -(-amount * price * BPS // (10 ** (c.decimals + 2) * BONUS))


@pytest.fixture
def crashed(
    market,
    owner,
    stablecoin,
    collaterals,
    lend,
    mint_stable,
    mint_fund,
    open_position,
    set_price,
    borrower,
    liquidator,
    lender,
    attacker,
):
    """Under a flat curve the lender and the attacker lend $100,000 each
    (equal shares). The borrower posts $10,000 of wrapper and borrows
    $8,500; the wrapper then halves. The attacker holds one unit of fund A,
    approved; the liquidator $1M, approved. Returns (seized, repaid, lost)
    of a liquidation that takes all the wrapper, and the wrapper's feed."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(LENT, lender)
    lend(LENT, attacker)
    assert market.balanceOf(lender) == market.balanceOf(attacker)
    mint_stable(liquidator, 1_000_000 * USD)
    stablecoin.approve(market, MAX, sender=liquidator)
    set_price(fund_a, FUND_A_PRICE)
    feed = set_price(wrapper, WRAPPER_PRICE)
    open_position(wrapper, borrower, 10_000 * 10**18, DEBT)
    seized = market.collateral_of(borrower, wrapper.token)
    feed.set_answer(WRAPPER_PRICE // 2, 0, sender=owner)
    mint_fund(fund_a.token, attacker, 1)
    fund_a.token.approve(market, MAX, sender=attacker)
    repaid = buys_all(wrapper, seized, WRAPPER_PRICE // 2)
    return seized, repaid, DEBT - repaid, feed


@pytest.fixture
def liquidate_all(market, collaterals, borrower, liquidator):
    """``liquidate_all()``: the liquidator takes all the wrapper."""

    def go():
        return market.liquidate(
            borrower, collaterals["wrapper"].token, MAX, 0, False, liquidator, sender=liquidator
        )

    return go


@pytest.fixture
def clear_leftover(market, collaterals, borrower, liquidator):
    """``clear_leftover()``: if the borrower still owes (the old code), a
    liquidator finally takes the unit of fund A, for 11 base units, which
    writes the rest off. Nothing to do once the write-off came first."""

    def go():
        if market.debt_of(borrower) != 0:
            market.liquidate(
                borrower, collaterals["fund_a"].token, MAX, 0, False, liquidator, sender=liquidator
            )
        assert market.debt_of(borrower) == 0

    return go


def redeem_all(market, who) -> tuple[int, int]:
    """Redeems all of ``who``'s shares; returns (shares, assets paid)."""
    shares = market.balanceOf(who)
    tx = market.redeem(shares, who, who, sender=who)
    return shares, tx.return_value


def test_liquidate__sub_dust_left__share_price_drops_in_the_same_transaction(
    market, collaterals, borrower, attacker, crashed, liquidate_all
):
    _seized, _repaid, lost, _feed = crashed
    market.supply_collateral(collaterals["fund_a"].token, 1, borrower, sender=attacker)
    assets_before = market.totalAssets()
    share_price = market.convertToAssets(SHARE)

    tx = liquidate_all()

    assert market.totalAssets() == assets_before - lost, "the loss is not in the share price yet"
    assert market.convertToAssets(SHARE) < share_price
    written_off = market.BadDebt(borrower=borrower, amount=lost, from_reserves=0, socialized=lost)
    assert written_off in tx.events
    # Lenders own what is left: no borrows, cash only.
    cash, borrows, reserves, _index, scaled = market.market_state()
    assert (borrows, reserves, scaled) == (0, 0, 0)
    assert market.totalAssets() == cash


def test_redeem__right_after_the_sub_dust_liquidation__no_more_per_share_than_one_who_redeems_later(
    market, collaterals, borrower, lender, attacker, advance, crashed, liquidate_all, clear_leftover
):
    """The attacker posts the crumb, the liquidation runs, and the attacker
    redeems at once; the lender redeems a day later, after the leftover
    (if any) is cleared. Equal shares: the attacker must not be paid more."""
    _seized, _repaid, lost, _feed = crashed
    market.supply_collateral(collaterals["fund_a"].token, 1, borrower, sender=attacker)
    liquidate_all()

    early_shares, early = redeem_all(market, attacker)
    advance(86_400)
    clear_leftover()
    late_shares, late = redeem_all(market, lender)

    assert early_shares == late_shares
    assert early <= late, f"the early redeemer escaped {early - late} of the {lost} lost"
    # Each bore half the loss (to rounding).
    assert LENT - early >= lost // 2 - 1


def test_redeem__liquidation_without_loss__early_and_late_redeemers_paid_alike(
    market, owner, collaterals, borrower, lender, attacker, advance, crashed, liquidate_all
):
    """Negative case: the wrapper only dips to $0.93 (health factor 0.985),
    a 50 % liquidation leaves a solvent position and writes nothing off;
    the bonus comes out of the borrower's collateral, not the lenders'.
    Half the shares redeemed early or a day later pay the same."""
    *_, feed = crashed
    feed.set_answer(93_000_000, 0, sender=owner)
    share_price = market.convertToAssets(SHARE)

    tx = liquidate_all()

    assert tx.return_value[0] == DEBT // 2
    assert not tx.events.filter(market.BadDebt)
    assert market.convertToAssets(SHARE) == share_price
    early = market.redeem(market.balanceOf(attacker) // 2, attacker, attacker, sender=attacker)
    advance(86_400)
    late = market.redeem(market.balanceOf(lender) // 2, lender, lender, sender=lender)
    assert early.return_value == late.return_value == LENT // 2


@pytest.mark.parametrize(
    "reserves_usd", [5_000, 1_000], ids=["reserves_cover_it", "reserves_fall_short"]
)
def test_write_off__sub_dust_left__reserves_first_then_lenders(
    market,
    owner,
    collaterals,
    borrower,
    attacker,
    mint_stable,
    crashed,
    liquidate_all,
    reserves_usd,
):
    """$3,645.63 is written off: $5,000 of reserves absorb all of it (the
    lenders' share price does not move); $1,000 do not, and the lenders
    lose the rest."""
    _seized, _repaid, lost, _feed = crashed
    mint_stable(market, reserves_usd * USD)
    market.book_surplus(sender=owner)  # the donation becomes reserves
    assert market.market_state()[2] == reserves_usd * USD
    market.supply_collateral(collaterals["fund_a"].token, 1, borrower, sender=attacker)
    from_reserves = min(lost, reserves_usd * USD)
    assets_before = market.totalAssets()
    share_price = market.convertToAssets(SHARE)

    tx = liquidate_all()

    written_off = market.BadDebt(
        borrower=borrower,
        amount=lost,
        from_reserves=from_reserves,
        socialized=lost - from_reserves,
    )
    assert written_off in tx.events
    assert market.market_state()[2] == reserves_usd * USD - from_reserves
    assert market.totalAssets() == assets_before - (lost - from_reserves)
    assert (market.convertToAssets(SHARE) == share_price) == (from_reserves == lost)
