"""The configuration mistakes issue 16 names (keepers/config.py): type
errors, shards without Redis, an empty NAV-oracle list; the network taken
from Silverback's ``--network``; the node's chain id against the
deployments file; where each value came from; the effective dry run."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from keepers.config import (
    ConfigError,
    bot_problems,
    check_node,
    load_config,
    load_config_traced,
    network_of_choice,
)
from keepers.types import to_address

MARKET = to_address("0x" + "3a" * 20)
LENS = to_address("0x" + "1e" * 20)
FLASH = to_address("0x" + "f1" * 20)
ORACLE = to_address("0x" + "0a" * 20)

ADDRESSES = {
    "NAVLEND_KEEPER_MARKET": MARKET,
    "NAVLEND_KEEPER_LENS": LENS,
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASH,
    "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
}


@pytest.fixture
def deployments_file(tmp_path):
    """A Sepolia deployments file with one NavOracle."""
    records = {"market": ("Market", MARKET), "lens": ("Lens", LENS), "flash_liquidator": ("FlashLiquidator", FLASH),
               "oracle_a": ("NavOracle", ORACLE)}
    doc = {
        "network": "sepolia", "chain_id": 11155111, "deployer": MARKET, "block": 7,
        "contracts": {n: {"name": n, "contract_type": t, "address": a, "params": {}} for n, (t, a) in records.items()},
    }
    path = tmp_path / "sepolia.json"
    path.write_text(json.dumps(doc))
    return path


def _toml(tmp_path, body: str):
    path = tmp_path / "keeper.toml"
    path.write_text(body)
    return path


def _problems(**kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(**kwargs)
    return "\n".join(caught.value.problems)


# ------------------------------------------------------------ types


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("metrics_port = true", "metrics_port: must be a number, not a boolean (got True from"),
        ("min_profit_usd = false", "min_profit_usd: must be a number, not a boolean (got False from"),
        ("dry_run = 1", "dry_run: must be true or false (got 1 from"),
        ('live = "sometimes"', "live: must be true or false (got 'sometimes' from"),
        ("shard_count = 2.5", "shard_count: Input should be a valid integer"),
        ('healthy_scan_interval = "ten"', "healthy_scan_interval: Input should be a valid integer"),
        ('db_path = ""', "db_path: must not be empty"),
        ('network = " "', "network: must not be empty"),
    ],
)
def test_load_config__wrong_type_in_the_file__refused_naming_field_value_and_file(tmp_path, body, message):
    path = _toml(tmp_path, body + "\n")
    problems = _problems(path=path, env=ADDRESSES)
    assert message in problems and str(path) in problems


def test_load_config__wrong_types__each_listed_with_the_other_problems(tmp_path):
    path = _toml(tmp_path, "metrics_port = true\ndry_run = 2\nscan_batch_size = 900\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={**ADDRESSES, "NAVLEND_KEEPER_LIVE": "maybe"})
    assert [p.split(":")[0] for p in caught.value.problems] == ["metrics_port", "dry_run", "live", "scan_batch_size"]


@pytest.mark.parametrize(("word", "expected"), [("true", True), ("YES", True), ("on", True), ("0", False), ("off", False)])
def test_load_config__boolean_words_in_the_environment__read(word, expected):
    assert load_config(env={**ADDRESSES, "NAVLEND_KEEPER_LIVE": word}).live is expected


def test_load_config__toml_float_for_a_decimal__read_from_its_text(tmp_path):
    config = load_config(_toml(tmp_path, "min_profit_usd = 0.1\nmetrics_port = 9200\n"), env=ADDRESSES)
    assert config.min_profit_usd == Decimal("0.1") and config.metrics_port == 9200


# ------------------------------------------------------------ shards and Redis


def test_load_config__shards_without_redis__refused_with_the_fix():
    problems = _problems(env={**ADDRESSES, "NAVLEND_KEEPER_SHARD_COUNT": "2"})
    assert "redis_url: required when shard_count is 2" in problems and "NAVLEND_KEEPER_REDIS_URL" in problems


def test_load_config__shards_with_redis__accepted():
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_SHARD_COUNT": "2",
                              "NAVLEND_KEEPER_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert config.shard_count == 2


# ------------------------------------------------------------ NAV oracles


def test_bot_problems__no_nav_oracle__refused_with_the_opt_out_named():
    problems = bot_problems(load_config(env=ADDRESSES))
    assert len(problems) == 1 and "nav_oracles: empty" in problems[0] and "allow_no_nav_oracles" in problems[0]


def test_bot_problems__no_nav_oracle_explicitly_allowed__none():
    assert bot_problems(load_config(env={**ADDRESSES, "NAVLEND_KEEPER_ALLOW_NO_NAV_ORACLES": "true"})) == []


def test_bot_problems__nav_oracles_from_the_deployments_file__none(deployments_file):
    config = load_config(env={"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5",
                              "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)})
    assert config.nav_oracles == (ORACLE,) and bot_problems(config) == []


# ------------------------------------------------------------ network


@pytest.mark.parametrize(
    ("choice", "network"),
    [
        ("ethereum:sepolia:node", "sepolia"),
        ("ethereum:Mainnet:https://eth.example/v2/KEY", "mainnet"),
        ("arbitrum:mainnet", "mainnet"),
        ("ethereum:local:foundry", "local"),
        (None, None), ("", None), ("ethereum", None), ("https://eth.example/v2/KEY", None),
    ],
)
def test_network_of_choice__ape_choices__their_network_part(choice, network):
    assert network_of_choice(choice) == network


def test_load_config__network_choice__becomes_the_network_and_picks_the_deployments_file(tmp_path, deployments_file,
                                                                                        monkeypatch):
    monkeypatch.setenv("NAVLEND_DEPLOYMENTS_DIR", str(tmp_path))
    traced = load_config_traced(env={"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5"}, network_choice="ethereum:sepolia:node")
    assert traced.config.network == "sepolia" and traced.config.market == MARKET
    assert traced.origins["network"] == "silverback --network"


def test_load_config__network_override_that_agrees__kept():
    env = {**ADDRESSES, "NAVLEND_KEEPER_NETWORK": "ethereum:sepolia"}
    traced = load_config_traced(env=env, network_choice="ethereum:sepolia:node")
    assert traced.config.network == "ethereum:sepolia" and traced.origins["network"] == "$NAVLEND_KEEPER_NETWORK"


def test_load_config__network_override_that_disagrees__refused_naming_both():
    problems = _problems(env={**ADDRESSES, "NAVLEND_KEEPER_NETWORK": "mainnet"}, network_choice="ethereum:sepolia:node")
    assert "network: 'mainnet' (from $NAVLEND_KEEPER_NETWORK) disagrees with silverback --network" in problems


def test_load_config__no_network_choice__the_configured_network():
    assert load_config(env=ADDRESSES).network == "local"


# ------------------------------------------------------------ node


def test_check_node__same_network_and_chain_id__accepted(deployments_file):
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)},
                         network_choice="ethereum:sepolia:node")
    assert check_node(config, "sepolia", 11155111).deployment_chain_id == 11155111


def test_check_node__chain_id_not_the_deployments__refused_naming_both(deployments_file):
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)},
                         network_choice="ethereum:sepolia:node")
    with pytest.raises(ConfigError, match="the node answers 1 but the deployments file .* chain 11155111"):
        check_node(config, "sepolia", 1)


def test_check_node__node_on_another_network__refused(deployments_file):
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)},
                         network_choice="ethereum:sepolia:node")
    with pytest.raises(ConfigError, match="the node is on 'mainnet' but the configuration says 'sepolia'"):
        check_node(config, "mainnet", 11155111)


def test_check_node__no_deployments_file__chain_id_not_compared(tmp_path):
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(tmp_path / "none.json")})
    assert check_node(config, "local", 31337).deployment_chain_id is None


def test_check_node__deployments_file_broken_after_loading__refused(deployments_file):
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)})
    deployments_file.write_text("{}")
    with pytest.raises(ConfigError, match="no readable chain_id"):
        check_node(config, "local", 31337)


# ------------------------------------------------------------ origins


def test_load_config_traced__every_source__named(tmp_path, deployments_file):
    path = _toml(tmp_path, 'min_profit_usd = "5"\n')
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)}
    origins = load_config_traced(path, env, network_choice="ethereum:sepolia:node").origins
    assert origins["min_profit_usd"] == str(path)
    assert origins["signer_alias"] == "$NAVLEND_KEEPER_SIGNER_ALIAS"
    assert origins["market"] == origins["nav_oracles"] == origins["start_block"] == "deployments file"
    assert origins["fee_bump"] == "default" and origins["network"] == "silverback --network"


# ------------------------------------------------------------ effective dry run


@pytest.mark.parametrize(
    ("network", "live", "dry_run", "expected"),
    [("ethereum:sepolia:node", "false", "false", True), ("ethereum:sepolia:node", "true", "false", False),
     ("ethereum:sepolia:node", "true", "true", True), ("ethereum:local:foundry", "false", "false", False)],
)
def test_with_effective_dry_run__network_live_and_config__the_keepers_dry_run(network, live, dry_run, expected):
    from keepers.wiring import with_effective_dry_run

    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_LIVE": live, "NAVLEND_KEEPER_DRY_RUN": dry_run},
                         network_choice=network)
    assert with_effective_dry_run(config).dry_run is expected
