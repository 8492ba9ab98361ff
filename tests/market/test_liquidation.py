"""The liquidation matrix: when a position may be liquidated (health
factor below 1), how much (close factor 50 % or 100 %, dust trims and the
cleared-side exceptions), what the liquidator gets on each route (shares,
or the base asset through the asset's facility), what can stop a route
(facility out of liquidity or paused, receiver not allowlisted, min_out),
stale and capped prices, the protocol's fee share, and bad arguments.

Every position is opened under a flat 0 % curve with $1M lent, so debts
and values are exact; the market's feed is a settable mock, while the
facilities keep paying at their own NAV. Bad debt is in test_bad_debt.py;
the liquidation pause and grace period are in test_pause.py."""

import ape
import pytest
from navlend.constants import BPS

USD = 10**6
MAX = 2**256 - 1
# Listing defaults: threshold 90 %, bonus 3 %, oracle age 100 hours.
THRESHOLD_BPS = 9_000
BONUS_BPS = 300
MAX_AGE = 100 * 3_600
# Dust floor (market default).
DUST = 1_000 * USD
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}


def units(c, usd: int) -> int:
    """The amount of ``c`` worth ``usd`` dollars at BASE_PRICE."""
    return usd * 10 ** (c.decimals + 8) // BASE_PRICE[c.name]


def value(c, amount: int, price: int) -> int:
    """Base units ``amount`` of ``c`` is worth at ``price`` (rounded down)."""
    return amount * price // 10 ** (c.decimals + 2)


def seizure(c, repaid: int, price: int) -> int:
    """Collateral worth ``repaid`` x (1 + bonus) at ``price``, rounded down."""
    return repaid * (BPS + BONUS_BPS) * 10 ** (c.decimals + 2) // (BPS * price)


def price_for_hf(c, amount: int, debt: int, hf_bps: int) -> int:
    """The price at which ``amount`` backing ``debt`` has a health factor of
    ``hf_bps`` (just under it, by rounding)."""
    return debt * hf_bps * 10 ** (c.decimals + 2) // (amount * THRESHOLD_BPS)


def prefix(c) -> str:
    """Whose reason a refused transfer of ``c`` carries."""
    return "fund" if c.name == "fund_a" else "wrapper"


def liquidate(market, c, borrower, caller, max_repay=MAX, min_out=0, redeem=False, receiver=None):
    """``caller`` liquidates ``borrower``'s ``c`` to ``receiver`` (default:
    the caller)."""
    return market.liquidate(
        borrower, c.token, max_repay, min_out, redeem, receiver or caller, sender=caller
    )


