"""The pre-flight decisions, given plain dataclass inputs (no chain)."""

from dataclasses import replace

import pytest

from navlend.cli import checks
from navlend.cli.amounts import format_units
from navlend.cli.errors import Refusal
from navlend.cli.model import AssetListing, Compliance, Control, Holding, Position, Token
from navlend.market import PAUSE_BITS, PAUSE_BORROW, PAUSE_LIQUIDATION, PAUSE_SUPPLY

USD = 10**6
WAD = 10**18
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
    from navlend.cli.risk import borrow_value, liquidation_value

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
    refuse("above the helper's 95.00%", lever, target=9_600)
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
    refuse("at most 4h", checks.check_unpause, PAUSE_LIQUIDATION, 5 * 3_600)


@pytest.mark.parametrize(
    "risk, match",
    [
        ((9_600, 9_700, 100), "LTV must be"),
        ((8_500, 8_500, 300), "above the LTV"),
        ((8_500, 9_000, 0), "bonus must be"),
        ((8_500, 9_800, 300), "threshold × \\(1 \\+ bonus\\)"),
    ],
)
def test_validate_risk(risk, match):
    refuse(match, checks.validate_risk, *risk)


def test_validate_other_parameters():
    checks.validate_risk(8_500, 9_000, 300)
    checks.validate_limits(2**120 - 1, 360_000)
    refuse("oracle age", checks.validate_limits, 0, 60)
    refuse("supply cap", checks.validate_limits, 2**120, 3_600)
    checks.validate_rates(0, 4 * 10**16, 6 * 10**17, 9_000, 1_000)
    refuse("slope2", checks.validate_rates, 0, 5, 4, 9_000, 1_000)
    refuse("kink", checks.validate_rates, 0, 4, 5, 500, 1_000)
    refuse("1000%", checks.validate_rates, 11 * WAD, 4, 5, 9_000, 1_000)
    refuse("reserve factor", checks.validate_rates, 0, 4, 5, 9_000, 6_000)
    refuse("flash-loan fee", checks.validate_fees, 101, 0)
    refuse("share of the liquidation bonus", checks.validate_fees, 5, 5_001)
    refuse("dust floor", checks.validate_borrow_limits, 100, 1_000, 2_000)
    assert checks.check_reserves(None, 5 * USD, 3 * USD, BASE) == 3 * USD
    assert checks.check_surplus(7, BASE) == 7
    refuse("nothing to book", checks.check_surplus, 0, BASE)
    refuse("no reserves", checks.check_reserves, None, 0, 3 * USD, BASE)
    refuse("reserves are 5.00 USDC", checks.check_reserves, 6 * USD, 5 * USD, 10 * USD, BASE)
