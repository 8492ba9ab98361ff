"""Keeper configuration (keepers/config.py): TOML file, NAVLEND_KEEPER_*
overrides, deployments lookup, and one clear error listing every problem."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from keepers.config import ConfigError, KeeperConfig, load_config
from navlend.constants import WAD
from keepers.types import to_address

MARKET = to_address("0x" + "3a" * 20)
LENS = to_address("0x" + "1e" * 20)
FLASH = to_address("0x" + "f1" * 20)
ORACLE_A = to_address("0x" + "0a" * 20)
ORACLE_B = to_address("0x" + "0b" * 20)

ADDRESSES = {
    "NAVLEND_KEEPER_MARKET": MARKET.lower(),
    "NAVLEND_KEEPER_LENS": LENS,
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASH,
    "NAVLEND_KEEPER_NAV_ORACLES": f"{ORACLE_A}, {ORACLE_B}",
    "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
}


@pytest.fixture
def deployments_file(tmp_path):
    """A deployments file like ``ape run deploy`` writes, plus the keeper's
    own FlashLiquidator record."""
    records = {
        "market": ("Market", MARKET),
        "lens": ("Lens", LENS),
        "flash_liquidator": ("FlashLiquidator", FLASH),
        "oracle_a": ("NavOracle", ORACLE_A),
        "oracle_b": ("NavOracle", ORACLE_B),
        "wrapper_oracle": ("WrapperNavOracle", to_address("0x" + "0c" * 20)),
    }
    doc = {
        "network": "local",
        "chain_id": 31337,
        "deployer": MARKET,
        "contracts": {n: {"name": n, "contract_type": t, "address": a, "params": {}} for n, (t, a) in records.items()},
    }
    path = tmp_path / "local.json"
    path.write_text(json.dumps(doc))
    return path


def test_load_config__environment_only__defaults_and_checksummed_addresses():
    config = load_config(env=ADDRESSES)
    assert config.market == MARKET and config.nav_oracles == (ORACLE_A, ORACLE_B)
    assert config.fee_bump == Decimal("1.125") and not config.dry_run
    assert config.near_edge_hf_wad == 105 * WAD // 100 and config.nav_first_hf_wad == 125 * WAD // 100
    assert config.min_profit_base == 1_000_000 and config.eth_usd_base == 3_000_000_000
    assert config.max_fee_wei == 200 * 10**9


def test_load_config__toml_file_then_env__env_wins(tmp_path):
    path = tmp_path / "keeper.toml"
    path.write_text('[keeper]\ndry_run = true\nhealthy_scan_interval = 20\nmin_profit_usd = "2.5"\n')
    config = load_config(path, env={**ADDRESSES, "NAVLEND_KEEPER_HEALTHY_SCAN_INTERVAL": "7"})
    assert config.dry_run and config.healthy_scan_interval == 7
    assert config.min_profit_base == 2_500_000


def test_load_config__path_from_environment__read(tmp_path):
    path = tmp_path / "keeper.toml"
    path.write_text("cleanup_mode = true\n")
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_CONFIG": str(path)})
    assert config.cleanup_mode


def test_load_config__addresses_missing__read_from_deployments_file(deployments_file):
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)}
    config = load_config(env=env)
    assert (config.market, config.lens, config.flash_liquidator) == (MARKET, LENS, FLASH)
    assert config.nav_oracles == (ORACLE_A, ORACLE_B)  # NavOracles only


def _with_block(path, block: int):
    doc = json.loads(path.read_text())
    doc["block"] = block
    path.write_text(json.dumps(doc))
    return path


def test_load_config__start_block_unset__the_deployments_block(deployments_file):
    _with_block(deployments_file, 19_000_123)
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)}
    assert load_config(env=env).start_block == 19_000_123


def test_load_config__start_block_unset_addresses_all_set__still_the_deployments_block(deployments_file):
    _with_block(deployments_file, 19_000_123)
    env = {**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)}
    assert load_config(env=env).start_block == 19_000_123


@pytest.mark.parametrize("explicit", ["0", "18999999"])
def test_load_config__start_block_set__wins_over_the_deployments_block(deployments_file, explicit):
    _with_block(deployments_file, 19_000_123)
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file),
           "NAVLEND_KEEPER_START_BLOCK": explicit}
    assert load_config(env=env).start_block == int(explicit)


def test_load_config__start_block_in_the_file__wins_over_the_deployments_block(deployments_file, tmp_path):
    _with_block(deployments_file, 19_000_123)
    path = tmp_path / "keeper.toml"
    path.write_text(f'[keeper]\nstart_block = 7\ndeployments_file = "{deployments_file}"\n')
    assert load_config(path, env={"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0"}).start_block == 7


def test_load_config__deployments_without_a_block__start_block_zero(deployments_file):
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)}
    assert load_config(env=env).start_block == 0


def test_load_config__no_deployments_file_addresses_set__start_block_zero(tmp_path):
    env = {**ADDRESSES, "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(tmp_path / "absent.json")}
    assert load_config(env=env).start_block == 0


def test_load_config__no_flash_liquidator_anywhere__refused(deployments_file):
    doc = json.loads(deployments_file.read_text())
    del doc["contracts"]["flash_liquidator"]
    deployments_file.write_text(json.dumps(doc))
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file)}
    with pytest.raises(ConfigError, match="flash_liquidator: not set"):
        load_config(env=env)


def test_load_config__many_bad_values__one_error_lists_them_all():
    env = {
        **ADDRESSES,
        "NAVLEND_KEEPER_SCAN_BATCH_SIZE": "900",
        "NAVLEND_KEEPER_NEAR_EDGE_HF": "abc",
        "NAVLEND_KEEPER_DRY_RUN": "maybe",
        "NAVLEND_KEEPER_DRYRUN": "1",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(env=env)
    problems = "\n".join(caught.value.problems)
    assert "scan_batch_size" in problems and "$NAVLEND_KEEPER_SCAN_BATCH_SIZE" in problems
    assert "near_edge_hf" in problems and "dry_run" in problems
    assert "did you mean 'dry_run'" in problems
    assert len(caught.value.problems) == 4


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"NAVLEND_KEEPER_SIGNER_ALIAS": ""}, "signer_alias: required"),
        ({"NAVLEND_KEEPER_SHARD_ID": "2", "NAVLEND_KEEPER_SHARD_COUNT": "2"}, "shard_id: 2 must be below"),
        ({"NAVLEND_KEEPER_FEE_BUMP": "1.05"}, "fee_bump"),
        ({"NAVLEND_KEEPER_PRIORITY_FEE_GWEI": "500"}, "priority_fee_gwei"),
        ({"NAVLEND_KEEPER_MARKET": "0x1234"}, "market: not an address"),
        ({"NAVLEND_KEEPER_NEAR_EDGE_HF": "0.99"}, "near_edge_hf"),
        ({"NAVLEND_KEEPER_NAV_FIRST_HF": "1"}, "nav_first_hf"),
        ({"NAVLEND_KEEPER_HEALTHY_SCAN_INTERVAL": "0"}, "healthy_scan_interval"),
        ({"NAVLEND_KEEPER_MIN_OUT_TOLERANCE_BPS": "10000"}, "min_out_tolerance_bps"),
    ],
)
def test_load_config__bad_value__refused_with_its_name(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env={**ADDRESSES, **override})


def test_load_config__unknown_file_key__refused_with_suggestion(tmp_path):
    path = tmp_path / "keeper.toml"
    path.write_text("min_proft_usd = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'min_profit_usd'"):
        load_config(path, env=ADDRESSES)


def test_load_config__missing_or_broken_file__refused(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env=ADDRESSES)
    broken = tmp_path / "broken.toml"
    broken.write_text("dry_run = \n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(broken, env=ADDRESSES)


def test_load_config__no_addresses_no_deployments__refused_with_the_fix(tmp_path):
    env = {"NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(tmp_path / "none.json")}
    with pytest.raises(ConfigError, match="ape run deploy"):
        load_config(env=env)


def test_keeper_config__log_fields__plain_values():
    fields = load_config(env=ADDRESSES).log_fields()
    assert fields["fee_bump"] == "1.125" and fields["db_path"] == ".keeper/index.sqlite"
    assert isinstance(KeeperConfig(), KeeperConfig)
