"""The checks made before a deployment sends anything
(navlend.deploy.checks), over hand-made chain facts: the good case
passes, and each refusal (and each warning) is found at its key path,
all of them together."""

from __future__ import annotations

from dataclasses import replace

import pytest
import tomllib

from eth_utils import to_checksum_address

from navlend.deploy.checks import check
from navlend.deploy.config import parse
from navlend.deploy.facts import (
    Admission,
    ChainFacts,
    CodeFact,
    CollateralFacts,
    FacilityFacts,
    FeedFacts,
    config_addresses,
)

NOW = 1_800_000_000
HOUR = 3_600
TOKEN = "0x" + "11" * 20
ORACLE = "0x" + "22" * 20
REDEMPTION = "0x" + "33" * 20
USDC = "0x" + "55" * 20
SAFE = "0x" + "66" * 20
COMPLIANCE = "0x" + "77" * 20
DEPLOYER = "0x" + "88" * 20

TEXT = f"""
network = "ethereum:mainnet"
deployer = "d"
owner = "{SAFE}"
guardian = "{SAFE}"
treasury = "{SAFE}"
stablecoin = "{USDC}"
name = "navlend"
symbol = "nUSDC"
[rates]
base = "0"
slope1 = "0.04"
slope2 = "0.60"
kink = "0.90"
reserve_factor = "0.10"
[fees]
flash = "0.0005"
liquidation = "0"
[limits]
min_borrow = 100
small_position = 2000
dust_floor = 1000
[[collateral]]
token = "{TOKEN}"
feed = {{ adapter = "SuperstateNavFeed", oracle = "{ORACLE}" }}
facility = {{ adapter = "SuperstateRedemption", redemption = "{REDEMPTION}" }}
compliance = "{COMPLIANCE}"
ltv = "0.83"
threshold = "0.88"
bonus = "0.03"
supply_cap = "15000000"
max_oracle_age = "100h"
"""


def config(text: str = TEXT, **changes: str):
    for old, new in changes.values():
        assert old in text
        text = text.replace(old, new)
    return parse(tomllib.loads(text))


def facts(cfg, **collateral_changes) -> ChainFacts:
    token = cfg.collateral[0].token
    found = CollateralFacts(
        token_decimals=6,
        symbol="USTB",
        feed=FeedFacts(decimals=6, answer=10_450_000, updated_at=NOW - 600, hint=1),
        facility=FacilityFacts(token, cfg.stablecoin),
        compliance_answers=True,
        token_answers_compliance=False,
        admissions=(Admission("the market", "0xM", True, "grant the market"),),
    )
    return ChainFacts(
        chain_id=1,
        now=NOW,
        deployer=DEPLOYER,
        nonce=0,
        stablecoin_decimals=6,
        codes=tuple(CodeFact(path, address, True) for path, address in config_addresses(cfg)),
        collateral=(replace(found, **collateral_changes),),
    )


def problems_of(cfg, found) -> dict[str, str]:
    report = check(cfg, found)
    assert report.ok == (not report.problems)
    return {p.path: p.message for p in report.problems}


def test_check__good_config_and_chain__no_problem_no_warning():
    cfg = config()
    report = check(cfg, facts(cfg))
    assert report.ok and report.warnings == ()


def test_check__wrong_chain__refused():
    cfg = config()
    problems = problems_of(cfg, replace(facts(cfg), chain_id=5))
    assert problems == {"network": "ethereum:mainnet is chain 1; the connected node is chain 5"}


def test_check__addresses_without_code__each_refused_once():
    cfg = config()
    found = facts(cfg)
    codes = tuple(
        replace(c, has_code=c.path not in ("stablecoin", "collateral[0].feed.target"))
        for c in found.codes
    )
    problems = problems_of(cfg, replace(found, codes=codes, stablecoin_decimals=None))
    assert set(problems) == {"stablecoin", "collateral[0].feed.target"}
    assert problems["stablecoin"] == f"no contract at {cfg.stablecoin}"


