"""The keeper on several hosts over several markets, without a chain: the
scanners cover every market of ``deployments`` (``keepers/hosts.py``
``markets_of``, ``shard_tasks``), and the submitter
(``keepers/hostsubmit.py``) drains each market's queue into that market's
keeper of the fleet, every market at the fleet's one head."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from keepers.config import load_config
from keepers.hosts import markets_of, scanner_config, shard_tasks
from keepers.hostsubmit import HostSubmitter, act_on_candidates
from keepers.keeper import ScanReport
from keepers.scale import Candidate
from keepers.types import to_address

from test_fleet import MARKETS, _fleet
from test_markets_config import _addr, _env, _write

REDIS = "redis://127.0.0.1:6379/0"


# ---------------------------------------------------------------- markets_of


def _market(k: int) -> str:
    return to_address("0x" + f"{k}a" * 20)  # distinct first bytes: distinct task names


def test_markets_of__three_deployments_files__every_market_in_their_order(tmp_path):
    paths = [_write(tmp_path, k, market=_market(k)) for k in (2, 0, 1)]
    config = scanner_config(env=_env(*paths, shard_count="2", redis_url=REDIS))
    assert markets_of(config) == (_market(2), _market(0), _market(1))
    tasks = shard_tasks(config)
    assert len(tasks) == 6  # three markets, two ranges each
    assert {t.market for t in tasks} == set(markets_of(config))
    assert sorted(t.part for t in tasks if t.market == _market(0)) == [0, 1]
    assert len({t.name for t in tasks}) == 6


def test_markets_of__no_deployments__the_configured_market_alone(tmp_path):
    path = _write(tmp_path, 0)
    config = scanner_config(env={"NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(path), "NAVLEND_KEEPER_SHARD_COUNT": "2",
                                 "NAVLEND_KEEPER_REDIS_URL": REDIS})
    assert markets_of(config) == (_addr("3a", 0),)


def test_markets_of__no_market_at_all__refused(tmp_path):
    path = _write(tmp_path, 0)
    config = load_config(env={"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(path)})
    with pytest.raises(ValueError, match="no market configured"):
        markets_of(replace(config, market=None))


def test_scanner_config__deployments_with_one_shard__exits_naming_the_single_process_bot(tmp_path):
    paths = [_write(tmp_path, k, market=_market(k)) for k in range(2)]
    with pytest.raises(SystemExit, match="keepers.bots.liquidator"):
        scanner_config(env=_env(*paths, shard_count="1", redis_url=REDIS))


# ---------------------------------------------------------------- the submitter's routing


@dataclass
class Queue:
    """One market's queue: its candidates, drained once; the heads asked."""

    candidates: list[Candidate] = field(default_factory=list)
    drained_at: list[int] = field(default_factory=list)

    def drain(self, head: int, limit: int = 1_000) -> list[Candidate]:
        self.drained_at.append(head)
        out, self.candidates = self.candidates, []
        return out


def _account(k: int) -> str:
    return _addr("b0", k)


def _recording(fleet):
    """Each market's keeper's act calls: market -> [(head, accounts)]."""
    calls: dict[str, list[tuple[int, list[str]]]] = {m: [] for m in fleet.markets}
    for keeper in fleet.keepers:
        def act(head, healths, report, market=keeper.reader.market):
            calls[market].append((head.number, [h.account for h in healths]))
        keeper.act = act
    return calls


