"""The issuer takes shares the market holds: seize and burn, then the sync.

An issuer can burn or force-transfer any holder's shares, the market's
included (FundToken's `burn` and `seize`; Superstate's `adminBurn`). The
market then holds fewer units than its books say. `sync_asset` (anyone)
makes the books recognise it: every booked unit is then worth the ratio of
the balance to the books, in its price and in what leaves the market, so
no withdrawal or liquidation reverts on the missing balance, and the loss
falls on the asset's holders pro rata. A sync that finds a new loss
freezes the asset; it cannot be unfrozen while short.

Both fund decimals run: fund A (6) and fund C (18). Prices come from a
settable feed at $10.00 a share (fund A) or $1.00 (fund C).
"""

import ape
import pytest
from navlend.constants import WAD

USD = 10**6
PRICE = {"fund_a": 10 * 10**8, "fund_c": 10**8}


# Every test runs at both decimals. The setup runs inside the test (session
# factories, not parametrized fixtures), so Ape's per-test snapshot undoes it.
FUNDS = pytest.mark.parametrize("name", ["fund_a", "fund_c"])


@pytest.fixture(scope="session")
def priced_fund(collaterals, set_price, market, owner, lend):
    """``priced_fund(name)``: a NAV fund priced by a settable feed, with $1M
    lent under a flat 0 % curve."""

    def go(name: str):
        c = collaterals[name]
        set_price(c, PRICE[c.name])
        market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
        lend(1_000_000 * USD)
        return c

    return go


@pytest.fixture(scope="session")
def posted_fund(priced_fund, open_position, borrower, borrower2):
    """``posted_fund(name)``: ``borrower`` posts 100 shares and ``borrower2``
    300, no debt."""

    def go(name: str):
        fund = priced_fund(name)
        open_position(fund, borrower, 100 * fund.unit, 0)
        open_position(fund, borrower2, 300 * fund.unit, 0)
        return fund

    return go


@pytest.fixture(scope="session")
def short_fund(posted_fund, market, issuer, outsider):
    """``short_fund(name)``: ``posted_fund``, then the issuer burns 10 % of
    the market's 400 shares and an outsider syncs (ratio 0.9)."""

    def go(name: str):
        fund = posted_fund(name)
        _short(market, issuer, fund, 40)
        market.sync_asset(fund.token, sender=outsider)
        return fund

    return go


def _short(market, issuer, fund, units: int):
    """The issuer burns ``units`` whole shares of the market's balance."""
    fund.token.burn(market, units * fund.unit, sender=issuer)


# ---- sync_asset ----


@FUNDS
def test_sync_asset__books_match__ratio_one_nothing_frozen(market, outsider, posted_fund, name):
    posted = posted_fund(name)
    # Anyone may sync, a party the fund never admitted included.
    tx = market.sync_asset(posted.token, sender=outsider)
    booked = 400 * posted.unit
    assert market.AssetSynced(token=posted.token, booked=booked, balance=booked, ratio=WAD) in tx.events
    assert not [e for e in tx.events if e.event_name == "AssetFrozen"]
    assert market.asset_ratio(posted.token) == WAD
    assert not market.asset_config(posted.token).frozen


@FUNDS
def test_sync_asset__issuer_burns_market_shares__ratio_set_asset_frozen(
    market, issuer, outsider, posted_fund, name
):
    posted = posted_fund(name)
    price = market.asset_price(posted.token)[0]
    _short(market, issuer, posted, 40)  # 10 % of 400
    tx = market.sync_asset(posted.token, sender=outsider)
    ratio = 9 * 10**17
    assert market.AssetFrozen(token=posted.token, frozen=True) in tx.events
    assert (
        market.AssetSynced(token=posted.token, booked=400 * posted.unit, balance=360 * posted.unit, ratio=ratio)
        in tx.events
    )
    assert market.asset_ratio(posted.token) == ratio
    assert market.asset_config(posted.token).frozen
    # A booked unit is priced at what it really holds (rounded down).
    assert market.asset_price(posted.token)[0] == price * ratio // WAD
    # Syncing again finds no new loss: no second freeze.
    again = market.sync_asset(posted.token, sender=outsider)
    assert not [e for e in again.events if e.event_name == "AssetFrozen"]
    assert market.asset_ratio(posted.token) == ratio


