"""``keepers/metrics.py`` without a chain: the constant ``market``/``chain``
labels added at collection time, ``keeper_build_info``, the replacement
count between two looks at the pending set, and ``/healthz``'s rules
(stuck transaction, balance below the floor, silence, lag) over HTTP."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from keepers.metrics import (
    UNKNOWN,
    BuildInfo,
    HealthPolicy,
    HealthState,
    KeeperMetrics,
    LabelledExposition,
    MetricsServer,
    ReplacementCount,
    exposition,
    git_commit,
    keeper_labels,
    package_version,
    replacements_between,
)

MARKET = "0x" + "3a" * 20
NOW = 1_800_000_000.0


def _samples(registry, name: str) -> list[tuple[dict[str, str], float]]:
    text = generate_latest(registry).decode()
    return [(s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name]


# ---------------------------------------------------------------- labels


def test_labels__market_and_chain__on_every_exposed_sample():
    metrics = KeeperMetrics(labels=keeper_labels(MARKET, 31337))
    metrics.rpc_errors.labels(op="follow").inc()
    metrics.positions_tracked.set(7)
    text = generate_latest(metrics.exposed).decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert samples and all(s.labels["market"] == MARKET and s.labels["chain"] == "31337" for s in samples)
    assert _samples(metrics.exposed, "keeper_rpc_errors_total") == [
        ({"market": MARKET, "chain": "31337", "op": "follow"}, 1.0)]
    # The keeper's own registry stays unlabelled (what the tests read).
    assert metrics.registry.get_sample_value("keeper_positions_tracked") == 7


def test_labels__none_given__exposed_as_before():
    metrics = KeeperMetrics()
    metrics.positions_tracked.set(3)
    assert _samples(metrics.exposed, "keeper_positions_tracked") == [({}, 3.0)]


def test_labels__bad_name_or_missing_market__clear_error():
    with pytest.raises(ValueError, match="label name"):
        KeeperMetrics(labels={"bad-name": "x"})
    with pytest.raises(ValueError, match="market"):
        keeper_labels(None, 1)
    with pytest.raises(ValueError, match="also a label"):
        KeeperMetrics(labels={"op": "x"})  # keeper_rpc_errors_total has an ``op`` label


def test_exposition__two_shards__one_family_each_sample_with_its_shard():
    shards = [KeeperMetrics(labels=keeper_labels(MARKET, 1, shard=str(i))) for i in range(2)]
    shards[0].accounts_scanned.inc(5)
    shards[1].accounts_scanned.inc(9)
    registry = exposition(shards)
    text = generate_latest(registry).decode()
    assert text.count("# TYPE keeper_accounts_scanned_total counter") == 1
    by_shard = {labels["shard"]: value for labels, value in _samples(registry, "keeper_accounts_scanned_total")}
    assert by_shard == {"0": 5.0, "1": 9.0}


def test_exposition__sources_with_different_label_names__refused():
    with pytest.raises(ValueError, match="same constant label names"):
        LabelledExposition([(KeeperMetrics().registry, {"shard": "0"}), (KeeperMetrics().registry, {})])


# ---------------------------------------------------------------- build info


def test_build_info__set__one_series_equal_to_one_with_market_and_chain():
    metrics = KeeperMetrics(labels=keeper_labels(MARKET, 1))
    metrics.set_build_info(BuildInfo(version="0.1.0", commit="abc", signer="0xs1"))
    metrics.set_build_info(BuildInfo(version="0.1.0", commit="def", signer="0xs1"))
    assert _samples(metrics.exposed, "keeper_build_info") == [
        ({"market": MARKET, "chain": "1", "version": "0.1.0", "commit": "def", "signer": "0xs1"}, 1.0)]


def test_build_info__version_and_commit__from_package_and_git(tmp_path):
    assert package_version() not in ("", UNKNOWN)
    assert package_version("no-such-package-navlend") == UNKNOWN
    assert git_commit(env={"NAVLEND_BUILD_COMMIT": "feedbeef"}) == "feedbeef"
    commit = git_commit(env={})
    assert commit == UNKNOWN or all(c in "0123456789abcdef" for c in commit)
    assert git_commit(tmp_path, env={}) == UNKNOWN  # not a checkout


# ---------------------------------------------------------------- replacements


def test_replacements_between__bumps_and_cancels__counted():
    before = {"a": (0, 0), "b": (2, 0)}
    after = {"a": (1, 0), "b": (2, 1), "new": (0, 0)}
    assert replacements_between(before, after) == ReplacementCount(bumps=1, cancels=1)


def test_replacements_between__settled_or_new__not_counted():
    assert replacements_between({"gone": (3, 1)}, {"new": (2, 2)}) == ReplacementCount()


def test_replacements_between__count_went_down__error():
    with pytest.raises(ValueError, match="went down"):
        replacements_between({"a": (2, 0)}, {"a": (1, 0)})


def test_count_replacements__by_kind__counter_incremented():
    metrics = KeeperMetrics()
    metrics.count_replacements(ReplacementCount(bumps=2, cancels=1))
    metrics.count_replacements(ReplacementCount())
    assert metrics.registry.get_sample_value("keeper_tx_replacements_total", {"kind": "bump"}) == 2
    assert metrics.registry.get_sample_value("keeper_tx_replacements_total", {"kind": "cancel"}) == 1


# ---------------------------------------------------------------- health rules


def _following(**fields) -> HealthState:
    state = HealthState(started_at=NOW - 100, last_block=10, last_block_at=NOW - 1, head=10)
    for name, value in fields.items():
        setattr(state, name, value)
    return state


def test_health__following_nothing_pending__healthy():
    assert _following().problems(NOW, HealthPolicy(max_pending_age=600, balance_floor_wei=10)) == []


def test_health__transaction_past_expiry__stuck():
    state = _following()
    state.set_pending(count=2, expired=1, oldest_age=30)
    problems = state.problems(NOW, HealthPolicy())
    assert problems == ["stuck transaction: 1 past expiry, cancel not mined yet"]


def test_health__transaction_older_than_max_age__stuck():
    state = _following()
    state.set_pending(count=1, expired=0, oldest_age=601)
    assert state.problems(NOW, HealthPolicy(max_pending_age=600)) == [
        "stuck transaction: in flight for 601 s (max 600 s)"]
    state.set_pending(count=1, expired=0, oldest_age=599)
    assert state.problems(NOW, HealthPolicy(max_pending_age=600)) == []


def test_health__balance_below_floor__fails_and_at_floor_passes():
    state = _following()
    state.set_balance(99)
    assert state.problems(NOW, HealthPolicy(balance_floor_wei=100)) == ["signer balance 99 wei below the floor 100"]
    state.set_balance(100)
    assert state.problems(NOW, HealthPolicy(balance_floor_wei=100)) == []


def test_health__balance_never_read__no_balance_rule():
    assert _following().problems(NOW, HealthPolicy(balance_floor_wei=10**18)) == []


def test_health__silent_and_lagging__both_reasons():
    state = _following(last_block_at=NOW - 200, head=20)
    assert state.problems(NOW, HealthPolicy(max_silence=120, max_lag=5)) == [
        "no block processed for 200 s", "10 blocks behind the head (max 5)"]


def test_health__block_marked__following_again():
    state = _following(last_block_at=NOW - 500)
    assert state.problems(NOW, HealthPolicy()) == ["no block processed for 500 s"]
    state.mark_block(11, 12, now=NOW)
    assert (state.last_block, state.head, state.last_block_at) == (11, 12, NOW)
    assert state.problems(NOW, HealthPolicy()) == []


def test_health__bad_figures__clear_errors():
    state = HealthState()
    with pytest.raises(ValueError, match="pending"):
        state.set_pending(count=1, expired=2, oldest_age=0)
    with pytest.raises(ValueError, match="pending"):
        state.set_pending(count=1, expired=0, oldest_age=-1)
    with pytest.raises(ValueError, match="balance"):
        state.set_balance(-1)
    with pytest.raises(ValueError, match="block figures"):
        state.mark_block(10, 9)
    with pytest.raises(ValueError, match="max_pending_age"):
        HealthPolicy(max_pending_age=0)
    with pytest.raises(ValueError, match="balance_floor_wei"):
        HealthPolicy(balance_floor_wei=-1)


# ---------------------------------------------------------------- /healthz over HTTP


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _served(state: HealthState, policy: HealthPolicy):
    return MetricsServer(KeeperMetrics(labels=keeper_labels(MARKET, 1)), state, port=0, policy=policy).start()


def test_healthz__stuck_transaction__503():
    state = HealthState(last_block=5, last_block_at=time.time(), head=5)
    state.set_pending(count=1, expired=1, oldest_age=10)
    server = _served(state, HealthPolicy())
    try:
        status, body = _get(f"http://127.0.0.1:{server.port}/healthz")
    finally:
        server.stop()
    assert status == 503 and body["ok"] is False and body["expired"] == 1
    assert body["problems"] == ["stuck transaction: 1 past expiry, cancel not mined yet"]


def test_healthz__balance_below_floor__503():
    state = HealthState(last_block=5, last_block_at=time.time(), head=5)
    state.set_balance(5)
    server = _served(state, HealthPolicy(balance_floor_wei=10))
    try:
        status, body = _get(f"http://127.0.0.1:{server.port}/healthz")
    finally:
        server.stop()
    assert status == 503 and body["signer_balance_wei"] == 5 and "below the floor" in body["problems"][0]


def test_healthz__following_balance_above_floor__200_and_metrics_labelled():
    state = HealthState(last_block=5, last_block_at=time.time(), head=5)
    state.set_balance(50)
    state.set_pending(count=1, expired=0, oldest_age=12)
    server = _served(state, HealthPolicy(balance_floor_wei=10, max_pending_age=600))
    try:
        status, body = _get(f"http://127.0.0.1:{server.port}/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.stop()
    assert status == 200 and body["ok"] is True and body["problems"] == []
    assert f'keeper_positions_tracked{{chain="1",market="{MARKET}"}} 0.0' in text


def test_metrics_server__first_port_taken__next_free_one():
    # Another process may hold the ports after the one taken here: a new
    # anchor is drawn then (never a skip: the test must check something).
    for _ in range(20):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            first = taken.getsockname()[1]
            try:
                server = MetricsServer.on_first_free(KeeperMetrics(), HealthState(), host="127.0.0.1",
                                                     ports=range(first, first + 20))
            except OSError:
                continue
            server.stop()
        assert first < server.port < first + 20
        return
    pytest.fail("no 20 loopback ports free after a taken one in 20 draws")


def test_metrics_server__every_port_taken__error_names_the_range():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"no free metrics port in {port}-{port}"):
            MetricsServer.on_first_free(KeeperMetrics(), HealthState(), host="127.0.0.1", ports=range(port, port + 1))
