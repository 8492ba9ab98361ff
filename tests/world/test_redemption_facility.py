"""RedemptionFacility: fee math at 6 and 18 decimals, minimum, rolling
daily limit (leaky bucket), liquidity, pause, stale/bad NAV, caller
allowlist, slippage, subscriptions, liquidity and parameter admin."""

import ape
import pytest

from navlend.timeutil import HOUR

USDC = 10**6
DAY = 86_400


def expected_payout(shares: int, nav: int, share_decimals: int, fee_bps: int) -> int:
    """The facility's formula, in Python: floor, then floor after the fee."""
    gross = shares * nav * USDC // (10**share_decimals * 10**8)
    return gross * (10_000 - fee_bps) // 10_000


def expected_shares(assets: int, nav: int, share_decimals: int) -> int:
    return assets * 10**share_decimals * 10**8 // (nav * USDC)


@pytest.fixture(scope="session")
def holding(lender, mint_fund):
    """``holding(fund, facility, amount)``: ``lender`` holds ``amount`` raw
    shares and has approved the facility for them."""

    def make(fund, facility, amount: int) -> int:
        mint_fund(fund, lender, amount)
        fund.approve(facility, amount, sender=lender)
        return amount

    return make


# ---- redeem ----


def test_redeem__allowlisted_caller__burns_shares_and_pays_receiver(
    market_of, holding, lender, borrower, stablecoin
):
    fund, oracle, facility = market_of
    shares = holding(fund, facility, 100 * 10 ** fund.decimals())
    nav = oracle.latestRoundData()[1]
    payout = expected_payout(shares, nav, fund.decimals(), 5)
    liquidity = facility.available_liquidity()

    tx = facility.redeem(shares, payout, borrower, sender=lender)

    assert stablecoin.balanceOf(borrower) == payout
    assert fund.balanceOf(lender) == 0
    assert fund.totalSupply() == 0
    assert facility.available_liquidity() == liquidity - payout
    gross = expected_payout(shares, nav, fund.decimals(), 0)
    assert (
        facility.Redeemed(
            caller=lender,
            receiver=borrower,
            shares=shares,
            payout=payout,
            fee=gross - payout,
            nav=nav,
        )
        in tx.events
    )
    assert (
        fund.Transfer(sender=facility, receiver=ape.utils.ZERO_ADDRESS, value=shares) in tx.events
    )


@pytest.mark.parametrize("fee_bps", [0, 7, 100])
@pytest.mark.parametrize("odd", ["dust", "tenth"])
def test_redeem__fee_math__matches_formula_rounded_down(
    market_of, holding, deployer, lender, stablecoin, fee_bps, odd
):
    fund, oracle, facility = market_of
    odd_units = 7 if odd == "dust" else 10 ** (fund.decimals() - 1) + 3
    facility.set_fee_bps(fee_bps, sender=deployer)
    facility.set_min_redeem(0, sender=deployer)
    shares = holding(fund, facility, 10 ** fund.decimals() + odd_units)
    payout = expected_payout(shares, oracle.latestRoundData()[1], fund.decimals(), fee_bps)
    assert facility.preview_redeem(shares) == payout
    facility.redeem(shares, 0, lender, sender=lender)
    assert stablecoin.balanceOf(lender) == payout


def test_redeem__below_minimum__reverts(market_of, holding, lender):
    fund, _, facility = market_of
    shares = holding(fund, facility, 10 ** fund.decimals() - 1)
    with ape.reverts("facility: below minimum"):
        facility.redeem(shares, 0, lender, sender=lender)


def test_redeem__zero__reverts(facility_a, lender):
    with ape.reverts("facility: zero amount"):
        facility_a.redeem(0, 0, lender, sender=lender)


def test_redeem__paused__reverts_and_max_is_zero(fund_a, facility_a, holding, deployer, lender):
    holding(fund_a, facility_a, 10**7)
    tx = facility_a.pause(sender=deployer)
    assert facility_a.Paused(account=deployer) in tx.events
    assert facility_a.max_redeem() == 0
    with ape.reverts("facility: paused"):
        facility_a.redeem(10**7, 0, lender, sender=lender)


def test_unpause__owner__resumes(fund_a, facility_a, holding, deployer, lender):
    holding(fund_a, facility_a, 10**7)
    facility_a.pause(sender=deployer)
    tx = facility_a.unpause(sender=deployer)
    assert facility_a.Unpaused(account=deployer) in tx.events
    assert facility_a.redeem(10**7, 0, lender, sender=lender)


