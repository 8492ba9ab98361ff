"""Regression: making a position (or the keepers' view of it) unliquidatable.

Historical class: liquidation denial of service. Positions that could not
be liquidated because one of their assets' price feeds reverted (Compound
v2 and Aave v2 forks, where every health check priced every asset in use,
so one dead or paused feed froze all positions holding it; Venus' LUNA
market), because an attacker pushed a worthless asset into someone else's
position (dust-collateral griefing on markets that value each asset in
use, e.g. the Euler and Silo dust reports), or because the batch view the
keepers poll reverted on one bad account and hid all the others.

The holes (spec, hole 4):
- (a) listing or re-pointing an asset to a feed with no round, a
  non-positive answer or a round from the future was accepted, and so was
  a feed already stale; the market then reverted on every position
  holding the asset. The new market reads ``latestRoundData()`` when the
  oracle is set and refuses "market: bad oracle round" / "market: oracle
  stale".
- (b) an attacker posting one unit of an asset to a victim's position
  (anyone may post for anyone) made the victim's liquidation depend on
  that asset's feed: once the feed broke, every liquidation of the victim
  and ``market.position`` reverted "market: bad price", and
  ``Lens.healths`` reverted for the whole batch. The new market values a
  broken feed at zero, and the Lens isolates an account whose ``position``
  reverts (``failed = True``, zeros).
- (c) what must keep holding: an issuer pausing fund A, or taking the
  market off fund A's allowlist, stops only the paths that move fund A
  (with the fund's, or its facility's, own reason); liquidations seizing
  another asset, repayment and lenders' withdrawals go on, and a borrower
  frozen by the issuer is still liquidated.

How each test fails on the vulnerable (old) code, as seen when run on it:
- ``test_list_asset__unusable_feed__reverts`` and
  ``test_set_asset_oracle__unusable_feed__reverts``: the feed is accepted
  (DID NOT RAISE).
- ``test_liquidate__attacker_posted_unit_whose_feed_breaks__victim_still_liquidatable``:
  the liquidation reverts "market: bad price" / "market: price from the
  future".
- ``test_healths__batch_with_broken_and_failing_accounts__one_entry_each``:
  ``Lens.healths`` reverts "market: bad price" for the whole batch.
The other tests (fresh feeds accepted, the issuer-action matrix of (c), the
frozen borrower) encode behaviour that already holds and pass on the old
code.
"""

import ape
import pytest
from navlend.constants import WAD

USD = 10**6
MAX = 2**256 - 1
HOUR = 3_600
ZERO = ape.utils.ZERO_ADDRESS
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}
# Fund A's max oracle age (the listing default).
MAX_AGE = 100 * HOUR
# Feeds the market must refuse, and why.
UNUSABLE = {
    "no_round": "market: bad oracle round",
    "zero": "market: bad oracle round",
    "future": "market: bad oracle round",
    "stale": "market: oracle stale",
}
BREAKS = ["zero", "future"]


def units(c, usd: int) -> int:
    """The amount of ``c`` worth ``usd`` dollars at BASE_PRICE."""
    return usd * 10 ** (c.decimals + 8) // BASE_PRICE[c.name]


def break_feed(feed, chain, owner, how: str):
    """Makes ``feed`` answer zero, or a round from an hour in the future."""
    if how == "zero":
        feed.set_answer(0, 0, sender=owner)
    else:
        feed.set_answer(feed.latestRoundData()[1], chain.blocks.head.timestamp + HOUR, sender=owner)


@pytest.fixture
def unusable_feed(owner, project, chain, updater, guardian):
    """``unusable_feed(kind, max_age)``: a feed of that kind (see UNUSABLE):
    a NavOracle that never published, or a MockAggregator answering zero,
    struck an hour ahead, or struck ``max_age`` + 60 s ago."""

    def go(kind: str, max_age: int):
        if kind == "no_round":
            return owner.deploy(project.NavOracle, "EMPTY / USD NAV", updater, guardian, 0, 0)
        feed = owner.deploy(project.MockAggregator, 8, 2 * 10**8)
        now = chain.blocks.head.timestamp
        if kind == "zero":
            feed.set_answer(0, 0, sender=owner)
        elif kind == "future":
            feed.set_answer(2 * 10**8, now + HOUR, sender=owner)
        else:
            feed.set_answer(2 * 10**8, now - max_age - 60, sender=owner)
        return feed

    return go


