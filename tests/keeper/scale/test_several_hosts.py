"""End to end, the keeper on several hosts (issue 17; before, issue 5's
"two workers on Redis: no double submission"): every role in its own
directory with its own environment, sharing only the Redis URL, the
PostgreSQL URL and the node (keepers/hosts.py):

- the submitter (``silverback run keepers.bots.submitter:bot``, in-memory
  broker), the one signer and the one index writer (the only ``getLogs``);
- the dispatcher (``silverback run keepers.bots.scanner:bot`` on Redis);
- two scanner workers (``silverback worker keepers.bots.scanner:bot``),
  each task a shard (the market's accounts in two address ranges) read
  from the PostgreSQL index read-only, candidates into the bounded queue.

Each host's directory holds its own copy of the deployments file, its Ape
data folder, its kill file and its log; the code is the checkout (every
host runs the same release). Against the seeded anvil of
``tests/keeper/conftest.py``: worker 0 is SIGKILLed, then a 6 % fall of
fund A's NAV makes borrowers 2 and 3 liquidatable (the other worker takes
every shard from the next block: a dead worker's task is re-dispatched
with the next block, nothing is redelivered); worker 0 is restarted, then
a second fall makes more positions liquidatable. Each is liquidated once, by the submitter only,
one nonce per transaction, consecutive.

In ``make test`` (the ``keeper/scale`` suite; ``make setup`` installs
redis-server and PostgreSQL). Alone::

    ape test tests/keeper/scale -p no:cacheprovider
"""

from __future__ import annotations

import json
import shutil
import signal
import urllib.request
from collections import Counter
from pathlib import Path

import redis
from prometheus_client.parser import text_string_to_metric_families

from devkit.devnet import wait_for
from devkit.processes import NETWORK, BotProcess, free_port, keeper_process, silverback_bin

FIRST_DROP_BPS = 600  # fund A x 0.94: borrowers at 84.9 % LTV cross the 90 % threshold
SECOND_DROP_BPS = 600  # x 0.94 again: those at 80 % cross it too
FUND_A = (0, 1, 2, 3, 4)
NOT_FUND_A = (5, 6)
SHARDS = 2


def _host(devnet, role: str, **settings: str) -> dict[str, str]:
    """``role``'s own directory and environment: the node, its copy of the
    deployments file, its Ape data folder, its kill file; ``settings``."""
    home = devnet.workdir / "hosts" / role
    home.mkdir(parents=True, exist_ok=True)
    deployments = home / devnet.lm.deployment_path.name
    shutil.copy(devnet.lm.deployment_path, deployments)
    env = devnet.env(free_port(), **settings)
    env.update(NAVLEND_KEEPER_DEPLOYMENTS_FILE=str(deployments), NAVLEND_KEEPER_DB_PATH=str(home / "index.sqlite"),
               NAVLEND_KEEPER_KILL_FILE=str(home / "STOP"), APE_DATA_FOLDER=str(home / "ape"))
    return env


def _worker(env: dict[str, str], log_path: Path) -> BotProcess:
    args = [silverback_bin(), "worker", "keepers.bots.scanner:bot", "-w", "1", "--network", NETWORK]
    return BotProcess(args, env, log_path, name=log_path.stem)


def _tasks_done(bot: BotProcess, names: set[str]) -> Counter:
    done = Counter()
    for line in bot.text().splitlines():
        if line.startswith("SUCCESS:"):
            for name in names:
                if name in line:
                    done[name] += 1
    return done


def _liquidatable_at(devnet, block: int) -> set[int]:
    market = devnet.lm.market
    return {i for i, b in enumerate(devnet.borrowers)
            if devnet.lm.lens.health(market, b, block_id=block).liquidatable}


