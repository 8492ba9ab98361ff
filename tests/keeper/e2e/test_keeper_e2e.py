"""End to end: the keeper bot (``silverback run keepers.bots.liquidator:bot``) against
anvil, with the seeded book of ``devkit.seeding.SEEDS`` (borrowers 0-4 on
fund A at LTV 60 %, 80 %, 84.9 %, 84.9 %, 80 % ($1,500), borrowers 5-6 on the
wrapper). A 12 % fall of fund A's NAV makes borrowers 1-4 liquidatable and
leaves borrower 0 and the wrapper positions healthy.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from hexbytes import HexBytes

from devkit.devnet import metric_value, wait_for
from navlend.constants import WAD

USD = 10**6

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)
HEALTHY = (0, 5, 6)


def _liquidatable(devnet, index: int) -> bool:
    return bool(devnet.health(devnet.borrowers[index]).liquidatable)


def _none_liquidatable(devnet, indices=FUND_A_UNHEALTHY) -> bool:
    return not any(_liquidatable(devnet, i) for i in indices)


def _wait_for_succeeded(port: int, count: int, route: str = "redeem") -> None:
    wait_for(
        lambda: metric_value(port, "keeper_liquidations_succeeded_total", route=route) >= count,
        30,
        f"{count} {route} liquidations counted as succeeded",
    )


@pytest.mark.both_nodes
def test_nav_drop__liquidates_every_unhealthy_position__leaves_healthy_ones(devnet):
    bot, port = devnet.start_keeper()
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: _none_liquidatable(devnet), 90, "every unhealthy position liquidated")

    flash = str(devnet.lm.flash_liquidator.address)
    for i in FUND_A_UNHEALTHY:
        logs = devnet.liquidations(devnet.borrowers[i])
        assert logs and all(entry.liquidator == flash for entry in logs), f"borrower {i}"
    for i in HEALTHY:
        assert devnet.liquidations(devnet.borrowers[i]) == [], f"healthy borrower {i} was liquidated"
    assert devnet.lm.world.stablecoin.balanceOf(devnet.keeper) > 0
    # The positions one NAV drop sank went out together (liquidate_many).
    sent = bot.events("liquidation sent")
    assert any(e["batch"] > 1 for e in sent) and len({e["tx"] for e in sent}) < len(sent), sent
    # The keeper counts a liquidation once it has read the receipt, which can
    # come a poll after the chain shows the position closed.
    _wait_for_succeeded(port, len(FUND_A_UNHEALTHY))
    assert metric_value(port, "keeper_profit_stable_units_total") > 0
    # Every series names the market and the chain; the build is reported.
    market = str(devnet.lm.market.address)
    assert metric_value(port, "keeper_build_info", market=market, chain="31337",
                        signer=str(devnet.keeper.address)) == 1
    assert metric_value(port, "keeper_positions_tracked", market=market, chain="31337") > 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        health = json.loads(answer.read())
    assert health["ok"] and health["problems"] == [] and health["signer_balance_wei"] > 0, health
    assert bot.alive


def test_nav_drop__dry_run__sends_nothing(devnet):
    bot, port = devnet.start_keeper(NAVLEND_KEEPER_DRY_RUN="true")
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: metric_value(port, "keeper_liquidations_skipped_total", reason="dry_run") >= 1, 60, "dry run")

    assert devnet.liquidations() == []
    assert all(_liquidatable(devnet, i) for i in FUND_A_UNHEALTHY)


@pytest.mark.both_nodes
def test_restart__resumes_from_checkpoint__liquidates_what_happened_while_down(devnet):
    bot, _ = devnet.start_keeper("first")
    first_checkpoint = bot.events("backfilled")[0]["head"]
    time.sleep(3)
    bot.stop()

    devnet.drop_nav(DROP_BPS)
    second, port = devnet.start_keeper("second")

    resumed = second.events("backfilled")[0]
    assert resumed["start"] > first_checkpoint >= 1, "the restart rescanned from the start"
    assert resumed["open"] == len(devnet.borrowers)
    wait_for(lambda: _none_liquidatable(devnet), 90, "liquidations after the restart")
    _wait_for_succeeded(port, len(FUND_A_UNHEALTHY))


def test_node_killed_and_restarted__bot_keeps_running_and_liquidates(devnet):
    bot, port = devnet.start_keeper()
    time.sleep(2)

    devnet.anvil.restart(down_seconds=5)
    devnet.anvil.set_interval_mining(1)
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: _none_liquidatable(devnet), 120, "liquidations after the node restart")
    assert bot.alive


@pytest.mark.both_nodes
def test_competing_liquidator__gets_there_first__lost_race_is_quiet(devnet):
    bot, port = devnet.start_keeper()
    target = devnet.borrowers[2]  # LTV 84.9 %: health 0.93 after the drop, closable in full
    devnet.anvil.set_interval_mining(0)
    devnet.anvil.rpc("evm_setAutomine", False)
    keeper_nonce = devnet.anvil.rpc("eth_getTransactionCount", str(devnet.keeper.address), "latest")

    # The NAV drop is mined; the keeper sees it and sends into the mempool.
    _send_drop_unmined(devnet)
    devnet.anvil.mine(1)
    wait_for(lambda: devnet.anvil.rpc("eth_getTransactionCount", str(devnet.keeper.address), "pending")
             != keeper_nonce, 60, "the keeper's liquidations in the mempool")

    # The competitor outbids it for one position: same block, higher tip.
    _competitor_liquidates(devnet, target)
    devnet.anvil.mine(1)
    devnet.anvil.set_interval_mining(1)

    wait_for(lambda: metric_value(port, "keeper_liquidations_failed_total", outcome="lost_race") >= 1, 60,
             "the lost race recorded")
    assert [entry.liquidator for entry in devnet.liquidations(target)] == [str(devnet.liquidator.address)]
    assert bot.alive
    assert not [e for e in bot.events("liquidation failed")], "a lost race was logged as a failure"


def test_reorg__a_removed_position_leaves_the_index(devnet):
    bot, port = devnet.start_keeper()
    tracked = len(devnet.borrowers)
    wait_for(lambda: metric_value(port, "keeper_positions_tracked") == tracked, 30, "the index")
    snapshot = devnet.anvil.snapshot()

    newcomer = devnet.accounts[6]
    from devkit.seeding import Seed, open_seeded

    with devnet.automine():
        open_seeded(devnet.lm.world, devnet.lm.market, devnet.deployer, newcomer, Seed("fund_a", 50_000, 7_000))
    wait_for(lambda: metric_value(port, "keeper_positions_tracked") == tracked + 1, 30, "the new position indexed")

    devnet.anvil.revert(snapshot)  # the branch with the new position is gone
    devnet.anvil.set_interval_mining(1)
    devnet.anvil.mine(3)

    wait_for(lambda: metric_value(port, "keeper_positions_tracked") == tracked, 30, "the reorg undone")
    assert metric_value(port, "keeper_reorgs_total") >= 1
    assert bot.alive


def test_facility_dry__keeper_not_allowlisted__skips_with_reason(devnet):
    _drain_facility_a(devnet)
    bot, port = devnet.start_keeper()
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: metric_value(port, "keeper_liquidations_skipped_total", reason="facility_dry") >= 1, 60,
             "a facility_dry skip")
    assert devnet.liquidations() == []
    skips = bot.events("skip")
    assert skips and all(s["reason"] == "facility_dry" for s in skips)
    assert all(s["borrower"] for s in skips)


def test_facility_dry__keeper_allowlisted_with_cash__falls_back_to_seize(devnet):
    _drain_facility_a(devnet)
    world = devnet.lm.world
    with devnet.automine():
        world.allowlist(devnet.keeper, sender=devnet.deployer)
        world.stablecoin.mint(devnet.keeper, 1_000_000 * USD, sender=devnet.deployer)
        world.stablecoin.approve(devnet.lm.market, 2**256 - 1, sender=devnet.keeper)
    bot, port = devnet.start_keeper()
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: metric_value(port, "keeper_liquidations_succeeded_total", route="seize") >= 1, 90,
             "a seize-route liquidation")
    logs = devnet.liquidations()
    assert logs and all(entry.receiver == str(devnet.keeper.address) for entry in logs)
    assert world.fund_a.balanceOf(devnet.keeper) > 0


# ---- helpers


def _drain_facility_a(devnet) -> None:
    facility = devnet.lm.world.facility_a
    with devnet.automine():
        facility.withdraw_liquidity(facility.available_liquidity(), devnet.deployer, sender=devnet.deployer)


def _send_drop_unmined(devnet) -> None:
    """The NAV drop, publish and confirmation, sent without mining."""
    from navlend.timeutil import next_business_day_strike

    oracle = devnet.lm.world.oracle_a
    _, answer, _, as_of, _ = oracle.latestRoundData()
    strike = next_business_day_strike(as_of)
    devnet.anvil.rpc("evm_setNextBlockTimestamp", hex(strike + 60))
    nav = answer * (10_000 - DROP_BPS) // 10_000
    frm = str(devnet.deployer.address)
    for data in (oracle.publish.encode_input(nav, strike), oracle.confirm_pending.encode_input()):
        devnet.anvil.rpc("eth_sendTransaction", {"from": frm, "to": str(oracle.address), "data": HexBytes(data).to_0x_hex(),
                                                 "gas": hex(300_000)})


def _competitor_liquidates(devnet, borrower) -> None:
    world, market = devnet.lm.world, devnet.lm.market
    liquidator = devnet.liquidator
    frm = str(liquidator.address)
    amount = 1_000_000 * USD
    calls = [
        (world.stablecoin, world.stablecoin.mint.encode_input(liquidator, amount), str(devnet.deployer.address)),
        (world.stablecoin, world.stablecoin.approve.encode_input(market, amount), frm),
        (market, market.liquidate.encode_input(borrower, world.fund_a, 2**256 - 1, 0, False, liquidator), frm),
    ]
    for contract, data, sender in calls:
        devnet.anvil.rpc("eth_sendTransaction", {
            "from": sender, "to": str(contract.address), "data": HexBytes(data).to_0x_hex(), "gas": hex(900_000),
            "maxPriorityFeePerGas": hex(50 * 10**9), "maxFeePerGas": hex(200 * 10**9),
        })

