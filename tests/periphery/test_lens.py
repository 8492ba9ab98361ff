"""Lens: batch health and market snapshots, checked against the market's
own views (``position``, ``preview_liquidation``, ``market_state``, ...).

Every comparison is made between eth_calls on the same head block, so the
lens and the market see the same time and the same accrued interest.
"""

import ape
import pytest
from eth_utils import to_checksum_address

from navlend.constants import BPS, PAUSE_BORROW, PAUSE_FLASH_LOAN, PAUSE_LIQUIDATION, WAD

USD = 10**6
MAX = 2**256 - 1
YEAR = 365 * 86_400
HOUR = 3_600
ZERO = ape.utils.ZERO_ADDRESS
# 8-decimal prices for the market's mock feeds.
PRICE = 10**8


def assert_mirrors_market(h, market, account):
    """``h`` restates ``market.position(account)`` and its best liquidation."""
    p = market.position(account)
    assert h.account == account
    assert (h.debt, h.borrow_value, h.liquidation_value, h.health_factor, h.assets_bitmap) == (
        p.debt,
        p.borrow_value,
        p.liquidation_value,
        p.health_factor,
        p.assets_bitmap,
    )
    if h.liquidatable:
        assert p.debt != 0 and p.health_factor < WAD
        assert (h.max_repay, h.max_seize) == tuple(
            market.preview_liquidation(account, h.best_token, MAX)
        )
    else:
        assert (h.best_token, h.max_repay, h.max_seize) == (ZERO, 0, 0)


