"""The deployment config (navlend.deploy.config), without a chain: a good
config parses into the contract's units; every refusal names its key
path, and all of a file's problems come together; the example configs
in deploy/ are refused only for their placeholders."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import tomllib
from eth_utils import to_checksum_address
from test_deploy_checks import COMPLIANCE, ORACLE, REDEMPTION, SAFE, TEXT, TOKEN, USDC

from navlend.constants import WAD
from navlend.deploy.config import ConfigError, Existing, NewAdapter, load, parse

ROOT = Path(__file__).resolve().parents[2]
FEED = "0x" + "44" * 20
# The checks' sample config, its compliance source an adapter to deploy,
# and a second collateral with an existing feed and nothing else.
GOOD = (
    TEXT.replace(
        f'compliance = "{COMPLIANCE}"', 'compliance = { adapter = "SuperstateCompliance" }'
    )
    + f"""
[[collateral]]
name = "other"
token = "{ORACLE}"
feed = "{FEED}"
ltv = 0.5
threshold = 0.6
bonus = 0.05
supply_cap = 1000
price_cap = "1.02"
max_oracle_age = 3600
"""
)


def refused(text: str) -> dict[str, str]:
    """The problems of a refused config, by key path."""
    with pytest.raises(ConfigError) as err:
        parse(tomllib.loads(text))
    return {p.path: p.message for p in err.value.problems}


def test_parse__good_config__typed_values_in_contract_units():
    config = parse(tomllib.loads(GOOD))
    assert (config.chain_id, config.network_name, config.is_local) == (1, "mainnet", False)
    assert config.rates.contract_args() == (0, 4 * WAD // 100, 60 * WAD // 100, 9_000, 1_000)
    assert config.fees.contract_args() == (5, 0)
    assert config.limits.contract_args() == (100, 2_000, 1_000)
    first, second = config.collateral
    assert first.feed == NewAdapter("SuperstateNavFeed", to_checksum_address(ORACLE))
    assert first.facility == NewAdapter("SuperstateRedemption", to_checksum_address(REDEMPTION))
    assert first.compliance == NewAdapter("SuperstateCompliance")
    assert first.risk_bps == (8_300, 8_800, 300) and first.max_oracle_age == 360_000
    assert first.supply_cap_units(6) == 15_000_000 * 10**6
    assert second.feed == Existing(to_checksum_address(FEED))
    assert (second.facility, second.compliance, second.name) == (None, None, "other")
    assert second.price_cap_units(6) == Decimal(1_020_000) and second.max_oracle_age == 3_600


def test_parse__every_problem__listed_together_with_key_paths():
    text = (
        GOOD.replace('symbol = "nUSDC"', 'symbol = "nUSDCXX"\ncolour = "blue"')
        .replace('kink = "0.90"', 'kink = "0.905x"')
        .replace(f'owner = "{SAFE}"', 'owner = "0x__OWNER_SAFE__"')
        .replace('ltv = "0.83"', 'ltv = "0.83001"')
        .replace('max_oracle_age = "100h"', 'max_oracle_age = "soon"')
        .replace("min_borrow = 100", "min_borrow = -1")
        .replace('adapter = "SuperstateCompliance"', 'adapter = "SuperstateNavFeed"')
        .replace('redemption = "', 'redemptions = "')
    )
    problems = refused(text)
    assert set(problems) == {
        "colour", "symbol", "owner", "rates.kink", "limits.min_borrow", "collateral[0].ltv",
        "collateral[0].max_oracle_age", "collateral[0].compliance.adapter",
        "collateral[0].facility.redemptions", "collateral[0].facility.redemption",
    }  # fmt: skip
    assert "unknown key" in problems["colour"] and "replace the placeholder" in problems["owner"]
    assert "at most 5 characters" in problems["symbol"]
    assert "finer than 0.0001" in problems["collateral[0].ltv"]
    assert "not a compliance adapter" in problems["collateral[0].compliance.adapter"]


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            ('network = "ethereum:mainnet"', 'network = "mainnet"'),
            "network",
            "not ecosystem:network",
        ),
        (
            ('network = "ethereum:mainnet"', 'network = "ethereum:holesky2"'),
            "chain_id",
            "set chain_id",
        ),
        (
            ('network = "ethereum:mainnet"', 'network = "ethereum:mainnet"\nchain_id = 5'),
            "chain_id",
            "is chain 1, not 5",
        ),
        (('deployer = "d"', 'deployer = ""'), "deployer", "non-empty string"),
        (
            (f'treasury = "{SAFE}"', 'treasury = "0x0000000000000000000000000000000000000000"'),
            "treasury",
            "zero address",
        ),
        ((f'stablecoin = "{USDC}"', "stablecoin = 5"), "stablecoin", "must be an address"),
        (("[fees]", "[feez]"), "feez", "unknown key"),
        (('flash = "0.0005"', 'flash = "-0.1"'), "fees.flash", "not a fraction"),
        (('base = "0"', 'base = "11"'), "rates.base", "not a fraction"),
        (('liquidation = "0"', "liquidation = true"), "fees.liquidation", "must be a number"),
        (("dust_floor = 1000", "dust_floor = 1.5"), "limits.dust_floor", "whole non-negative"),
        (
            ('supply_cap = "15000000"', 'supply_cap = "-1"'),
            "collateral[0].supply_cap",
            "must not be negative",
        ),
        (('name = "other"', 'name = "Other Fund"'), "collateral[1].name", "lower-case"),
        ((f'feed = "{FEED}"', "feed = 7"), "collateral[1].feed", "must be an address or a table"),
        ((f'feed = "{FEED}"\n', ""), "collateral[1].feed", "missing"),
        ((f'token = "{ORACLE}"', f'token = "{USDC}"'), "collateral[1].token", "is the stablecoin"),
        ((f'token = "{ORACLE}"', f'token = "{TOKEN}"'), "collateral[1].token", "listed twice"),
        (
            ('redemption = "', 'description = "x", redemption = "'),
            "collateral[0].facility.description",
            "unknown key",
        ),
        (
            ('oracle = "', 'description = "' + "d" * 65 + '", oracle = "'),
            "collateral[0].feed.description",
            "at most 64",
        ),
    ],
)
def test_parse__one_bad_value__refused_at_its_path(change, path, message):
    old, new = change
    assert old in GOOD
    problems = refused(GOOD.replace(old, new, 1))
    assert path in problems, problems
    assert message in problems[path]


def test_parse__no_collateral_and_no_tables__each_named():
    text = GOOD.split("[rates]")[0]
    problems = refused(text)
    assert {"rates", "fees", "limits", "collateral"} <= set(problems)
    assert problems["collateral"].startswith("missing")


def test_load__missing_file_and_bad_toml__refused(tmp_path):
    with pytest.raises(ConfigError, match="file: not found"):
        load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("network = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad)


@pytest.mark.parametrize(
    "example", sorted((ROOT / "deploy").glob("*.example.toml")), ids=lambda p: p.name
)
def test_example_configs__refused_only_for_their_placeholders(example, tmp_path):
    with pytest.raises(ConfigError) as err:
        load(example)
    assert err.value.problems
    assert all("replace the placeholder" in p.message for p in err.value.problems), err.value
    # With every placeholder replaced by an address, the example parses.
    counter = iter(range(1, 1_000))
    text = re.sub(r'"0x_[^"]*"', lambda _m: f'"0x{next(counter):040x}"', example.read_text())
    filled = tmp_path / example.name
    filled.write_text(text)
    config = load(filled)
    assert config.collateral


# ---- Leverage and the subscription facility ----

MANAGER = "0x" + "99" * 20
SUBSCRIBED = GOOD.replace('symbol = "nUSDC"', 'symbol = "nUSDC"\nleverage = true').replace(
    'compliance = { adapter = "SuperstateCompliance" }',
    'compliance = { adapter = "SuperstateCompliance" }\nsubscription = { adapter = "SuperstateSubscription" }',
) + f'subscription = {{ adapter = "OndoSubscription", manager = "{MANAGER}" }}\n'


def test_parse__leverage_and_subscriptions__typed():
    config = parse(tomllib.loads(SUBSCRIBED))
    first, second = config.collateral
    assert config.leverage is True
    assert first.subscription == NewAdapter("SuperstateSubscription")
    assert second.subscription == NewAdapter("OndoSubscription", to_checksum_address(MANAGER))
    assert parse(tomllib.loads(GOOD)).leverage is False


def test_parse__existing_subscription_address__kept():
    text = SUBSCRIBED.replace(
        'subscription = { adapter = "SuperstateSubscription" }', f'subscription = "{FEED}"'
    )
    assert parse(tomllib.loads(text)).collateral[0].subscription == Existing(
        to_checksum_address(FEED)
    )


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (("leverage = true", "leverage = false"), "collateral[0].subscription", "set leverage = true"),
        (("leverage = true", 'leverage = "yes"'), "leverage", "must be true or false"),
        (
            ('adapter = "SuperstateSubscription"', 'adapter = "OndoRedemption"'),
            "collateral[0].subscription.adapter",
            "not a subscription adapter (one of SuperstateSubscription, OndoSubscription)",
        ),
        (
            ('adapter = "SuperstateSubscription"', f'adapter = "SuperstateSubscription", manager = "{MANAGER}"'),
            "collateral[0].subscription.manager",
            "unknown key",
        ),
        (
            (f'manager = "{MANAGER}"', 'manager = "0x_OUSG_INSTANT_MANAGER"'),
            "collateral[1].subscription.manager",
            "replace the placeholder",
        ),
    ],
)
def test_parse__bad_subscription_or_leverage__refused_at_its_path(change, path, message):
    problems = refused(SUBSCRIBED.replace(*change))
    assert message in problems[path]
