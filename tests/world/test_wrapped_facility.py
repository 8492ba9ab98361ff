"""WrappedFacility: wrapper shares -> fund shares -> stablecoin in one
call, previews consistent with the payout, limits passed through."""

import ape
import pytest

from navlend.timeutil import HOUR

ONE = 10**18
USDC = 10**6
DAY = 86_400


@pytest.fixture(scope="session")
def wrapped(wrapper, wrapped_facility, fund_b, deployer, lender, mint_fund):
    """``wrapped(amount)``: ``lender`` deposits ``amount`` fund B into the
    wrapper and approves the wrapped facility for its wrapper shares."""

    def make(amount: int) -> int:
        mint_fund(fund_b, lender, amount)
        fund_b.approve(wrapper, amount, sender=lender)
        wrapper.deposit(amount, lender, sender=lender)
        shares = wrapper.balanceOf(lender)
        wrapper.approve(wrapped_facility, shares, sender=lender)
        return shares

    return make


def test_views__interface_getters(wrapped_facility, wrapper, fund_b, facility_b, stablecoin):
    assert wrapped_facility.share_token() == wrapper.address
    assert wrapped_facility.payout_token() == stablecoin.address
    assert wrapped_facility.fund() == fund_b.address
    assert wrapped_facility.facility() == facility_b.address
    assert wrapped_facility.fee_bps() == facility_b.fee_bps() == 5


def test_constructor__facility_of_another_fund__reverts(project, spare, wrapper, facility_a):
    with ape.reverts("facility: fund mismatch"):
        spare.deploy(project.WrappedFacility, wrapper, facility_a)


def test_redeem__round_trip__pays_preview_and_keeps_nothing(
    wrapped_facility,
    wrapper,
    fund_b,
    facility_b,
    stablecoin,
    deployer,
    lender,
    borrower,
    wrapped,
    advance,
):
    shares = wrapped(1_000 * ONE)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    advance(DAY)
    fund_shares = wrapper.previewRedeem(shares)
    payout = wrapped_facility.preview_redeem(shares)
    assert (
        payout == facility_b.preview_redeem(fund_shares) == fund_shares * 9_995 // 10_000 // 10**12
    )
    supply = fund_b.totalSupply()

    tx = wrapped_facility.redeem(shares, payout, borrower, sender=lender)

    assert stablecoin.balanceOf(borrower) == payout
    assert wrapper.balanceOf(lender) == 0
    assert fund_b.totalSupply() == supply - fund_shares
    assert wrapper.balanceOf(wrapped_facility) == fund_b.balanceOf(wrapped_facility) == 0
    assert fund_b.allowance(wrapped_facility, facility_b) == 0
    assert (
        wrapped_facility.Redeemed(
            caller=lender, receiver=borrower, shares=shares, fund_shares=fund_shares, payout=payout
        )
        in tx.events
    )
    assert (
        facility_b.Redeemed(caller=wrapped_facility, receiver=borrower, payout=payout) in tx.events
    )


def test_redeem__zero__reverts(wrapped_facility, lender):
    with ape.reverts("facility: zero amount"):
        wrapped_facility.redeem(0, 0, lender, sender=lender)


def test_redeem__caller_not_allowlisted__reverts(wrapped_facility, outsider):
    with ape.reverts("facility: caller not allowlisted"):
        wrapped_facility.redeem(ONE, 0, outsider, sender=outsider)


def test_redeem__slippage__reverts(wrapped_facility, lender, wrapped):
    shares = wrapped(100 * ONE)
    with ape.reverts("facility: slippage"):
        wrapped_facility.redeem(
            shares, wrapped_facility.preview_redeem(shares) + 1, lender, sender=lender
        )


def test_redeem__facility_paused__reverts_and_max_zero(
    wrapped_facility, facility_b, deployer, lender, wrapped
):
    shares = wrapped(100 * ONE)
    facility_b.pause(sender=deployer)
    assert wrapped_facility.max_redeem() == 0
    with ape.reverts("facility: paused"):
        wrapped_facility.redeem(shares, 0, lender, sender=lender)


def test_redeem__stale_nav__reverts_and_views_zero(wrapped_facility, lender, wrapped, advance):
    shares = wrapped(100 * ONE)
    advance(101 * HOUR)
    assert wrapped_facility.max_redeem() == 0
    assert wrapped_facility.preview_redeem(shares) == 0
    with ape.reverts("facility: stale nav"):
        wrapped_facility.redeem(shares, 0, lender, sender=lender)


def test_redeem__adapter_delisted__reverts(wrapped_facility, fund_b, deployer, lender, wrapped):
    shares = wrapped(100 * ONE)
    fund_b.set_allowlisted(wrapped_facility, False, sender=deployer)
    with ape.reverts("wrapper: receiver not allowlisted"):
        wrapped_facility.redeem(shares, 0, lender, sender=lender)


def test_max_redeem__limit_binding__redeemable(
    wrapped_facility, wrapper, facility_b, fund_b, deployer, lender, wrapped, advance
):
    wrapped(5_000 * ONE)
    fund_b.distribute([wrapper], [50 * ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    advance(DAY)
    facility_b.set_daily_limit(1_234 * USDC, sender=deployer)
    max_shares = wrapped_facility.max_redeem()
    assert max_shares == wrapper.convertToShares(facility_b.max_redeem())
    assert wrapped_facility.preview_redeem(max_shares) <= 1_234 * USDC
    wrapped_facility.redeem(max_shares, 0, lender, sender=lender)
    assert facility_b.remaining_limit() < 2 * USDC