@pytest.fixture
def four_accounts(
    market, lens, lend, open_position, set_price, asset_a, borrower, borrower2, lender, outsider
):
    """borrower healthy, borrower2 unhealthy (fund A at $9.80), lender
    debt-free with collateral, outsider unknown to the market."""
    lend(100_000 * USD)
    open_position(asset_a, borrower, 1_000 * USD, 5_000 * USD)  # 1,000 shares at $10.50
    open_position(asset_a, borrower2, 1_000 * USD, 8_900 * USD)
    open_position(asset_a, lender, 100 * USD, 0)
    set_price(asset_a, 980 * PRICE // 100)
    return [borrower, borrower2, lender, outsider]


# ---- healths ----


def test_healths__mixed_accounts__mirror_the_market(market, lens, four_accounts, asset_a):
    healths = lens.healths(market, four_accounts)
    assert len(healths) == 4
    for h, account in zip(healths, four_accounts):
        assert_mirrors_market(h, market, account)
    healthy, unhealthy, debt_free, unknown = healths
    assert WAD <= healthy.health_factor < MAX and not healthy.liquidatable
    assert unhealthy.health_factor < WAD and unhealthy.liquidatable
    assert unhealthy.best_token == asset_a.token.address and unhealthy.max_repay > 0
    assert (
        debt_free.debt == 0 and debt_free.health_factor == MAX and debt_free.liquidation_value > 0
    )
    assert unknown.debt == unknown.liquidation_value == unknown.assets_bitmap == 0


def test_healths__empty_list__returns_empty(market, lens):
    assert list(lens.healths(market, [])) == []


def test_health__one_account__equals_its_healths_entry(market, lens, four_accounts):
    for account in four_accounts:
        assert lens.health(market, account) == lens.healths(market, [account])[0]


def test_healths__two_assets__best_token_repays_the_most(
    market, lens, lend, open_position, set_price, collaterals, borrower
):
    asset_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    lend(100_000 * USD)
    open_position(asset_a, borrower, 100 * USD, 0)  # $1,050: small, seized whole
    open_position(wrapper, borrower, 10_000 * 10**18, 9_300 * USD)  # $10,000
    set_price(wrapper, 90 * PRICE // 100)  # HF about 0.97: 50 % close factor
    repay_a = market.preview_liquidation(borrower, asset_a.token, MAX)[0]
    repay_w = market.preview_liquidation(borrower, wrapper.token, MAX)[0]
    assert 0 < repay_a < repay_w

    h = lens.health(market, borrower)

    assert_mirrors_market(h, market, borrower)
    assert h.assets_bitmap == 0b101
    assert h.best_token == wrapper.token.address and h.max_repay == repay_w


def test_healths__two_assets_first_repays_more__picks_the_first(
    market, lens, lend, open_position, set_price, collaterals, borrower
):
    asset_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    lend(100_000 * USD)
    open_position(asset_a, borrower, 1_000 * USD, 0)  # $10,500
    open_position(wrapper, borrower, 1_000 * 10**18, 9_300 * USD)  # $1,000: small
    set_price(asset_a, 930 * PRICE // 100)

    h = lens.health(market, borrower)

    assert_mirrors_market(h, market, borrower)
    assert h.best_token == asset_a.token.address
    assert h.max_repay > market.preview_liquidation(borrower, wrapper.token, MAX)[0] > 0


@pytest.mark.parametrize(
    "price, full",
    [(980, False), (930, True)],  # HF about 0.991 (above 0.95) and 0.940 (below)
    ids=["hf_above_0.95__half", "hf_below_0.95__all"],
)
def test_healths__close_factor__reflected_in_max_repay(
    market, lens, lend, open_position, set_price, asset_a, borrower, price, full
):
    lend(100_000 * USD)
    open_position(asset_a, borrower, 1_000 * USD, 8_900 * USD)
    set_price(asset_a, price * PRICE // 100)

    h = lens.health(market, borrower)

    assert_mirrors_market(h, market, borrower)
    assert (h.health_factor < 95 * WAD // 100) is full
    assert h.max_repay == (h.debt if full else h.debt * 5_000 // BPS)


def test_healths__liquidate_exactly_max_repay__succeeds_as_previewed(
    market, lens, four_accounts, asset_a, stablecoin, mint_stable, borrower2, liquidator
):
    h = lens.health(market, borrower2)
    mint_stable(liquidator, h.max_repay)
    stablecoin.approve(market, h.max_repay, sender=liquidator)

    tx = market.liquidate(
        borrower2, h.best_token, h.max_repay, h.max_seize, False, liquidator, sender=liquidator
    )

    (event,) = tx.events.filter(market.Liquidate)
    assert (event.repaid, event.seized, event.payout) == (h.max_repay, h.max_seize, h.max_seize)
    assert asset_a.token.balanceOf(liquidator) == h.max_seize
    assert stablecoin.balanceOf(liquidator) == 0


def test_healths__liquidation_paused__nothing_liquidatable(
    market, lens, four_accounts, owner, borrower2
):
    market.pause(PAUSE_LIQUIDATION, sender=owner)
    h = lens.health(market, borrower2)
    assert h.health_factor < WAD
    assert not h.liquidatable and h.best_token == ZERO and h.max_repay == 0


def test_healths__500_accounts__fit_one_eth_call(
    market, world, lens, lend, give_collateral, set_price, asset_a, accounts, borrower
):
    lend(1_000_000 * USD)
    give_collateral(asset_a, borrower, 20 * 1_000 * USD)
    signers = list(accounts)[3:16]  # 13 accounts that can borrow for themselves
    others = [to_checksum_address(f"0x{0xBEEF0000 + i:040x}") for i in range(7)]
    # Collateral is posted for them: the fund must admit each beneficiary.
    world.allowlist(*signers, *others)
    for who in [*signers, *others]:
        market.supply_collateral(asset_a.token, 1_000 * USD, who, sender=borrower)
    for who in signers:
        market.borrow(8_900 * USD, who, who, sender=who)
    set_price(asset_a, 980 * PRICE // 100)  # every borrower unhealthy: the costly path
    padding = [to_checksum_address(f"0x{0xFEED0000 + i:040x}") for i in range(480)]
    batch = [*[s.address for s in signers], *others, *padding]

    healths = lens.healths(market, batch)

    assert len(healths) == 500
    # About 3.2M gas: far inside a 30M block, the usual floor of eth_call caps.
    assert lens.healths.estimate_gas_cost(market, batch) < 30_000_000
    assert [h.account for h in healths] == batch
    assert sum(h.liquidatable for h in healths) == len(signers)
    for h, account in zip(healths[:21], batch[:21]):
        assert_mirrors_market(h, market, account)
    assert all(h.assets_bitmap == 0 and h.debt == 0 for h in healths[20:])


def test_healths__501_accounts__rejected(market, lens):
    with ape.reverts():
        lens.healths(market, [to_checksum_address(f"0x{i + 1:040x}") for i in range(501)])


# ---- snapshot ----


def test_snapshot__books_and_rates__equal_the_market_views(
    market, lens, lend, open_position, asset_a, borrower, advance
):
    lend(50_000 * USD)
    open_position(asset_a, borrower, 5_000 * USD, 30_000 * USD)
    advance(30 * 86_400)  # interest and reserves accrue (not yet stored)

    s = lens.snapshot(market)

    cash, borrows, reserves, index, _ = market.market_state()
    assert (s.cash, s.total_borrows, s.reserves, s.borrow_index) == (cash, borrows, reserves, index)
    assert reserves > 0 and index > WAD
    assert s.utilization == market.utilization() > 0
    assert s.borrow_rate_apr == market.borrow_rate() * YEAR
    reserve_factor = market.rate_config().reserve_factor_bps
    assert (
        s.supply_rate_apr
        == s.borrow_rate_apr * s.utilization // WAD * (BPS - reserve_factor) // BPS
    )
    assert 0 < s.supply_rate_apr < s.borrow_rate_apr
    assert (s.total_assets, s.total_shares) == (market.totalAssets(), market.totalSupply())
    assert (s.paused, s.liquidations_resume_at) == (0, 0)


def test_snapshot__assets__prices_ages_and_limits(
    market, lens, collaterals, chain, owner, guardian, advance
):
    asset_a = collaterals["fund_a"]
    market.set_asset_limits(asset_a.token, 123 * USD, 11 * PRICE, 50 * HOUR, sender=owner)
    market.set_asset_frozen(collaterals["wrapper"].token, True, sender=guardian)

    s = lens.snapshot(market)

    feeds = {c.token.address: c.oracle for c in collaterals.values()}
    assert [a.token for a in s.assets] == [market.asset_at(i) for i in range(market.asset_count())]
    for a in s.assets:
        cfg = market.asset_config(a.token)
        assert (a.oracle, a.facility, a.ltv_bps, a.threshold_bps, a.bonus_bps) == (
            cfg.oracle,
            cfg.facility,
            cfg.ltv_bps,
            cfg.threshold_bps,
            cfg.bonus_bps,
        )
        assert (a.supply_cap, a.total_supplied, a.price_cap, a.frozen) == (
            cfg.supply_cap,
            cfg.total_supplied,
            cfg.price_cap,
            cfg.frozen,
        )
        assert (a.price, a.stale) == tuple(market.asset_price(a.token))
        updated_at = feeds[a.token].latestRoundData()[3]
        assert a.price_age == chain.blocks.head.timestamp - updated_at
        assert not a.stale
    assert (s.assets[0].supply_cap, s.assets[0].price_cap) == (123 * USD, 11 * PRICE)
    assert s.assets[1].price_cap == 0  # fund C: no cap, its NAV accrues
    assert [a.frozen for a in s.assets] == [False, False, True]

    advance(101 * HOUR)  # past the 100 h max age of every asset; fund A's is 50 h

    assert [a.stale for a in lens.snapshot(market).assets] == [True, True, True]


def test_snapshot__fund_a_age_50h__stale_only_fund_a(market, lens, collaterals, owner, advance):
    asset_a = collaterals["fund_a"]
    market.set_asset_limits(asset_a.token, 2**120 - 1, 0, 50 * HOUR, sender=owner)
    advance(60 * HOUR)
    assert [a.stale for a in lens.snapshot(market).assets] == [True, False, False]


def test_snapshot__paused_actions__reported(market, lens, guardian, owner, chain):
    market.pause(PAUSE_BORROW | PAUSE_FLASH_LOAN, sender=guardian)
    assert lens.snapshot(market).paused == PAUSE_BORROW | PAUSE_FLASH_LOAN

    market.pause(PAUSE_LIQUIDATION, sender=owner)
    assert lens.snapshot(market).paused == PAUSE_BORROW | PAUSE_FLASH_LOAN | PAUSE_LIQUIDATION

    tx = market.unpause(PAUSE_LIQUIDATION, HOUR, sender=owner)
    s = lens.snapshot(market)
    assert s.paused == PAUSE_BORROW | PAUSE_FLASH_LOAN
    assert (
        s.liquidations_resume_at
        == chain.blocks[tx.block_number].timestamp + HOUR
        == market.control()[1]
    )


def test_snapshot__empty_market__zero_books(market, lens):
    s = lens.snapshot(market)
    assert (s.cash, s.total_borrows, s.reserves, s.utilization, s.supply_rate_apr) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert s.borrow_index == WAD
    assert s.borrow_rate_apr == market.borrow_rate() * YEAR
    assert len(s.assets) == 3


def test_healths__asset_whose_preview_reverts__does_not_fail_the_batch(
    market, lens, lend, open_position, give_collateral, set_price, asset_a, collaterals, owner, borrower, borrower2
):
    """With the small-position size equal to the dust floor, a partial
    liquidation against an asset worth exactly the floor is trimmed to
    nothing: ``preview_liquidation`` reverts "market: nothing to liquidate"
    for that asset. The lens answers anyway: the position is liquidatable
    through its other asset, and every other account of the batch is
    reported."""
    wrapper = collaterals["wrapper"]
    market.set_borrow_limits(1, 100, 100, sender=owner)
    lend(100_000 * USD)
    open_position(asset_a, borrower, 1_000 * USD, 8_900 * USD)
    set_price(asset_a, 10 * PRICE)
    open_position(asset_a, borrower2, 10 * USD, 0)  # worth exactly the $100 floor
    posted = give_collateral(wrapper, borrower2, 70 * WAD)  # worth ~$70
    market.supply_collateral(wrapper.token, posted, borrower2, sender=borrower2)
    market.borrow(144 * USD, borrower2, borrower2, sender=borrower2)
    # Health factor 0.975: half the debt may go, which seizes less than all
    # of fund A, and a partial must leave fund A's $100 floor: nothing left.
    set_price(wrapper, 80 * PRICE // 100)
    hf = market.position(borrower2).health_factor
    assert 95 * WAD // 100 <= hf < WAD
    with ape.reverts("market: nothing to liquidate"):
        market.preview_liquidation(borrower2, asset_a.token, MAX)

    healths = lens.healths(market, [borrower, borrower2])

    for h, account in zip(healths, [borrower, borrower2]):
        assert_mirrors_market(h, market, account)
    assert not healths[0].liquidatable and healths[0].health_factor >= WAD
    assert healths[1].liquidatable and healths[1].best_token == wrapper.token.address
