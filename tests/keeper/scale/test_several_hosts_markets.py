"""End to end, the keeper on several hosts over several markets (issue 17:
scanner workers "sharded by market and by position range"): three
markets of one ``devkit.bigbook`` world (each lists fund A; a small book
written into storage), every role in its own directory with its own
copies of the three deployments files, sharing only the Redis URL, the
PostgreSQL URL (each market's index in its own schema) and the node:

- the submitter (``keepers.bots.submitter``, ``NAVLEND_KEEPER_DEPLOYMENTS``
  naming the three files): the fleet, one signer, one nonce sequence, the
  writer of the three indexes (seeded here from the book, as an operator
  seeds them with ``devkit.bigbook``);
- the dispatcher (``keepers.bots.scanner`` on Redis): 3 markets x 2
  ranges = 6 block tasks;
- two scanner workers, each reading the markets' indexes read-only and
  queueing each market's candidates in that market's queue.

Fund A's NAV falls 10 %: every sunk position of each market is
liquidated, by the submitter only, with consecutive nonces; no scanner
sends; every market's queue ends empty. Alone::

    ape test tests/keeper/scale/test_several_hosts_markets.py -p no:cacheprovider
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis

from devkit.bigbook import anvil_args, build_book, seed_index
from devkit.bigbook_checks import drop_fund_a, liquidatable, liquidations, nonce_of, sent_by, sequence_problems
from devkit.bigbook_plan import BookSpec
from devkit.devnet import Anvil, connect, wait_for
from devkit.nodes import ANVIL, ape_attachment
from devkit.processes import BotProcess, free_port, keeper_env, keeper_process, silverback_bin
from navlend import deployments

# 100 positions a market, a tenth near the edge, none under water at the start.
SPEC = BookSpec(300, 3, min_usd=5_000, max_usd=20_000, risky_bps=1_000, underwater=0)
KEEPER_ACCOUNT = 5
SHARDS = 2
DROP_BPS = 1_000


def _host(work: Path, role: str, anvil_url: str, paths: list[Path], **settings: str) -> dict[str, str]:
    """``role``'s directory and environment: its own copy of each market's
    deployments file, its Ape data folder, its kill file; ``settings``."""
    home = work / "hosts" / role
    copies = []
    for k, path in enumerate(paths):
        copy = home / f"m{k}" / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
        copies.append(copy)
    attach = ape_attachment(ANVIL, anvil_url)
    return keeper_env(anvil_url, copies[0], home / "index.sqlite",
                      NAVLEND_KEEPER_DEPLOYMENTS=",".join(str(c) for c in copies),
                      NAVLEND_KEEPER_KILL_FILE=str(home / "STOP"), APE_DATA_FOLDER=str(home / "ape"),
                      NAVLEND_KEEPER_METRICS_PORT=str(free_port()), **attach.bot_env, **settings)


def test_several_hosts_markets__nav_drop_on_a_fund_three_markets_list__each_sunk_position_liquidated_by_the_submitter(
        redis_url, postgres_server, tmp_path):
    # redis_url and postgres_server first: up before the node, down after the bots.
    from ape import accounts

    from keepers.hosts import SIGNER_ENV
    from keepers.index import PositionIndex
    from keepers.scale import CandidateQueue, broker_env
    from keepers.shards import plan_tasks
    from keepers.types import to_address
    from keepers.store import configured_location
    from devkit.world import attach_world

    started = time.monotonic()
    anvil = Anvil(port=free_port(), state_dir=tmp_path / "anvil", persist=False, extra_args=anvil_args(None)).start()
    bots: list[BotProcess] = []
    try:
        with connect(anvil.url):
            test = accounts.test_accounts
            book = build_book(anvil, SPEC, tmp_path / "deployments", test[0], test[KEEPER_ACCOUNT])
            anvil.set_interval_mining(1)
            db_url = postgres_server.create_database(f"hosts_markets_{anvil.port}")
            for k, seeded in enumerate(book.markets):
                index = PositionIndex(configured_location(db_url, tmp_path / "unused.sqlite"), seeded.market,
                                      book.block_number)
                seed_index(index, book, k)
            paths = [Path(m.deployment_path) for m in book.markets]
            world = attach_world(deployments.load("local", paths[0].parent))
            assert not any(liquidatable(book, k) for k in range(3))
            seeded_at = time.monotonic()

            shared = {"NAVLEND_KEEPER_SHARD_COUNT": str(SHARDS), "NAVLEND_KEEPER_REDIS_URL": redis_url,
                      "NAVLEND_KEEPER_DB_URL": db_url, "SILVERBACK_BOT_NAME": f"hosts-markets-{anvil.port}"}
            scan_ports = {"NAVLEND_KEEPER_SCAN_METRICS_PORT": str(free_port()),
                          "NAVLEND_KEEPER_SCAN_METRICS_PORTS": "8"}

            def scanner_env(role: str) -> dict[str, str]:
                env = _host(tmp_path, role, anvil.url, paths, **shared, **broker_env(redis_url), **scan_ports)
                env.pop(SIGNER_ENV, None)  # a scanner host holds no key
                return env

            network = ape_attachment(ANVIL, anvil.url).network
            logs = tmp_path / "hosts"
            submitter = keeper_process(
                _host(tmp_path, "submitter", anvil.url, paths, **shared, NAVLEND_KEEPER_SIGNER_ALIAS="TEST::5"),
                logs / "submitter" / "submitter.log", module="keepers.bots.submitter:bot", ready_marker="backfilled",
                network=network)
            bots.append(submitter.start())
            workers = [BotProcess([silverback_bin(), "worker", "keepers.bots.scanner:bot", "-w", "1", "--network",
                                   network], scanner_env(f"worker-{i}"), logs / f"worker-{i}" / "worker.log",
                                  name=f"worker-{i}").start() for i in range(2)]
            bots += workers
            dispatcher = keeper_process(scanner_env("dispatcher"), logs / "dispatcher" / "dispatcher.log",
                                        module="keepers.bots.scanner:bot", ready_marker=None, network=network)
            bots.append(dispatcher.start())

            def tails() -> str:
                return "\n".join(f"{b.log_path}:\n{b.tail(30)}" for b in bots)

            def ready() -> bool:
                return len(submitter.events("backfilled")) == 3 and all(w.count("SUCCESS:") >= 3 for w in workers)

            try:
                wait_for(lambda: not all(b.alive for b in bots) or ready(), 90, "the submitter and both workers")
            except AssertionError:
                raise AssertionError(f"the roles did not come up\n{tails()}") from None
            assert all(b.alive for b in bots), tails()
            up_at = time.monotonic()
            keeper = str(test[KEEPER_ACCOUNT].address)
            start_nonce = nonce_of(anvil, keeper)
            start_block = anvil.block_number()

            drop_fund_a(anvil, world, DROP_BPS, test[0])
            sunk = [liquidatable(book, k) for k in range(3)]
            assert all(sunk), f"a market with nothing sunk: {[len(s) for s in sunk]}"
            try:
                wait_for(lambda: not any(liquidatable(book, k) for k in range(3)), 60, "every sunk position liquidated")
            except AssertionError:
                left = [len(liquidatable(book, k)) for k in range(3)]
                raise AssertionError(f"still liquidatable per market: {left}\n{tails()}") from None
            time.sleep(3)  # the last receipts followed
            end_block = anvil.block_number()
            liquidated_at = time.monotonic()

            sent = sent_by(anvil, keeper, start_block, end_block)
            for k, seeded in enumerate(book.markets):
                found = liquidations(anvil, seeded.market, start_block)
                # Every sunk position of the market, and only those, by the submitter's transactions.
                assert {b for b, _, _ in found} == {a.lower() for a in sunk[k]}, f"market {k}"
                assert {t for _, _, t in found} <= set(sent), f"market {k}: a liquidation by someone else"
                blocks = [(b, n) for b, n, _ in found]
                assert len(set(blocks)) == len(blocks), f"market {k}: a position liquidated twice in one block"
                queue = CandidateQueue(redis.Redis.from_url(redis_url), seeded.market)
                assert queue.size() == 0, f"market {k}: candidates left in its queue"

            assert not sequence_problems(anvil, keeper, start_nonce, sent)
            assert submitter.count("someone else liquidated first") == 0
            assert submitter.count("transaction of no market settled") == 0

            # No scanner sends nor reads logs; each worker scanned every market's shards.
            for bot in (*workers, dispatcher):
                assert not bot.events("liquidation sent"), f"{bot.log_path} sent a transaction"
                assert not bot.events("backfilled"), f"{bot.log_path} read the chain's logs"
            for bot in (submitter, *workers):
                assert not bot.events("handled fault"), f"{bot.log_path}:\n{bot.tail(40)}"
            for worker in workers:
                failed = [line for line in worker.text().splitlines() if line.startswith("ERROR:")]
                assert not failed, f"{worker.log_path}: {len(failed)} tasks failed\n{worker.tail(40)}"
            # The workers queued candidates of every market (a task per market and range).
            tasks = {t.name: t.market for t in plan_tasks([m.market for m in book.markets], SHARDS)}
            queued = {tasks[e["task"]] for w in workers for e in w.events("shard candidates queued")}
            assert queued == {to_address(m.market) for m in book.markets}, queued
            # Every mined transaction of the signer's was the submitter's (a batch is one, for several plans).
            sent_txs = {e["tx"].lower().removeprefix("0x") for e in submitter.events("liquidation sent")}
            assert sent_txs == {h.lower().removeprefix("0x") for h in sent}, (sent_txs, sorted(sent))
    finally:
        for bot in reversed(bots):
            bot.stop()
        anvil.stop()
    print(f"\nseeded in {seeded_at - started:.1f} s, roles up in {up_at - seeded_at:.1f} s, "
          f"liquidated in {liquidated_at - up_at:.1f} s")