def test_check__stablecoin_with_code_but_no_decimals__refused():
    cfg = config()
    assert problems_of(cfg, replace(facts(cfg), stablecoin_decimals=None)) == {
        "stablecoin": "answers no decimals(): not an ERC-20"
    }


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            ('ltv = "0.83"', 'ltv = "0.96"'),
            "collateral[0]",
            "LTV must be above 0 and at most 95.00%",
        ),
        (('ltv = "0.83"', 'ltv = "0.88"'), "collateral[0]", "threshold must be above the LTV"),
        (
            ('bonus = "0.03"', 'bonus = "0.14"'),
            "collateral[0]",
            "threshold × (1 + bonus) must stay below 1",
        ),
        (('bonus = "0.03"', 'bonus = "0"'), "collateral[0]", "bonus must be above 0"),
        (
            ('max_oracle_age = "100h"', 'max_oracle_age = "30m"'),
            "collateral[0].max_oracle_age",
            "from 1 hour to 7 days",
        ),
        (
            ('max_oracle_age = "100h"', 'max_oracle_age = "8d"'),
            "collateral[0].max_oracle_age",
            "from 1 hour to 7 days",
        ),
        (
            ('supply_cap = "15000000"', 'supply_cap = "2000000000000000000000000000000"'),
            "collateral[0].supply_cap",
            "above the market's largest",
        ),
        (
            ('supply_cap = "15000000"', 'supply_cap = "0.0000001"'),
            "collateral[0].supply_cap",
            "finer than one unit",
        ),
        (('slope2 = "0.60"', 'slope2 = "0.01"'), "rates", "slope2 must be at least slope1"),
        (('kink = "0.90"', 'kink = "0.05"'), "rates", "the kink must be from 10.00%"),
        (
            ('reserve_factor = "0.10"', 'reserve_factor = "0.6"'),
            "rates",
            "reserve factor is at most 50.00%",
        ),
        (('flash = "0.0005"', 'flash = "0.02"'), "fees", "flash-loan fee is at most 1.00%"),
        (('liquidation = "0"', 'liquidation = "0.6"'), "fees", "at most 50.00%"),
        (("dust_floor = 1000", "dust_floor = 3000"), "limits", "dust floor must not exceed"),
        (("min_borrow = 100", "min_borrow = 300000000000000"), "limits", "too large"),
    ],
)
def test_check__parameter_out_of_bounds__refused_at_its_path(change, path, message):
    cfg = config(change=change)
    problems = problems_of(cfg, facts(cfg))
    assert set(problems) == {path}, problems
    assert message in problems[path]


def test_check__every_problem__listed_together():
    cfg = config(
        a=('ltv = "0.83"', 'ltv = "0.96"'),
        b=('kink = "0.90"', 'kink = "0.05"'),
        c=("dust_floor = 1000", "dust_floor = 3000"),
    )
    found = facts(cfg, feed=FeedFacts(6, 0, NOW, 1), facility=FacilityFacts(USDC, USDC))
    assert set(problems_of(cfg, replace(found, chain_id=2))) == {
        "network", "rates", "limits", "collateral[0]", "collateral[0].feed", "collateral[0].facility"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        (FeedFacts(6, None, None), "answers no price"),
        (FeedFacts(None, 10, NOW), "answers no decimals()"),
        (FeedFacts(6, 0, NOW), "not positive (0)"),
        (FeedFacts(6, -5, NOW), "not positive (-5)"),
        (FeedFacts(6, 10, NOW + 60), "struck in the future"),
        (
            FeedFacts(6, 10, NOW - 100 * HOUR - 1),
            "struck 100h00m ago, older than max_oracle_age (100h)",
        ),
    ],
)
def test_check__bad_feed__refused(feed, message):
    cfg = config()
    problems = problems_of(cfg, facts(cfg, feed=feed))
    assert set(problems) == {"collateral[0].feed"}
    assert message in problems["collateral[0].feed"]


def test_check__decimals_disagree__refused():
    """6-decimal token x 5-decimal feed cannot value an 18-decimal coin."""
    cfg = config()
    found = replace(facts(cfg, feed=FeedFacts(5, 10, NOW)), stablecoin_decimals=18)
    assert problems_of(cfg, found) == {
        "collateral[0].feed": "decimals do not agree: token 6 + feed 5 - stablecoin 18 = -7 (must be 0 to 60)"
    }


def test_check__token_without_decimals__refused():
    cfg = config()
    assert problems_of(cfg, facts(cfg, token_decimals=None)) == {
        "collateral[0].token": "answers no decimals(): not an ERC-20"
    }


def test_check__feed_struck_exactly_max_age_ago__accepted():
    cfg = config()
    assert check(cfg, facts(cfg, feed=FeedFacts(6, 10, NOW - 100 * HOUR))).ok


@pytest.mark.parametrize(
    ("facility", "message"),
    [
        (FacilityFacts(None, None), "answers no share or payout token"),
        (FacilityFacts(USDC, None), "answers no share or payout token"),
        (FacilityFacts(SAFE, USDC), f"redeems {SAFE}, not the collateral"),
    ],
)
def test_check__facility_of_another_token__refused(facility, message):
    cfg = config()
    problems = problems_of(cfg, facts(cfg, facility=facility))
    assert message in problems["collateral[0].facility"]


def test_check__facility_paying_another_token__refused():
    cfg = config()
    problems = problems_of(cfg, facts(cfg, facility=FacilityFacts(cfg.collateral[0].token, SAFE)))
    assert problems == {"collateral[0].facility": f"pays {SAFE}, not the stablecoin"}


