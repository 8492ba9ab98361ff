"""Regression: boundary maths (spec, hole 5 and the maxRedeem dust case),
and the liquidation boundaries that must not move.

The class: lending exploits and losses that live on an edge of the maths
rather than in its body. Interest accrued from a stale timestamp applies
a new rate retroactively (Compound's ``accrueInterest`` moves its accrual
block on every call, interest or not, so that a rate change only applies
forward); ERC-4626 vaults whose ``maxRedeem`` promised shares that
``redeem`` then refused broke the integrators that trust it (EIP-4626:
"MUST NOT be higher than the actual maximum that would be accepted");
an off-by-one in the health-factor or close-factor comparison liquidates
healthy borrowers or lets a 50 % rule take everything; a collateral listed
with threshold x (1 + bonus) >= 1 makes every liquidation create a
deficit (the invariant Aave's configurator enforces on every reserve).

The holes (old code):
- hole 5: ``_accrue`` stored the new accrual time only when interest was
  non-zero. Under a 0 % curve the time stood still, so after 180 days
  ``set_rates`` to a real curve charged the new rate back over all 180
  days: $80,000 of debt jumped to about $81,400 in the block of the
  change. ``test_set_rates__after_180_days_at_zero__no_retroactive_interest``
  FAILS there (seen: debt about 81,400 USD in the block of the change;
  the borrow index moved off 1.0).
- maxRedeem: it returned min(balance, cash in shares) even when those
  shares are worth 0 assets (a lender's dust below 10^6 share units, the
  6 extra decimals), and ``redeem`` refuses those ("market: zero
  assets"). ``test_max_redeem__dust_worth_zero_assets__is_zero`` FAILS
  there (seen: maxRedeem 999,999).

Already right on the old code, and pinned here (pass on either): a
non-dust balance gets its full maxRedeem and redeem accepts it; a health
factor of exactly 1 is not liquidatable and one unit under is; at HF 0.95
the 50 % close factor holds and just under it the whole debt may be
repaid (``preview_liquidation``); listing with threshold x (1 + bonus)
>= 1 is refused "market: threshold x bonus >= 1". A vulnerable variant
(``<=`` for ``<`` in either comparison, or the listing check dropped)
fails them."""

import ape
import pytest
from navlend.constants import WAD

USD = 10**6
MAX = 2**256 - 1
DAY = 86_400
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}
MAX_AGE = 100 * 3_600


# ---- hole 5: a rate change is not retroactive ----


def test_set_rates__after_180_days_at_zero__no_retroactive_interest(
    market, owner, collaterals, lend, open_position, borrower, advance
):
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(100_000 * USD)
    open_position(collaterals["fund_a"], borrower, 10_000 * 10**6, 80_000 * USD)
    advance(180 * DAY)
    assert market.debt_of(borrower) == 80_000 * USD  # 0 %: nothing owed yet

    tx = market.set_rates(0, 4 * WAD // 100, 60 * WAD // 100, 9_000, 1_000, sender=owner)

    block = tx.block_number
    debt = market.debt_of(borrower, block_id=block)
    assert debt == 80_000 * USD, f"new rate charged back over 180 days: {debt / USD:,.2f} USD"
    assert market.market_state(block_id=block)[3] == WAD  # borrow index untouched
    # From here on interest runs at the new rate, forward only.
    advance(DAY)
    assert 80_000 * USD < market.debt_of(borrower) < 80_000 * USD + 20 * USD


def test_set_rates__while_interest_accrues__charges_the_old_rate_up_to_the_change(
    market, owner, collaterals, lend, open_position, borrower, advance
):
    """Control (passes on either code): under a non-zero curve the change
    accrues at the old rate first (an AccrueInterest event), then the new
    rate runs only forward: no jump in the block of the change."""
    lend(100_000 * USD)
    open_position(collaterals["fund_a"], borrower, 10_000 * 10**6, 80_000 * USD)
    advance(180 * DAY)

    tx = market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)

    block = tx.block_number
    accrued = [log for log in tx.events.filter(market.AccrueInterest)]
    assert len(accrued) == 1
    assert market.market_state(block_id=block)[3] == accrued[0].borrow_index > WAD
    debt = market.debt_of(borrower, block_id=block)
    assert 80_000 * USD < debt < 82_000 * USD
    advance(180 * DAY)
    assert market.debt_of(borrower) == debt  # 0 % from the change on


