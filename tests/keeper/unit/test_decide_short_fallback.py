"""The redeem route's payout on a short asset (an issuer burned or seized
some of the market's shares, synced) when the facility reports no price
of its own (``redeem_price`` 0: Ondo's adapter quotes 0 for one share,
under its $50,000 minimum) and the decision falls back to the market's
price, which is per booked unit."""

from dataclasses import replace

from conftest import BORROWER, FUND_A, balances_of, lens_health, terms_of

from keepers import decide as d
from keepers.types import Route
from navlend.constants import WAD

HALF = WAD // 2


def _short_without_facility_price(underwater):
    """Half of fund A's shares burned from the market and synced: the
    market prices a booked unit at half the NAV; the facility reports no
    price of its own."""
    m, prices = underwater
    m.assets[0].ratio = HALF
    health = lens_health(m, BORROWER, prices)
    booked = {0: prices[0] * HALF // WAD, 1: prices[1]}
    terms = terms_of(m, booked)
    fund_a = replace(terms.asset(FUND_A), redeem_price=0, ratio=HALF)
    terms = replace(terms, assets=tuple(fund_a if a.token == FUND_A else a for a in terms.assets))
    return m, health, terms, fund_a, prices[0]


def test_redeem_payout__short_asset_no_facility_price__real_shares_at_the_real_nav(underwater):
    m, health, terms, fund_a, nav = _short_without_facility_price(underwater)
    shares = 100 * 10**6
    assert d.redeem_payout(fund_a, shares) == d.redeem_payout(replace(fund_a, price=nav, ratio=WAD), shares)


def test_decide__short_asset_no_facility_price__redeem_route_planned(underwater, ctx, policy):
    m, health, terms, fund_a, nav = _short_without_facility_price(underwater)
    plan = d.decide(health, balances_of(m, BORROWER), terms, ctx, policy).plan
    assert plan is not None and plan.route is Route.REDEEM
    assert plan.sent == plan.taken // 2
    # The real shares sent, at the NAV, cover the repayment.
    assert plan.proceeds > plan.repaid
