"""devkit.bigbook on anvil: a small book (300 positions, 3 markets)
written into storage, saved and loaded again (30M gas blocks, a block a
second), then checked through the market and the Lens: every position's
health is the plan's, the books add up, a real liquidation and a real
borrow and repay of seeded positions go through and keep them adding up,
and the seeded keeper index follows the liquidation's log."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from devkit.bigbook import (
    BLOCK_GAS_LIMIT,
    SINK,
    BookError,
    anvil_args,
    build_book,
    check_sample,
    dump_state,
    seed_index,
    start_loaded,
)
from devkit.bigbook_plan import BookSpec
from devkit.devnet import Anvil, connect
from devkit.processes import free_port
from devkit.world import attach_world
from keepers.index import PositionIndex
from keepers.types import LogRecord
from navlend import deployments
from navlend.constants import WAD
from navlend.market import market_at
from navlend.timeutil import next_business_day_strike

# A tenth near the edge, so that every market has some for the NAV drop.
SPEC = BookSpec(300, 3, underwater=2, risky_bps=1_000)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Builds the book on a fresh anvil, saves its state, and yields
    (book, state file, workdir)."""
    work = tmp_path_factory.mktemp("bigbook")
    anvil = Anvil(port=free_port(), state_dir=work / "build", persist=False, extra_args=anvil_args(None)).start()
    try:
        with connect(anvil.url):
            from ape import accounts

            test = accounts.test_accounts
            book = build_book(anvil, SPEC, work / "deployments", test[0], test[5])
            dump_state(anvil, work / "state.json")
    finally:
        anvil.stop()
    return book, work / "state.json", work


@pytest.fixture(scope="module")
def loaded(seeded):
    book, state, work = seeded
    anvil = start_loaded(state, work / "loaded")
    try:
        with connect(anvil.url):
            yield book, anvil, work
    finally:
        anvil.stop()


@contextmanager
def automined(anvil):
    """Automine for Ape's sends, then a block a second again."""
    anvil.set_interval_mining(0)
    try:
        yield
    finally:
        anvil.set_interval_mining(1)


def _world(book):
    path = Path(book.markets[0].deployment_path)
    return attach_world(deployments.load("local", path.parent))


def _assert_books_add_up(book, world, k, gone_scaled=0, gone_units=None):
    """The market's totals equal the plan's less what left, and its token
    balances equal its books."""
    market = market_at(book.markets[k].market)
    mine = book.of_market(k)
    cash, _, _, _, total_scaled = market.market_state()
    assert total_scaled == sum(p.scaled_debt for p in mine) - gone_scaled
    assert world.stablecoin.balanceOf(market) == cash
    for token in {h.token for p in mine for h in p.holdings}:
        planned = sum(h.units for p in mine for h in p.holdings if h.token == token)
        supplied = market.asset_config(token).total_supplied
        assert supplied == planned - (gone_units or {}).get(token, 0)
        balance = next(c for c in (world.fund_a, world.fund_c, world.wrapper) if str(c.address) == token).balanceOf(market)
        assert balance == supplied


def test_bigbook__loaded_state__real_gas_limit_and_one_second_blocks(loaded):
    _book, anvil, _ = loaded
    head = anvil.rpc("eth_getBlockByNumber", "latest", False)
    assert int(head["gasLimit"], 16) == BLOCK_GAS_LIMIT
    start = anvil.block_number()
    time.sleep(2.5)
    assert anvil.block_number() >= start + 2


def test_bigbook__every_position__lens_health_is_the_plans(loaded):
    book, _, _ = loaded
    result = check_sample(book, len(book.positions))
    assert result.checked == 300
    assert result.mismatches == ()
    assert sum(p.health < WAD for p in book.positions) == 6


def test_bigbook__books__totals_cash_and_balances_add_up(loaded):
    book, _, _ = loaded
    world = _world(book)
    for k in range(3):
        _assert_books_add_up(book, world, k)
    assert world.stablecoin.balanceOf(SINK) == sum(m.borrowed for m in book.markets)


def test_bigbook__seed_index__holds_the_book_at_the_seed_block(loaded, tmp_path):
    book, _, _ = loaded
    index = PositionIndex(tmp_path / "i.sqlite", book.markets[1].market)
    assert seed_index(index, book, 1) == sum(len(p.holdings) + 1 for p in book.of_market(1))
    assert index.stats()["open_positions"] == 100
    assert (index.checkpoint(), index.checkpoint_hash()) == (book.block_number, book.block_hash)
    with pytest.raises(BookError, match="given for market 0"):
        seed_index(index, book, 0)


