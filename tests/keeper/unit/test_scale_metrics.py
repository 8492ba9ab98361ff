"""The sharded scan workers' metrics (``keepers/scale.py``
``serve_scanner_metrics``): one exposition per worker process with a
series per shard, on the first free port of the configured range, and the
config rules for that range (``keepers/config.py`` ``_ops_checks``)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from keepers.config import ConfigError, load_config
from keepers.metrics import HealthState, KeeperMetrics, keeper_labels
from keepers.scale import scanner_ports, serve_scanner_metrics

from conftest import MARKET

BASE_ENV = {"NAVLEND_KEEPER_MARKET": MARKET, "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
            "NAVLEND_KEEPER_FLASH_LIQUIDATOR": "0x" + "f1" * 20,
            "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0"}


def _free_range(size: int) -> int:
    """The first port of ``size`` consecutive ports nothing listens on."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            start = probe.getsockname()[1]
        if start + size > 65_535:
            continue
        sockets = []
        try:
            for port in range(start, start + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return start
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    # Never a skip: a test that cannot find ports has checked nothing.
    pytest.fail(f"no {size} consecutive free loopback ports in 50 draws")


def _config(first: int, count: int):
    return load_config(env={**BASE_ENV, "NAVLEND_KEEPER_SCAN_METRICS_PORT": str(first),
                            "NAVLEND_KEEPER_SCAN_METRICS_PORTS": str(count)})


def _shards(n: int) -> list[KeeperMetrics]:
    return [KeeperMetrics(labels=keeper_labels(MARKET, 31337, shard=str(i))) for i in range(n)]


def test_scanner_metrics__two_workers_two_shards__each_worker_its_port_and_shard_series():
    first = _free_range(4)
    config = _config(first, 4)
    health = HealthState(last_block=3, last_block_at=time.time(), head=3)
    workers = [_shards(2), _shards(2)]
    workers[0][1].accounts_scanned.inc(4)
    servers = [serve_scanner_metrics(config, shards, health) for shards in workers]
    try:
        assert [s.port for s in servers] == [first, first + 1]
        with urllib.request.urlopen(f"http://127.0.0.1:{first}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{first + 1}/healthz", timeout=5) as answer:
            health_body = json.loads(answer.read())
    finally:
        for server in servers:
            server.stop()
    scanned = {s.labels["shard"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "keeper_accounts_scanned_total"}
    assert scanned == {"0": 0.0, "1": 4.0}
    assert health_body["ok"] is True


def test_scanner_metrics__range_full__error_names_the_range():
    first = _free_range(1)
    config = _config(first, 1)
    server = serve_scanner_metrics(config, _shards(1), HealthState())
    try:
        with pytest.raises(OSError, match=f"no free metrics port in {first}-{first}"):
            serve_scanner_metrics(config, _shards(1), HealthState())
    finally:
        server.stop()


def test_scanner_metrics__shard_labels_missing_or_repeated__refused():
    config = _config(9_120, 16)
    with pytest.raises(ValueError, match="distinct shard label"):
        serve_scanner_metrics(config, [KeeperMetrics(labels=keeper_labels(MARKET, 1))], HealthState())
    with pytest.raises(ValueError, match="distinct shard label"):
        serve_scanner_metrics(config, _shards(1) + _shards(1), HealthState())
    with pytest.raises(ValueError, match="without a keeper"):
        serve_scanner_metrics(config, [], HealthState())


def test_config__scan_metrics_range__defaults_clear_of_metrics_port():
    config = load_config(env=BASE_ENV)
    assert config.metrics_port not in scanner_ports(config) and len(scanner_ports(config)) == 16


def test_config__metrics_port_inside_scan_range__error():
    with pytest.raises(ConfigError, match="inside the scan workers' range"):
        load_config(env={**BASE_ENV, "NAVLEND_KEEPER_METRICS_PORT": "9125"})


def test_config__scan_range_past_65535__error():
    with pytest.raises(ConfigError, match="goes past port 65535"):
        load_config(env={**BASE_ENV, "NAVLEND_KEEPER_SCAN_METRICS_PORT": "65530",
                         "NAVLEND_KEEPER_SCAN_METRICS_PORTS": "16"})


def test_config__stuck_tx_max_age__zero_refused_positive_taken():
    with pytest.raises(ConfigError, match="stuck_tx_max_age_seconds"):
        load_config(env={**BASE_ENV, "NAVLEND_KEEPER_STUCK_TX_MAX_AGE_SECONDS": "0"})
    assert load_config(env={**BASE_ENV, "NAVLEND_KEEPER_STUCK_TX_MAX_AGE_SECONDS": "90"}).stuck_tx_max_age_seconds == 90
