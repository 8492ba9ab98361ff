"""The several-hosts settings (keepers/config.py ``# --- several hosts ---``,
keepers/hosts.py ``scanner_config``): a scanner needs no signer, needs
shards and Redis; scan_every_blocks only with shards; at most 256 ranges."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devkit.paths import ROOT

from keepers.config import ConfigError, load_config
from keepers.hosts import SCANNER_SIGNER, markets_of, scanner_config, shard_tasks
from keepers.types import to_address

MARKET = to_address("0x" + "3a" * 20)
ORACLE = to_address("0x" + "0a" * 20)
BASE = {
    "NAVLEND_KEEPER_MARKET": MARKET,
    "NAVLEND_KEEPER_LENS": to_address("0x" + "1e" * 20),
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": to_address("0x" + "f1" * 20),
    "NAVLEND_KEEPER_NAV_ORACLES": ORACLE,
    "NAVLEND_KEEPER_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_scanner_config__no_signer_alias__a_placeholder_that_never_signs():
    config = scanner_config(env={**BASE, "NAVLEND_KEEPER_SHARD_COUNT": "3"})
    assert config.signer_alias == SCANNER_SIGNER and config.shard_count == 3
    assert [t.name for t in shard_tasks(config)] == [f"scan_3a3a3a3a_{i}of3" for i in range(3)]
    assert markets_of(config) == (MARKET,)


def test_scanner_config__one_shard__exits_naming_the_single_process_bot():
    with pytest.raises(SystemExit, match="keepers.bots.liquidator"):
        scanner_config(env={**BASE, "NAVLEND_KEEPER_SHARD_COUNT": "1"})


def test_scanner_config__no_redis__exits_with_the_fix():
    env = {k: v for k, v in BASE.items() if k != "NAVLEND_KEEPER_REDIS_URL"}
    with pytest.raises(SystemExit, match="NAVLEND_KEEPER_REDIS_URL"):
        scanner_config(env={**env, "NAVLEND_KEEPER_SHARD_COUNT": "2"})


def test_load_config__hosts_fields__defaults_and_values():
    config = load_config(env={**BASE, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0"})
    assert (config.scan_every_blocks, config.index_writer) == (1, True)
    config = load_config(env={**BASE, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_SHARD_COUNT": "2",
                              "NAVLEND_KEEPER_SCAN_EVERY_BLOCKS": "3", "NAVLEND_KEEPER_INDEX_WRITER": "false"})
    assert (config.scan_every_blocks, config.index_writer) == (3, False)


@pytest.mark.parametrize("env, problem", [
    ({"NAVLEND_KEEPER_SCAN_EVERY_BLOCKS": "2"}, "scan_every_blocks: 2 needs the scanner workers"),
    ({"NAVLEND_KEEPER_SHARD_COUNT": "257"}, "shard_count: 257 is above 256"),
])
def test_load_config__bad_hosts_settings__refused(env, problem):
    with pytest.raises(ConfigError) as err:
        load_config(env={**BASE, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", **env})
    assert problem in str(err.value)


@pytest.mark.parametrize("module, shards, message", [
    ("keepers.bots.liquidator", "2", "keepers.bots.scanner (a dispatcher and workers) and keepers.bots.submitter"),
    ("keepers.bots.scanner", "1", "the scanner workers need 2 or more"),
])
def test_bot_module__wrong_role_for_the_shard_count__exits_naming_the_right_one(module, shards, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVLEND_KEEPER_")}
    env.update(BASE, NAVLEND_KEEPER_SHARD_COUNT=shards, NAVLEND_KEEPER_SIGNER_ALIAS="TEST::0", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", f"import {module}"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]
