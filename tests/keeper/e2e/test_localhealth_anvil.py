"""Health from the index on a real chain: the local figures, built only from
the market's and the NAV oracles' logs (plus the reads the design names,
through the keeper's RPC reader: the books after each accruing block, each
asset's value exponent, and the wrapper's price, whose feed emits no
event), equal the Lens's for every
seeded position, after random market events, NAV moves and time.

No keeper runs: the positions a NAV drop makes liquidatable stay so."""

from __future__ import annotations

import random

from ape import chain
from hexbytes import HexBytes

from keepers.chain import ChainReader, log_record
from keepers.healthinputs import ACCRUING_EVENTS, input_record
from keepers.healthreads import ChainHealthReads
from keepers.index import PositionIndex
from keepers.localhealth import exact_healths, mismatches
from keepers.localscan import LocalHealth
from keepers.types import INDEXED_EVENTS, AccountHealth, to_address

from devkit import seeding

USD = 10**6
INPUT_EVENTS = ("AssetListed", "AssetRiskSet", "AssetLimitsSet", "AssetOracleSet", "AssetSynced", "RatesSet")
MARKET_EVENTS = tuple(sorted(set(INDEXED_EVENTS) | set(INPUT_EVENTS) | ACCRUING_EVENTS))


class Follower:
    """Health from the index fed block by block with the chain's logs."""

    def __init__(self, net, tmp_path):
        world, self.market = net.lm.world, net.lm.market
        self.nav_oracles = (world.oracle_a, world.oracle_b, world.oracle_c)
        fed = {str(o.address) for o in self.nav_oracles}
        read_priced = []
        for asset_id in range(self.market.asset_count()):
            token = self.market.asset_at(asset_id)
            if str(self.market.asset_config(token).oracle) not in fed:
                read_priced.append(to_address(token))
        self.read_priced = read_priced
        self.index = PositionIndex(tmp_path / "local.sqlite", str(self.market.address))
        self.reader = reader = ChainReader(chain.provider.web3, str(self.market.address), str(net.lm.lens.address), decode_logs=list, event_topics=[])
        self.local = LocalHealth(self.index, ChainHealthReads(reader), read_priced)
        self.next = 0

    def follow(self, head: int) -> None:
        logs = [e for name in MARKET_EVENTS for e in getattr(self.market, name).range(self.next, head + 1)]
        logs += [
            e for o in self.nav_oracles for name in ("NavPublished", "PendingConfirmed") for e in getattr(o, name).range(self.next, head + 1)
        ]
        for number in sorted({e.block_number for e in logs}):
            here = sorted((e for e in logs if e.block_number == number), key=lambda e: e.log_index)
            applied = self.index.apply(log_record(e) for e in here if e.event_name in INDEXED_EVENTS)
            inputs = []
            for e in here:
                record = input_record(
                    e.event_name, dict(e.event_arguments), str(e.contract_address),
                    block_number=number, block_hash=e.block_hash, log_index=e.log_index,
                )
                if record is not None:
                    inputs.append(record)
            block = chain.provider.get_block(number)
            names = [e.event_name for e in here if str(e.contract_address) == str(self.market.address)]
            self.local.on_block(number, HexBytes(block.hash).to_0x_hex(), block.timestamp, names, inputs, applied.touched)
        self.next = head + 1

    def close(self) -> None:
        self.reader.close()
        self.index.close()


def check(net, follower: Follower) -> int:
    """Follows to the head; the local figures of every open position equal
    the Lens's there. Returns the number of liquidatable positions."""
    head = chain.provider.get_block("latest")
    follower.follow(head.number)
    screened = follower.local.screen(head.number, head.timestamp)
    inputs = follower.local.inputs_at(head.number)
    local = exact_healths(follower.local.positions(inputs), inputs, head.timestamp)
    accounts = sorted(local)
    lens = [AccountHealth.from_lens(h) for h in net.lm.lens.healths(net.lm.market, accounts, block_id=head.number)]
    assert len(accounts) == len(seeding.SEEDS)
    assert follower.read_priced  # the wrapper's price is read, fund A's comes from events
    assert mismatches(local, lens) == []
    assert screened.candidates() == [h.account for h in lens if h.health_factor < 10**18]
    return len(screened.candidates())


def test_local_health__seeded_book_after_events_nav_moves_and_time__equals_the_lens(devnet, tmp_path):
    net = devnet
    follower = Follower(net, tmp_path)
    try:
        steps(net, follower)
    finally:
        follower.close()


def steps(net, follower: Follower) -> None:
    """Random market events, NAV drops and time, checked after each, then
    a drop that makes positions liquidatable."""
    lm, world = net.lm, net.lm.world
    rng = random.Random(17)
    check(net, follower)
    healthy = net.borrowers[0]  # 60 % LTV
    for step in range(6):
        action = rng.choice(["time", "borrow", "repay", "lend", "nav"]) if step else "nav"
        with net.automine():
            if action == "time":
                net.anvil.rpc("evm_increaseTime", hex(rng.randint(60, 30 * 86_400)))
                net.anvil.mine(1)
            elif action == "borrow":
                lm.market.borrow(rng.randint(1, 5_000) * USD, healthy, healthy, sender=healthy)
            elif action == "repay":
                amount = rng.randint(1, 1_000) * USD
                world.stablecoin.approve(lm.market, amount, sender=healthy)
                lm.market.repay(amount, healthy, sender=healthy)
            elif action == "lend":
                seeding.lend(world, lm.market, net.deployer, net.accounts[3], rng.randint(1, 100_000))
        if action == "nav":
            net.drop_nav(rng.choice([50, 300, 600]))
        net.anvil.mine(1)
        check(net, follower)
    net.drop_nav(900)
    assert check(net, follower) > 0
