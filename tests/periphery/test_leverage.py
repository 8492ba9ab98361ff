"""Leverage: the carry trade in one transaction each way, on an ordinary
market position owned by the user.

``open`` flash-borrows F so that (exposure - equity) x (1 + flash fee) =
target x exposure, subscribes the exposure through the issuer's facility
(fund A's for fund A, fund B's then the wrapper for the wrapper), posts the
shares for the user and borrows F plus the fee on the user's behalf.
``unwind`` flash-borrows the debt, repays it, withdraws and redeems the
collateral through the market's facility for the asset, repays the loan and
returns the rest. The round trips run at 6 (fund A) and 18 (wrapper)
decimals.
"""

import ape
import pytest
from eth_abi import encode
from navlend.constants import BPS, WAD

USD = 10**6
DAY = 86_400
EQUITY = 10_000 * USD
TARGET = 8_000
# Slack for rounding: the subscription rounds the shares down (one smallest
# unit of fund A is worth 10.5 base units) and the payouts round down.
ROUNDING = 12


def logged(tx, event) -> list[dict]:
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


def planned(market, stablecoin, equity: int, target_bps: int) -> dict:
    """The flash loan, its fee and the exposure ``open`` should take."""
    per_unit = market.flashFee(stablecoin, BPS * BPS)
    gross = BPS * BPS + per_unit
    flash = equity * gross // (gross - target_bps * BPS) - equity
    # Trimmed, as the contract does, until the rounded-up fee keeps the debt
    # at or under the target.
    while flash and (flash + market.flashFee(stablecoin, flash)) * BPS > target_bps * (equity + flash):
        flash -= 1
    fee = market.flashFee(stablecoin, flash)
    return {"flash": flash, "fee": fee, "owed": flash + fee, "exposure": equity + flash}


def previewed_collateral(collateral, facility, exposure: int) -> int:
    """The collateral ``exposure`` of stablecoin subscribes (and wraps)."""
    shares = facility.preview_subscribe(exposure)
    return collateral.token.previewDeposit(shares) if collateral.name == "wrapper" else shares


@pytest.fixture
def user(market, leverage, lend, fund_wallet, borrower):
    """``borrower`` with EQUITY approved to Leverage, which it authorised on
    the market; 1,000,000 lent, so the market can lend the flash loans."""
    lend(1_000_000 * USD)
    fund_wallet(borrower, EQUITY, leverage)
    market.set_authorization(leverage, True, sender=borrower)
    return borrower


@pytest.fixture
def open_levered(market, leverage, issuer_facility, user):
    """``open_levered(collateral, target=TARGET, **overrides)``: opens with
    EQUITY, min collateral 0 and max LTV 0.1 % above target unless overridden."""

    def go(
        collateral,
        target=TARGET,
        *,
        facility=None,
        equity=EQUITY,
        min_collateral=0,
        max_ltv=None,
        sender=None,
    ):
        facility = facility or issuer_facility(collateral)
        max_ltv = target + 10 if max_ltv is None else max_ltv
        return leverage.open(
            collateral.token,
            facility,
            equity,
            target,
            min_collateral,
            max_ltv,
            sender=sender or user,
        )

    return go


def assert_holds_nothing(leverage, market, stablecoin, tokens, facilities):
    """Leverage keeps no token and no allowance between calls."""
    for token in [stablecoin, *tokens]:
        assert token.balanceOf(leverage) == 0
        assert all(
            token.allowance(leverage, spender) == 0 for spender in [market, *tokens, *facilities]
        )


# ---- open and unwind ----


