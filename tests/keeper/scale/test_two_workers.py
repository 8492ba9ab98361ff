"""End to end, scale-out (issue 5, "two workers on Redis: no double
submission"): a Redis broker, two ``silverback worker keepers.bots.liquidator:bot``
processes running the shard scans (``NAVLEND_KEEPER_SHARD_COUNT=2``), the
``silverback run keepers.bots.liquidator:bot`` process that dispatches the block tasks
to them, and the single signing ``silverback run keepers.bots.submitter:bot`` on
the in-memory broker, all against the seeded anvil of
``tests/keeper/conftest.py``. A 12 % fall of fund A's NAV makes borrowers
1-4 liquidatable (as in ``tests/keeper/e2e``).

In ``make test`` (the ``keeper/scale`` suite; ``make setup`` installs
Debian's ``redis-server`` through ``keepers/install-redis.sh``). Alone::

    ape test tests/keeper/scale -p no:cacheprovider

Redis: this test starts its own ``redis-server`` on a free loopback port
(``keepers.scale.ensure_redis``, which also installs it with apt-get if
missing) and shuts it down after it; the test is skipped, with the reason,
when it cannot be installed or started.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devkit.devnet import wait_for
from devkit.processes import NETWORK, BotProcess, free_port, keeper_process, silverback_bin

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)
HEALTHY = (0, 5, 6)


def _worker(env: dict[str, str], log_path: Path) -> BotProcess:
    args = [silverback_bin(), "worker", "keepers.bots.liquidator:bot", "-w", "1", "--network", NETWORK]
    return BotProcess(args, env, log_path, name=log_path.stem)


def _none_liquidatable(devnet) -> bool:
    return not any(devnet.health(devnet.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY)


def test_two_workers__every_unhealthy_position_liquidated__no_double_submission(redis_url, devnet):
    # redis_url first: set up before the devnet, torn down after its bots stop.
    from keepers.scale import broker_env

    shard = {"NAVLEND_KEEPER_SHARD_COUNT": "2", "NAVLEND_KEEPER_REDIS_URL": redis_url}
    # Each scan worker serves its metrics on the first free port from here.
    scan_ports = {"NAVLEND_KEEPER_SCAN_METRICS_PORT": str(free_port()), "NAVLEND_KEEPER_SCAN_METRICS_PORTS": "8"}
    scan_env = devnet.env(free_port(), **shard, **broker_env(redis_url), **scan_ports)
    workers = [_worker(scan_env, devnet.workdir / f"worker-{i}.log").start() for i in range(2)]
    devnet.bots += workers
    dispatcher = keeper_process(scan_env, devnet.workdir / "dispatcher.log")
    devnet.bots.append(dispatcher.start())
    # The submitter: the same keeper settings, the in-memory broker.
    submitter = keeper_process(devnet.env(free_port(), **shard), devnet.workdir / "submitter.log",
                               module="keepers.bots.submitter:bot", ready_marker=None)
    devnet.bots.append(submitter.start())

    def tail(bot: BotProcess) -> str:
        return f"{bot.log_path.name}:\n{bot.log_path.read_text(errors='replace')[-3000:]}"

    def all_alive() -> bool:
        return all(b.alive for b in devnet.bots)

    def shard_tasks_done(bot: BotProcess) -> int:
        text = bot.log_path.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if line.startswith("SUCCESS:") and "scan_shard_" in line)

    # Both workers completed shard scans: the fan-out over Redis is live.
    wait_for(lambda: not all_alive() or all(shard_tasks_done(w) >= 2 for w in workers), 240,
             "shard scans in both workers")
    assert all_alive(), "\n".join(tail(b) for b in devnet.bots if not b.alive)
    start_block = devnet.anvil.block_number()

    devnet.drop_nav(DROP_BPS)
    wait_for(lambda: _none_liquidatable(devnet), 120, "every unhealthy position liquidated")
    # Let anything still queued or in flight surface.
    head = devnet.anvil.block_number()
    wait_for(lambda: devnet.anvil.block_number() >= head + 5, 30, "five more blocks")

    assert all_alive(), "\n".join(tail(b) for b in devnet.bots if not b.alive)
    flash = str(devnet.lm.flash_liquidator.address)
    liquidations = [e for e in devnet.liquidations() if e.block_number >= start_block]
    assert liquidations and all(e.liquidator == flash for e in liquidations)
    per_borrower = Counter(e.borrower for e in liquidations)
    for i in FUND_A_UNHEALTHY:
        # One liquidation restores each of these positions (12 % drop, close factor).
        assert per_borrower[str(devnet.borrowers[i].address)] == 1, f"borrower {i}: {per_borrower}"
    for i in HEALTHY:
        assert per_borrower[str(devnet.borrowers[i].address)] == 0, f"healthy borrower {i} liquidated"

    # Only the submitter signs; every transaction has its own nonce (one
    # "liquidation sent" per position: a batch's positions share theirs),
    # each was mined once and succeeded, and no two were in flight for the
    # same position (a second one only after the first was mined).
    for bot in (*workers, dispatcher):
        assert not bot.events("liquidation sent"), f"{bot.log_path.name} sent a transaction"
    for worker in workers:
        failed = [line for line in worker.log_path.read_text(errors="replace").splitlines()
                  if line.startswith("ERROR:") and "scan_shard_" in line]
        assert not failed, f"{worker.log_path.name}: {len(failed)} shard tasks failed\n{tail(worker)}"
    sent = submitter.events("liquidation sent")
    assert sent, tail(submitter)
    nonce_of = {e["tx"]: e["nonce"] for e in sent}
    assert len(set(nonce_of.values())) == len(nonce_of), f"a nonce used twice: {sorted(nonce_of.values())}"
    assert all(nonce_of[e["tx"]] == e["nonce"] for e in sent)
    assert not submitter.events("someone else liquidated first"), "a double submission lost against itself"
    assert not submitter.events("liquidation failed")
    assert not submitter.events("replaced"), "a stuck nonce was replaced"
    assert len(sent) == len(liquidations), (
        f"{len(sent)} sends for {len(liquidations)} Liquidate events: {Counter(e['borrower'] for e in sent)}")
    by_hash = {str(e.transaction_hash if isinstance(e.transaction_hash, str) else e.transaction_hash.hex()).lower()
               .removeprefix("0x"): e for e in liquidations}
    for e in sent:
        assert e["tx"].lower().removeprefix("0x") in by_hash, f"sent {e['tx']} has no Liquidate event"
    for borrower, count in Counter(e["borrower"] for e in sent).items():
        sends = sorted((e["block"] for e in sent if e["borrower"] == borrower))
        mined = sorted(e.block_number for e in liquidations if e.borrower == borrower)
        for later_send, earlier_mined in zip(sends[1:], mined):
            assert later_send >= earlier_mined, f"{borrower}: two liquidations in flight at once"
    keeper_nonce = devnet.anvil.rpc("eth_getTransactionCount", str(devnet.keeper.address), "latest")
    # The keeper account deployed its FlashLiquidator (nonce 0) and signed nothing else.
    assert int(keeper_nonce, 16) == 1 + len(nonce_of)

    # Every scan worker exports its own metrics: a series per shard, with
    # the market and chain labels, and the shards' scans counted.
    expositions = [_scrape(w.events("scan worker metrics and health endpoint")) for w in workers]
    market = str(devnet.lm.market.address)
    for samples in expositions:
        info = [labels for name, labels, _ in samples if name == "keeper_build_info"]
        assert {i["shard"] for i in info} == {"0", "1"} and all(i["market"].lower() == market.lower() for i in info), info
    scanned = Counter()
    for samples in expositions:
        for name, labels, value in samples:
            if name == "keeper_accounts_scanned_total":
                scanned[labels["shard"]] += value
    assert scanned["0"] > 0 and scanned["1"] > 0, scanned
    # The submitter keeps its own endpoint, and its /healthz follows its blocks.
    announced = submitter.events("metrics and health endpoint")
    assert len(announced) == 1, tail(submitter)
    with urllib.request.urlopen(announced[0]["health"], timeout=10) as answer:
        health = json.loads(answer.read())
    assert health["ok"] and health["last_block"] > start_block, health


def _scrape(announced: list[dict]) -> list[tuple[str, dict[str, str], float]]:
    """The samples of the /metrics a worker announced in its log."""
    assert len(announced) == 1, announced
    with urllib.request.urlopen(announced[0]["url"], timeout=10) as answer:
        text = answer.read().decode()
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
