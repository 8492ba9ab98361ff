"""The keeper bot against misbehaving providers (issue 16, point 3 and the
fault-proxy runs): ``devkit.faultproxy.FaultProxy`` between the bot and
anvil, the keeper's reads and sends through ``keepers.rpc`` (``rpc_urls``,
``send_rpc_url``, failover, rate limits, timeouts), the backfill in
checkpointed chunks, one shared head poll. In every run each position the
NAV drop sinks is liquidated exactly once (``Liquidate`` events per
borrower on the canonical chain) and the healthy ones never.

Scaled: anvil mines ~40 blocks a second with ``anvil_mine``, so a
history long enough for the providers' 10,000-block / 10,000-log limits
would take minutes to build; the limits are set to the test chain's size
(``LogLimits(max_blocks=40, max_logs=4)``: the backfill's 2,000-block
chunks are refused by range and by result size, exactly the errors and
words of the 10,000 limits).
"""

from __future__ import annotations

import time

from devkit.devnet import metric_value, wait_for
from devkit.faultproxy import DropSend, EvictSend, FaultProxy, LogLimits, RateLimit, Timeout

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)
HEALTHY = (0, 5, 6)
# What Ape and Silverback ask at start through their own provider stays
# unfaulted (they are not the keeper's code); every call the keeper's
# engine makes for a scan, an index sync or a send can fail.
KEEPER_METHODS = frozenset({"eth_getLogs", "eth_call", "eth_estimateGas", "eth_sendRawTransaction",
                            "eth_getBlockReceipts", "eth_getTransactionCount"})


def _liquidated_once(devnet) -> None:
    """Each sunk position liquidated exactly once, the healthy ones never."""
    counts = {i: len(devnet.liquidations(devnet.borrowers[i])) for i in FUND_A_UNHEALTHY + HEALTHY}
    assert counts == {**{i: 1 for i in FUND_A_UNHEALTHY}, **{i: 0 for i in HEALTHY}}, counts