@pytest.mark.parametrize("case", ["stale", "no_data"])
def test_redeem__unusable_nav__reverts_and_views_are_zero(
    project,
    deployer,
    updater,
    guardian,
    fund_a,
    facility_a,
    stablecoin,
    lender,
    mint_fund,
    advance,
    case,
):
    mint_fund(fund_a, lender, 10**7)
    if case == "stale":
        facility, reason = facility_a, "facility: stale nav"
        advance(100 * HOUR)
    else:
        empty = deployer.deploy(project.NavOracle, "EMPTY", updater, guardian, 0, 0)
        facility = deployer.deploy(
            project.RedemptionFacility, fund_a, stablecoin, empty, 0, 0, 10**12, 0, deployer
        )
        reason = "facility: bad nav"
        assert facility.max_oracle_age() == 360_000  # 0 selects the default
    assert facility.max_redeem() == 0
    assert facility.preview_redeem(10**7) == 0
    assert facility.preview_subscribe(10**6) == 0
    with ape.reverts(reason):
        facility.redeem(10**7, 0, lender, sender=lender)


def test_redeem__fresh_nav_after_weekend__works(
    fund_a, oracle_a, facility_a, holding, publish_next, lender
):
    holding(fund_a, facility_a, 10**7)
    for _ in range(3):  # Thursday, Friday, Monday strikes
        publish_next(oracle_a, oracle_a.latestRoundData()[1] + 1)
    assert facility_a.max_redeem() > 0
    facility_a.redeem(10**7, 0, lender, sender=lender)


def test_redeem__caller_not_allowlisted__reverts(facility_a, outsider):
    # An outsider cannot hold shares; the facility names the problem first.
    with ape.reverts("facility: caller not allowlisted"):
        facility_a.redeem(10**7, 0, outsider, sender=outsider)


def test_redeem__caller_frozen__reverts(fund_a, facility_a, holding, deployer, lender):
    holding(fund_a, facility_a, 10**7)
    fund_a.freeze(lender, sender=deployer)
    with ape.reverts("facility: caller frozen"):
        facility_a.redeem(10**7, 0, lender, sender=lender)


def test_redeem__facility_delisted__fund_rejects_transfer(
    fund_a, facility_a, holding, deployer, lender
):
    holding(fund_a, facility_a, 10**7)
    fund_a.set_allowlisted(facility_a, False, sender=deployer)
    with ape.reverts("fund: receiver not allowlisted"):
        facility_a.redeem(10**7, 0, lender, sender=lender)


def test_redeem__slippage__reverts(market_of, holding, lender):
    fund, _, facility = market_of
    shares = holding(fund, facility, 10 * 10 ** fund.decimals())
    with ape.reverts("facility: slippage"):
        facility.redeem(shares, facility.preview_redeem(shares) + 1, lender, sender=lender)


def test_redeem__insufficient_liquidity__reverts(fund_a, facility_a, holding, deployer, lender):
    shares = holding(fund_a, facility_a, 10 * 10**6)  # ~ $105
    facility_a.withdraw_liquidity(
        facility_a.available_liquidity() - 100 * USDC, deployer, sender=deployer
    )
    with ape.reverts("facility: insufficient liquidity"):
        facility_a.redeem(shares, 0, lender, sender=lender)
    max_shares = facility_a.max_redeem()
    assert facility_a.preview_redeem(max_shares) <= 100 * USDC
    facility_a.redeem(max_shares, 0, lender, sender=lender)