@pytest.fixture
def new_token(owner, project):
    """An unlisted 18-decimal token."""
    return owner.deploy(project.MockERC20, "New collateral", "NEW", 18)


@pytest.fixture
def books(flat_books, borrower, liquidator):
    """$100,000 lent under a flat 0 % curve; borrower and liquidator hold
    $10,000 each, approved."""
    flat_books(100_000, borrower, liquidator)


@pytest.fixture
def lens(owner, project):
    """The stateless Lens (deployed as tests/periphery/conftest.py does)."""
    return owner.deploy(project.Lens)


# ---- (a) feeds checked when set ----


@pytest.mark.parametrize("kind", list(UNUSABLE))
def test_list_asset__unusable_feed__reverts(market, owner, new_token, unusable_feed, kind):
    feed = unusable_feed(kind, HOUR)
    with ape.reverts(UNUSABLE[kind]):
        market.list_asset(new_token, feed, 5_000, 6_000, 500, 10**24, 0, HOUR, sender=owner)
    assert market.asset_count() == 3


@pytest.mark.parametrize("kind", list(UNUSABLE))
def test_set_asset_oracle__unusable_feed__reverts(market, owner, collaterals, unusable_feed, kind):
    fund_a = collaterals["fund_a"]
    feed = unusable_feed(kind, MAX_AGE)
    with ape.reverts(UNUSABLE[kind]):
        market.set_asset_oracle(fund_a.token, feed, sender=owner)
    assert market.asset_config(fund_a.token).oracle == fund_a.oracle.address


def test_list_asset_and_set_asset_oracle__fresh_feed__accepted(
    market, owner, project, chain, collaterals, new_token
):
    """A round struck just inside the asset's max age is fine."""
    fund_a = collaterals["fund_a"]
    feed = owner.deploy(project.MockAggregator, 8, 2 * 10**8)
    feed.set_answer(2 * 10**8, chain.blocks.head.timestamp - HOUR + 60, sender=owner)

    tx = market.list_asset(new_token, feed, 5_000, 6_000, 500, 10**24, 0, HOUR, sender=owner)
    assert market.AssetListed(token=new_token, asset_id=3, oracle=feed) in tx.events
    tx = market.set_asset_oracle(fund_a.token, feed, sender=owner)
    assert tx.events.filter(market.AssetOracleSet) == [
        market.AssetOracleSet(token=fund_a.token, oracle=feed)
    ]


# ---- (b) a unit of a dying asset in someone else's position ----


