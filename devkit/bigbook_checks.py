"""Chain-side checks of a ``devkit.bigbook`` world, shared by the
several-market tests (one keeper, tests/keeper/e2e/test_keeper_markets.py;
several hosts, tests/keeper/scale/test_several_hosts_markets.py): which
positions are liquidatable, a NAV drop on fund A, the Liquidate logs of a
market, the transactions a sender got mined."""

from __future__ import annotations

from typing import Any

from ape import project

from keepers.chain import event_topics
from navlend.timeutil import next_business_day_strike

LIQUIDATE_TOPIC = event_topics(("Liquidate",))[0]


def liquidatable(book: Any, k: int) -> set[str]:
    """The positions of market ``k`` of ``book`` its Lens finds liquidatable now."""
    seeded = book.markets[k]
    accounts = [p.account for p in book.of_market(k)]
    healths = project.Lens.at(seeded.lens).healths(seeded.market, accounts)
    return {a for a, h in zip(accounts, healths) if h.liquidatable}


def drop_fund_a(anvil: Any, world: Any, bps: int, updater: Any) -> None:
    """Fund A's administrator strikes a NAV ``bps`` lower on the next
    business day; the guardian confirms it (a move above 1 %)."""
    oracle = world.oracle_a
    _, answer, _, as_of, _ = oracle.latestRoundData()
    strike = next_business_day_strike(as_of)
    anvil.set_interval_mining(0)
    try:
        if anvil.timestamp() < strike + 60:
            anvil.rpc("evm_setNextBlockTimestamp", hex(strike + 60))
            anvil.mine(1)
        oracle.publish(answer * (10_000 - bps) // 10_000, strike, sender=updater)
        if oracle.pending_round().answer != 0:
            oracle.confirm_pending(sender=updater)
    finally:
        anvil.set_interval_mining(1)


def liquidations(anvil: Any, market: str, start: int) -> list[tuple[str, int, str]]:
    """(borrower, block, transaction) of each Liquidate log of ``market``
    from ``start``."""
    logs = anvil.rpc("eth_getLogs", {"address": market, "fromBlock": hex(start), "toBlock": "latest",
                                     "topics": [LIQUIDATE_TOPIC]})
    return [("0x" + e["topics"][2][-40:], int(e["blockNumber"], 16), e["transactionHash"]) for e in logs]


def sent_by(anvil: Any, sender: str, start: int, end: int) -> dict[str, tuple[int, int]]:
    """Transaction hash -> (nonce, receipt status) of every transaction
    ``sender`` got mined in blocks ``start..end``, in chain order."""
    out = {}
    for number in range(start, end + 1):
        block = anvil.rpc("eth_getBlockByNumber", hex(number), True)
        for tx in block["transactions"]:
            if tx["from"].lower() == sender.lower():
                receipt = anvil.rpc("eth_getTransactionReceipt", tx["hash"])
                out[tx["hash"]] = (int(tx["nonce"], 16), int(receipt["status"], 16))
    return out


def nonce_of(anvil: Any, sender: str) -> int:
    """``sender``'s next nonce at the latest block."""
    return int(anvil.rpc("eth_getTransactionCount", sender, "latest"), 16)


def sequence_problems(anvil: Any, sender: str, start_nonce: int, sent: dict[str, tuple[int, int]]) -> list[str]:
    """What is wrong with ``sent`` (:func:`sent_by`) as ``sender``'s
    transactions since ``start_nonce``: nonces not consecutive up to its
    nonce now (one per send, none lost), or a transaction that failed."""
    problems = []
    nonces = [n for n, _ in sent.values()]
    expected = list(range(start_nonce, nonce_of(anvil, sender)))
    if nonces != expected:
        problems.append(f"the signer's nonces {nonces} are not consecutive, one per send: {expected}")
    failed = [h for h, (_, status) in sent.items() if status != 1]
    if failed:
        problems.append(f"transactions that failed: {failed}")
    return problems


__all__ = ["LIQUIDATE_TOPIC", "drop_fund_a", "liquidatable", "liquidations", "nonce_of", "sent_by",
           "sequence_problems"]
