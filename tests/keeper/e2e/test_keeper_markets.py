"""Several markets in one keeper, end to end: three markets over one world
(``devkit.bigbook``: each lists fund A, fund C and the wrapper, each with
the keeper's FlashLiquidator and its own deployments file), a small book
written into storage and the keeper's three indexes seeded from it, then
ONE ``silverback run keepers.bots.liquidator:bot`` with
``NAVLEND_KEEPER_DEPLOYMENTS`` naming the three files.

Fund A's NAV falls 10 %: positions sink in every market; the keeper
liquidates each exactly once, from one signer whose nonces stay
consecutive (one nonce per transaction, none lost, none replaced), the
profit is swept to the receiver, and ``/metrics`` reports each market
under its own ``market`` label."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devkit.bigbook import anvil_args, build_book, seed_index
from devkit.bigbook_checks import drop_fund_a, liquidatable, liquidations, nonce_of, sent_by, sequence_problems
from devkit.bigbook_plan import BookSpec
from devkit.devnet import Anvil, connect, metric_value, metrics_text
from devkit.nodes import ANVIL, ape_attachment
from devkit.processes import free_port, keeper_env, keeper_process
from keepers.index import PositionIndex
from keepers.markets import market_db_path
from navlend import deployments

# 100 positions a market, a tenth near the edge (health ~1.065), none
# under water at the start: what sinks, the NAV drop sinks.
SPEC = BookSpec(300, 3, min_usd=5_000, max_usd=20_000, risky_bps=1_000, underwater=0)
KEEPER_ADDRESS_ACCOUNT = 5


@pytest.fixture(scope="module")
def chain3(tmp_path_factory):
    """anvil with the three markets' book (automined while seeding, then a
    block a second), yielding (anvil, book, workdir)."""
    work = tmp_path_factory.mktemp("markets")
    anvil = Anvil(port=free_port(), state_dir=work / "anvil", persist=False, extra_args=anvil_args(None)).start()
    try:
        with connect(anvil.url):
            from ape import accounts

            test = accounts.test_accounts
            book = build_book(anvil, SPEC, work / "deployments", test[0], test[KEEPER_ADDRESS_ACCOUNT])
            anvil.set_interval_mining(1)
            yield anvil, book, work
    finally:
        anvil.stop()


def test_keeper_markets__nav_drop_on_a_fund_three_markets_list__each_liquidated_once_one_nonce_sequence(chain3):
    from ape import accounts

    anvil, book, work = chain3
    test = accounts.test_accounts
    keeper = str(test[KEEPER_ADDRESS_ACCOUNT].address)
    paths = [Path(m.deployment_path) for m in book.markets]
    db_path = work / "keeper" / "index.sqlite"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for k, seeded in enumerate(book.markets):
        seed_index(PositionIndex(market_db_path(db_path, seeded.market), seeded.market, book.block_number), book, k)
    from devkit.world import attach_world

    world = attach_world(deployments.load("local", paths[0].parent))
    assert not any(liquidatable(book, k) for k in range(3))

    receiver = str(test[7].address)
    received_before = world.stablecoin.balanceOf(receiver)
    port = free_port()
    attach = ape_attachment(ANVIL, anvil.url)
    env = keeper_env(
        anvil.url, paths[0], db_path,
        NAVLEND_KEEPER_DEPLOYMENTS=",".join(str(p) for p in paths),
        NAVLEND_KEEPER_SIGNER_ALIAS="TEST::5",
        NAVLEND_KEEPER_METRICS_PORT=str(port),
        NAVLEND_KEEPER_HEALTHY_SCAN_INTERVAL="2",
        NAVLEND_KEEPER_KILL_FILE=str(work / "STOP"),
        NAVLEND_KEEPER_PROFIT_RECEIVER=receiver,
        SILVERBACK_BOT_NAME=f"keeper-markets-{anvil.port}",
        **attach.bot_env,
    )
    bot = keeper_process(env, work / "keeper.log", network=attach.network).start()
    try:
        bot.wait_ready(timeout=120)
        start_nonce = nonce_of(anvil, keeper)
        start_block = anvil.block_number()

        drop_fund_a(anvil, world, 1_000, test[0])
        sunk = [liquidatable(book, k) for k in range(3)]
        assert all(sunk), f"a market with nothing sunk: {[len(s) for s in sunk]}"

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(liquidatable(book, k) for k in range(3)):
            time.sleep(1)
        left = [len(liquidatable(book, k)) for k in range(3)]
        assert left == [0, 0, 0], f"still liquidatable per market: {left}\n{bot.tail(40)}"
        time.sleep(3)  # the last receipts followed
        end_block = anvil.block_number()

        sent = sent_by(anvil, keeper, start_block, end_block)
        keeper_txs = set(sent)
        for k, seeded in enumerate(book.markets):
            liquidated = liquidations(anvil, seeded.market, start_block)
            # Every sunk position, and only those, by the keeper's transactions.
            assert {b for b, _, _ in liquidated} == {a.lower() for a in sunk[k]}, f"market {k}"
            assert {t for _, _, t in liquidated} <= keeper_txs
            # A position the close factor leaves under water is liquidated
            # again on a later block, never twice at once.
            blocks = [(b, n) for b, n, _ in liquidated]
            assert len(set(blocks)) == len(blocks), f"market {k}: a position liquidated twice in one block"
            succeeded = metric_value(port, "keeper_liquidations_succeeded_total", market=seeded.market)
            assert succeeded == len(liquidated), f"market {k}: {succeeded} counted, {len(liquidated)} on chain"
        assert bot.count("someone else liquidated first") == 0

        assert not sequence_problems(anvil, keeper, start_nonce, sent)
        assert bot.count("nonce moved outside the keeper") == 0
        assert bot.count("transaction of no market settled") == 0

        # The profit, swept by the fleet (one transfer per mined block at most).
        assert world.stablecoin.balanceOf(receiver) > received_before
        assert bot.count('"event": "profit sweep"') >= 1

        text = metrics_text(port)
        for seeded in book.markets:
            assert f'market="{seeded.market}"' in text
    finally:
        bot.stop()
