"""End to end: a NAV drop the oracle parks as pending (a move above its
1 % limit) is planned for when announced, and the positions it sinks are
sent from the confirmation's own handler: they are mined in the block right
after the guardian's confirmation, with no scan of the book in between.

The keeper runs in the test's process (``build_keeper``, as the bot builds
it) on the seeded book of ``devkit.seeding.SEEDS``: a 12 % fall of fund A
sinks borrowers 1-4 and leaves 0 and the wrapper positions healthy.
"""

from __future__ import annotations

from types import SimpleNamespace

from devkit.processes import free_port
from keepers.config import load_config
from keepers.wiring import build_keeper
from navlend.timeutil import next_business_day_strike

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)
HEALTHY = (0, 5, 6)


def _keeper(devnet, **overrides):
    from ape import chain

    config = load_config(env=devnet.env(free_port(), **overrides))
    keeper = build_keeper(config, SimpleNamespace(provider=chain.provider, signer=devnet.keeper), with_tx=True,
                          serve_metrics=False)
    keeper.check_setup()
    keeper.backfill()
    return keeper


def _publish_pending(devnet, bps: int):
    """The updater strikes a NAV ``bps`` lower: parked as pending."""
    oracle, anvil = devnet.lm.world.oracle_a, devnet.anvil
    _, answer, _, as_of, _ = oracle.latestRoundData()
    strike = next_business_day_strike(as_of)
    if anvil.timestamp() < strike + 60:
        anvil.rpc("evm_setNextBlockTimestamp", hex(strike + 60))
        anvil.mine(1)
    receipt = oracle.publish(answer * (10_000 - bps) // 10_000, strike, sender=devnet.deployer)
    assert oracle.pending_round().answer != 0
    return receipt


def test_pending_nav__prepared_on_announce__liquidated_in_the_block_after_the_confirmation(devnet):
    anvil, oracle = devnet.anvil, devnet.lm.world.oracle_a
    anvil.set_interval_mining(0)  # automine: each of the test's transactions in its own block
    keeper = _keeper(devnet)
    assert keeper.on_block().error == ""  # the start-up scan: nothing to do yet
    scans = keeper.metrics.registry.get_sample_value("keeper_accounts_scanned_total")
    assert scans == len(devnet.borrowers)

    announced = _publish_pending(devnet, DROP_BPS)
    keeper.on_nav_pending(str(oracle.address), announced.block_number)
    prepared = keeper.pending_book.prepared[str(oracle.address)]
    confirmed = oracle.confirm_pending(sender=devnet.deployer)
    anvil.rpc("evm_setAutomine", False)  # the next block holds whatever the handler sends
    report = keeper.on_pending_confirmed(str(oracle.address), confirmed.block_number)
    anvil.mine(1)

    unhealthy = {str(devnet.borrowers[i].address) for i in FUND_A_UNHEALTHY}
    assert set(prepared.accounts) == unhealthy
    assert report.error == "" and report.sent == len(FUND_A_UNHEALTHY)
    blocks = {entry.block_number for entry in devnet.liquidations()}
    assert blocks == {confirmed.block_number + 1}
    assert {entry.borrower for entry in devnet.liquidations()} == unhealthy
    for i in HEALTHY:
        assert devnet.liquidations(devnet.borrowers[i]) == []
    # Only the prepared candidates were read: no scan of the book ran.
    assert keeper.metrics.registry.get_sample_value("keeper_accounts_scanned_total") == scans
    assert keeper.pending_book.prepared == {}


def test_pending_nav__rejected__candidates_dropped_nothing_sent(devnet):
    anvil, oracle = devnet.anvil, devnet.lm.world.oracle_a
    anvil.set_interval_mining(0)
    keeper = _keeper(devnet)

    announced = _publish_pending(devnet, DROP_BPS)
    keeper.on_nav_pending(str(oracle.address), announced.block_number)
    oracle.reject_pending(sender=devnet.deployer)
    keeper.on_pending_rejected(str(oracle.address))
    report = keeper.on_pending_confirmed(str(oracle.address), announced.block_number + 2)

    assert report.sent == 0 and keeper.pending_book.prepared == {} and devnet.liquidations() == []


def test_pending_nav__plans_off__nothing_prepared(devnet):
    anvil, oracle = devnet.anvil, devnet.lm.world.oracle_a
    anvil.set_interval_mining(0)
    keeper = _keeper(devnet, NAVLEND_KEEPER_PENDING_NAV_PLANS="false")

    announced = _publish_pending(devnet, DROP_BPS)
    keeper.on_nav_pending(str(oracle.address), announced.block_number)

    assert keeper.pending_book.prepared == {}