@FUNDS
def test_sync_asset__issuer_seizes_market_shares__same_as_a_burn(
    market, issuer, treasury, outsider, posted_fund, name
):
    posted = posted_fund(name)
    tx = posted.token.seize(market, treasury, 100 * posted.unit, sender=issuer)
    assert posted.token.Seized(source=market, receiver=treasury, amount=100 * posted.unit) in tx.events
    market.sync_asset(posted.token, sender=outsider)
    assert market.asset_ratio(posted.token) == 3 * 10**17 * 10 // 4  # 300 / 400


@FUNDS
def test_sync_asset__donation__ratio_stays_one(market, give_collateral, attacker, posted_fund, name):
    posted = posted_fund(name)
    give_collateral(posted, attacker, 50 * posted.unit)
    posted.token.transfer(market, 50 * posted.unit, sender=attacker)
    tx = market.sync_asset(posted.token, sender=attacker)
    assert market.AssetSynced(balance=450 * posted.unit, booked=400 * posted.unit, ratio=WAD) in tx.events
    assert market.asset_ratio(posted.token) == WAD
    assert not market.asset_config(posted.token).frozen


def test_sync_asset__unlisted_token__reverts(market, fund_b, outsider):
    with ape.reverts("market: asset not listed"):
        market.sync_asset(fund_b, sender=outsider)


@FUNDS
def test_sync_asset__shares_given_back__ratio_cleared_and_unfreeze_allowed(
    market, issuer, owner, outsider, mint_fund, short_fund, name
):
    posted = short_fund(name)
    with ape.reverts("market: asset short"):
        market.set_asset_frozen(posted.token, False, sender=owner)
    assert market.asset_config(posted.token).frozen

    # The issuer restores the shares: the books are whole again.
    mint_fund(posted.token, market, 40 * posted.unit)
    tx = market.sync_asset(posted.token, sender=outsider)
    assert market.AssetSynced(ratio=WAD, balance=400 * posted.unit) in tx.events
    assert market.asset_ratio(posted.token) == WAD
    tx = market.set_asset_frozen(posted.token, False, sender=owner)
    assert market.AssetFrozen(token=posted.token, frozen=False) in tx.events


# ---- what leaves the market ----


@FUNDS
def test_withdraw_collateral__after_sync__each_holder_gets_its_share(
    market, borrower, borrower2, short_fund, name
):
    posted = short_fund(name)
    before = posted.token.balanceOf(borrower)
    tx = market.withdraw_collateral(posted.token, 100 * posted.unit, borrower, borrower, sender=borrower)
    # The books fall by what was booked; the holder gets what it held.
    assert market.WithdrawCollateral(on_behalf=borrower, amount=100 * posted.unit, collateral=0) in tx.events
    assert posted.token.balanceOf(borrower) - before == 90 * posted.unit
    # The last holder is paid too: the balance covers every payout.
    before = posted.token.balanceOf(borrower2)
    market.withdraw_collateral(posted.token, 300 * posted.unit, borrower2, borrower2, sender=borrower2)
    assert posted.token.balanceOf(borrower2) - before == 270 * posted.unit
    assert posted.token.balanceOf(market) == 0
    assert market.asset_config(posted.token).total_supplied == 0


@FUNDS
def test_withdraw_collateral__burn_not_synced__last_holder_short(
    market, issuer, borrower, borrower2, outsider, posted_fund, name
):
    posted = posted_fund(name)
    """Why the sync exists: before it, the first holders out take whole
    units and the last one's transfer fails. Any holder may sync first."""
    _short(market, issuer, posted, 40)
    market.withdraw_collateral(posted.token, 300 * posted.unit, borrower2, borrower2, sender=borrower2)
    with ape.reverts():
        market.withdraw_collateral(posted.token, 100 * posted.unit, borrower, borrower, sender=borrower)
    market.sync_asset(posted.token, sender=outsider)
    assert market.asset_ratio(posted.token) == 6 * 10**17
    before = posted.token.balanceOf(borrower)
    market.withdraw_collateral(posted.token, 100 * posted.unit, borrower, borrower, sender=borrower)
    assert posted.token.balanceOf(borrower) - before == 60 * posted.unit


@FUNDS
def test_borrow__against_a_short_asset__counts_for_nothing(market, borrower, short_fund, name):
    posted = short_fund(name)
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


@FUNDS
def test_supply_collateral__short_asset__reverts_frozen(
    market, borrower, give_collateral, short_fund, name
):
    posted = short_fund(name)
    give_collateral(posted, borrower, posted.unit)
    with ape.reverts("market: asset frozen"):
        market.supply_collateral(posted.token, posted.unit, borrower, sender=borrower)


