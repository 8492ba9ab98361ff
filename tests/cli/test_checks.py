"""The pre-flight decisions, given plain dataclass inputs (no chain)."""

import re
from dataclasses import replace

import pytest

from navlend.cli import checks
from navlend.cli.amounts import format_units
from navlend.cli.errors import Refusal
from navlend.cli.records import AssetListing, Compliance, Control, Holding, Position, Token
from navlend.cli.risk import borrow_value, liquidation_value
from navlend.constants import PAUSE_ALL, PAUSE_BORROW, PAUSE_LIQUIDATION, PAUSE_SUPPLY, WAD
from navlend.market import PAUSE_BITS
from navlend.rules import params
from navlend.rules.arith import Revert

USD = 10**6
BASE = Token("stablecoin", "USDC", 6)
OPEN = Control(min_borrow=100 * USD, small_position=2_000 * USD, dust_floor=1_000 * USD)
FUND_A = Holding(
    "fund_a",
    "TBFA",
    "0xa",
    1_000 * 10**6,
    6,
    10_50_000_000,
    8,
    6,
    8_500,
    9_000,
    price_age=1_800,
    max_oracle_age=360_000,
)
ADMITTED = Compliance("fund_a", "0xb", allowlisted=True)
LISTING = AssetListing("fund_a", "TBFA", 6, supply_cap=2**120 - 1, total_supplied=0)


def position(debt, *holdings):
    return Position(
        "0xb", debt, debt, borrow_value(holdings), liquidation_value(holdings), WAD, tuple(holdings)
    )


