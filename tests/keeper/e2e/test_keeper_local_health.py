"""The keeper with health from the index on anvil (``local_health`` on,
``keepers/localkeeper.py``), driven block by block in this process, every
RPC call of it through the fault proxy (no fault armed) so that they are
counted: an admin's risk change, time passing and a NAV drop; every
position the Lens calls liquidatable is liquidated, the full Lens sweeps
find no mismatch, and a steady block costs at most 5 RPC calls (the
issue's target): the head, one getLogs over the market and the NAV
oracles, the wrapper's price (its feed emits no event), and the Lens only
for positions near the edge."""

from __future__ import annotations

from types import SimpleNamespace

from ape import chain

from devkit.faultproxy import FaultProxy
from keepers.config import load_config
from keepers.wiring import build_keeper

STEADY_CALLS_MAX = 5
BLOCKS_MAX = 40


class Clock:
    """The sweep's clock, moved by the test (one sweep when it says)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _liquidatable(net) -> list[str]:
    accounts = [str(b.address) for b in net.borrowers]
    return [h.account for h in net.lm.lens.healths(net.lm.market, accounts) if h.liquidatable]


def _settle(net, keeper, proxy) -> int:
    """Blocks until nothing is liquidatable and nothing is in flight (the
    test mines them; each of the keeper's sends is mined as it arrives).
    Returns the blocks it took."""
    for blocks in range(1, BLOCKS_MAX + 1):
        net.anvil.mine(1)
        report = keeper.on_block()
        assert report.error == "", report.error
        if not keeper.tx.pending and not _liquidatable(net):
            return blocks
    raise AssertionError(f"still liquidatable after {BLOCKS_MAX} blocks: {_liquidatable(net)}")


def _sweep(net, keeper, clock) -> None:
    clock.now += keeper.local.sweep_seconds
    net.anvil.mine(1)
    keeper.on_block()


def _metric(keeper, name: str) -> float:
    return keeper.metrics.registry.get_sample_value(name) or 0.0


def test_keeper_local_health__risk_change_time_and_nav_drop__all_liquidated_no_mismatch_steady_block_cheap(devnet, tmp_path):
    net = devnet
    net.anvil.set_interval_mining(0)  # automine: the test mines the blocks, the keeper's sends are mined at once
    with FaultProxy(net.anvil.url, seed=17) as proxy:
        config = load_config(env={
            "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5",
            "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(net.lm.deployment_path),
            "NAVLEND_KEEPER_DB_PATH": str(tmp_path / "local-health.sqlite"),
            "NAVLEND_KEEPER_KILL_FILE": str(tmp_path / "STOP"),
            "NAVLEND_KEEPER_RPC_URLS": proxy.url,
            "NAVLEND_KEEPER_LOCAL_HEALTH": "true",
            "NAVLEND_KEEPER_COMPACT_EVERY_BLOCKS": "0",
        })
        bot = SimpleNamespace(provider=chain.provider, signer=net.keeper)
        keeper = build_keeper(config, bot, with_tx=True, serve_metrics=False)
        clock = Clock()
        keeper.local.clock = clock
        keeper.check_setup()
        keeper.backfill()

        # The first block sweeps: the local figures of all 7 positions equal the Lens's.
        net.anvil.mine(1)
        assert keeper.on_block().error == ""
        assert _metric(keeper, "keeper_health_sweeps_total") == 1
        assert _metric(keeper, "keeper_health_mismatches_total") == 0

        # Steady blocks: nothing happens.
        for _ in range(3):
            net.anvil.mine(1)
            proxy.reset_stats()
            keeper.on_block()
            stats = proxy.stats()
            assert stats.calls <= STEADY_CALLS_MAX, dict(stats.forwarded)
        assert stats.forwarded.get("eth_getLogs") == 1 and stats.forwarded.get("eth_getBlockByNumber") == 1, dict(
            stats.forwarded)

        # An admin's risk change: fund A's threshold from 90 % to 84 % sinks the 84.9 % LTV positions.
        market, fund_a = net.lm.market, net.lm.world.fund_a
        risk = market.asset_config(fund_a)
        with net.automine():
            market.set_asset_risk(fund_a, 8_000, 8_400, risk.bonus_bps, sender=net.deployer)
        net.anvil.set_interval_mining(0)
        assert _liquidatable(net)
        _settle(net, keeper, proxy)
        _sweep(net, keeper, clock)
        assert _metric(keeper, "keeper_health_mismatches_total") == 0

        # A NAV drop of 12 % (its block a business day later).
        net.drop_nav(1_200)
        net.anvil.set_interval_mining(0)
        assert _liquidatable(net)
        _settle(net, keeper, proxy)
        _sweep(net, keeper, clock)
        assert _liquidatable(net) == []
        assert _metric(keeper, "keeper_health_mismatches_total") == 0

        # Time: a month of interest, nothing else (the index moves by the rules' formula).
        net.anvil.rpc("evm_increaseTime", hex(30 * 86_400))
        _sweep(net, keeper, clock)

        assert _metric(keeper, "keeper_health_sweeps_total") == 4
        assert _metric(keeper, "keeper_health_mismatches_total") == 0
        assert _metric(keeper, "keeper_health_fallbacks_total") == 0
        assert _metric(keeper, "keeper_health_rechecked_total") > 0
        liquidated = {e.borrower for e in net.liquidations()}
        assert len(liquidated) >= 3, liquidated
        assert str(net.borrowers[0].address) not in liquidated  # LTV 60 %: healthy throughout
        keeper.reader.close()