# ---- liquidation on what really exists ----


@pytest.fixture(scope="session")
def in_debt_fund(priced_fund, open_position, borrower, mint_stable, stablecoin, market, liquidator):
    """``in_debt_fund(name)``: ``borrower`` posts $10,000 of the fund and owes
    $8,000 (above the dust floor, so partial liquidations run); the
    liquidator holds $10,000, approved."""

    def go(name: str):
        fund = priced_fund(name)
        shares = 10_000 * USD * 10**8 // PRICE[fund.name]  # worth $10,000, in whole-share millionths
        open_position(fund, borrower, shares * fund.unit // USD, 8_000 * USD)
        mint_stable(liquidator, 10_000 * USD)
        stablecoin.approve(market, 2**256 - 1, sender=liquidator)
        return fund

    return go


@FUNDS
def test_liquidate__after_seize_and_sync__seizes_booked_pays_real(
    market, issuer, treasury, borrower, liquidator, outsider, in_debt_fund, name
):
    in_debt = in_debt_fund(name)
    held = market.collateral_of(borrower, in_debt.token)
    in_debt.token.seize(market, treasury, held // 5, sender=issuer)  # 20 %
    assert market.position(borrower).health_factor >= WAD  # not yet recognised
    market.sync_asset(in_debt.token, sender=outsider)
    # $10,000 x 0.8 x 0.90 = $7,200 against $8,000: now liquidatable.
    assert market.position(borrower).health_factor < WAD
    before = in_debt.token.balanceOf(liquidator)
    tx = market.liquidate(borrower, in_debt.token, 200 * USD, 0, False, liquidator, sender=liquidator)
    # $200 x 1.03 at $x 0.8 a booked unit; the liquidator gets 0.8 of it.
    scale = in_debt.unit * 10**8 // USD  # amount x price / scale = base units
    seized = 200 * USD * 10_300 * scale // (10_000 * (PRICE[in_debt.name] * 8 // 10))
    payout = seized * 8 // 10
    assert market.Liquidate(borrower=borrower, repaid=200 * USD, seized=seized, payout=payout) in tx.events
    assert in_debt.token.balanceOf(liquidator) - before == payout
    # The value the liquidator got is the repayment plus the bonus.
    assert payout * PRICE[in_debt.name] // scale == 206 * USD


@FUNDS
def test_liquidate__redeem_route_after_sync__facility_gets_real_units(
    market, issuer, treasury, borrower, liquidator, outsider, stablecoin, in_debt_fund, name
):
    in_debt = in_debt_fund(name)
    held = market.collateral_of(borrower, in_debt.token)
    in_debt.token.seize(market, treasury, held // 5, sender=issuer)
    market.sync_asset(in_debt.token, sender=outsider)
    before = stablecoin.balanceOf(liquidator)
    tx = market.liquidate(borrower, in_debt.token, 200 * USD, 1, True, liquidator, sender=liquidator)
    event = next(e for e in tx.events if e.event_name == "Liquidate")
    sent = event.seized * 8 // 10
    transfers = [
        e for e in tx.events
        if e.event_name == "Transfer" and e.contract_address == in_debt.token.address and e.sender == market.address
    ]
    assert [t.value for t in transfers] == [sent]
    assert stablecoin.balanceOf(liquidator) - before == event.payout - 200 * USD
    assert event.payout > 0


@FUNDS
def test_liquidate__loss_beyond_the_margin__written_off_as_bad_debt(
    market, issuer, borrower, liquidator, outsider, in_debt_fund, name
):
    in_debt = in_debt_fund(name)
    held = market.collateral_of(borrower, in_debt.token)
    in_debt.token.burn(market, held * 6 // 10, sender=issuer)  # 60 %: $4,000 left for $8,000
    market.sync_asset(in_debt.token, sender=outsider)
    tx = market.liquidate(borrower, in_debt.token, 2**256 - 1, 0, False, liquidator, sender=liquidator)
    event = next(e for e in tx.events if e.event_name == "Liquidate")
    assert event.seized == held and event.collateral == 0
    bad = [e for e in tx.events if e.event_name == "BadDebt"]
    assert len(bad) == 1 and bad[0].borrower == borrower and bad[0].amount > 0
    assert market.debt_of(borrower) == 0
    # What is left on the books of this asset is covered by the balance.
    booked = market.asset_config(in_debt.token).total_supplied
    assert in_debt.token.balanceOf(market) >= booked * market.asset_ratio(in_debt.token) // WAD