def test_check__existing_compliance_source_without_the_views__refused():
    cfg = config()
    problems = problems_of(cfg, facts(cfg, compliance_answers=False))
    assert "does not answer is_allowlisted and is_frozen" in problems["collateral[0].compliance"]


def test_check__issuer_has_not_admitted__a_warning_naming_the_action_not_a_refusal():
    cfg = config()
    missing = Admission(
        "the market", "0xM", False, "Superstate must grant 0xM (the market) a protocol permission"
    )
    report = check(cfg, facts(cfg, admissions=(missing, Admission("x", "0xA", True, "nothing"))))
    assert report.ok
    assert report.warnings == (
        "collateral[0]: Superstate must grant 0xM (the market) a protocol permission",
    )


def test_check__no_compliance_source_anywhere__a_warning():
    cfg = config(c=(f'compliance = "{COMPLIANCE}"\n', ""))
    report = check(cfg, facts(cfg, compliance_answers=None, token_answers_compliance=False))
    assert report.ok and "no compliance source" in report.warnings[0]
    # A token that answers the views itself needs none.
    assert (
        check(cfg, facts(cfg, compliance_answers=None, token_answers_compliance=True)).warnings
        == ()
    )


def test_check__price_cap_finer_than_the_feed__refused():
    cfg = config(
        cap=('max_oracle_age = "100h"', 'max_oracle_age = "100h"\nprice_cap = "10.0000001"')
    )
    assert problems_of(cfg, facts(cfg)) == {
        "collateral[0].price_cap": "10.0000001 is finer than the feed's 6 decimals"
    }


def test_check__price_cap_below_the_price__a_warning_above_it_none():
    low = config(cap=('max_oracle_age = "100h"', 'max_oracle_age = "100h"\nprice_cap = "10.40"'))
    report = check(low, facts(low))
    assert report.ok
    assert report.warnings == (
        "collateral[0].price_cap: 10.40 is below the feed's price (10.45): "
        "the market will value the asset at the cap",
    )
    high = config(cap=('max_oracle_age = "100h"', 'max_oracle_age = "100h"\nprice_cap = "10.60"'))
    assert check(high, facts(high)).warnings == ()


# ---- Leverage and the subscription facility ----

MANAGER = "0x" + "99" * 20
WITH_LEVERAGE = {
    "leverage": ('symbol = "nUSDC"', 'symbol = "nUSDC"\nleverage = true'),
    "subscription": (
        f'compliance = "{COMPLIANCE}"',
        f'compliance = "{COMPLIANCE}"\nsubscription = {{ adapter = "OndoSubscription", manager = "{MANAGER}" }}',
    ),
}


def test_check__subscription_selling_the_collateral_for_the_stablecoin__accepted():
    cfg = config(**WITH_LEVERAGE)
    found = facts(cfg, subscription=FacilityFacts(cfg.collateral[0].token, cfg.stablecoin))
    report = check(cfg, found)
    assert report.ok and report.warnings == ()
    assert ("collateral[0].subscription.target", to_checksum_address(MANAGER)) in config_addresses(cfg)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (lambda token, coin: (None, None), "answers no share or payout token"),
        (lambda token, coin: (coin, coin), "sells {coin}, not the collateral {token}"),
        (lambda token, coin: (token, token), "takes {token}, not the stablecoin"),
    ],
)
def test_check__subscription_of_another_token__refused(tokens, message):
    cfg = config(**WITH_LEVERAGE)
    token, coin = cfg.collateral[0].token, cfg.stablecoin
    problems = problems_of(cfg, facts(cfg, subscription=FacilityFacts(*tokens(token, coin))))
    assert problems == {"collateral[0].subscription": message.format(token=token, coin=coin)}


def test_check__subscription_without_code__refused_once_as_missing_code():
    cfg = config(**WITH_LEVERAGE)
    found = facts(cfg, subscription=FacilityFacts(None, None))
    codes = tuple(
        replace(c, has_code=False) if c.path == "collateral[0].subscription.target" else c
        for c in found.codes
    )
    problems = problems_of(cfg, replace(found, codes=codes))
    assert problems == {"collateral[0].subscription.target": f"no contract at {to_checksum_address(MANAGER)}"}


def test_check__leverage_not_admitted__a_warning_naming_it():
    cfg = config(**WITH_LEVERAGE)
    missing = Admission("Leverage", "0xL", False, "Ondo must add 0xL (Leverage) to KYC requirement group 1")
    found = facts(
        cfg,
        subscription=FacilityFacts(cfg.collateral[0].token, cfg.stablecoin),
        admissions=(missing,),
    )
    report = check(cfg, found)
    assert report.ok and report.warnings == (f"collateral[0]: {missing.action}",)