def test_open_then_unwind__round_trip__costs_only_fees_and_interest(
    market, leverage, stablecoin, collateral, issuer_facility, user, open_levered, advance, fund_b
):
    facility = issuer_facility(collateral)
    held = [collateral.token, fund_b] if collateral.name == "wrapper" else [collateral.token]
    plan = planned(market, stablecoin, EQUITY, TARGET)
    shares = previewed_collateral(collateral, facility, plan["exposure"])

    tx = open_levered(collateral, min_collateral=shares)

    assert tuple(tx.return_value) == (shares, plan["owed"])
    assert logged(tx, leverage.Opened) == [
        {
            "user": user.address,
            "token": collateral.token.address,
            "equity": EQUITY,
            "collateral": shares,
            "debt": plan["owed"],
        }
    ]
    (loan,) = tx.events.filter(market.FlashLoan)
    assert (loan.receiver, loan.amount, loan.fee) == (leverage.address, plan["flash"], plan["fee"])
    # An ordinary position: the collateral and the debt are the user's.
    assert market.collateral_of(user, collateral.token) == shares
    assert market.debt_of(user) == plan["owed"]
    # Debt over exposure is the target, flash fee included.
    assert abs(plan["owed"] * BPS - TARGET * plan["exposure"]) <= 2 * BPS
    assert market.position(user).health_factor > WAD
    assert stablecoin.balanceOf(user) == 0
    assert_holds_nothing(leverage, market, stablecoin, held, [facility, collateral.facility])

    rate = market.borrow_rate()
    opened_at = tx.timestamp
    advance(2 * DAY)
    payout = collateral.facility.preview_redeem(shares)

    tx = leverage.unwind(collateral.token, 0, sender=user)

    (event,) = tx.events.filter(leverage.Unwound)
    repaid, returned = event.repaid, event.returned
    x = rate * (tx.timestamp - opened_at)
    interest = plan["owed"] * (x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)) // WAD
    assert abs(repaid - plan["owed"] - interest) <= 2 and interest > 0
    unwind_fee = market.flashFee(stablecoin, repaid)
    assert returned == payout - repaid - unwind_fee
    assert tx.return_value == returned
    assert (event.user, event.token, event.collateral) == (
        user.address,
        collateral.token.address,
        shares,
    )
    assert stablecoin.balanceOf(user) == returned
    # The loss is the two flash fees, the interest and the redemption fee.
    redemption_fee = plan["exposure"] * facility.fee_bps() // BPS
    costs = plan["fee"] + unwind_fee + (repaid - plan["owed"]) + redemption_fee
    assert costs <= EQUITY - returned <= costs + ROUNDING
    assert market.debt_of(user) == 0 and market.collateral_of(user, collateral.token) == 0
    assert_holds_nothing(leverage, market, stablecoin, held, [facility, collateral.facility])


def test_open__on_top_of_a_position__returns_what_it_added(
    market, leverage, stablecoin, asset_a, issuer_facility, user, open_position, open_levered
):
    open_position(asset_a, user, 1_000 * USD, 1_000 * USD)  # 1,000 shares, 1,000 owed
    plan = planned(market, stablecoin, EQUITY, TARGET)
    shares = previewed_collateral(asset_a, issuer_facility(asset_a), plan["exposure"])

    tx = open_levered(asset_a)

    # Debt is measured as a difference of rounded-up values: once the index
    # has moved past 1.0, ceil(a + b) - ceil(a) may exceed b by one unit.
    collateral, debt = tx.return_value
    assert collateral == shares and 0 <= debt - plan["owed"] <= 1
    (event,) = tx.events.filter(leverage.Opened)
    assert (event.collateral, event.debt) == (collateral, debt)
    assert 0 <= market.debt_of(user) - (1_000 * USD + plan["owed"]) <= 2


@pytest.mark.parametrize("equity", [EQUITY, 123_456_789])
def test_open__max_ltv_equal_to_target__accepted(
    market, stablecoin, asset_a, fund_wallet, leverage, user, open_levered, equity
):
    fund_wallet(user, equity, leverage)
    plan = planned(market, stablecoin, equity, TARGET)

    tx = open_levered(asset_a, equity=equity, max_ltv=TARGET)

    (event,) = tx.events.filter(leverage.Opened)
    assert event.debt * BPS <= TARGET * plan["exposure"]


def test_unwind__no_debt__redeems_the_collateral(
    market, leverage, stablecoin, asset_a, user, open_position
):
    open_position(asset_a, user, 100 * USD, 0)
    payout = asset_a.facility.preview_redeem(100 * USD)
    before = stablecoin.balanceOf(user)

    tx = leverage.unwind(asset_a.token, payout, sender=user)

    assert logged(tx, leverage.Unwound) == [
        {
            "user": user.address,
            "token": asset_a.token.address,
            "collateral": 100 * USD,
            "repaid": 0,
            "returned": payout,
        }
    ]
    assert not list(tx.events.filter(market.FlashLoan))
    assert stablecoin.balanceOf(user) == before + payout


# ---- open: refusals ----


def test_open__not_authorized_on_the_market__reverts(market, leverage, asset_a, user, open_levered):
    market.set_authorization(leverage, False, sender=user)
    with ape.reverts("market: not authorized"):
        open_levered(asset_a)


def test_open__min_collateral_one_above__reverts(
    market, stablecoin, asset_a, issuer_facility, open_levered
):
    plan = planned(market, stablecoin, EQUITY, TARGET)
    shares = previewed_collateral(asset_a, issuer_facility(asset_a), plan["exposure"])
    with ape.reverts("leverage: collateral below minimum"):
        open_levered(asset_a, min_collateral=shares + 1)