def test_redeem__daily_limit__exhausts_then_refills_linearly(
    fund_b, facility_b, holding, deployer, lender, advance
):
    # Fund B at $1.00, no fee: 1 share = 1 USDC.
    facility_b.set_fee_bps(0, sender=deployer)
    facility_b.set_daily_limit(1_000 * USDC, sender=deployer)
    holding(fund_b, facility_b, 3_000 * 10**18)
    facility_b.redeem(1_000 * 10**18, 0, lender, sender=lender)
    # anvil may answer a view in the next block's second (it does under
    # load): at most one second's refill, 1,000 USDC / day.
    one_second = -(-1_000 * USDC // DAY)
    assert facility_b.remaining_limit() <= one_second
    assert facility_b.max_redeem() <= one_second * 10**12
    with ape.reverts("facility: daily limit exceeded"):
        facility_b.redeem(10**18, 0, lender, sender=lender)

    advance(DAY // 2)
    # Half a day refills half the limit (and perhaps that second).
    assert 500 * USDC <= facility_b.remaining_limit() <= 500 * USDC + one_second
    with ape.reverts("facility: daily limit exceeded"):
        facility_b.redeem(501 * 10**18, 0, lender, sender=lender)
    facility_b.redeem(400 * 10**18, 0, lender, sender=lender)

    advance(DAY)
    assert facility_b.remaining_limit() == 1_000 * USDC
    assert facility_b.max_redeem() == 1_000 * 10**18
    facility_b.redeem(1_000 * 10**18, 0, lender, sender=lender)


def test_max_redeem__limit_binding__redeemable_exactly(market_of, holding, deployer, lender):
    fund, _, facility = market_of
    facility.set_daily_limit(777 * USDC + 3, sender=deployer)
    max_shares = facility.max_redeem()
    assert facility.preview_redeem(max_shares) <= 777 * USDC + 3
    holding(fund, facility, max_shares)
    facility.redeem(max_shares, 0, lender, sender=lender)
    assert facility.remaining_limit() < 11 * USDC  # less than one more share of A


def test_max_redeem__fund_paused__zero(fund_a, facility_a, deployer):
    fund_a.pause(sender=deployer)
    assert facility_a.max_redeem() == 0


def test_max_redeem__bound_below_minimum__zero(facility_a, deployer):
    facility_a.set_min_redeem(10**15, sender=deployer)
    assert facility_a.max_redeem() == 0


# ---- subscribe ----


def test_subscribe__allowlisted__mints_at_nav_and_pays_treasury(
    market_of, lender, borrower, treasury, mint_stable, stablecoin
):
    fund, oracle, facility = market_of
    nav = oracle.latestRoundData()[1]
    assets = 1_050 * USDC + 1
    mint_stable(lender, assets)
    stablecoin.approve(facility, assets, sender=lender)
    liquidity = facility.available_liquidity()
    shares = expected_shares(assets, nav, fund.decimals())
    assert facility.preview_subscribe(assets) == shares

    tx = facility.subscribe(assets, shares, borrower, sender=lender)

    assert fund.balanceOf(borrower) == shares
    assert stablecoin.balanceOf(treasury) == assets
    assert facility.available_liquidity() == liquidity
    assert (
        facility.Subscribed(caller=lender, receiver=borrower, assets=assets, shares=shares, nav=nav)
        in tx.events
    )


def test_subscribe__fund_a__exact_shares_at_ten_fifty(
    fund_a, facility_a, lender, mint_stable, stablecoin
):
    mint_stable(lender, 1_050 * USDC)
    stablecoin.approve(facility_a, 1_050 * USDC, sender=lender)
    facility_a.subscribe(1_050 * USDC, 0, lender, sender=lender)
    assert fund_a.balanceOf(lender) == 100 * 10**6


def test_subscribe__zero__reverts(facility_a, lender):
    with ape.reverts("facility: zero amount"):
        facility_a.subscribe(0, 0, lender, sender=lender)


def test_subscribe__dust_worth_no_share__reverts(facility_a, lender, mint_stable, stablecoin):
    mint_stable(lender, 10)
    stablecoin.approve(facility_a, 10, sender=lender)
    with ape.reverts("facility: zero amount"):
        facility_a.subscribe(10, 0, lender, sender=lender)


def test_subscribe__paused__reverts(facility_a, deployer, lender):
    facility_a.pause(sender=deployer)
    with ape.reverts("facility: paused"):
        facility_a.subscribe(USDC, 0, lender, sender=lender)


def test_subscribe__caller_not_allowlisted__reverts(facility_a, outsider, lender):
    with ape.reverts("facility: caller not allowlisted"):
        facility_a.subscribe(USDC, 0, lender, sender=outsider)


def test_subscribe__receiver_not_allowlisted__reverts(facility_a, outsider, lender):
    with ape.reverts("facility: receiver not allowlisted"):
        facility_a.subscribe(USDC, 0, outsider, sender=lender)


def test_subscribe__receiver_frozen__reverts(fund_a, facility_a, deployer, lender, borrower):
    fund_a.freeze(borrower, sender=deployer)
    with ape.reverts("facility: receiver frozen"):
        facility_a.subscribe(USDC, 0, borrower, sender=lender)


def test_subscribe__stale_nav__reverts(facility_a, lender, advance):
    advance(101 * HOUR)
    assert facility_a.preview_subscribe(USDC) == 0
    with ape.reverts("facility: stale nav"):
        facility_a.subscribe(USDC, 0, lender, sender=lender)


def test_subscribe__slippage__reverts(facility_a, lender, mint_stable, stablecoin):
    mint_stable(lender, 1_050 * USDC)
    stablecoin.approve(facility_a, 1_050 * USDC, sender=lender)
    with ape.reverts("facility: slippage"):
        facility_a.subscribe(1_050 * USDC, 100 * 10**6 + 1, lender, sender=lender)


def test_subscribe__facility_not_minter__fund_rejects(
    fund_a, facility_a, deployer, lender, mint_stable, stablecoin
):
    fund_a.set_minter(facility_a, False, sender=deployer)
    mint_stable(lender, USDC * 100)
    stablecoin.approve(facility_a, USDC * 100, sender=lender)
    with ape.reverts("fund: caller not minter"):
        facility_a.subscribe(USDC * 100, 0, lender, sender=lender)


# ---- liquidity ----


def test_fund__anyone__adds_liquidity(facility_a, outsider, mint_stable, stablecoin):
    mint_stable(outsider, 1_000 * USDC)
    stablecoin.approve(facility_a, 1_000 * USDC, sender=outsider)
    before = facility_a.available_liquidity()
    tx = facility_a.fund(1_000 * USDC, sender=outsider)
    assert facility_a.available_liquidity() == before + 1_000 * USDC
    assert facility_a.LiquidityAdded(funder=outsider, amount=1_000 * USDC) in tx.events


def test_fund__zero__reverts(facility_a, outsider):
    with ape.reverts("facility: zero amount"):
        facility_a.fund(0, sender=outsider)


def test_withdraw_liquidity__owner__sends_stablecoin(facility_a, deployer, treasury, stablecoin):
    tx = facility_a.withdraw_liquidity(1_000 * USDC, treasury, sender=deployer)
    assert stablecoin.balanceOf(treasury) == 1_000 * USDC
    assert facility_a.LiquidityWithdrawn(receiver=treasury, amount=1_000 * USDC) in tx.events


def test_withdraw_liquidity__more_than_held__reverts(facility_a, deployer):
    with ape.reverts("facility: insufficient liquidity"):
        facility_a.withdraw_liquidity(
            facility_a.available_liquidity() + 1, deployer, sender=deployer
        )


# ---- parameters ----


def test_set_fee_bps__owner__changes_and_logs(facility_a, deployer):
    tx = facility_a.set_fee_bps(100, sender=deployer)
    assert facility_a.fee_bps() == 100
    assert facility_a.FeeChanged(previous_bps=5, new_bps=100) in tx.events


def test_set_min_redeem__owner__changes_and_logs(facility_a, deployer):
    tx = facility_a.set_min_redeem(5 * 10**6, sender=deployer)
    assert facility_a.min_redeem() == 5 * 10**6
    assert facility_a.MinRedeemChanged(previous_shares=10**6, new_shares=5 * 10**6) in tx.events


def test_set_daily_limit__owner__changes_and_logs(facility_a, deployer):
    tx = facility_a.set_daily_limit(10 * USDC, sender=deployer)
    assert facility_a.daily_limit() == 10 * USDC
    assert facility_a.remaining_limit() == 10 * USDC
    assert (
        facility_a.DailyLimitChanged(previous_limit=2_500_000 * USDC, new_limit=10 * USDC)
        in tx.events
    )


def test_set_max_oracle_age__owner__changes_and_logs(facility_a, deployer, advance):
    tx = facility_a.set_max_oracle_age(HOUR, sender=deployer)
    assert facility_a.MaxOracleAgeChanged(previous_age=360_000, new_age=HOUR) in tx.events
    advance(HOUR)
    assert facility_a.max_redeem() == 0


def test_set_treasury__owner__changes_and_logs(facility_a, deployer, treasury, lender):
    tx = facility_a.set_treasury(lender, sender=deployer)
    assert facility_a.treasury() == lender.address
    assert facility_a.TreasuryChanged(previous_treasury=treasury, new_treasury=lender) in tx.events


def test_views__interface_getters(world):
    facility = world.facility_a
    assert facility.share_token() == world.fund_a.address
    assert facility.payout_token() == world.stablecoin.address
    assert facility.oracle() == world.oracle_a.address
    assert facility.fee_bps() == 5
    assert facility.treasury() == world.treasury
