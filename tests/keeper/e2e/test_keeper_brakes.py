"""End to end: the keeper bot's brakes and treasury against anvil (the
seeded book of ``tests/keeper/conftest.py``; a 12 % fall of fund A's NAV
makes borrowers 1-4 liquidatable). Nothing is sent past a brake: the
keeper account's nonce does not move while the kill file exists or while
the operator's signal halts it; it liquidates once the brake is lifted.
The seize route's allowance is the keeper's own, bounded approval, and
profit goes to the profit receiver."""

from __future__ import annotations

import os
import signal

from devkit.devnet import metric_value, wait_for

USD = 10**6
DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)


def _nonce(devnet) -> int:
    return int(devnet.anvil.rpc("eth_getTransactionCount", str(devnet.keeper.address), "latest"), 16)


def _none_liquidatable(devnet) -> bool:
    return not any(devnet.health(devnet.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY)


def _refusals(port: int, reason: str) -> float:
    return metric_value(port, "keeper_brakes_refused_total", reason=reason)


def test_kill_file__present__nothing_sent_then_removed__liquidates(devnet, tmp_path):
    kill = tmp_path / "STOP"
    kill.touch()
    bot, port = devnet.start_keeper(NAVLEND_KEEPER_KILL_FILE=str(kill))
    nonce = _nonce(devnet)
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: _refusals(port, "kill_file") >= 1, 60, "a send refused by the kill file")
    devnet.anvil.mine(3)
    assert _nonce(devnet) == nonce and devnet.liquidations() == []
    assert any(e.get("reason") == "kill_file" for e in bot.events("brake: not sending"))

    kill.unlink()
    wait_for(lambda: _none_liquidatable(devnet), 90, "liquidations once the kill file is gone")
    assert bot.alive


def test_operator_signal__sigusr1_halts_sigusr2_resumes(devnet):
    bot, port = devnet.start_keeper()
    nonce = _nonce(devnet)
    os.kill(bot.proc.pid, signal.SIGUSR1)
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: _refusals(port, "operator_halt") >= 1, 60, "a send refused by the operator's halt")
    assert metric_value(port, "keeper_brakes_halted") == 1
    assert _nonce(devnet) == nonce and devnet.liquidations() == []

    os.kill(bot.proc.pid, signal.SIGUSR2)
    wait_for(lambda: _none_liquidatable(devnet), 90, "liquidations after the operator resumed")
    assert metric_value(port, "keeper_brakes_halted") == 0


def test_balance_floor__above_the_balance__nothing_sent(devnet):
    # The devnet's accounts hold 1,000,000 ETH; a floor above it refuses every send.
    floor = str(devnet.keeper.balance // 10**18 + 1)
    bot, port = devnet.start_keeper(NAVLEND_KEEPER_BALANCE_FLOOR_ETH=floor, NAVLEND_KEEPER_LOW_BALANCE_ETH=floor)
    nonce = _nonce(devnet)
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: _refusals(port, "balance_below_floor") >= 1, 60, "a send refused by the balance floor")
    devnet.anvil.mine(2)
    assert _nonce(devnet) == nonce and devnet.liquidations() == []


def test_seize_route__keeper_approves_a_bounded_allowance_then_liquidates(devnet):
    from test_keeper_e2e import _drain_facility_a

    _drain_facility_a(devnet)
    world, market = devnet.lm.world, devnet.lm.market
    with devnet.automine():
        world.allowlist(devnet.keeper, sender=devnet.deployer)
        world.stablecoin.mint(devnet.keeper, 1_000_000 * USD, sender=devnet.deployer)
    assert world.stablecoin.allowance(devnet.keeper, market) == 0
    bot, port = devnet.start_keeper(NAVLEND_KEEPER_SEIZE_APPROVAL_USD="500000")
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: metric_value(port, "keeper_liquidations_succeeded_total", route="seize") >= 1, 90,
             "a seize-route liquidation after the keeper's approval")
    # Never unlimited: every approval is the bound (the four positions need more than it:
    # those that fit go, the rest wait for the allowance to be used and approved again).
    approvals = [e for e in bot.events("seize route: approval") if e["status"] == "sent"]
    assert approvals and all(e["amount"] == 500_000 * USD for e in approvals)
    assert world.stablecoin.allowance(devnet.keeper, market) <= 500_000 * USD


def test_profit_receiver__profit_swept_off_the_signing_key(devnet):
    receiver = devnet.accounts[7]
    stable = devnet.lm.world.stablecoin
    before = stable.balanceOf(receiver)
    bot, port = devnet.start_keeper(NAVLEND_KEEPER_PROFIT_RECEIVER=str(receiver.address),
                                    NAVLEND_KEEPER_MIN_SWEEP_USD="1", NAVLEND_KEEPER_SWEEP_FLOAT_USD="0")
    devnet.drop_nav(DROP_BPS)

    wait_for(lambda: stable.balanceOf(receiver) > before, 90, "profit swept to the receiver")
    wait_for(lambda: stable.balanceOf(devnet.keeper) == 0, 30, "nothing left on the signing key")
    assert bot.events("profit sweep")