@pytest.fixture
def victim(market, collaterals, borrower, attacker, give_collateral, set_price, books):
    """``borrower`` posts $10,000 of fund A (settable feed) and borrows
    $8,000; ``attacker`` posts one wrapper unit (settable feed) to it.
    Returns the feeds by name."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    feeds = {"fund_a": set_price(fund_a, BASE_PRICE["fund_a"])}
    give_collateral(fund_a, borrower, units(fund_a, 10_000))
    market.supply_collateral(fund_a.token, units(fund_a, 10_000), borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    feeds["wrapper"] = set_price(wrapper, BASE_PRICE["wrapper"])
    give_collateral(wrapper, attacker, 10**18)
    tx = market.supply_collateral(wrapper.token, 1, borrower, sender=attacker)
    assert market.SupplyCollateral(
        caller=attacker, on_behalf=borrower, token=wrapper.token, amount=1
    ) in tx.events
    return feeds


@pytest.mark.parametrize("how", BREAKS)
def test_liquidate__attacker_posted_unit_whose_feed_breaks__victim_still_liquidatable(
    market, chain, owner, collaterals, borrower, liquidator, victim, how
):
    """The unit's feed breaks and fund A falls to $8.80 ($7,920 at the
    threshold against $8,000 owed): the victim is liquidated on fund A."""
    fund_a = collaterals["fund_a"]
    break_feed(victim["wrapper"], chain, owner, how)
    victim["fund_a"].set_answer(88 * 10**7, 0, sender=owner)

    tx = market.liquidate(borrower, fund_a.token, MAX, 0, False, liquidator, sender=liquidator)

    repaid, seized, payout = tx.return_value
    assert repaid == 4_000 * USD  # close factor: half the debt (health factor 0.99)
    assert market.Liquidate(
        liquidator=liquidator, borrower=borrower, token=fund_a.token, repaid=repaid, seized=seized
    ) in tx.events
    assert fund_a.token.balanceOf(liquidator) == payout == seized


def test_healths__batch_with_broken_and_failing_accounts__one_entry_each(
    market, owner, project, chain, collaterals, lens, borrower, borrower2, lender, outsider,
    give_collateral, victim
):
    """A batch of: the victim (its unit's feed broken, liquidatable on fund
    A), ``borrower2`` (a junk asset priced so high that its health factor
    overflows: ``position`` itself may revert), ``lender`` (collateral, no
    debt) and ``outsider`` (unknown to the market). One entry per account,
    in order; an account whose ``position`` reverts is reported failed with
    zeros, every other one mirrors the market and is not failed."""
    fund_a = collaterals["fund_a"]
    junk = owner.deploy(project.MockERC20, "Junk", "JUNK", 6)
    junk_feed = owner.deploy(project.MockAggregator, 8, 2**127 - 1)
    market.list_asset(junk, junk_feed, 5_000, 6_000, 500, 2**120 - 1, 0, MAX_AGE, sender=owner)
    junk.mint(borrower2, 10**30, sender=owner)
    junk.approve(market, MAX, sender=borrower2)
    market.supply_collateral(junk, 10**30, borrower2, sender=borrower2)
    market.borrow(100 * USD, borrower2, borrower2, sender=borrower2)
    give_collateral(fund_a, lender, 10 * USD)
    market.supply_collateral(fund_a.token, 10 * USD, lender, sender=lender)
    break_feed(victim["wrapper"], chain, owner, "zero")
    victim["fund_a"].set_answer(88 * 10**7, 0, sender=owner)
    batch = [borrower, borrower2, lender, outsider]

    healths = lens.healths(market, batch)

    assert [h.account for h in healths] == [a.address for a in batch]
    for h, account in zip(healths, batch):
        try:
            p = market.position(account)
        except ape.exceptions.VirtualMachineError:
            assert h.failed
            assert (h.debt, h.borrow_value, h.liquidation_value, h.health_factor) == (0, 0, 0, 0)
            assert (h.liquidatable, h.best_token, h.max_repay, h.max_seize) == (False, ZERO, 0, 0)
            assert h.assets_bitmap == 0
            continue
        assert not h.failed
        assert (h.debt, h.borrow_value, h.liquidation_value, h.health_factor, h.assets_bitmap) == (
            p.debt, p.borrow_value, p.liquidation_value, p.health_factor, p.assets_bitmap
        )
    assert healths[0].liquidatable and healths[0].best_token == fund_a.token.address
    assert (healths[0].max_repay, healths[0].max_seize) == tuple(
        market.preview_liquidation(borrower, fund_a.token, MAX)
    )
    assert not healths[2].liquidatable and not healths[3].liquidatable


# ---- (c) the issuer stops fund A: nothing else stops ----


ISSUER_ACTIONS = ["fund_paused", "market_delisted"]
# Who refuses each fund A move, per issuer action.
REFUSALS = {
    "fund_paused": {
        "liquidate": "fund: paused",
        "liquidate_redeem": "fund: paused",
        "withdraw": "fund: paused",
        "supply": "fund: paused",
    },
    "market_delisted": {
        "liquidate": "fund: sender not allowlisted",
        "liquidate_redeem": "facility: caller not allowlisted",
        "withdraw": "fund: sender not allowlisted",
        "supply": "fund: receiver not allowlisted",
    },
}


@pytest.fixture
def exposed(market, owner, collaterals, borrower, borrower2, give_collateral, set_price, books):
    """``borrower`` posts $10,000 of fund A and $10,000 of the wrapper and
    borrows $15,000; both fall to 80 % (health factor 0.96). ``borrower2``
    holds $1,000 of fund A posted (no debt) and $1,000 more unposted."""
    feeds = {}
    for name in ("fund_a", "wrapper"):
        c = collaterals[name]
        feeds[name] = set_price(c, BASE_PRICE[name])
        amount = give_collateral(c, borrower, units(c, 10_000))
        market.supply_collateral(c.token, amount, borrower, sender=borrower)
    market.borrow(15_000 * USD, borrower, borrower, sender=borrower)
    fund_a = collaterals["fund_a"]
    give_collateral(fund_a, borrower2, units(fund_a, 2_000))
    market.supply_collateral(fund_a.token, units(fund_a, 1_000), borrower2, sender=borrower2)
    for name, feed in feeds.items():
        feed.set_answer(BASE_PRICE[name] * 80 // 100, 0, sender=owner)
    assert market.position(borrower).health_factor < WAD


def stop_fund_a(action, fund_a, market, issuer):
    """The issuer pauses fund A, or takes the market off its allowlist."""
    if action == "fund_paused":
        fund_a.pause(sender=issuer)
    else:
        fund_a.set_allowlisted(market, False, sender=issuer)


@pytest.mark.parametrize("action", ISSUER_ACTIONS)
def test_issuer_stops_fund_a__wrapper_liquidation_repay_and_lender_withdraw_work(
    market, world, issuer, collaterals, borrower, liquidator, lender, exposed, action
):
    wrapper = collaterals["wrapper"]
    stop_fund_a(action, world.fund_a, market, issuer)

    tx = market.liquidate(
        borrower, wrapper.token, 1_000 * USD, 0, False, liquidator, sender=liquidator
    )
    assert market.Liquidate(borrower=borrower, token=wrapper.token, repaid=1_000 * USD) in tx.events
    assert wrapper.token.balanceOf(liquidator) == tx.return_value[2] > 0

    tx = market.repay(500 * USD, borrower, sender=borrower)
    assert market.Repay(on_behalf=borrower, amount=500 * USD) in tx.events
    assert market.debt_of(borrower) == 13_500 * USD

    tx = market.withdraw(1_000 * USD, lender, lender, sender=lender)
    assert market.Withdraw(receiver=lender, owner=lender, assets=1_000 * USD) in tx.events


@pytest.mark.parametrize("action", ISSUER_ACTIONS)
def test_issuer_stops_fund_a__fund_a_moves_revert_naming_the_cause(
    market, world, issuer, collaterals, borrower, borrower2, liquidator, exposed, action
):
    fund_a = collaterals["fund_a"]
    stop_fund_a(action, world.fund_a, market, issuer)
    reasons = REFUSALS[action]

    with ape.reverts(reasons["liquidate"]):
        market.liquidate(
            borrower, fund_a.token, 1_000 * USD, 0, False, liquidator, sender=liquidator
        )
    with ape.reverts(reasons["liquidate_redeem"]):
        market.liquidate(
            borrower, fund_a.token, 1_000 * USD, 0, True, liquidator, sender=liquidator
        )
    with ape.reverts(reasons["withdraw"]):
        market.withdraw_collateral(
            fund_a.token, units(fund_a, 100), borrower2, borrower2, sender=borrower2
        )
    with ape.reverts(reasons["supply"]):
        market.supply_collateral(fund_a.token, units(fund_a, 100), borrower2, sender=borrower2)


def test_liquidate__borrower_frozen_on_fund_a__its_fund_a_still_seized(
    market, world, issuer, collaterals, borrower, liquidator, exposed
):
    """The issuer froze the borrower, not the market or the liquidator:
    its fund A still moves to the liquidator, and through the facility."""
    fund_a = collaterals["fund_a"]
    world.fund_a.freeze(borrower, sender=issuer)

    tx = market.liquidate(
        borrower, fund_a.token, 1_000 * USD, 0, False, liquidator, sender=liquidator
    )
    assert market.Liquidate(borrower=borrower, token=fund_a.token, repaid=1_000 * USD) in tx.events
    assert fund_a.token.balanceOf(liquidator) == tx.return_value[2] > 0
    tx = market.liquidate(
        borrower, fund_a.token, 1_000 * USD, 0, True, liquidator, sender=liquidator
    )
    assert market.Liquidate(borrower=borrower, token=fund_a.token, repaid=1_000 * USD) in tx.events