@pytest.fixture
def books(market, owner, stablecoin, lend, mint_stable, liquidator):
    """$1M lent under a flat 0 % curve; the liquidator holds $1M, approved."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(1_000_000 * USD)
    mint_stable(liquidator, 1_000_000 * USD)
    stablecoin.approve(market, MAX, sender=liquidator)


@pytest.fixture
def open_at(market, borrower, open_position, set_price, books):
    """``open_at(c, amount, price, debt)``: ``borrower`` posts ``amount`` of
    ``c`` priced at ``price`` and borrows ``debt``; returns the feed."""

    def go(c, amount: int, price: int, debt: int):
        feed = set_price(c, price)
        open_position(c, borrower, amount, debt)
        return feed

    return go


@pytest.fixture
def unhealthy(owner, collateral, open_at):
    """``unhealthy(hf_bps, collateral_usd=10_000, debt_usd=8_500)``: opens a
    position on ``collateral`` at BASE_PRICE and moves its price to that
    health factor; returns (price, amount, debt)."""

    def go(hf_bps: int, collateral_usd: int = 10_000, debt_usd: int = 8_500):
        amount = units(collateral, collateral_usd)
        feed = open_at(collateral, amount, BASE_PRICE[collateral.name], debt_usd * USD)
        price = price_for_hf(collateral, amount, debt_usd * USD, hf_bps)
        feed.set_answer(price, 0, sender=owner)
        return price, amount, debt_usd * USD

    return go


# ---- when, and how much ----


@pytest.mark.parametrize(
    "price,healthy", [(8_888_888_889, True), (8_888_888_888, False)], ids=["hf_1", "below_1"]
)
def test_liquidate__health_factor_one__healthy_one_unit_below__liquidatable(
    market, owner, collateral, borrower, liquidator, open_at, price, healthy
):
    """100 shares backing $8,000: at $88.88888889 a share the value at the
    threshold is exactly $8,000 (health factor 1)."""
    feed = open_at(collateral, 100 * collateral.unit, 100 * 10**8, 8_000 * USD)
    feed.set_answer(price, 0, sender=owner)
    if healthy:
        assert market.position(borrower).health_factor == 10**18
        with ape.reverts("market: position healthy"):
            liquidate(market, collateral, borrower, liquidator)
    else:
        assert market.position(borrower).health_factor < 10**18
        assert liquidate(market, collateral, borrower, liquidator).return_value[0] == 4_000 * USD


def test_liquidate__above_hf_095__repays_half_and_pays_shares_with_the_bonus(
    market, stablecoin, collateral, borrower, liquidator, unhealthy
):
    price, amount, debt = unhealthy(9_800)
    held = stablecoin.balanceOf(liquidator)
    repaid = debt // 2
    seized = seizure(collateral, repaid, price)

    tx = liquidate(market, collateral, borrower, liquidator)

    assert tx.return_value == (repaid, seized, seized)
    assert collateral.token.balanceOf(liquidator) == seized
    assert stablecoin.balanceOf(liquidator) == held - repaid
    assert market.debt_of(borrower) == debt - repaid
    assert market.collateral_of(borrower, collateral.token) == amount - seized
    assert market.asset_config(collateral.token).total_supplied == amount - seized
    assert (
        market.Liquidate(
            liquidator=liquidator,
            borrower=borrower,
            token=collateral.token,
            receiver=liquidator,
            repaid=repaid,
            seized=seized,
            protocol_fee=0,
            payout=seized,
            scaled_debt=debt - repaid,
            collateral=amount - seized,
        )
        in tx.events
    )


def test_liquidate__less_than_half_asked__repays_what_was_asked(
    market, collateral, borrower, liquidator, unhealthy
):
    price, _amount, debt = unhealthy(9_800)
    tx = liquidate(market, collateral, borrower, liquidator, max_repay=1_234 * USD)
    assert tx.return_value == (
        1_234 * USD,
        seizure(collateral, 1_234 * USD, price),
        seizure(collateral, 1_234 * USD, price),
    )
    assert market.debt_of(borrower) == debt - 1_234 * USD


@pytest.mark.parametrize(
    "price,repaid",
    [(8_444_444_445, 4_000 * USD), (8_444_444_444, 8_000 * USD)],
    ids=["hf_095_half", "below_095_all"],
)
def test_liquidate__close_factor__half_at_hf_095_all_below(
    market, owner, collateral, borrower, liquidator, open_at, price, repaid
):
    """100 shares backing $8,000: at $84.44444445 the value at the threshold
    is exactly $7,600 (HF 0.95, close factor 50 %); one unit lower, the
    whole debt may be repaid. A full close may leave less collateral than
    the dust floor: the debt side is cleared."""
    feed = open_at(collateral, 100 * collateral.unit, 100 * 10**8, 8_000 * USD)
    feed.set_answer(price, 0, sender=owner)
    tx = liquidate(market, collateral, borrower, liquidator)
    assert tx.return_value[0] == repaid
    assert market.debt_of(borrower) == 8_000 * USD - repaid
    left = market.collateral_of(borrower, collateral.token)
    assert left == 100 * collateral.unit - seizure(collateral, repaid, price)
    if repaid == 8_000 * USD:
        assert 0 < value(collateral, left, price) < DUST
        assert market.position(borrower).scaled_debt == 0


@pytest.mark.parametrize(
    "debt_usd,repaid_usd", [(1_999, 1_999), (2_000, 1_000)], ids=["under_2000", "at_2000"]
)
def test_liquidate__small_debt__closes_in_full_under_2000(
    market, collateral, borrower, liquidator, unhealthy, debt_usd, repaid_usd
):
    """At HF 0.98, with about $2,177 of collateral (over the $2,000
    threshold): a debt under $2,000 may be repaid in full, $2,000 only
    half."""
    price, amount, debt = unhealthy(9_800, collateral_usd=2_400, debt_usd=debt_usd)
    assert value(collateral, amount, price) > 2_000 * USD
    tx = liquidate(market, collateral, borrower, liquidator)
    assert tx.return_value[:2] == (repaid_usd * USD, seizure(collateral, repaid_usd * USD, price))
    assert market.debt_of(borrower) == debt - repaid_usd * USD


def test_liquidate__debt_under_the_floor__partial_refused_full_close_passes(
    market, collateral, borrower, liquidator, unhealthy
):
    """$900 of debt cannot be partly repaid and leave the $1,000 floor: a
    partial liquidation is trimmed to nothing and refused; the full close
    clears the debt side."""
    _price, _amount, debt = unhealthy(9_800, collateral_usd=1_100, debt_usd=900)
    with ape.reverts("market: nothing to liquidate"):
        liquidate(market, collateral, borrower, liquidator, max_repay=500 * USD)
    assert liquidate(market, collateral, borrower, liquidator).return_value[0] == debt
    assert market.debt_of(borrower) == 0


def test_liquidate__small_collateral__seizes_it_all_past_half_the_debt(
    market, owner, collaterals, borrower, liquidator, open_at, give_collateral, set_price
):
    """$3,000 of debt, HF 0.97, fund A worth $1,800 (under the $2,000
    threshold) beside the wrapper: all the fund A may go, for more than
    half the debt; what is left of the debt may be under the floor, the
    collateral side being cleared."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    w = give_collateral(wrapper, borrower, units(wrapper, 2_000))
    market.supply_collateral(wrapper.token, w, borrower, sender=borrower)
    wrapper_feed = set_price(wrapper, BASE_PRICE["wrapper"])
    a = units(fund_a, 1_800)
    open_at(fund_a, a, BASE_PRICE["fund_a"], 3_000 * USD)
    # 0.9 x (1,800 + W) = 0.97 x 3,000  =>  W = $1,433.33
    wrapper_feed.set_answer(1_433_333_333 * 10**20 // w, 0, sender=owner)
    assert 0.96 * 10**18 < market.position(borrower).health_factor < 10**18

    repaid, seized, _ = liquidate(market, fund_a, borrower, liquidator).return_value

    assert seized == a
    assert repaid == -(-1_800 * USD * BPS // (BPS + BONUS_BPS))
    assert repaid > 1_500 * USD
    assert market.position(borrower).assets_bitmap == 4


def test_liquidate__collateral_cleared__leaves_debt_under_the_floor(
    market, owner, collaterals, borrower, liquidator, open_at, give_collateral, set_price
):
    """Fund A worth $2,900 and the wrapper $200 back $3,000 (HF 0.93):
    seizing all the fund A leaves $184 of debt, under the floor, which the
    cleared collateral side allows."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    set_price(wrapper, BASE_PRICE["wrapper"])
    w = give_collateral(wrapper, borrower, units(wrapper, 200))
    market.supply_collateral(wrapper.token, w, borrower, sender=borrower)
    feed = open_at(fund_a, units(fund_a, 3_400), BASE_PRICE["fund_a"], 3_000 * USD)
    feed.set_answer(BASE_PRICE["fund_a"] * 29 // 34, 0, sender=owner)

    repaid, _seized, _ = liquidate(market, fund_a, borrower, liquidator).return_value

    assert market.collateral_of(borrower, fund_a.token) == 0
    assert 0 < market.debt_of(borrower) == 3_000 * USD - repaid < DUST
    assert market.collateral_of(borrower, wrapper.token) == w


# ---- dust: partial liquidations are trimmed to the floor ----


def test_liquidate__would_leave_dust_debt__trimmed_to_leave_the_floor(
    market, collateral, borrower, liquidator, unhealthy
):
    """HF 0.94 (all may be repaid); asking for all but $500 repays all but
    $1,000 instead."""
    price, _amount, debt = unhealthy(9_400)
    tx = liquidate(market, collateral, borrower, liquidator, max_repay=debt - 500 * USD)
    assert tx.return_value[:2] == (debt - DUST, seizure(collateral, debt - DUST, price))
    assert market.debt_of(borrower) == DUST


def test_liquidate__would_leave_dust_collateral__trimmed_to_leave_the_floor(
    market, collateral, borrower, liquidator, unhealthy
):
    """HF 0.92, $8,689 of collateral: repaying $7,490 would seize $7,715
    and leave $974; the repayment is cut so that $1,000 stays (to one base
    unit below, as value rounds down; above it, by less than one unit of
    the collateral's worth)."""
    price, amount, debt = unhealthy(9_200)
    repaid, seized, _ = liquidate(
        market, collateral, borrower, liquidator, max_repay=7_490 * USD
    ).return_value
    left = value(collateral, amount - seized, price)
    assert repaid < 7_490 * USD
    assert DUST - 1 <= left <= DUST + value(collateral, 1, price) + 2
    assert seized == seizure(collateral, repaid, price)
    assert market.debt_of(borrower) == debt - repaid > DUST


def test_liquidate__preview__matches_the_liquidation(
    market, collateral, borrower, liquidator, unhealthy
):
    unhealthy(9_200)
    preview = market.preview_liquidation(borrower, collateral.token, 7_490 * USD)
    assert (
        liquidate(market, collateral, borrower, liquidator, max_repay=7_490 * USD).return_value[:2]
        == preview
    )


# ---- routes ----


def test_liquidate__redeem_route__pays_the_base_asset_at_the_facility_nav(
    market, stablecoin, collateral, borrower, liquidator, unhealthy
):
    price, _amount, debt = unhealthy(9_800)
    seized = seizure(collateral, debt // 2, price)
    payout = collateral.facility.preview_redeem(seized)
    held = stablecoin.balanceOf(liquidator)

    tx = liquidate(market, collateral, borrower, liquidator, redeem=True)

    assert tx.return_value == (debt // 2, seized, payout)
    assert stablecoin.balanceOf(liquidator) == held - debt // 2 + payout
    assert collateral.token.balanceOf(liquidator) == 0
    assert (
        market.Liquidate(receiver=liquidator, repaid=debt // 2, seized=seized, payout=payout)
        in tx.events
    )


@pytest.mark.parametrize("trouble", ["drained", "paused"])
def test_liquidate__facility_unable__redeem_route_reverts_share_route_works(
    market, owner, world, collateral, borrower, liquidator, unhealthy, trouble
):
    price, _amount, debt = unhealthy(9_800)
    # The wrapper's facility redeems through fund B's.
    facility = world.facility_a if collateral.name == "fund_a" else world.facility_b
    if trouble == "drained":
        facility.withdraw_liquidity(facility.available_liquidity() - USD, owner, sender=owner)
        reason = "facility: insufficient liquidity"
    else:
        facility.pause(sender=owner)
        reason = "facility: paused"
    with ape.reverts(reason):
        liquidate(market, collateral, borrower, liquidator, redeem=True)
    liquidate(market, collateral, borrower, liquidator)
    assert collateral.token.balanceOf(liquidator) == seizure(collateral, debt // 2, price)


def test_liquidate__outsider__share_route_reverts_redeem_route_pays_and_self_funds(
    market, stablecoin, collateral, borrower, outsider, unhealthy
):
    """An account no fund allowlists cannot take the shares, but may
    liquidate through the facility. The repayment is pulled after the
    payout, so it needs no cash of its own."""
    price, _amount, debt = unhealthy(9_800)
    stablecoin.approve(market, MAX, sender=outsider)
    with ape.reverts(f"{prefix(collateral)}: receiver not allowlisted"):
        liquidate(market, collateral, borrower, outsider)
    payout = collateral.facility.preview_redeem(seizure(collateral, debt // 2, price))
    assert payout > debt // 2
    liquidate(market, collateral, borrower, outsider, redeem=True)
    assert stablecoin.balanceOf(outsider) == payout - debt // 2


def test_liquidate__min_out__both_routes_revert_below_and_pass_at_it(
    market, collateral, borrower, liquidator, unhealthy
):
    price, _amount, debt = unhealthy(9_800)
    seized = seizure(collateral, debt // 2, price)
    payout = collateral.facility.preview_redeem(seized)
    with ape.reverts("market: slippage"):
        liquidate(market, collateral, borrower, liquidator, min_out=seized + 1)
    with ape.reverts("facility: slippage"):
        liquidate(market, collateral, borrower, liquidator, min_out=payout + 1, redeem=True)
    assert (
        liquidate(market, collateral, borrower, liquidator, min_out=seized).return_value[2]
        == seized
    )


# ---- prices ----


def test_liquidate__stale_price__runs_at_the_last_price(
    market, chain, owner, collateral, borrower, liquidator, open_at
):
    amount = units(collateral, 10_000)
    feed = open_at(collateral, amount, BASE_PRICE[collateral.name], 8_500 * USD)
    price = price_for_hf(collateral, amount, 8_500 * USD, 9_800)
    feed.set_answer(price, chain.blocks.head.timestamp - MAX_AGE - 1, sender=owner)
    assert market.asset_price(collateral.token) == (price, True)
    tx = liquidate(market, collateral, borrower, liquidator)
    assert tx.return_value[:2] == (4_250 * USD, seizure(collateral, 4_250 * USD, price))


def test_liquidate__price_cap__values_and_seizes_at_the_cap(
    market, owner, collateral, borrower, liquidator, open_at
):
    """The oracle stays at $10.00 / $1.00; a cap 10 % lower makes the
    position unhealthy (HF 0.95) and prices the seizure."""
    base = BASE_PRICE[collateral.name]
    open_at(collateral, units(collateral, 10_000), base, 8_500 * USD)
    cap = base * 9 // 10
    market.set_asset_limits(collateral.token, 2**120 - 1, cap, MAX_AGE, sender=owner)
    tx = liquidate(market, collateral, borrower, liquidator)
    assert tx.return_value[1] == seizure(collateral, 4_250 * USD, cap)
    assert tx.return_value[1] > seizure(collateral, 4_250 * USD, base)


def test_liquidate__frozen_asset__still_liquidatable(
    market, guardian, collateral, borrower, liquidator, unhealthy
):
    _price, _amount, debt = unhealthy(9_800)
    market.set_asset_frozen(collateral.token, True, sender=guardian)
    assert liquidate(market, collateral, borrower, liquidator).return_value[0] == debt // 2


# ---- protocol fee ----


def test_liquidate__protocol_fee__share_of_the_bonus_credited_to_the_treasury(
    market, owner, collateral, borrower, liquidator, treasury, unhealthy
):
    """A 10 % share of the bonus part of the seizure stays in the market as
    the treasury's collateral, which it may withdraw."""
    price, amount, debt = unhealthy(9_800)
    market.set_fees(5, 1_000, sender=owner)
    seized = seizure(collateral, debt // 2, price)
    bonus_part = seized - -(-seized * BPS // (BPS + BONUS_BPS))
    fee = bonus_part * 1_000 // BPS
    assert fee > 0

    tx = liquidate(market, collateral, borrower, liquidator)

    assert tx.return_value == (debt // 2, seized, seized - fee)
    assert collateral.token.balanceOf(liquidator) == seized - fee
    assert market.collateral_of(treasury, collateral.token) == fee
    assert market.asset_config(collateral.token).total_supplied == amount - seized + fee
    assert market.Liquidate(seized=seized, protocol_fee=fee, payout=seized - fee) in tx.events
    market.withdraw_collateral(collateral.token, fee, treasury, treasury, sender=treasury)
    assert collateral.token.balanceOf(treasury) == fee


# ---- bad arguments ----


def test_liquidate__bad_arguments__revert(
    market, owner, collaterals, stablecoin, borrower, borrower2, liquidator, open_at
):
    """On fund A only: these checks come before any amount is worked out."""
    fund_a, fund_c = collaterals["fund_a"], collaterals["fund_c"]
    feed = open_at(fund_a, units(fund_a, 10_000), BASE_PRICE["fund_a"], 8_500 * USD)
    feed.set_answer(BASE_PRICE["fund_a"] * 9 // 10, 0, sender=owner)
    with ape.reverts("market: no debt"):
        liquidate(market, fund_a, borrower2, liquidator)
    with ape.reverts("market: no such collateral"):
        liquidate(market, fund_c, borrower, liquidator)
    with ape.reverts("market: asset not listed"):
        market.liquidate(borrower, stablecoin, MAX, 0, False, liquidator, sender=liquidator)
    with ape.reverts("market: zero address"):
        market.liquidate(
            borrower, fund_a.token, MAX, 0, False, ape.utils.ZERO_ADDRESS, sender=liquidator
        )
    with ape.reverts("market: nothing to liquidate"):
        liquidate(market, fund_a, borrower, liquidator, max_repay=0)