def refuse(match, fn, *args, **kwargs):
    with pytest.raises(Refusal, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in info.value.message
    return info.value.message


# ---- common ----


@pytest.mark.parametrize("action", list(PAUSE_BITS))
def test_each_paused_action_refuses(action):
    refuse(f"paused {action}", checks.check_not_paused, Control(paused=PAUSE_BITS[action]), action)
    checks.check_not_paused(Control(paused=127 & ~PAUSE_BITS[action]), action)


@pytest.mark.parametrize(
    "compliance, match",
    [
        (Compliance("fund_a", "0xo", allowlisted=False), "0xo is not allowlisted by fund_a"),
        (Compliance("fund_a", "0xo", allowlisted=True, frozen=True), "frozen by fund_a"),
        (Compliance("fund_a", "0xo", allowlisted=True, fund_paused=True), "paused transfers"),
    ],
)
def test_compliance_refusals(compliance, match):
    refuse(match, checks.check_compliance, compliance)


def test_balance_and_allowance():
    refuse("holds 5.00 USDC, less than the 6.00 USDC", checks.check_balance, 5 * USD, 6 * USD, BASE)
    assert checks.needs_approval(5, 6) and not checks.needs_approval(6, 6)


# ---- lenders ----


def test_lend():
    checks.check_lend(OPEN, 10 * USD, 10 * USD, BASE)
    refuse("paused supply", checks.check_lend, Control(paused=PAUSE_SUPPLY), 10 * USD, 1, BASE)
    refuse("holds", checks.check_lend, OPEN, 1, 2, BASE)


def test_withdraw():
    assert checks.check_withdraw(OPEN, 100 * USD, 500 * USD, None, BASE) == 100 * USD
    assert checks.check_withdraw(OPEN, 100 * USD, 500 * USD, 40 * USD, BASE) == 40 * USD
    refuse(
        "claim is 100.00 USDC", checks.check_withdraw, OPEN, 100 * USD, 500 * USD, 101 * USD, BASE
    )
    refuse(
        "holds only 50.00 USDC of cash",
        checks.check_withdraw,
        OPEN,
        100 * USD,
        50 * USD,
        None,
        BASE,
    )
    refuse("nothing lent", checks.check_withdraw, OPEN, 0, 50 * USD, None, BASE)


# ---- borrowers ----


def test_deposit():
    checks.check_deposit(OPEN, LISTING, ADMITTED, 10, 10)
    refuse(
        "frozen on the market",
        checks.check_deposit,
        OPEN,
        replace(LISTING, frozen=True),
        ADMITTED,
        10,
        10,
    )
    capped = replace(LISTING, supply_cap=100 * 10**6, total_supplied=95 * 10**6)
    refuse("room for 5.00 TBFA", checks.check_deposit, OPEN, capped, ADMITTED, 10**9, 6 * 10**6)
    refuse(
        "not allowlisted",
        checks.check_deposit,
        OPEN,
        LISTING,
        replace(ADMITTED, allowlisted=False),
        10,
        10,
    )
    refuse("holds 0.000009 TBFA", checks.check_deposit, OPEN, LISTING, ADMITTED, 9, 10)


def test_borrow_limit_says_the_maximum():
    p = position(5_000 * USD, FUND_A)  # limit 8,925
    checks.check_borrow(OPEN, p, 3_925 * USD - 2, 10**12, BASE)
    message = refuse("refused", checks.check_borrow, OPEN, p, 3_925 * USD, 10**12, BASE)
    assert "the most this account can borrow now is 3,924.999998 USDC" in message


def test_borrow_against_a_stale_nav_names_it():
    stale = replace(FUND_A, stale=True, price_age=101 * 3_600)
    message = refuse(
        "refused", checks.check_borrow, OPEN, position(0, stale), 100 * USD, 10**12, BASE
    )
    assert "is 0.00 USDC" in message and "fund_a's NAV is stale, age 4d 05h > 4d 04h" in message


def test_borrow_other_refusals():
    p = position(0, FUND_A)
    refuse(
        "paused borrow",
        checks.check_borrow,
        Control(paused=PAUSE_BORROW),
        p,
        100 * USD,
        10**12,
        BASE,
    )
    refuse("no collateral", checks.check_borrow, OPEN, position(0), 100 * USD, 10**12, BASE)
    refuse(
        "minimum debt is 100.00 USDC: borrow at least 100.00",
        checks.check_borrow,
        OPEN,
        p,
        99 * USD,
        10**12,
        BASE,
    )
    refuse("only 500.00 USDC of cash", checks.check_borrow, OPEN, p, 1_000 * USD, 500 * USD, BASE)


def test_withdraw_collateral():
    p = position(5_000 * USD, FUND_A)
    most = checks.check_withdraw_collateral(OPEN, p, "fund_a", None, ADMITTED)
    assert checks.check_withdraw_collateral(OPEN, p, "fund_a", most, ADMITTED) == most
    refuse(
        f"the most is {format_units(most, 6)} TBFA",
        checks.check_withdraw_collateral,
        OPEN,
        p,
        "fund_a",
        most + 1,
        ADMITTED,
    )
    refuse(
        "has only 1,000.00 TBFA",
        checks.check_withdraw_collateral,
        OPEN,
        p,
        "fund_a",
        10**12,
        ADMITTED,
    )
    refuse("no wrapper posted", checks.check_withdraw_collateral, OPEN, p, "wrapper", 1, ADMITTED)
    refuse(
        "receiver 0xb is not allowlisted",
        checks.check_withdraw_collateral,
        OPEN,
        p,
        "fund_a",
        1,
        replace(ADMITTED, allowlisted=False),
    )
    stale = position(5_000 * USD, replace(FUND_A, stale=True))
    refuse("stale.*in debt", checks.check_withdraw_collateral, OPEN, stale, "fund_a", 1, ADMITTED)
    # Without debt a stale NAV does not matter (the market does not check it).
    assert (
        checks.check_withdraw_collateral(
            OPEN, position(0, replace(FUND_A, stale=True)), "fund_a", None, ADMITTED
        )
        == FUND_A.balance
    )


def test_repay():
    assert checks.check_repay(50 * USD, None, 60 * USD, BASE) == 50 * USD
    assert checks.check_repay(50 * USD, 80 * USD, 60 * USD, BASE) == 50 * USD
    refuse("no debt", checks.check_repay, 0, None, 60 * USD, BASE)
    refuse(
        "repay the whole debt the account needs 50.00 USDC; it holds 40.00",
        checks.check_repay,
        50 * USD,
        None,
        40 * USD,
        BASE,
    )


# ---- leverage ----


def test_leverage_flash_matches_the_contract():
    flash, fee = checks.leverage_flash(10_000 * USD, 8_000, 5)
    # (exposure - equity) x (1 + fee) = 0.8 x exposure
    assert abs((flash + fee) - (10_000 * USD + flash) * 8 // 10) <= 1
    assert fee == -(-flash * 5 // 10_000)


def test_leverage_flash__rounded_up_fee_over_target__trimmed_as_leverage_vy():
    """Leverage._flash_for by hand, 10,000 USDC at 80 %, fee 5 bps:
    gross = 10^8 + flashFee(10^8) = 100,050,000; the closed form gives
    10^10 x 100,050,000 // 20,050,000 - 10^10 = 39,900,249,376, whose fee
    ceil(19,950,124.688) = 19,950,125 makes owed x BPS 399,201,995,010,000,
    above 8,000 x 49,900,249,376 = 399,201,995,008,000: one unit off gives
    399,201,995,000,000 on both sides, which the helper keeps."""
    assert checks.leverage_flash(10_000 * USD, 8_000, 5) == (39_900_249_375, 19_950_125)


def test_leverage_flash__no_fee__closed_form_kept():
    # 10^10 x 10^8 // (10^8 - 8 x 10^7) - 10^10 = 4 x 10^10: exactly at the target.
    assert checks.leverage_flash(10_000 * USD, 8_000, 0) == (40_000 * USD, 0)


def test_leverage_flash__target_at_100_percent_no_fee__refused():
    """A target LTV of 100 % with no flash fee used to divide by zero
    (ZeroDivisionError out of the command) before the target was checked:
    the quote refuses any target above the helper's maximum first."""
    with pytest.raises(Refusal, match="above the helper's 95.00%"):
        checks.leverage_flash(10_000 * 10**6, 10_000, 0)


def test_leverage_flash__target_at_the_helpers_maximum__quoted():
    flash, fee = checks.leverage_flash(10_000 * 10**6, checks.MAX_TARGET_LTV_BPS, 0)
    # 95 % of the exposure borrowed: 10,000 / (1 - 0.95) - 10,000 = 190,000.
    assert (flash, fee) == (190_000 * 10**6, 0)


def test_leverage_flash__fee_rounds_up():
    # 1 unit of equity at 50 %, fee 1 bp: gross 100,010,000, the closed form
    # 1 x 100,010,000 // 50,010,000 - 1 = 0: no loan, no fee.
    assert checks.leverage_flash(1, 5_000, 1) == (0, 0)
    # 3 units at 50 %: 3 x 100,010,000 // 50,010,000 - 3 = 2; fee ceil(2 x 1 / 10^4) = 1,
    # owed 3 x BPS = 30,000 > 5,000 x 5 = 25,000: trimmed to 1, owed 2 x BPS = 20,000
    # <= 5,000 x 4 = 20,000.
    assert checks.leverage_flash(3, 5_000, 1) == (1, 1)


def quote(collateral=4_700 * 10**6):
    flash, fee = checks.leverage_flash(10_000 * USD, 8_000, 5)
    return checks.LeverageQuote(10_000 * USD, flash, fee, collateral)


def lever(
    p=None,
    asset=FUND_A,
    q=None,
    compliance=ADMITTED,
    balance=10**12,
    cash=10**12,
    target=8_000,
    control=OPEN,
):
    checks.check_leverage(
        control,
        p or position(0),
        asset.with_balance(0),
        q or quote(),
        compliance,
        balance,
        cash,
        target,
        BASE,
    )


def test_leverage_checks():
    lever()
    refuse("not allowlisted", lever, compliance=replace(ADMITTED, allowlisted=False))
    refuse("paused flash-loan", lever, control=replace(OPEN, paused=PAUSE_BITS["flash-loan"]))
    refuse("stale", lever, asset=replace(FUND_A, stale=True))
    refuse("not below fund_a's LTV 85.00%", lever, target=8_500)
    refuse("would mint no shares", lever, q=quote(0))
    refuse("holds", lever, balance=1)
    refuse("only 1.00 USDC of cash", lever, cash=USD)
    refuse("borrow limit", lever, q=quote(1_000 * 10**6))


def test_unwind():
    token = Token("fund_a", "TBFA", 6)
    args = {
        "control": OPEN,
        "debt": 40_000 * USD,
        "collateral": 4_700 * 10**6,
        "asset": token,
        "facility": "0x1",
        "max_redeem": 10**12,
        "payout": 49_000 * USD,
        "fee": 20 * USD,
        "base": BASE,
    }
    assert checks.check_unwind(**args) == 8_980 * USD
    refuse("no fund_a posted", checks.check_unwind, **{**args, "collateral": 0})
    refuse("no redemption facility", checks.check_unwind, **{**args, "facility": "0x" + "00" * 20})
    refuse(
        "paused flash-loan",
        checks.check_unwind,
        **{**args, "control": Control(paused=PAUSE_BITS["flash-loan"])},
    )
    refuse("can redeem only 1.00 TBFA", checks.check_unwind, **{**args, "max_redeem": 10**6})
    refuse("repay part of the debt first", checks.check_unwind, **{**args, "payout": 40_000 * USD})


# ---- operators ----


def test_pause_bits_and_roles():
    assert (
        checks.pause_bits(["borrow", "withdraw_collateral"])
        == PAUSE_BORROW | PAUSE_BITS["withdraw-collateral"]
    )
    assert checks.pause_bits(["all"]) == 127
    refuse("unknown action 'lend'", checks.pause_bits, ["lend"])
    refuse("at least one action", checks.pause_bits, [])
    checks.check_role("0xO", "0xo", "0xg")
    checks.check_role("0xg", "0xo", "0xg", bits=PAUSE_BORROW)
    refuse("not the owner", checks.check_role, "0xg", "0xo", "0xg", bits=PAUSE_LIQUIDATION)
    refuse(
        "not the guardian or the owner", checks.check_role, "0xx", "0xo", "0xg", bits=PAUSE_BORROW
    )
    refuse("not the owner", checks.check_role, "0xg", "0xo", "0xg")
    checks.check_unpause(PAUSE_LIQUIDATION, 3_600)
    refuse("only when unpausing liquidation", checks.check_unpause, PAUSE_BORROW, 60)
    refuse(
        "--grace: the grace period is at most 4 hours",
        checks.check_unpause,
        PAUSE_LIQUIDATION,
        5 * 3_600,
    )


def test_reserves_and_surplus():
    assert checks.check_reserves(None, 5 * USD, 3 * USD, BASE) == 3 * USD
    assert checks.check_surplus(7, BASE) == 7
    refuse("nothing to book", checks.check_surplus, 0, BASE)
    refuse("no reserves", checks.check_reserves, None, 0, 3 * USD, BASE)
    refuse("reserves are 5.00 USDC", checks.check_reserves, 6 * USD, 5 * USD, 10 * USD, BASE)


# ---- the market's parameter rules, as the CLI refuses them ----
#
# Each validate_* runs navlend.rules.params: a refusal carries the rule's
# message (the market's bound, in a person's words), and a value exactly at
# the bound passes.


@pytest.mark.parametrize(
    "validate, rule, args, expected",
    [
        (
            checks.validate_risk,
            params.check_risk,
            (9_501, 9_600, 100),
            "LTV must be above 0 and at most 95.00%",
        ),
        (
            checks.validate_limits,
            params.check_asset_limits,
            (2**120, 3_600),
            "the supply cap is above the market's largest (2^120 - 1 units)",
        ),
        (
            checks.validate_rates,
            params.check_rates,
            (0, 5, 4, 9_000, 1_000),
            "slope2 must be at least slope1",
        ),
        (
            checks.validate_fees,
            params.check_fees,
            (101, 0),
            "the flash-loan fee is at most 1.00%",
        ),
        (
            checks.validate_borrow_limits,
            params.check_borrow_limits,
            (2**48, 0, 0),
            "a borrow limit is too large",
        ),
    ],
)
def test_validate__refusal_carries_the_rules_message(validate, rule, args, expected):
    with pytest.raises(Revert) as revert:
        rule(*args)
    message = refuse(re.escape(expected), validate, *args)
    assert message == revert.value.message


def test_validate_risk__at_the_bounds__passes():
    # LTV 95 %, threshold 95.01 %, bonus 5.25 %: 9,501 x 10,525 = 99,998,025 < 10^8.
    checks.validate_risk(9_500, 9_501, 525)
    # Bonus at its 20 % bound: 8,000 x 12,000 = 96,000,000 < 10^8.
    checks.validate_risk(7_000, 8_000, 2_000)
    checks.validate_risk(8_500, 9_000, 300)


@pytest.mark.parametrize(
    "risk, expected",
    [
        ((0, 9_000, 300), "LTV must be above 0 and at most 95.00%"),
        ((9_501, 9_600, 100), "LTV must be above 0 and at most 95.00%"),
        ((9_600, 9_700, 100), "LTV must be above 0 and at most 95.00%"),
        ((8_500, 8_500, 300), "the liquidation threshold must be above the LTV"),
        ((8_500, 9_000, 0), "the liquidation bonus must be above 0 and at most 20.00%"),
        ((7_000, 8_000, 2_001), "the liquidation bonus must be above 0 and at most 20.00%"),
        # 9,501 x 10,526 = 100,007,526 >= 10^8; 9,800 x 10,300 = 100,940,000.
        ((9_500, 9_501, 526), "threshold × (1 + bonus) must stay below 1"),
        ((8_500, 9_800, 300), "threshold × (1 + bonus) must stay below 1"),
    ],
)
def test_validate_risk__out_of_bounds__refused(risk, expected):
    refuse(re.escape(expected), checks.validate_risk, *risk)


def test_validate_limits__at_the_bounds__passes():
    checks.validate_limits(2**120 - 1, 3_600)
    checks.validate_limits(0, 7 * 86_400)
    checks.validate_limits(2**120 - 1, 360_000)


@pytest.mark.parametrize(
    "limits, expected",
    [
        ((2**120, 3_600), "the supply cap is above the market's largest"),
        ((0, 3_599), "the maximum oracle age must be from 1 hour to 7 days"),
        ((0, 60), "the maximum oracle age must be from 1 hour to 7 days"),
        ((0, 7 * 86_400 + 1), "the maximum oracle age must be from 1 hour to 7 days"),
    ],
)
def test_validate_limits__out_of_bounds__refused(limits, expected):
    refuse(re.escape(expected), checks.validate_limits, *limits)


def test_validate_rates__at_the_bounds__passes():
    checks.validate_rates(10 * WAD, 10 * WAD, 10 * WAD, 1_000, 5_000)
    checks.validate_rates(0, 0, 0, 9_900, 0)
    checks.validate_rates(0, 4 * 10**16, 6 * 10**17, 9_000, 1_000)


def test_validate_rates__slope2_below_slope1__refused():
    refuse("slope2 must be at least slope1", checks.validate_rates, 0, 5, 4, 9_000, 1_000)


@pytest.mark.parametrize(
    "rates, expected",
    [
        ((10 * WAD + 1, 0, 0, 9_000, 1_000), "a rate term is above 1000% a year"),
        ((11 * WAD, 4, 5, 9_000, 1_000), "a rate term is above 1000% a year"),
        ((0, 4, 5, 999, 1_000), "the kink must be from 10.00% to 99.00%"),
        ((0, 4, 5, 500, 1_000), "the kink must be from 10.00% to 99.00%"),
        ((0, 4, 5, 9_901, 1_000), "the kink must be from 10.00% to 99.00%"),
        ((0, 4, 5, 9_000, 5_001), "the reserve factor is at most 50.00%"),
        ((0, 4, 5, 9_000, 6_000), "the reserve factor is at most 50.00%"),
    ],
)
def test_validate_rates__out_of_bounds__refused(rates, expected):
    refuse(re.escape(expected), checks.validate_rates, *rates)


def test_validate_fees__at_the_bounds__passes():
    checks.validate_fees(100, 5_000)


def test_validate_fees__above_the_bounds__refused():
    refuse(re.escape("the flash-loan fee is at most 1.00%"), checks.validate_fees, 101, 0)
    refuse(
        re.escape("the protocol's share of the liquidation bonus is at most 50.00%"),
        checks.validate_fees,
        5,
        5_001,
    )


def test_validate_borrow_limits__at_the_bounds__passes():
    checks.validate_borrow_limits(2**48 - 1, 2**48 - 1, 2**48 - 1)


def test_validate_borrow_limits__out_of_bounds__refused():
    refuse("a borrow limit is too large", checks.validate_borrow_limits, 0, 2**48, 0)
    refuse(
        "the dust floor must not exceed the small-position threshold",
        checks.validate_borrow_limits,
        100,
        1_000,
        1_001,
    )
    refuse("the dust floor must not exceed", checks.validate_borrow_limits, 100, 1_000, 2_000)


def test_check_unpause__grace_up_to_4_hours_with_liquidation__passes():
    checks.check_unpause(PAUSE_LIQUIDATION, 4 * 3_600)
    checks.check_unpause(PAUSE_BORROW, 0)


def test_check_unpause__grace_without_liquidation__refused():
    with pytest.raises(Revert) as revert:
        params.check_grace(PAUSE_BORROW, 1)
    message = refuse(
        "--grace: a grace period applies only when unpausing liquidation",
        checks.check_unpause,
        PAUSE_BORROW,
        1,
    )
    assert message == f"--grace: {revert.value.message}"


def test_check_unpause__grace_over_4_hours__refused():
    refuse(
        "--grace: the grace period is at most 4 hours",
        checks.check_unpause,
        PAUSE_LIQUIDATION | PAUSE_BORROW,
        4 * 3_600 + 1,
    )


def test_pause_bits__no_action__refused_with_the_rules_message():
    with pytest.raises(Revert) as revert:
        params.check_actions(0)
    message = refuse("name at least one action: supply, ", checks.pause_bits, [])
    assert message.startswith(revert.value.message)


def test_pause_bits__every_action__passes():
    assert checks.pause_bits(list(PAUSE_BITS)) == PAUSE_ALL == checks.pause_bits(["ALL"])