# ---- maxRedeem never promises what redeem refuses ----


@pytest.fixture
def lenders(market, lend, lender, lender2):
    """``lender2`` lends $1M and ``lender`` $1,000 into a fresh market (one
    lender share unit is a millionth of a base unit). Returns the lender's
    shares."""
    lend(1_000_000 * USD, lender2)
    lend(1_000 * USD, lender)
    return market.balanceOf(lender)


def test_max_redeem__dust_worth_zero_assets__is_zero(market, lender, lenders):
    """The lender redeems all but 999,999 share units: worth 0 assets, which
    ``redeem`` refuses, so ``maxRedeem`` must not offer them."""
    market.redeem(lenders - 999_999, lender, lender, sender=lender)
    assert market.balanceOf(lender) == 999_999
    assert market.convertToAssets(999_999) == 0
    with ape.reverts("market: zero assets"):
        market.redeem(999_999, lender, lender, sender=lender)

    max_redeem = market.maxRedeem(lender)

    assert max_redeem == 0, f"maxRedeem offers {max_redeem} share units that redeem refuses"
    assert market.previewRedeem(max_redeem) == 0
    assert market.maxWithdraw(lender) == 0


@pytest.mark.parametrize(
    "left", [1_000_000, 1_999_999, 10**12], ids=["one_unit", "under_two_units", "one_usd"]
)
def test_max_redeem__balance_worth_assets__offered_in_full_and_redeemable(
    market, stablecoin, lender, lenders, left
):
    market.redeem(lenders - left, lender, lender, sender=lender)
    assert market.previewRedeem(left) >= 1

    assert market.maxRedeem(lender) == left

    preview, cash = market.previewRedeem(left), stablecoin.balanceOf(lender)
    tx = market.redeem(market.maxRedeem(lender), lender, lender, sender=lender)
    assert tx.return_value == preview
    assert stablecoin.balanceOf(lender) == cash + tx.return_value
    assert market.balanceOf(lender) == 0


# ---- liquidation boundaries ----


@pytest.fixture
def boundary(
    market,
    owner,
    collateral,
    lend,
    borrower,
    liquidator,
    stablecoin,
    mint_stable,
    give_collateral,
    set_price,
):
    """``boundary(target_price, debt_of_l)``: under a flat curve, the
    borrower posts $10,000 of ``collateral`` (at the base price) and, with
    the price doubled, borrows ``debt_of_l(L)``, L being its liquidation
    value at ``target_price``; the feed is then moved to ``target_price``.
    Returns the feed."""

    def go(target_price: int, debt_of_l):
        market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
        lend(1_000_000 * USD)
        mint_stable(liquidator, 100_000 * USD)
        stablecoin.approve(market, MAX, sender=liquidator)
        feed = set_price(collateral, BASE_PRICE[collateral.name])
        worth = 10_000 * 10 ** (collateral.decimals + 8) // BASE_PRICE[collateral.name]
        amount = give_collateral(collateral, borrower, worth)
        market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
        feed.set_answer(target_price, 0, sender=owner)
        at_target = market.position(borrower).liquidation_value
        feed.set_answer(2 * BASE_PRICE[collateral.name], 0, sender=owner)
        market.borrow(debt_of_l(at_target), borrower, borrower, sender=borrower)
        feed.set_answer(target_price, 0, sender=owner)
        return feed

    return go


