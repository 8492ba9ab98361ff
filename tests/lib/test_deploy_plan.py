"""The deployment's pure parts beyond the config and the checks, without a
chain: CREATE addresses, the plan's steps and their order, the addresses
a resumed plan predicts, Superstate's latest checkpoint, the settings
verification, and the deployments file's step log."""

from __future__ import annotations

import json

import pytest
import tomllib
from test_deploy_checks import DEPLOYER, NOW, SAFE, TEXT

from navlend.constants import YEAR, ZERO_ADDRESS
from navlend.deploy.command import confirmed
from navlend.deploy.config import parse
from navlend.deploy.facts import (
    ChainFacts,
    CollateralFacts,
    FacilityFacts,
    FeedFacts,
    latest_checkpoint,
)
from navlend.deploy.plan import (
    Ref,
    build_plan,
    config_digest,
    create_address,
    predict,
    render,
    resolve,
)
from navlend.deploy.verify import compare, expected_settings
from navlend.deployments import Deployment, StepRecord

ORACLE_B = "0x" + "99" * 20


def config(text: str = TEXT):
    return parse(tomllib.loads(text))


def facts(cfg, deployer: str = DEPLOYER) -> ChainFacts:
    one = CollateralFacts(
        token_decimals=6, symbol="USTB", feed=FeedFacts(6, 10_450_000, NOW - 600, hint=7),
        facility=FacilityFacts(cfg.collateral[0].token, cfg.stablecoin), compliance_answers=True,
        token_answers_compliance=False,
    )  # fmt: skip
    return ChainFacts(1, NOW, deployer, 40, 6, (), (one,) * len(cfg.collateral))


def test_create_address__known_vectors():
    sender = "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0"
    assert create_address(sender, 0) == "0xcd234A471b72ba2F1Ccf0A70FCABA648a5eeCD8d"
    assert create_address(sender, 1) == "0x343c43A37D37dfF08AE8C4A11544c718AbB4fCF8"


def test_build_plan__adapters_then_market_then_listing_then_settings_then_ownership():
    cfg = config()
    plan = build_plan(cfg, facts(cfg))
    assert [s.key for s in plan.steps] == [
        "ustb_feed", "ustb_facility", "market_admin", "market_views", "market", "lens", "flash_liquidator",
        "list_asset:ustb", "set_asset_facility:ustb", "set_asset_compliance:ustb",
        "set_rates", "set_fees", "set_borrow_limits", "transfer_ownership",
    ]  # fmt: skip
    assert plan.step("ustb_feed").args == (cfg.collateral[0].feed.target, "USTB / USD NAV", 7)
    assert plan.step("ustb_facility").args == (
        cfg.collateral[0].facility.target,
        cfg.collateral[0].token,
        cfg.stablecoin,
    )
    assert plan.step("market").args == (
        cfg.stablecoin,
        Ref("market_views"),
        cfg.name,
        cfg.symbol,
        cfg.guardian,
        cfg.treasury,
    )
    assert plan.step("flash_liquidator").args == (Ref("market"),)
    listing = plan.step("list_asset:ustb")
    assert listing.args == (
        cfg.collateral[0].token,
        Ref("ustb_feed"),
        8_300,
        8_800,
        300,
        15_000_000 * 10**6,
        0,
        360_000,
    )
    # An existing compliance source is set as it is.
    assert plan.step("set_asset_compliance:ustb").args == (
        cfg.collateral[0].token,
        cfg.collateral[0].compliance.address,
    )
    assert plan.step("transfer_ownership").args == (cfg.owner,)


def test_build_plan__owner_is_the_deployer__no_transfer_step():
    cfg = config()
    plan = build_plan(cfg, facts(cfg, deployer=SAFE))
    assert "transfer_ownership" not in [s.key for s in plan.steps]


def test_build_plan__two_collaterals_with_one_symbol__distinct_record_names():
    second = TEXT.split("[[collateral]]")[1].replace("0x" + "11" * 20, ORACLE_B)
    cfg = config(TEXT + "[[collateral]]" + second)
    plan = build_plan(cfg, facts(cfg))
    assert plan.names == ("ustb", "ustb_1")
    assert "list_asset:ustb_1" in [s.key for s in plan.steps]


def test_predict__fresh_plan__consecutive_nonces_calls_included():
    cfg = config()
    plan = build_plan(cfg, facts(cfg))
    addresses = predict(plan, DEPLOYER, 40, {})
    assert addresses["ustb_feed"] == create_address(DEPLOYER, 40)
    assert addresses["lens"] == create_address(DEPLOYER, 45)
    assert resolve(plan.step("market_views").args, addresses) == (
        cfg.stablecoin,
        create_address(DEPLOYER, 42),
    )


def test_predict__resumed_plan__done_steps_keep_their_address_rest_from_the_new_nonce():
    cfg = config()
    plan = build_plan(cfg, facts(cfg))
    done = {"ustb_feed": "0x" + "ab" * 20, "ustb_facility": "0x" + "cd" * 20}
    addresses = predict(plan, DEPLOYER, 90, done)
    assert addresses["ustb_feed"] == done["ustb_feed"]
    assert addresses["market_admin"] == create_address(DEPLOYER, 90)
    assert addresses["market"] == create_address(DEPLOYER, 92)


def test_render__shows_predicted_addresses_and_status():
    cfg = config()
    plan = build_plan(cfg, facts(cfg))
    table = render(
        plan, predict(plan, DEPLOYER, 40, {"ustb_feed": "0x1"}), {"ustb_feed": "0x1"}, "plan"
    )
    assert table.row_count == len(plan.steps)
    assert list(table.columns[4].cells)[:2] == ["done", "to send"]


