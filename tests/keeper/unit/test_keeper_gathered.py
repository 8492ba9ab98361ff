"""``Keeper._execute`` with a gathered batch, against the node double of
``test_txmanager_node.py``: the batch goes out as one
``liquidate_gathered``; nothing of it goes out when one of its positions
is no longer liquidatable at the re-check, or when its simulation
reverts (no retry one position at a time: each alone is under the
facility's minimum)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector
from structlog.testing import capture_logs

from keepers.chain import encode_flash_liquidate_gathered
from keepers.types import GatheredBatch, Route

from conftest import FUND_A, MARKET, USD
from test_keeper_batches import BORROWERS, _health, _keeper, _plan, _sample
from test_keeper_batches import Reader as BatchReader
from test_txmanager_node import Node, _reason

GATHERED = "0x" + function_signature_to_4byte_selector(
    "liquidate_gathered(address,address[],uint256[],uint256,uint256)"
).hex()


def _batch(*indices: int) -> GatheredBatch:
    plans = tuple(replace(_plan(i), route=Route.GATHERED, sent=400 * 10**18) for i in indices)
    return GatheredBatch(token=FUND_A, plans=plans, shares=400 * 10**18 * len(plans), repaid=1_000 * USD * len(plans),
                         loan=1_001 * USD * len(plans), payout=1_030 * USD * len(plans), flash_fee=0, gas_cost=0,
                         net_profit=25 * USD * len(plans), min_profit=2 * USD)


@dataclass
class Reader:
    """The head and the re-check; ``healed`` positions are healthy by then."""

    market: str = MARKET
    healed: set[str] = field(default_factory=set)

    def head(self):
        return BatchReader().head()

    def healths(self, accounts, block):
        return [replace(_health(a), liquidatable=a not in self.healed) for a in accounts]


class GatheredRevertingNode(Node):
    """Every ``liquidate_gathered`` simulation reverts with the manager's
    reason (a member liquidated by someone else: the rest under the
    minimum)."""

    def make_request(self, method, params):
        if method in ("eth_call", "eth_estimateGas") and params[0]["data"].startswith(GATHERED):
            self.requests.append((method, params))
            return _reason("manager: below minimum")
        return super().make_request(method, params)


def _gathered_keeper(node: Node, tmp_path: Path, healed: set[str] = frozenset()):
    keeper, tx = _keeper(node, tmp_path)
    keeper.reader = Reader(healed=set(healed))
    return keeper, tx


def test_encode_flash_liquidate_gathered__the_batchs_arguments():
    batch = _batch(0, 1, 2)
    data = encode_flash_liquidate_gathered(batch)
    assert "0x" + data[:4].hex() == GATHERED
    token, borrowers, max_repays, loan, min_profit = decode(
        ["address", "address[]", "uint256[]", "uint256", "uint256"], data[4:]
    )
    assert token.lower() == FUND_A.lower() and [b.lower() for b in borrowers] == [b.lower() for b in BORROWERS[:3]]
    assert list(max_repays) == [p.max_repay for p in batch.plans]
    assert (loan, min_profit) == (batch.loan, batch.min_profit)


def test_execute__gathered_batch__one_transaction_for_its_positions(tmp_path):
    keeper, tx = _gathered_keeper(Node(), tmp_path)
    with capture_logs() as events:
        sent = keeper._execute([_plan(5)], max_loan=10**30, gathered=[_batch(0, 1, 2)])
    assert sent == 4
    assert sorted(key for key, _, _ in tx.sent) == sorted([BORROWERS[5], "gathered:" + ",".join(BORROWERS[:3])])
    assert tx.in_flight_positions() == set(BORROWERS[:3]) | {BORROWERS[5]}
    assert _sample(keeper, "keeper_liquidations_attempted_total", route="gathered") == 3
    sent_events = [e for e in events if e["event"] == "liquidation sent" and e["route"] == "gathered"]
    assert sorted(e["borrower"] for e in sent_events) == sorted(BORROWERS[:3])
    assert {e["batch"] for e in sent_events} == {3}


def test_execute__a_member_healthy_at_the_recheck__nothing_of_the_batch_sent(tmp_path):
    keeper, tx = _gathered_keeper(Node(), tmp_path, healed={BORROWERS[1]})
    sent = keeper._execute([_plan(5)], max_loan=10**30, gathered=[_batch(0, 1, 2)])
    assert sent == 1 and [key for key, _, _ in tx.sent] == [BORROWERS[5]]
    assert _sample(keeper, "keeper_liquidations_skipped_total", reason="recheck_healthy") == 1


def test_execute__gathered_simulation_reverts__not_retried_one_by_one(tmp_path):
    node = GatheredRevertingNode()
    keeper, tx = _gathered_keeper(node, tmp_path)
    with capture_logs() as events:
        sent = keeper._execute([], max_loan=10**30, gathered=[_batch(0, 1, 2)])
    assert sent == 0 and tx.sent == []
    reverted = [e for e in events if e["event"] == "simulation reverted; not sending"]
    assert sorted(e["borrower"] for e in reverted) == sorted(BORROWERS[:3])
    assert all("manager: below minimum" in e["reason"] for e in reverted)
    assert not any(e["event"] == "batch simulation reverted; one transaction per position" for e in events)