def test_submitter__three_markets_queues__each_markets_candidates_to_its_own_keeper_at_one_head(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    calls = _recording(fleet)
    queues = {MARKETS[0]: Queue([Candidate(99, _account(1)), Candidate(100, _account(2)), Candidate(100, _account(1))]),
              MARKETS[1]: Queue([Candidate(100, _account(3))]),
              MARKETS[2]: Queue()}
    submitter = HostSubmitter(queues, index_writer=True, fleet=fleet)
    result = submitter.on_block(100)
    assert calls == {MARKETS[0]: [(100, sorted([_account(1), _account(2)]))], MARKETS[1]: [(100, [_account(3)])],
                     MARKETS[2]: []}
    assert result["liquidatable"] == 3
    assert all(q.drained_at == [100] for q in queues.values())
    assert chain.head_reads == 1  # the fleet's one head for every market
    # The writer brought every market's index to the head.
    assert [k.index.checkpoint() for k in fleet.keepers] == [100] * 3


def test_submitter__the_bots_block_handed_in__no_head_read_every_market_at_it(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    calls = _recording(fleet)
    queues = {m: Queue([Candidate(100, _account(k))]) for k, m in enumerate(MARKETS)}
    HostSubmitter(queues, index_writer=True, fleet=fleet).on_block(100, head=chain.ref())
    assert chain.head_reads == 0
    assert [calls[m] for m in MARKETS] == [[(100, [_account(k)])] for k in range(3)]


def test_submitter__one_market_head_read_fails__counted_nothing_drained(tmp_path):
    fleet, _, chain = _fleet(tmp_path, markets=1)
    keeper = fleet.keepers[0]

    def down():
        raise ConnectionError("node down")

    keeper.reader.head = down
    queue = Queue([Candidate(100, _account(5))])
    result = HostSubmitter({MARKETS[0]: queue}, index_writer=True, keeper=keeper).on_block(100)
    assert result["sent"] == 0 and queue.drained_at == [] and len(queue.candidates) == 1
    assert keeper.metrics.registry.get_sample_value("keeper_rpc_errors_total", {"op": "submit"}) == 1


def test_submitter__not_the_index_writer__drains_and_acts_without_syncing(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    calls = _recording(fleet)
    queues = {m: Queue([Candidate(100, _account(k))]) for k, m in enumerate(MARKETS)}
    HostSubmitter(queues, index_writer=False, fleet=fleet).on_block(100)
    assert [calls[m] for m in MARKETS] == [[(100, [_account(k)])] for k in range(3)]
    assert [k.index.checkpoint() for k in fleet.keepers] == [None] * 3


def test_submitter__one_markets_act_fails__the_other_markets_still_act(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    calls = _recording(fleet)

    def broken(head, healths, report):
        raise RuntimeError("node hiccup")

    fleet.keepers[0].act = broken
    queues = {m: Queue([Candidate(100, _account(k))]) for k, m in enumerate(MARKETS)}
    HostSubmitter(queues, index_writer=True, fleet=fleet).on_block(100)
    assert [calls[m] for m in MARKETS[1:]] == [[(100, [_account(1)])], [(100, [_account(2)])]]
    assert fleet.keepers[0].metrics.registry.get_sample_value(
        "keeper_rpc_errors_total", {"op": "submit"}) == 1


def test_submitter__one_market_keeper__its_queue_drained_into_it(tmp_path):
    fleet, _, chain = _fleet(tmp_path, markets=1)
    keeper = fleet.keepers[0]
    calls = _recording(fleet)
    queue = Queue([Candidate(100, _account(5))])
    HostSubmitter({MARKETS[0]: queue}, index_writer=True, keeper=keeper).on_block(100)
    assert calls[MARKETS[0]] == [(100, [_account(5)])] and keeper.index.checkpoint() == 100


@pytest.mark.parametrize("queues, message", [
    ({MARKETS[0]: Queue(), MARKETS[1]: Queue()}, "markets without one"),
    ({**{m: Queue() for m in MARKETS}, _addr("3a", 9): Queue()}, "queues of no market"),
])
def test_submitter__queues_not_one_per_market__refused(tmp_path, queues, message):
    fleet, _, _ = _fleet(tmp_path)
    with pytest.raises(ValueError, match=message):
        HostSubmitter(queues, index_writer=True, fleet=fleet)


def test_submitter__neither_or_both_keeper_and_fleet__refused(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    with pytest.raises(ValueError, match="exactly one"):
        HostSubmitter({}, index_writer=True)
    with pytest.raises(ValueError, match="exactly one"):
        HostSubmitter({m: Queue() for m in MARKETS}, index_writer=True, keeper=fleet.keepers[0], fleet=fleet)


def test_act_on_candidates__none_queued__no_read_no_act(tmp_path):
    fleet, _, _ = _fleet(tmp_path, markets=1)
    keeper = fleet.keepers[0]
    calls = _recording(fleet)
    keeper.reader.healths = lambda accounts, block: pytest.fail("health read for no candidate")
    head = fleet.reader.head()
    report = ScanReport(block=head.number)
    assert act_on_candidates(keeper, [], head, report) == 0
    assert calls[MARKETS[0]] == [] and report.scanned == 0
