"""Keeper benchmark: 10,000 open positions on a local anvil. Prints (not a
timed test):

- the time of a full Lens scan of every position, per block;
- RPC calls per block, for a steady block and for a full-scan block;
- blocks from the NAV drop to the last profitable liquidation mined.

    .venv/bin/python -m devkit.keeper_bench [--positions 10000] [--batch-size 10] [--json]

``--batch-size`` is the keeper's ``liquidation_batch_size`` (positions per
``FlashLiquidator.liquidate_many``; 1 = a transaction per position). The
result also gives the keeper's transactions after the drop and their gas
per position liquidated.

The book: every position holds $10,000 of fund A; 1 in 100 borrows at
84.5 % LTV, the rest between 60 % and 80 %. A 7 % NAV fall makes the 1 %
liquidatable (health ~0.99) and leaves the rest healthy. Positions are
opened with unsigned ``eth_sendTransaction`` from anvil-impersonated
addresses, many per block (Ape's one-receipt-at-a-time sending would take
an hour), 1,500 per block, each receipt checked (``SeedingError`` names the
first failure): about three minutes for 10,000 on a loaded 2-core machine. The chain is not cached: anvil's
state dump of such a book is ~2 GB and loads slower than it builds. The keeper is the same engine the bot
runs (``keepers.keeper.Keeper``), driven block by block in this process so
its RPC calls can be counted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ape import accounts, project
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from devkit.devnet import Anvil, connect, deploy_local
from devkit.processes import free_port
from devkit.seeding import USD
from keepers.config import MAX_LIQUIDATION_BATCH, load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics
from keepers.txmanager import TxManager
from keepers.wiring import fee_policy, make_reader
from navlend.constants import BPS
from navlend.market import market_at
from navlend.timeutil import next_business_day_strike

COLLATERAL_USD = 10_000
DROP_BPS = 700
BLOCK_GAS = 4_000_000_000
SEND_BATCH = 1_500


@dataclass
class BenchResult:
    positions: int
    full_scan_seconds_mean: float
    full_scan_seconds_max: float
    rpc_calls_steady_block: int
    rpc_calls_full_scan_block: int
    rpc_calls_by_method_full_scan: dict[str, int]
    liquidatable_after_drop: int
    liquidations_mined: int
    blocks_to_last_liquidation: int
    nav_update_block: int
    last_liquidation_block: int
    liquidation_batch_size: int
    keeper_transactions: int
    gas_per_liquidation: int


def borrower_address(i: int) -> str:
    return to_checksum_address(keccak(b"navlend-bench" + i.to_bytes(4, "big"))[-20:])


def ltv_bps(i: int) -> int:
    return 8_450 if i % 100 == 0 else 6_000 + (i % 21) * 100


class SeedingError(RuntimeError):
    """A seeding transaction was not mined or reverted."""


def _send_all(anvil: Anvil, txs: list[dict[str, Any]]) -> None:
    """Sends ``txs`` in batches (automine off), mines each batch, then checks
    every receipt: a transaction left in the pool or reverted raises with
    the first failure (its sender, nonce, and the revert reason replayed
    with ``eth_call`` at the block before)."""
    hashes: list[str] = []
    first = anvil.block_number() + 1
    for start in range(0, len(txs), SEND_BATCH):
        hashes += anvil.rpc_batch([("eth_sendTransaction", [tx]) for tx in txs[start : start + SEND_BATCH]])
        anvil.mine(1)
    for _ in range(10):
        pending = anvil.rpc("txpool_status")
        if not int(pending["pending"], 16) and not int(pending["queued"], 16):
            break
        anvil.mine(1)
    # One eth_getBlockReceipts per block: anvil answers eth_getTransactionReceipt
    # in time linear in its block's size (40,000 of them took minutes).
    blocks = range(first, anvil.block_number() + 1)
    receipts_by_hash = {
        r["transactionHash"]: r
        for block in anvil.rpc_batch([("eth_getBlockReceipts", [hex(b)]) for b in blocks]) for r in block or []
    }
    for start in range(0, len(hashes), SEND_BATCH):
        chunk = hashes[start : start + SEND_BATCH]
        receipts = [receipts_by_hash.get(h) for h in chunk]
        for k, receipt in enumerate(receipts):
            if receipt is not None and int(receipt["status"], 16) == 1:
                continue
            tx = txs[start + k]
            status = anvil.rpc("txpool_status")
            if receipt is None:
                raise SeedingError(
                    f"tx {start + k} of {len(txs)} (from {tx['from']}, nonce {int(tx['nonce'], 16)}) not mined; "
                    f"pool {status}")
            block = int(receipt["blockNumber"], 16)
            call = {key: tx[key] for key in ("from", "to", "data", "gas")}
            try:
                anvil.rpc("eth_call", call, hex(block - 1))
                reason = "eth_call at the previous block succeeds (depends on txs earlier in its block)"
            except RuntimeError as err:
                reason = str(err)
                if "'data': '0x'" in reason:
                    reason += " (no reason string: an ABI decode bound, e.g. a DynArray longer than its bound, or an"
                    reason += " assert without message)"
            raise SeedingError(
                f"tx {start + k} of {len(txs)} reverted (from {tx['from']}, nonce {int(tx['nonce'], 16)}, "
                f"block {block}, gas used {int(receipt['gasUsed'], 16)} of {int(tx['gas'], 16)}): {reason}")


def build_book(anvil: Anvil, lm: Any, deployer: Any, lender: Any, count: int) -> list[str]:
    """Opens ``count`` positions; returns the borrowers."""
    world, market = lm.world, lm.market
    borrowers = [borrower_address(i) for i in range(count)]
    nav = world.oracle_a.latestRoundData()[1]
    shares = COLLATERAL_USD * 10**6 * 10**8 // nav
    issuer = str(deployer.address)
    anvil.rpc("anvil_autoImpersonateAccount", True)
    anvil.set_interval_mining(0)
    anvil.rpc("evm_setAutomine", False)
    nonce = int(anvil.rpc("eth_getTransactionCount", issuer, "latest"), 16)

    def tx(sender: str, to: Any, data: Any, n: int, gas: int = 400_000) -> dict[str, Any]:
        return {"from": sender, "to": str(to.address), "data": HexBytes(data).to_0x_hex(),
                "gas": hex(gas), "gasPrice": "0x0", "nonce": hex(n)}

    issuer_txs = []
    # set_allowlisted_batch takes DynArray[address, MAX_BATCH] (128): a longer
    # list reverts in the ABI decoder with no reason. That was the bulk
    # failure at 1,000+ positions (chunks of 400): nobody was allowlisted, so
    # every mint and everything after it reverted.
    batch = world.fund_a.MAX_BATCH()
    for start in range(0, count, batch):
        chunk = borrowers[start : start + batch]
        allow = world.fund_a.set_allowlisted_batch.encode_input(chunk, True)
        issuer_txs.append(tx(issuer, world.fund_a, allow, nonce, gas=40_000 * len(chunk) + 100_000))
        nonce += 1
    _send_all(anvil, issuer_txs)  # allowlisted before anything is minted to them
    issuer_txs = []
    for b in borrowers:
        issuer_txs.append(tx(issuer, world.fund_a, world.fund_a.mint.encode_input(b, shares), nonce))
        nonce += 1
    lend = 200_000_000 * USD
    lender_addr = str(lender.address)
    issuer_txs.append(tx(issuer, world.stablecoin, world.stablecoin.mint.encode_input(lender_addr, lend), nonce))
    _send_all(anvil, issuer_txs)
    ln = int(anvil.rpc("eth_getTransactionCount", lender_addr, "latest"), 16)
    _send_all(anvil, [
        tx(lender_addr, world.stablecoin, world.stablecoin.approve.encode_input(market, lend), ln),
        tx(lender_addr, market, market.deposit.encode_input(lend, lender_addr), ln + 1),
    ])
    borrower_txs = []
    for i, b in enumerate(borrowers):
        debt = COLLATERAL_USD * ltv_bps(i) // BPS * USD
        borrower_txs += [
            tx(b, world.fund_a, world.fund_a.approve.encode_input(market, shares), 0),
            tx(b, market, market.supply_collateral.encode_input(world.fund_a, shares, b), 1),
            tx(b, market, market.borrow.encode_input(debt, b, b), 2),
        ]
    _send_all(anvil, borrower_txs)
    anvil.rpc("anvil_autoImpersonateAccount", False)
    anvil.set_interval_mining(0)
    return borrowers


def run(count: int, workdir: Path, batch_size: int = 10) -> BenchResult:
    cache = workdir / f"navlend-keeper-bench-{count}-{time.time_ns()}"
    anvil = Anvil(port=free_port(), state_dir=cache, persist=False,
                  extra_args=("--gas-limit", str(BLOCK_GAS), "--base-fee", "0", "--gas-price", "0"))
    anvil.start()
    try:
        with connect(anvil.url) as provider:
            test = accounts.test_accounts
            deployer, keeper_account = test[0], test[5]
            print(f"building a book of {count} positions ...", flush=True)
            started = time.time()
            lm = deploy_local(deployer, keeper_account, cache)
            build_book(anvil, lm, deployer, test[3], count)
            print(f"  built in {time.time() - started:.0f} s", flush=True)
            deployment = cache / "local.json"
            config = load_config(env={
                "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5",
                "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployment),
                "NAVLEND_KEEPER_DB_PATH": str(workdir / f"bench-index-{time.time_ns()}.sqlite"),
                "NAVLEND_KEEPER_PRIORITY_FEE_GWEI": "0",
                "NAVLEND_KEEPER_LIQUIDATION_BATCH_SIZE": str(batch_size),
            })
            calls: Counter[str] = Counter()
            reader = make_reader(config, provider, on_call=lambda method: calls.update([method]))
            metrics = KeeperMetrics()
            tx = TxManager(provider.web3, keeper_account, provider.network.ecosystem, provider.chain_id,
                           fee_policy(config))
            keeper = Keeper(config=config, reader=reader, index=PositionIndex(config.db_path, config.market),
                            tx=tx, metrics=metrics, health=HealthState(), signer=str(keeper_account.address))
            keeper.check_setup()
            keeper.backfill()
            assert len(keeper.index.open_accounts()) == count, "the book is incomplete"

            # Full scans: a NAV update forces one each block.
            full = []
            for _ in range(5):
                keeper.on_nav_update()
                anvil.mine(1)
                calls.clear()
                report = keeper.on_block()
                full.append(report.scan_seconds)
            full_calls = dict(calls)
            anvil.mine(1)
            calls.clear()
            keeper.on_block()
            steady_calls = sum(calls.values())

            # The NAV drop, then one block a second until no profitable plan is left.
            oracle = project.NavOracle.at(config.nav_oracles[0])
            _, answer, _, as_of, _ = oracle.latestRoundData()
            strike = next_business_day_strike(as_of)
            anvil.rpc("evm_setNextBlockTimestamp", hex(max(strike + 60, anvil.timestamp() + 1)))
            anvil.mine(1)
            anvil.set_interval_mining(0)
            oracle.publish(answer * (BPS - DROP_BPS) // BPS, strike, sender=deployer)
            if oracle.pending_round().answer != 0:
                oracle.confirm_pending(sender=deployer)
            nav_block = anvil.block_number()
            keeper.on_nav_update(nav_block)
            market = market_at(config.market)
            liquidatable = sum(
                1 for start in range(0, count, 500)
                for h in reader.healths(keeper.index.open_accounts()[start:start + 500]) if h.liquidatable
            )
            anvil.set_interval_mining(1)
            deadline = time.time() + 180
            while time.time() < deadline:
                keeper.on_block()
                if not tx.pending and not any(
                    h.liquidatable for h in reader.healths(keeper.index.open_accounts()[: count])
                ):
                    break
                time.sleep(0.3)
            anvil.set_interval_mining(0)
            logs = list(market.Liquidate.range(nav_block, anvil.block_number() + 1))
            last = max((entry.block_number for entry in logs), default=nav_block)
            keeper_address = str(keeper_account.address).lower()
            keeper_receipts = [
                r for block in anvil.rpc_batch([("eth_getBlockReceipts", [hex(b)]) for b in range(nav_block + 1, last + 1)])
                for r in block or [] if r["from"].lower() == keeper_address
            ]
            gas = sum(int(r["gasUsed"], 16) for r in keeper_receipts)
            return BenchResult(
                positions=count,
                full_scan_seconds_mean=round(statistics.mean(full), 3),
                full_scan_seconds_max=round(max(full), 3),
                rpc_calls_steady_block=steady_calls,
                rpc_calls_full_scan_block=sum(full_calls.values()),
                rpc_calls_by_method_full_scan=full_calls,
                liquidatable_after_drop=liquidatable,
                liquidations_mined=len(logs),
                blocks_to_last_liquidation=last - nav_block,
                nav_update_block=nav_block,
                last_liquidation_block=last,
                liquidation_batch_size=keeper.batch_size,
                keeper_transactions=len(keeper_receipts),
                gas_per_liquidation=gas // max(len(logs), 1),
            )
    finally:
        anvil.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--batch-size", type=int, default=10,
                        help="positions per liquidate_many (the keeper's liquidation_batch_size)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    if args.positions < 100:
        parser.error("--positions must be at least 100 (1 in 100 is made liquidatable)")
    if not 1 <= args.batch_size <= MAX_LIQUIDATION_BATCH:
        parser.error(f"--batch-size must be between 1 and {MAX_LIQUIDATION_BATCH} (FlashLiquidator.MAX_BATCH)")
    result = run(args.positions, args.workdir, args.batch_size)
    if args.json:
        print(json.dumps(asdict(result)))
        return
    print(f"positions:                          {result.positions}")
    print(f"full scan per block (mean / max):   {result.full_scan_seconds_mean} s / {result.full_scan_seconds_max} s")
    print(f"RPC calls per block (steady):       {result.rpc_calls_steady_block}")
    print(f"RPC calls per block (full scan):    {result.rpc_calls_full_scan_block} {result.rpc_calls_by_method_full_scan}")
    print(f"liquidatable after a {DROP_BPS / 100:.0f} % NAV drop:  {result.liquidatable_after_drop}")
    print(f"liquidations mined:                 {result.liquidations_mined}")
    print(f"blocks from NAV update to the last: {result.blocks_to_last_liquidation}"
          f" (NAV at {result.nav_update_block}, last at {result.last_liquidation_block})")
    print(f"keeper transactions (batch size {result.liquidation_batch_size}): {result.keeper_transactions},"
          f" {result.gas_per_liquidation:,} gas per position liquidated")


if __name__ == "__main__":
    main()
