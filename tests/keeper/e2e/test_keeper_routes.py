"""End to end: a NAV drop the oracle parks as pending (a move above its
1 % limit) is planned for when announced, and the positions it sinks are
sent at the confirmation:

- from the confirmation's own handler: mined in the block right after the
  guardian's confirmation, with no scan of the book in between (anvil
  automining; the keeper in the test's process, built as the bot builds
  it, on the seeded book of ``devkit.seeding.SEEDS``: a 12 % fall of fund
  A sinks borrowers 1-4 and leaves 0 and the wrapper positions healthy);
- bundled right behind the confirmation, in its own block: anvil keeps its
  pool in arrival order and does not mine by itself, the stand-in relay
  (devkit.relay) builds the blocks; the guardian's ``confirm_pending``
  waits in the public pool, the keeper sees it there and sends ONE bundle
  ``[confirmation, its liquidations]`` for the next block, decided at the
  pending price (no node can simulate them before the confirmation).

The same relay world carries the keeper's ordinary liquidations (after a
confirmed drop) through its private route, or, with the private endpoint
down, through the public pool; and with the bundle route, a competitor's
bundle that wins: the keeper's bundle is left out at both its target
blocks, costs nothing, lapses (reported dropped), and the positions, now
healthy, are not sent again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from eth_account import Account

from devkit import seeding
from devkit.devnet import Anvil, connect, deploy_local
from devkit.processes import free_port, keeper_env
from devkit.relay import Relay, tx_hash
from keepers.backrun import CONFIRM_SELECTOR
from keepers.config import load_config
from keepers.wiring import build_keeper
from navlend.timeutil import STRIKE_HOUR_UTC, next_business_day_strike

from conftest import CHAIN_ID, DEV_KEYS

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)
HEALTHY = (0, 5, 6)
FUND_A_SEEDS = seeding.SEEDS[:5]


def _keeper(devnet, **overrides):
    from ape import chain

    config = load_config(env=devnet.env(free_port(), **overrides))
    keeper = build_keeper(config, SimpleNamespace(provider=chain.provider, signer=devnet.keeper), with_tx=True,
                          serve_metrics=False)
    keeper.check_setup()
    keeper.backfill()
    return keeper


def _publish_pending(anvil, oracle, updater) -> int:
    """The updater strikes a NAV ``DROP_BPS`` lower: parked as pending; its block."""
    _, answer, _, as_of, _ = oracle.latestRoundData()
    strike = next_business_day_strike(as_of)
    if anvil.timestamp() < strike + 60:
        anvil.rpc("evm_setNextBlockTimestamp", hex(strike + 60))
        anvil.mine(1)
    receipt = oracle.publish(answer * (10_000 - DROP_BPS) // 10_000, strike, sender=updater)
    assert oracle.pending_round().answer != 0
    return receipt.block_number


def test_pending_nav__prepared_on_announce__liquidated_in_the_block_after_the_confirmation(devnet):
    anvil, oracle = devnet.anvil, devnet.lm.world.oracle_a
    anvil.set_interval_mining(0)  # automine: each of the test's transactions in its own block
    keeper = _keeper(devnet)
    assert keeper.on_block().error == ""  # the start-up scan: nothing to do yet
    scans = keeper.metrics.registry.get_sample_value("keeper_accounts_scanned_total")
    assert scans == len(devnet.borrowers)

    announced = _publish_pending(anvil, oracle, devnet.deployer)
    keeper.on_nav_pending(str(oracle.address), announced)
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

    announced = _publish_pending(anvil, oracle, devnet.deployer)
    keeper.on_nav_pending(str(oracle.address), announced)
    oracle.reject_pending(sender=devnet.deployer)
    keeper.on_pending_rejected(str(oracle.address))
    report = keeper.on_pending_confirmed(str(oracle.address), announced + 2)

    assert report.sent == 0 and keeper.pending_book.prepared == {} and devnet.liquidations() == []


def test_pending_nav__plans_off__nothing_prepared(devnet):
    anvil, oracle = devnet.anvil, devnet.lm.world.oracle_a
    anvil.set_interval_mining(0)
    keeper = _keeper(devnet, NAVLEND_KEEPER_PENDING_NAV_PLANS="false")

    announced = _publish_pending(anvil, oracle, devnet.deployer)
    keeper.on_nav_pending(str(oracle.address), announced)

    assert keeper.pending_book.prepared == {}


# ---------------------------------------------------------------- bundled behind the confirmation


def _wednesday_evening(now: int) -> int:
    day = time.gmtime(now + 86_400)
    start = now + 86_400 + ((2 - day.tm_wday) % 7) * 86_400
    midnight = start - start % 86_400
    return midnight + STRIKE_HOUR_UTC * 3_600 + 1_800


@pytest.fixture
def world(tmp_path):
    anvil = Anvil(port=free_port(), state_dir=tmp_path / "anvil", start_time=_wednesday_evening(int(time.time())),
                  extra_args=("--order", "fifo")).start()
    try:
        with connect(anvil.url):
            from ape import accounts, chain

            test = accounts.test_accounts
            lm = deploy_local(test[0], test[5], tmp_path / "deployments")
            borrowers = [test[9 + i] for i in range(len(FUND_A_SEEDS))]
            lm.world.allowlist(*borrowers, sender=test[0])
            seeding.lend(lm.world, lm.market, test[0], test[3], 5_000_000)
            for who, seed in zip(borrowers, FUND_A_SEEDS):
                seeding.open_seeded(lm.world, lm.market, test[0], who, seed)
            yield SimpleNamespace(anvil=anvil, lm=lm, test=test, borrowers=borrowers, provider=chain.provider,
                                  tmp=tmp_path)
    finally:
        anvil.stop()


def _guardian_confirm(w) -> tuple[str, str]:
    """The guardian (TEST::0) signs confirm_pending() into the public pool."""
    key = Account.from_key(DEV_KEYS[0])
    nonce = int(w.anvil.rpc("eth_getTransactionCount", key.address, "pending"), 16)
    signed = key.sign_transaction({"to": str(w.lm.world.oracle_a.address), "data": CONFIRM_SELECTOR, "value": 0,
                                   "gas": 300_000, "nonce": nonce, "chainId": CHAIN_ID,
                                   "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9})
    raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
    w.anvil.rpc("eth_sendRawTransaction", raw)
    return raw, tx_hash(raw)


def _relay_keeper(w, relay: Relay, **routes: str):
    routes = routes or {"NAVLEND_KEEPER_SUBMIT_ROUTES": "bundle,public", "NAVLEND_KEEPER_BUILDER_URLS": relay.url}
    env = keeper_env(w.anvil.url, w.lm.deployment_path, w.tmp / "index.sqlite",
                     NAVLEND_KEEPER_SIGNER_ALIAS="TEST::5", **routes)
    config = load_config(env=env)
    keeper = build_keeper(config, SimpleNamespace(provider=w.provider, signer=w.test[5]), with_tx=True,
                          serve_metrics=False)
    assert keeper.tx.sender is not None  # build_keeper made the configured routes
    keeper.check_setup()
    keeper.backfill()
    return keeper


@contextmanager
def _announced(w) -> Iterator[tuple[Relay, object]]:
    """The pending strike published, then the relay mining, and a keeper
    with the bundle route that prepared the candidates."""
    oracle = w.lm.world.oracle_a
    announced = _publish_pending(w.anvil, oracle, w.test[0])
    w.anvil.rpc("evm_setAutomine", False)
    with Relay(w.anvil.url) as relay:
        keeper = _relay_keeper(w, relay)
        assert keeper.on_block().error == ""
        keeper.on_nav_pending(str(oracle.address), announced)
        yield relay, keeper


def test_backrun__confirmation_in_the_pool__liquidations_bundled_behind_it_in_its_block(world):
    w, oracle = world, world.lm.world.oracle_a
    with _announced(w) as (relay, keeper):
        nothing_yet = keeper.backrun_pending()  # no confirmation in the pool yet

        confirm_raw, confirm_hash = _guardian_confirm(w)
        sent = keeper.backrun_pending()
        built = relay.build_block()
        follow = keeper.on_block()

    unhealthy = {str(w.borrowers[i].address) for i in FUND_A_UNHEALTHY}
    liquidations = list(w.lm.market.Liquidate.range(0, built.number + 1))
    bundles = [r for r in relay.received() if r.method == "eth_sendBundle"]
    assert nothing_yet == 0 and sent == len(FUND_A_UNHEALTHY)
    assert len(bundles) == 1 and bundles[0].params[0]["txs"][0] == confirm_raw
    assert bundles[0].params[0]["blockNumber"] == hex(built.number)
    assert built.tx_hashes[0] == confirm_hash and len(built.included) == 1
    assert {entry.block_number for entry in liquidations} == {built.number}
    assert {entry.borrower for entry in liquidations} == unhealthy
    assert oracle.pending_round().answer == 0
    assert follow.error == "" and keeper.tx.pending == {}
    assert keeper.metrics.registry.get_sample_value(
        "keeper_liquidations_succeeded_total", {"route": "redeem"}) == len(FUND_A_UNHEALTHY)


def test_backrun__no_bundle_route__nothing_sent_confirmation_mined_alone(world):
    w = world
    with _announced(w) as (relay, keeper):
        keeper.tx.sender = None  # the public route only, as before
        _, confirm_hash = _guardian_confirm(w)
        sent = keeper.backrun_pending()
        built = relay.build_block()

    assert sent == 0 and built.tx_hashes == (confirm_hash,)
    assert list(w.lm.market.Liquidate.range(0, built.number + 1)) == []


# ---------------------------------------------------------------- the keeper's routes, end to end


@pytest.mark.parametrize("private_up", [True, False], ids=["private_route", "private_down_public_fallback"])
def test_routes__nav_drop__keepers_liquidations_through_the_private_route_or_the_public_fallback(world, private_up):
    w, oracle = world, world.lm.world.oracle_a
    _publish_pending(w.anvil, oracle, w.test[0])
    oracle.confirm_pending(sender=w.test[0])
    w.anvil.rpc("evm_setAutomine", False)
    with Relay(w.anvil.url) as relay:
        private = relay.url if private_up else f"http://127.0.0.1:{free_port()}"
        keeper = _relay_keeper(w, relay, NAVLEND_KEEPER_SUBMIT_ROUTES="private,public",
                               NAVLEND_KEEPER_PRIVATE_RPC_URL=private)
        report = keeper.on_block()
        hashes = [p.hashes[0] for p in keeper.tx.pending.values()]
        in_pool = [w.anvil.rpc("eth_getTransactionByHash", h) is not None for h in hashes]
        built = relay.build_block()
        follow = keeper.on_block()

    liquidations = list(w.lm.market.Liquidate.range(0, built.number + 1))
    assert report.error == "" and report.sent == len(FUND_A_UNHEALTHY) and hashes
    assert in_pool == [not private_up] * len(hashes)
    assert built.private == (tuple(hashes) if private_up else ())
    assert set(hashes) <= set(built.tx_hashes)
    assert {entry.block_number for entry in liquidations} == {built.number}
    assert {entry.borrower for entry in liquidations} == {str(w.borrowers[i].address) for i in FUND_A_UNHEALTHY}
    assert follow.error == "" and keeper.tx.pending == {}


def _competitor_liquidations(w) -> list[str]:
    """A competitor (TEST::6, allowlisted, with stablecoin) signs a market
    liquidation of each unhealthy position, to win them in a bundle."""
    comp, market, world_ = w.test[6], w.lm.market, w.lm.world
    world_.allowlist(comp, sender=w.test[0])
    world_.stablecoin.mint(comp, 10_000_000 * 10**6, sender=w.test[0])
    world_.stablecoin.approve(market, 2**256 - 1, sender=comp)
    nonce = comp.nonce
    raws = []
    for k, i in enumerate(FUND_A_UNHEALTHY):
        txn = market.liquidate.as_transaction(w.borrowers[i], world_.fund_a, 2**256 - 1, 0, False, comp,
                                              sender=comp, gas_limit=800_000, nonce=nonce + k,
                                              max_fee=10**11, max_priority_fee=5 * 10**9)
        raws.append("0x" + comp.sign_transaction(txn).serialize_transaction().hex().removeprefix("0x"))
    return raws


def test_routes__competitors_bundle_wins__ours_unmined_unpaid_lapses_not_sent_again(world):
    w, oracle = world, world.lm.world.oracle_a
    _publish_pending(w.anvil, oracle, w.test[0])
    oracle.confirm_pending(sender=w.test[0])
    theirs = _competitor_liquidations(w)
    keeper_address = str(w.test[5].address)
    eth = w.provider.web3.eth
    w.anvil.rpc("evm_setAutomine", False)
    with Relay(w.anvil.url) as relay:
        keeper = _relay_keeper(w, relay, NAVLEND_KEEPER_SUBMIT_ROUTES="bundle", NAVLEND_KEEPER_BUILDER_URLS=relay.url,
                               NAVLEND_KEEPER_BUNDLE_BLOCKS="2")
        balance, nonce = eth.get_balance(keeper_address), eth.get_transaction_count(keeper_address)
        head = keeper.reader.head().number
        sent = keeper.on_block()
        relay.compete(theirs, head + 1)
        won = relay.build_block()
        waiting = keeper.on_block()
        left_out = relay.build_block()
        lapsed = keeper.on_block()
        relay.build_block()
        after = keeper.on_block()
        bundles = [r for r in relay.received() if r.method == "eth_sendBundle"]

    failed = keeper.metrics.registry.get_sample_value("keeper_liquidations_failed_total", {"outcome": "lost_race"})
    assert sent.sent == len(FUND_A_UNHEALTHY) and len(won.included) == 1 and len(won.failed) == 1
    assert won.tx_hashes == tuple(tx_hash(raw) for raw in theirs)  # theirs, all of them; none of ours
    assert left_out.failed == won.failed and left_out.tx_hashes == ()  # our bundle's second target: left out
    assert (waiting.sent, lapsed.sent, after.sent) == (0, 0, 0) and keeper.tx.pending == {}
    # The lapsed batch: a lost race that paid nothing, not a failed send for the brakes.
    assert failed == len(FUND_A_UNHEALTHY) and keeper.spending.brakes.consecutive_failures == 0
    assert [int(b.params[0]["blockNumber"], 16) for b in bundles] == [head + 1, head + 2]  # never sent again
    assert eth.get_balance(keeper_address) == balance and eth.get_transaction_count(keeper_address) == nonce
    assert all(not w.lm.lens.health(w.lm.market, w.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY)
