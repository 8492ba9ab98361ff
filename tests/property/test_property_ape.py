"""The same invariant functions, on anvil through the Ape adapter.

A few fixed steps (lend, post collateral, borrow, a day passes, repay,
withdraw, a donation booked as reserves) on the Ape world (tests/conftest.py) and a market deployed by
``navlend.market.deploy_local_market``; after each step the market is read
through :class:`propkit.adapter.ApeAdapter` (``eth_getStorageAt``) and the
in-process suite's invariants run unchanged against the reference model, which
replays the same operations. Needs the Ape provider (marked ``ape``).
"""

from __future__ import annotations

import pytest
from propkit import adapter as A
from propkit import artifacts
from propkit import invariants as I
from propkit.harness import model_from_snapshot
from propkit.world import CONTRACTS

from navlend import model as M
from navlend.market import deploy_local_market

pytestmark = pytest.mark.ape

U = 10**6


def test_invariants_run_on_anvil_through_the_ape_adapter(world, deployer, guardian, treasury, lender, borrower, chain, mint_fund):
    market = deploy_local_market(world, deployer, guardian=guardian, treasury=treasury)
    C = CONTRACTS
    arts = artifacts.load([C["market"], C["fund"], C["wrapper"], C["stablecoin"], C["oracle"]])
    lay = A.MarketLayout.from_layout(arts[C["market"]].layout)
    fund_slot = A.token_balance_slot(arts[C["fund"]].layout)
    slots = [fund_slot, fund_slot, A.token_balance_slot(arts[C["wrapper"]].layout)]
    base_slot = A.token_balance_slot(arts[C["stablecoin"]].layout)
    latest_slot = arts[C["oracle"]].layout["storage_layout"]["_latest"]["slot"]
    ad = A.ApeAdapter(chain)
    tokens = [world.fund_a, world.fund_c, world.wrapper]
    facilities = [world.facility_a, world.facility_c, world.wrapped_facility]
    accounts = [str(lender.address), str(borrower.address), str(treasury.address)]

    class _Now:
        def now(self):
            return chain.blocks.head.timestamp

    def snapshot():
        snap = A.read_snapshot(ad, market, lay, accounts, 3, world.stablecoin, base_slot, tokens, slots)
        snap.now = chain.blocks.head.timestamp
        return snap

    def feed(asset_id):
        if asset_id == 2:
            r = world.wrapper_oracle.latestRoundData()
            return r[1], r[3]
        word = ad.storage((world.oracle_a, world.oracle_c)[asset_id], latest_slot)
        return word & (2**128 - 1), (word >> 128) & (2**64 - 1)

    ghost = I.Ghost()
    model = model_from_snapshot(snapshot(), deployer, guardian, treasury, tokens, facilities)

    def invariants():
        snap = snapshot()
        I.check_model_agrees(snap, model)
        I.check_base_backing(snap, model, ghost)
        I.check_collateral_backing(snap, ghost, model)
        I.check_debt_sum(snap)
        I.check_lender_claims(snap, model)
        I.check_share_price(model, snap.now, ghost, 0)

    def at_next_block():
        t = chain.blocks.head.timestamp + 13
        chain.pending_timestamp = t
        return t

    invariants()
    L, B = str(lender.address), str(borrower.address)

    # 1. lend
    world.stablecoin.mint(lender, 1_000_000 * U, sender=deployer)
    world.stablecoin.approve(market, 2**256 - 1, sender=lender)
    t = at_next_block()
    shares = model.deposit(L, 500_000 * U, L, t)
    market.deposit(500_000 * U, lender, sender=lender)
    assert market.balanceOf(lender) == shares
    invariants()

    # 2. post fund A (6 decimals) and borrow half the limit
    mint_fund(world.fund_a, borrower, 10_000 * U)
    world.fund_a.approve(market, 2**256 - 1, sender=borrower)
    t = at_next_block()
    model.supply_collateral(B, str(world.fund_a.address), 10_000 * U, B)
    market.supply_collateral(world.fund_a, 10_000 * U, borrower, sender=borrower)
    invariants()
    t = at_next_block()
    debt, _, bv, _, _, _ = model.position(B, t, feed)
    amount = bv // 2
    model.borrow(B, amount, B, B, t, feed)
    market.borrow(amount, borrower, borrower, sender=borrower)
    invariants()

    # 3. a day passes: debt grows, nothing else moves
    before = model.debt(B, chain.blocks.head.timestamp)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 86_400)
    now = chain.blocks.head.timestamp
    assert model.debt(B, now) >= before
    assert market.debt_of(borrower) == model.debt(B, now)
    invariants()

    # 4. repay half, then withdraw some lender cash
    world.stablecoin.approve(market, 2**256 - 1, sender=borrower)
    t = at_next_block()
    half = model.debt(B, t) // 2
    model.repay(B, half, B, t)
    market.repay(half, borrower, sender=borrower)
    invariants()
    t = at_next_block()
    model.withdraw(L, 1_000 * U, L, L, t)
    market.withdraw(1_000 * U, lender, lender, sender=lender)
    invariants()
    assert M.debt_of(model.scaled[B], model.index) == market.debt_of(borrower)

    # 5. the lender donates base asset; anyone books it as reserves, after
    #    accruing, and the lenders' assets do not move
    world.stablecoin.transfer(market, 7 * U, sender=lender)
    model.receive_base(7 * U)
    ghost.base_donated += 7 * U
    invariants()
    assert market.surplus() == model.surplus() == 7 * U
    t = at_next_block()
    lenders = model.total_assets(t)
    booked = model.book_surplus(B, t)
    assert model.total_assets(t) == lenders
    tx = market.book_surplus(sender=borrower)
    assert [(e.caller, e.amount, e.reserves) for e in tx.events if e.event_name == "SurplusBooked"] == [(B, booked, model.reserves)]
    ghost.surplus_booked += booked
    model.events.clear()
    assert booked == 7 * U and market.surplus() == 0
    invariants()