@pytest.mark.parametrize(
    "target, max_ltv, reason",
    [
        (TARGET, TARGET - 1, "leverage: max ltv below target"),
        (9_501, 9_600, "leverage: bad target ltv"),
        (0, 9_000, "leverage: bad target ltv"),
        (9_000, 9_000, "market: exceeds borrow limit"),  # above the asset's 85 % LTV
    ],
    ids=["max_below_target", "target_above_95", "target_zero", "target_above_market_ltv"],
)
def test_open__bad_ltv_bounds__reverts(asset_a, open_levered, target, max_ltv, reason):
    with ape.reverts(reason):
        open_levered(asset_a, target, max_ltv=max_ltv)


def test_open__zero_equity__reverts(asset_a, open_levered):
    with ape.reverts("leverage: zero equity"):
        open_levered(asset_a, equity=0)


@pytest.mark.parametrize("asset, other", [("wrapper", "fund_a"), ("fund_a", "wrapper")])
def test_open__facility_for_another_fund__reverts(
    collaterals, issuer_facility, open_levered, asset, other
):
    with ape.reverts("leverage: facility for another fund"):
        open_levered(collaterals[asset], facility=issuer_facility(collaterals[other]))


def test_open__user_not_allowlisted__reverts(
    market, leverage, asset_a, fund_wallet, outsider, open_levered
):
    """Shares pass through the (allowlisted) Leverage contract, so it must
    check the fund's allowlist on the user itself, or anyone could hold fund
    shares through it without the issuer's KYC."""
    fund_wallet(outsider, EQUITY, leverage)
    market.set_authorization(leverage, True, sender=outsider)
    with ape.reverts("leverage: user not allowlisted"):
        open_levered(asset_a, sender=outsider)


def test_open__user_frozen__reverts(leverage, asset_a, user, deployer, open_levered):
    asset_a.token.freeze(user, sender=deployer)
    with ape.reverts("leverage: user frozen"):
        open_levered(asset_a)


def test_open__asset_without_compliance_source__refused(market, owner, asset_a, user, open_levered):
    """The market's owner cleared the source: the market no longer checks
    anyone, and Leverage, which cannot tell a permissionless asset from an
    unconfigured one, refuses rather than pass shares to an unchecked user."""
    market.set_asset_compliance(asset_a.token, "0x" + "00" * 20, sender=owner)
    with ape.reverts("leverage: asset has no compliance source"):
        open_levered(asset_a)


def test_open__wrapper__checked_against_its_source_the_fund(
    market, world, leverage, collaterals, user, deployer, open_levered
):
    """The wrapper answers no compliance views; the market's source for
    it is fund B, which Leverage asks."""
    wrapper = collaterals["wrapper"]
    assert market.asset_compliance(wrapper.token) == world.fund_b.address
    world.fund_b.set_allowlisted(user, False, sender=deployer)
    with ape.reverts("leverage: user not allowlisted"):
        open_levered(wrapper)


# ---- unwind: refusals ----


def test_unwind__min_out_above_the_return__slippage(
    market, leverage, stablecoin, asset_a, user, open_levered
):
    open_levered(asset_a)
    debt = market.debt_of(user)
    payout = asset_a.facility.preview_redeem(market.collateral_of(user, asset_a.token))
    at_most = payout - debt - market.flashFee(stablecoin, debt)  # interest only lowers it
    with ape.reverts("leverage: slippage"):
        leverage.unwind(asset_a.token, at_most + 1, sender=user)


def test_unwind__no_collateral__reverts(leverage, asset_a, user):
    with ape.reverts("leverage: no collateral"):
        leverage.unwind(asset_a.token, 0, sender=user)


def test_unwind__authorization_revoked__reverts(market, leverage, asset_a, user, open_levered):
    open_levered(asset_a)
    market.set_authorization(leverage, False, sender=user)
    with ape.reverts("market: not authorized"):
        leverage.unwind(asset_a.token, 0, sender=user)


# ---- the callback ----


def test_on_flash_loan__third_party_flash_loan__not_initiated_here(
    market, leverage, stablecoin, asset_a, issuer_facility, user, attacker
):
    # An attempt to open a position for ``user``, who authorised Leverage.
    data = encode(
        ["uint256", "address", "address", "address", "uint256"],
        [1, user.address, asset_a.token.address, issuer_facility(asset_a).address, 0],
    )
    with ape.reverts("leverage: not initiated here"):
        market.flashLoan(leverage, stablecoin, EQUITY, data, sender=attacker)


def test_on_flash_loan__called_directly__not_the_market(leverage, stablecoin, attacker):
    for initiator in (leverage, attacker):
        with ape.reverts("leverage: not the market"):
            leverage.onFlashLoan(initiator, stablecoin, USD, 1, b"", sender=attacker)