def _all_liquidated(devnet, timeout: float = 90) -> None:
    wait_for(lambda: not any(devnet.health(devnet.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY),
             timeout, "every unhealthy position liquidated")


def test_faults__429_bursts_timeouts_log_limits__backfill_completes_each_position_liquidated_once(devnet):
    with FaultProxy(devnet.anvil.url, seed=5) as proxy:
        proxy.add(LogLimits(max_blocks=40, max_logs=4))
        proxy.add(RateLimit(fraction=0.05, retry_after=1, methods=KEEPER_METHODS))
        proxy.add(RateLimit(calls=3, retry_after=1, methods=frozenset({"eth_getLogs"})))
        proxy.add(Timeout(seconds=2.0, fraction=0.02, methods=KEEPER_METHODS))
        bot, _ = devnet.start_keeper(APE_FOUNDRY_HOST=proxy.url, NAVLEND_KEEPER_RPC_TIMEOUT_SECONDS="1",
                                     NAVLEND_KEEPER_BACKFILL_CHUNK_BLOCKS="2000")
        backfilled = bot.events("backfilled")[0]
        devnet.drop_nav(DROP_BPS)
        _all_liquidated(devnet)

        stats = proxy.stats()
        # Faults off: one head poll per period (0.25 s) for the runner's
        # eleven listeners together.
        proxy.clear()
        time.sleep(2)
        proxy.reset_stats()
        time.sleep(4)
        head_polls = proxy.stats().forwarded.get("eth_blockNumber", 0) / 4
    _liquidated_once(devnet)
    # The backfill from the deployment block to the head, all of it
    # (nothing given up on), through range refusals and 429s.
    assert backfilled["start"] == 0 and backfilled["logs"] >= len(devnet.borrowers)
    assert backfilled["open"] == len(devnet.borrowers)
    # Range refusals halved the chunk; the 429s were waited out by the RPC
    # layer (their Retry-After) and shrank nothing.
    caught_up = bot.events("index caught up")
    assert caught_up and caught_up[0]["range_errors"] > 0 and caught_up[0]["head"] == backfilled["head"]
    failed = {e["kind"] for e in bot.events("rpc endpoint failed")}
    assert {"rate_limited", "timeout"} <= failed, failed
    assert stats.rate_limited > 0 and stats.timed_out > 0 and stats.log_limit_refusals > 0
    assert 1 <= head_polls <= 6, head_polls  # one poll per listener before (44 a second in the unit test)
    assert stats.forwarded.get("eth_getLogs", 0) > 0
    assert bot.alive


def test_faults__read_endpoint_dies_and_returns__sends_dropped_and_evicted__liquidated_once(devnet):
    with (FaultProxy(devnet.anvil.url, seed=1) as first, FaultProxy(devnet.anvil.url, seed=2) as second,
          FaultProxy(devnet.anvil.url, seed=3) as sender):
        sender.add(DropSend(calls=1))
        sender.add(EvictSend(after=0.1))
        bot, _ = devnet.start_keeper(APE_FOUNDRY_HOST=first.url, NAVLEND_KEEPER_RPC_URLS=f"{first.url},{second.url}",
                                     NAVLEND_KEEPER_SEND_RPC_URL=sender.url, NAVLEND_KEEPER_RPC_TIMEOUT_SECONDS="1")
        second.reset_stats()
        first.outage(10)
        devnet.drop_nav(DROP_BPS)
        # Evicted once, then mined: the first send dropped, the rebroadcast evicted.
        wait_for(lambda: len(sender.stats().evicted) >= 1, 30, "a send evicted")
        sender.clear()
        _all_liquidated(devnet)
        read_while_down = second.stats().forwarded
        first.restore()
        time.sleep(3)
        sends = sender.stats()
        back = first.stats().forwarded
    _liquidated_once(devnet)
    assert read_while_down.get("eth_call", 0) > 0 and read_while_down.get("eth_getLogs", 0) > 0
    assert sends.dropped_sends and sends.evicted
    assert first.stats().refused_while_down > 0
    assert back.get("eth_blockNumber", 0) > 0  # the first endpoint serves again once back
    assert bot.alive


def test_faults__oracle_getlogs_refused_for_a_while__the_navs_full_scan_still_happens(devnet):
    with FaultProxy(devnet.anvil.url, seed=4) as proxy:
        bot, _ = devnet.start_keeper(APE_FOUNDRY_HOST=proxy.url, NAVLEND_KEEPER_RPC_MAX_WAIT_SECONDS="0.5")
        first_block = devnet.anvil.block_number()
        # Every getLogs (the keeper's and the runner's listeners') refused
        # for 8 s, longer than a call may wait (and than web3's own retries
        # last): the NAV's events are not read in their block.
        proxy.add(RateLimit(retry_after=2, methods=frozenset({"eth_getLogs"})))
        devnet.drop_nav(DROP_BPS)
        nav_block = devnet.anvil.block_number()
        time.sleep(8)
        refused = proxy.stats().rate_limited
        proxy.clear()
        _all_liquidated(devnet)
        wait_for(lambda: any(e.get("block") and e["block"] > first_block for e in bot.events("nav update: full scan on the next block")),
                 20, "the NAV event read once getLogs answered")
    assert refused > 0
    nav_events = [e["block"] for e in bot.events("nav update: full scan on the next block") if e.get("block")]
    assert any(first_block < b <= nav_block for b in nav_events), (first_block, nav_block, nav_events)
    _liquidated_once(devnet)
    assert bot.alive


def test_faults__reorg_drops_the_liquidations__liquidated_again_exactly_once(devnet):
    with FaultProxy(devnet.anvil.url, seed=6) as proxy:
        bot, port = devnet.start_keeper(APE_FOUNDRY_HOST=proxy.url)
        devnet.drop_nav(DROP_BPS)
        _all_liquidated(devnet)
        # Hold the chain still once the keeper's index has reached the head,
        # then replace the blocks from the first liquidation on: its
        # transactions leave the chain, and the keeper's checkpoint block.
        devnet.anvil.rpc("evm_setIntervalMining", 0)
        head = devnet.anvil.block_number()
        wait_for(lambda: metric_value(port, "keeper_index_checkpoint_block") >= head, 20, "the index at the head")
        first = min(int(entry.block_number) for entry in devnet.liquidations())
        depth = head - first + 1
        proxy.reorg(depth)
        assert devnet.liquidations() == []
        assert any(devnet.health(devnet.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY)
        devnet.anvil.set_interval_mining(1)
        _all_liquidated(devnet)
        wait_for(lambda: bot.events("reorg: index rewound"), 20, "the keeper's index rewound")
        time.sleep(2)
        stats = proxy.stats()
    _liquidated_once(devnet)
    assert stats.reorgs == 1
    assert not bot.events("unreadable market log")
    assert bot.alive
