"""Several markets in one keeper, the configuration side
(``keepers/markets.py`` through ``keepers.config.load_config``): one
deployments file per market, each market's own configuration, and the
refusals (a market twice, a FlashLiquidator in two markets, mixed chains,
an unreadable file, a market set beside the files; shards need Redis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from navlend.deployments import ContractRecord, Deployment

from keepers.config import ConfigError, load_config
from keepers.markets import market_configs, market_db_path, read_market
from keepers.types import to_address


def _addr(tag: str, k: int) -> str:
    return to_address("0x" + tag * 19 + f"{k:02x}")


ORACLE_A, ORACLE_C = _addr("0a", 1), _addr("0c", 1)


def _write(directory: Path, k: int, *, market: str | None = None, flash: str | None = None, chain_id: int = 31337,
           oracles: tuple[str, ...] = (ORACLE_A, ORACLE_C), block: int = 0, drop: str = "") -> Path:
    record = Deployment(network="local", chain_id=chain_id, deployer=_addr("de", 0), block=block)
    entries = {"market": ("Market", market or _addr("3a", k)), "lens": ("Lens", _addr("1e", k)),
               "flash_liquidator": ("FlashLiquidator", flash or _addr("f1", k))}
    for name, (kind, address) in entries.items():
        if name != drop:
            record.add(ContractRecord(name, kind, address))
    for i, oracle in enumerate(oracles):
        record.add(ContractRecord(f"oracle_{i}", "NavOracle", oracle))
    path = directory / f"m{k}" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.to_json()))
    return path


def _env(*paths: Path, **more: str) -> dict[str, str]:
    return {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5",
            "NAVLEND_KEEPER_DEPLOYMENTS": ",".join(str(p) for p in paths),
            **{f"NAVLEND_KEEPER_{k.upper()}": v for k, v in more.items()}}


def _problems(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    return "\n".join(err.value.problems)


def test_load_config__three_deployments_files__each_market_its_own_addresses_and_index(tmp_path):
    paths = [_write(tmp_path, k, block=10 + k) for k in range(3)]
    config = load_config(env=_env(*paths, db_path=str(tmp_path / "index.sqlite")))
    markets = market_configs(config)
    assert [m.market for m in markets] == [_addr("3a", k) for k in range(3)]
    assert [m.flash_liquidator for m in markets] == [_addr("f1", k) for k in range(3)]
    assert [m.lens for m in markets] == [_addr("1e", k) for k in range(3)]
    assert all(m.nav_oracles == (ORACLE_A, ORACLE_C) for m in markets)
    assert [m.start_block for m in markets] == [10, 11, 12]
    assert len({m.db_path for m in markets}) == 3
    assert all(m.deployments == () for m in markets)
    # The top-level addresses are the first market's (check_node reads its file).
    assert (config.market, config.deployments_file) == (markets[0].market, paths[0])


def test_load_config__toml_list_of_deployments__read_like_the_variable(tmp_path):
    paths = [_write(tmp_path, k) for k in range(2)]
    toml = tmp_path / "keeper.toml"
    toml.write_text("signer_alias = 'TEST::5'\ndeployments = [" + ", ".join(f"'{p}'" for p in paths) + "]\n")
    config = load_config(toml, env={})
    assert [m.market for m in market_configs(config)] == [_addr("3a", 0), _addr("3a", 1)]


def test_market_configs__no_deployments__the_one_market_config_unchanged(tmp_path):
    path = _write(tmp_path, 0)
    config = load_config(env={"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(path)})
    assert market_configs(config) == (config,)
    assert config.market == _addr("3a", 0)


def test_load_config__a_market_listed_twice__refused_naming_both_files(tmp_path):
    a = _write(tmp_path, 0)
    b = _write(tmp_path, 1, market=_addr("3a", 0), flash=_addr("f1", 1))
    problems = _problems(_env(a, b))
    assert f"market {_addr('3a', 0)} is listed twice" in problems and str(a) in problems and str(b) in problems


def test_load_config__one_flash_liquidator_for_two_markets__refused(tmp_path):
    a = _write(tmp_path, 0)
    b = _write(tmp_path, 1, flash=_addr("f1", 0))
    problems = _problems(_env(a, b))
    assert f"flash_liquidator {_addr('f1', 0)} is listed for market {_addr('3a', 0)}" in problems
    assert "serves the one market" in problems


def test_load_config__markets_on_two_chains__refused(tmp_path):
    a = _write(tmp_path, 0, chain_id=31337)
    b = _write(tmp_path, 1, chain_id=1)
    problems = _problems(_env(a, b))
    assert "different chains" in problems and "31337" in problems


def test_load_config__same_chain_distinct_markets__no_problem(tmp_path):
    a, b = _write(tmp_path, 0), _write(tmp_path, 1)
    assert len(market_configs(load_config(env=_env(a, b)))) == 2


def test_load_config__a_deployments_file_missing__refused_naming_it(tmp_path):
    a = _write(tmp_path, 0)
    missing = tmp_path / "nowhere" / "local.json"
    assert f"no deployments file at {missing}" in _problems(_env(a, missing))


def test_load_config__a_file_without_its_flash_liquidator__refused(tmp_path):
    a = _write(tmp_path, 0)
    b = _write(tmp_path, 1, drop="flash_liquidator")
    assert f"{b} has no 'flash_liquidator'" in _problems(_env(a, b))


def test_load_config__market_set_beside_deployments__refused(tmp_path):
    a, b = _write(tmp_path, 0), _write(tmp_path, 1)
    problems = _problems(_env(a, b, market=_addr("3a", 9)))
    assert "market: " in problems and "set beside deployments" in problems


def test_load_config__deployments_with_shards_and_redis__accepted_every_market_sharded(tmp_path):
    a, b = _write(tmp_path, 0), _write(tmp_path, 1)
    config = load_config(env=_env(a, b, shard_count="2", redis_url="redis://127.0.0.1:6379/0"))
    assert config.shard_count == 2 and [m.shard_count for m in market_configs(config)] == [2, 2]


def test_load_config__deployments_with_shards_without_redis__refused_with_the_fix(tmp_path):
    a, b = _write(tmp_path, 0), _write(tmp_path, 1)
    problems = _problems(_env(a, b, shard_count="2"))
    assert "redis_url: required when shard_count is 2" in problems


def test_read_market__the_files_market__its_addresses_and_oracles(tmp_path):
    spec = read_market(_write(tmp_path, 4, oracles=(ORACLE_C,), block=7))
    assert (spec.market, spec.flash_liquidator, spec.nav_oracles, spec.start_block) == (
        _addr("3a", 4), _addr("f1", 4), (ORACLE_C,), 7)


def test_market_db_path__per_market_file_beside_the_configured_one():
    path = market_db_path(Path(".keeper/index.sqlite"), _addr("3a", 1))
    assert path.parent == Path(".keeper") and path.suffix == ".sqlite" and _addr("3a", 1)[2:].lower() in path.name


def test_load_config_traced__deployments_file_from_deployments__its_origin_says_so(tmp_path):
    from keepers.config import load_config_traced

    paths = [_write(tmp_path, k) for k in range(2)]
    traced = load_config_traced(env=_env(*paths))
    assert traced.origins["deployments_file"] == "the first of deployments ($NAVLEND_KEEPER_DEPLOYMENTS)"
    assert traced.origins["market"] == "deployments file"