def test_config_digest__changes_with_any_value():
    assert config_digest(config()) == config_digest(config())
    assert config_digest(config()) != config_digest(
        config(TEXT.replace('ltv = "0.83"', 'ltv = "0.82"'))
    )


CHECKPOINTS = [(100 * i, 100 * i + 50, 10_000 + i) for i in range(300)]


def read(limit: int):
    return lambda i: CHECKPOINTS[i] if i < limit else None


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 65, 300])
def test_latest_checkpoint__all_in_effect__the_last(count):
    assert latest_checkpoint(read(count), now=10**9) == (count - 1, CHECKPOINTS[count - 1])


def test_latest_checkpoint__announced_ones_at_the_end__skipped():
    # Checkpoint 299 takes effect at 29,950; 298 at 29,850.
    assert latest_checkpoint(read(300), now=29_900) == (298, CHECKPOINTS[298])


def test_latest_checkpoint__none_in_effect_or_none_at_all__none():
    assert latest_checkpoint(read(0), now=10**9) == (None, None)
    assert latest_checkpoint(read(3), now=10) == (None, None)


def test_expected_settings__contract_units_and_compare():
    cfg = config()
    found = facts(cfg)
    plan = build_plan(cfg, found)
    addresses = predict(plan, DEPLOYER, 40, {})
    expected = expected_settings(cfg, found, plan, addresses)
    assert expected["rates.slope1"] == 4 * 10**16 // YEAR
    assert expected["limits.min_borrow"] == 100 * 10**6
    assert expected["market.owner"] == cfg.owner
    assert expected["collateral[0].oracle"] == addresses["ustb_feed"]
    assert expected["collateral[0].feed.oracle"] == cfg.collateral[0].feed.target
    assert expected["collateral[0].compliance"] == cfg.collateral[0].compliance.address
    actual = dict(expected) | {"market.guardian": ZERO_ADDRESS, "market.name": "navlend"}
    actual["collateral[0].oracle"] = addresses["ustb_feed"].lower()  # case-blind
    del actual["fees.flash_fee_bps"]
    bad = [s for s in compare(expected, actual) if not s.ok]
    assert [s.path for s in bad] == ["market.guardian", "fees.flash_fee_bps"]
    assert str(bad[1]) == "fees.flash_fee_bps: expected 5, found not read"


def test_deployment__step_log__round_trips_and_keeps_the_earliest_block():
    record = Deployment("mainnet", 1, DEPLOYER, created_at=1, plan="abc")
    record.record_step(StepRecord("a", "sent", 4, address="0x1"))
    assert record.block == 0
    record.record_step(StepRecord("a", "mined", 4, "0x1", "0xhash", 120))
    record.record_step(StepRecord("b", "mined", 5, "", "0xhash2", 121))
    record.record_step(StepRecord("c", "mined", 6, "0x3", "", 0))  # adopted: block unknown
    assert record.block == 120
    again = Deployment.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record and again.steps["a"].mined and not StepRecord("x", "sent", 1).mined


@pytest.mark.parametrize(
    ("is_local", "is_fork", "yes", "answer", "sends"),
    [
        (True, False, False, None, True),
        (False, True, False, None, True),
        (False, False, True, None, True),
        (False, False, False, True, True),
        (False, False, False, False, False),
        (False, False, False, "no confirm", False),
    ],
)
def test_confirmed__live_network_asks_unless_yes(is_local, is_fork, yes, answer, sends):
    asked = []

    def confirm(question):
        asked.append(question)
        return answer

    hook = None if answer == "no confirm" else confirm
    assert confirmed(is_local, is_fork, yes, hook, "deploy?") is sends
    assert asked == (["deploy?"] if hook and not (is_local or is_fork or yes) else [])


def test_build_plan__leverage_and_subscription__adapter_first_leverage_after_the_flash_liquidator():
    cfg = config(
        TEXT.replace('symbol = "nUSDC"', 'symbol = "nUSDC"\nleverage = true').replace(
            "ltv = ", 'subscription = { adapter = "SuperstateSubscription" }\nltv = '
        )
    )
    plan = build_plan(cfg, facts(cfg))
    keys = [s.key for s in plan.steps]
    assert keys[:3] == ["ustb_feed", "ustb_facility", "ustb_subscription"]
    assert keys[keys.index("flash_liquidator") + 1] == "leverage"
    assert plan.step("ustb_subscription").args == (cfg.collateral[0].token, cfg.stablecoin)
    assert plan.step("leverage").args == (Ref("market"),)
    # The subscription is no market setting: nothing sets it on the market.
    assert not [k for k in keys if k.startswith("set_asset_subscription")]
    addresses = predict(plan, DEPLOYER, 40, {})
    expected = expected_settings(cfg, facts(cfg), plan, addresses)
    assert expected["leverage.MARKET"] == addresses["market"]
    assert expected["collateral[0].subscription.share_token"] == cfg.collateral[0].token
    assert expected["collateral[0].subscription.payout_token"] == cfg.stablecoin


def test_build_plan__without_leverage__no_leverage_step_nor_setting():
    cfg = config()
    plan = build_plan(cfg, facts(cfg))
    assert "leverage" not in [s.key for s in plan.steps]
    expected = expected_settings(cfg, facts(cfg), plan, predict(plan, DEPLOYER, 40, {}))
    assert not [path for path in expected if "leverage" in path or "subscription" in path]