def test_bigbook__liquidate_a_seeded_position__books_still_add_up_and_index_follows(loaded, tmp_path):
    from ape import accounts

    book, anvil, _ = loaded
    world = _world(book)
    liquidator = accounts.test_accounts[0]
    k = 1
    victim = next(p for p in book.of_market(k) if p.health < WAD)
    market = market_at(book.markets[k].market)
    token = victim.holdings[0].token
    before = market.position(victim.account)
    coll_before = market.collateral_of(victim.account, token)
    with automined(anvil):
        world.stablecoin.mint(liquidator, before.debt * 2, sender=liquidator)
        world.stablecoin.approve(market, before.debt * 2, sender=liquidator)
        receipt = market.liquidate(victim.account, token, before.debt, 0, False, liquidator, sender=liquidator)
    after = market.position(victim.account)
    assert after.scaled_debt < before.scaled_debt
    gone_units = {token: coll_before - market.collateral_of(victim.account, token)}
    assert gone_units[token] > 0
    _assert_books_add_up(book, world, k, gone_scaled=victim.scaled_debt - after.scaled_debt, gone_units=gone_units)
    # The keeper's seeded index, fed the real log, agrees with the market.
    index = PositionIndex(tmp_path / "i.sqlite", book.markets[k].market)
    seed_index(index, book, k)
    [log] = [e for e in receipt.events if e.event_name == "Liquidate"]
    index.apply([LogRecord.from_event(log.event_name, log.event_arguments, block_number=log.block_number,
                                      block_hash=log.block_hash, tx_hash=log.transaction_hash, log_index=log.log_index)])
    indexed = index.position(victim.account)
    assert indexed.scaled_debt == after.scaled_debt
    assert indexed.collateral[token] == market.collateral_of(victim.account, token)


def test_bigbook__borrow_and_repay_by_a_seeded_account__debt_moves_and_books_add_up(loaded):
    from ape import accounts

    book, anvil, _ = loaded
    world = _world(book)
    k = 2
    who_plan = next(p for p in book.of_market(k) if p.health > 12 * WAD // 10)
    market = market_at(book.markets[k].market)
    anvil.rpc("anvil_setBalance", who_plan.account, hex(10**20))
    who = accounts[who_plan.account]
    amount = 1_000 * 10**6
    with automined(anvil):
        world.allowlist(who_plan.account, sender=accounts.test_accounts[0])
        market.borrow(amount, who, who, sender=who)
        index = market.market_state()[3]
        assert market.position(who).scaled_debt == who_plan.scaled_debt + -(-amount * WAD // index)
        assert world.stablecoin.balanceOf(who) == amount
        world.stablecoin.mint(who, who_plan.debt * 2, sender=accounts.test_accounts[0])
        world.stablecoin.approve(market, 2**256 - 1, sender=who)
        market.repay(2**256 - 1, who, sender=who)
    assert market.position(who).scaled_debt == 0
    _assert_books_add_up(book, world, k, gone_scaled=who_plan.scaled_debt)


def _liquidatable(book, k):
    from ape import project

    seeded = book.markets[k]
    mine = book.of_market(k)
    healths = project.Lens.at(seeded.lens).healths(seeded.market, [p.account for p in mine])
    return {p.account for p, h in zip(mine, healths) if h.liquidatable}


def test_bigbook__nav_drop_on_a_shared_fund__positions_liquidatable_in_every_market(loaded):
    """Last: it moves time to the next NAV strike. Fund A is listed by all
    three markets; a 10 % fall of its NAV sinks positions in each, and
    only positions that hold it."""
    from ape import accounts

    book, anvil, _ = loaded
    world = _world(book)
    updater = accounts.test_accounts[0]
    before = [_liquidatable(book, k) for k in range(3)]
    _, answer, _, as_of, _ = world.oracle_a.latestRoundData()
    strike = next_business_day_strike(as_of)
    with automined(anvil):
        anvil.rpc("evm_setNextBlockTimestamp", hex(max(strike + 60, anvil.timestamp() + 1)))
        anvil.mine(1)
        world.oracle_a.publish(answer * 9 // 10, strike, sender=updater)
        if world.oracle_a.pending_round().answer != 0:
            world.oracle_a.confirm_pending(sender=updater)
    fund_a = str(world.fund_a.address)
    for k in range(3):
        sunk = _liquidatable(book, k) - before[k]
        assert sunk, f"market {k}: no position sank"
        holders = {p.account for p in book.of_market(k) if any(h.token == fund_a for h in p.holdings)}
        assert sunk <= holders