def test_liquidate__health_factor_exactly_one__refused_one_unit_under__allowed(
    market, owner, collateral, borrower, liquidator, boundary
):
    """Debt equal to the liquidation value at 90 % of the price: HF is
    exactly 1.0 there and the position is healthy; one price unit lower
    (1e-8 USD) it is liquidatable."""
    price = BASE_PRICE[collateral.name] * 9 // 10
    feed = boundary(price, lambda value_at_threshold: value_at_threshold)
    position = market.position(borrower)
    assert position.health_factor == WAD
    assert market.preview_liquidation(borrower, collateral.token, MAX) == (0, 0)
    with ape.reverts("market: position healthy"):
        market.liquidate(borrower, collateral.token, MAX, 0, False, liquidator, sender=liquidator)

    feed.set_answer(price - 1, 0, sender=owner)

    assert market.position(borrower).health_factor < WAD
    tx = market.liquidate(borrower, collateral.token, MAX, 0, False, liquidator, sender=liquidator)
    assert market.Liquidate(borrower=borrower, repaid=tx.return_value[0]) in tx.events
    assert tx.return_value[0] == position.debt // 2  # HF 0.9999...: the 50 % close factor


def test_preview_liquidation__health_factor_095__half_just_under__all(
    market, owner, collateral, borrower, liquidator, boundary
):
    """The debt is set so that HF is 0.95 (to rounding, never under) at 95 %
    of the price: the close factor is 50 %. One price unit lower the HF is
    under 0.95 and the whole debt may be repaid."""
    price = BASE_PRICE[collateral.name] * 95 // 100
    feed = boundary(price, lambda value_at_threshold: value_at_threshold * 20 // 19)
    debt = market.debt_of(borrower)
    hf = market.position(borrower).health_factor
    assert 95 * 10**16 <= hf < 95 * 10**16 + 10**12

    assert market.preview_liquidation(borrower, collateral.token, MAX)[0] == debt // 2

    feed.set_answer(price - 1, 0, sender=owner)

    assert market.position(borrower).health_factor < 95 * 10**16
    repaid, seized = market.preview_liquidation(borrower, collateral.token, MAX)
    assert repaid == debt
    tx = market.liquidate(borrower, collateral.token, MAX, 0, False, liquidator, sender=liquidator)
    assert tx.return_value[:2] == (repaid, seized)
    assert market.Liquidate(borrower=borrower, repaid=debt, scaled_debt=0) in tx.events
    assert market.debt_of(borrower) == 0


# ---- listing: threshold x (1 + bonus) < 1 ----


@pytest.fixture
def new_asset(owner, project):
    """An unlisted 18-decimal token and a $1.00 feed."""
    token = owner.deploy(project.MockERC20, "New fund", "NEW", 18)
    feed = owner.deploy(project.MockAggregator, 8, 10**8)
    return token, feed


@pytest.mark.parametrize(
    "threshold_bps,bonus_bps",
    [(9_700, 310), (9_000, 1_200), (8_400, 2_000)],
    ids=["just_over", "well_over", "max_bonus"],
)
def test_list_asset__threshold_times_bonus_at_least_one__refused(
    market, owner, new_asset, threshold_bps, bonus_bps
):
    token, feed = new_asset
    assert threshold_bps * (10_000 + bonus_bps) >= 10_000**2
    with ape.reverts("market: threshold x bonus >= 1"):
        market.list_asset(
            token, feed, 8_000, threshold_bps, bonus_bps, 2**120 - 1, 0, MAX_AGE, sender=owner
        )
    with ape.reverts("market: threshold x bonus >= 1"):
        market.set_asset_risk(market.asset_at(0), 8_000, threshold_bps, bonus_bps, sender=owner)


def test_list_asset__threshold_times_bonus_just_under_one__listed(market, owner, new_asset):
    token, feed = new_asset
    assert 9_700 * (10_000 + 309) < 10_000**2

    tx = market.list_asset(token, feed, 8_000, 9_700, 309, 2**120 - 1, 0, MAX_AGE, sender=owner)

    risk = market.AssetRiskSet(token=token, ltv_bps=8_000, threshold_bps=9_700, bonus_bps=309)
    assert risk in tx.events
    config = market.asset_config(token)
    assert (config.threshold_bps, config.bonus_bps) == (9_700, 309)