def test_several_hosts__worker_killed_and_restarted__every_position_liquidated_once_one_nonce_each(
        redis_url, postgres_server, devnet):
    # redis_url and postgres_server first: up before the devnet, down after its bots.
    from keepers.hosts import SIGNER_ENV
    from keepers.scale import CandidateQueue, broker_env
    from keepers.shards import plan_tasks

    db_url = postgres_server.create_database(f"hosts_{devnet.anvil.port}")
    shared = {"NAVLEND_KEEPER_SHARD_COUNT": str(SHARDS), "NAVLEND_KEEPER_REDIS_URL": redis_url,
              "NAVLEND_KEEPER_DB_URL": db_url}
    # Each scan worker serves its metrics on the first free port from here.
    scan_ports = {"NAVLEND_KEEPER_SCAN_METRICS_PORT": str(free_port()), "NAVLEND_KEEPER_SCAN_METRICS_PORTS": "8"}

    def scanner_env(role: str) -> dict[str, str]:
        env = _host(devnet, role, **shared, **broker_env(redis_url), **scan_ports)
        env.pop(SIGNER_ENV)  # a scanner host holds no key
        return env

    logs = devnet.workdir / "hosts"
    submitter = keeper_process(_host(devnet, "submitter", **shared), logs / "submitter" / "submitter.log",
                               module="keepers.bots.submitter:bot", ready_marker="backfilled")
    devnet.bots.append(submitter.start())
    workers = [_worker(scanner_env(f"worker-{i}"), logs / f"worker-{i}" / "worker.log").start() for i in range(2)]
    devnet.bots += workers
    dispatcher = keeper_process(scanner_env("dispatcher"), logs / "dispatcher" / "dispatcher.log",
                                module="keepers.bots.scanner:bot", ready_marker=None)
    devnet.bots.append(dispatcher.start())
    names = {t.name for t in plan_tasks([str(devnet.lm.market.address)], SHARDS)}

    def tail(bot: BotProcess) -> str:
        return f"{bot.log_path}:\n{bot.tail(40)}"

    def all_alive() -> bool:
        return all(b.alive for b in devnet.bots)

    def scanning(bot: BotProcess) -> bool:
        return sum(_tasks_done(bot, names).values()) >= 2

    # Both workers ran shard tasks and the writer synced: the fan-out is live.
    submitter.wait_ready(timeout=120)
    wait_for(lambda: not all_alive() or all(scanning(w) for w in workers), 240, "shard scans in both workers")
    assert all_alive(), "\n".join(tail(b) for b in devnet.bots if not b.alive)
    start_block = devnet.anvil.block_number()

    # Phase 1: worker 0 SIGKILLed (whatever task it holds is lost, not
    # redelivered), then the first fall: its positions remain to be found.
    workers[0].proc.send_signal(signal.SIGKILL)
    workers[0].proc.wait(timeout=10)
    devnet.bots.remove(workers[0])
    before_kill = _tasks_done(workers[1], names)
    devnet.drop_nav(FIRST_DROP_BPS)
    first = _liquidatable_at(devnet, devnet.anvil.block_number())
    assert first == {2, 3}, first
    wait_for(lambda: not _liquidatable_at(devnet, devnet.anvil.block_number()), 120,
             "phase 1: liquidated by the surviving worker's scans")
    after_kill = _tasks_done(workers[1], names) - before_kill
    assert set(after_kill) == names, after_kill  # the survivor took every shard

    # Worker 0 restarted in its own directory; it runs shard tasks again.
    restarted = _worker(scanner_env("worker-0"), logs / "worker-0" / "worker-restarted.log").start()
    devnet.bots.append(restarted)
    wait_for(lambda: not all_alive() or scanning(restarted), 180, "the restarted worker's shard scans")
    assert all_alive(), "\n".join(tail(b) for b in devnet.bots if not b.alive)
    phase_two = devnet.anvil.block_number()

    # Phase 2: the second fall.
    devnet.drop_nav(SECOND_DROP_BPS)
    second_block = devnet.anvil.block_number()
    second = _liquidatable_at(devnet, second_block)
    assert {1, 4} <= second, second
    wait_for(lambda: not _liquidatable_at(devnet, devnet.anvil.block_number()), 120, "phase 2: liquidated")
    head = devnet.anvil.block_number()
    wait_for(lambda: devnet.anvil.block_number() >= head + 5, 30, "five more blocks")  # anything queued surfaces
    assert all_alive(), "\n".join(tail(b) for b in devnet.bots if not b.alive)
    live_workers = [workers[1], restarted]

    flash = str(devnet.lm.flash_liquidator.address)
    liquidations = [e for e in devnet.liquidations() if e.block_number >= start_block]
    assert liquidations and all(e.liquidator == flash for e in liquidations)
    phases = (("phase 1", first, start_block, phase_two), ("phase 2", second, phase_two, devnet.anvil.block_number() + 1))
    for label, expected, lo, hi in phases:
        per_borrower = Counter(e.borrower for e in liquidations if lo <= e.block_number < hi)
        for i in range(len(devnet.borrowers)):
            count = per_borrower[str(devnet.borrowers[i].address)]
            # One liquidation restores each of these positions (close factor).
            assert count == (1 if i in expected else 0), f"{label}, borrower {i}: {per_borrower}"
    for i in NOT_FUND_A:
        assert not devnet.liquidations(devnet.borrowers[i]), f"borrower {i} (fund B) liquidated"

    # Only the submitter signs; one nonce per transaction, consecutive (the
    # keeper account deployed its FlashLiquidator at nonce 0); each mined
    # once and succeeded; none replaced; no two in flight for a position.
    for bot in (*live_workers, dispatcher):
        assert not bot.events("liquidation sent"), f"{bot.log_path} sent a transaction"
        assert not bot.events("backfilled"), f"{bot.log_path} read the chain's logs"
    for worker in live_workers:
        failed = [line for line in worker.text().splitlines()
                  if line.startswith("ERROR:") and any(n in line for n in names)]
        assert not failed, f"{worker.log_path}: {len(failed)} shard tasks failed\n{tail(worker)}"
        assert not worker.events("handled fault"), tail(worker)
    sent = submitter.events("liquidation sent")
    assert sent, tail(submitter)
    nonce_of = {e["tx"]: e["nonce"] for e in sent}
    assert sorted(nonce_of.values()) == list(range(1, 1 + len(nonce_of))), sorted(nonce_of.values())
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
    for borrower in {e["borrower"] for e in sent}:
        sends = sorted(e["block"] for e in sent if e["borrower"] == borrower)
        mined = sorted(e.block_number for e in liquidations if e.borrower == borrower)
        for later_send, earlier_mined in zip(sends[1:], mined):
            assert later_send >= earlier_mined, f"{borrower}: two liquidations in flight at once"
    keeper_nonce = devnet.anvil.rpc("eth_getTransactionCount", str(devnet.keeper.address), "latest")
    assert int(keeper_nonce, 16) == 1 + len(nonce_of)
    market = str(devnet.lm.market.address)
    # The scanners queued the candidates (a position found on several
    # blocks is one entry); the submitter drained every one.
    queued = [e for w in live_workers for e in w.events("shard candidates queued")]
    assert {a for e in queued for a in e["accounts"]} >= {str(devnet.borrowers[i].address) for i in first | second}
    assert CandidateQueue(redis.Redis.from_url(redis_url), market).size() == 0

    # Every live scan worker exports its own metrics: a series per shard,
    # with the market and chain labels, and every shard's scans counted.
    expositions = [_scrape(w.events("scan worker metrics and health endpoint")) for w in live_workers]
    labels = {t.label for t in plan_tasks([market], SHARDS)}
    for samples in expositions:
        info = [lab for name, lab, _ in samples if name == "keeper_build_info"]
        assert {i["shard"] for i in info} == labels and all(i["market"].lower() == market.lower() for i in info), info
    scanned = Counter()
    for samples in expositions:
        for name, lab, value in samples:
            if name == "keeper_accounts_scanned_total":
                scanned[lab["shard"]] += value
    assert all(scanned[label] > 0 for label in labels), scanned
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
