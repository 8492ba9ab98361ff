"""Regression: a $1 dividend fund listed raw as collateral.

Historical class: rebasing and dividend-paying tokens in pools that do not
expect them (the stETH / AMPL integrations, airdrops "stuck" in lending
pools): yield paid by growing holders' balances lands on the pool's own
balance, where no depositor's accounting sees it.

The hole (security review, hole 6, info): the local deployment listed the
$1 dividend fund B (FundToken, value model STABLE_DIVIDEND, 18 decimals)
raw as collateral asset 1. Such a fund pays its yield by minting new
shares to each holder (``FundToken.distribute``). For the shares posted in
the market the holder of record is the market itself: the dividends are
minted to it, no borrower's collateral balance grows, and no function can
move them (they are not supplied collateral, not base asset and not
surplus). The borrowers lose their yield. A $1 dividend fund is meant to
be posted through its AccumulatingWrapper, which holds the fund shares and
turns the dividends into a rising share price, so that every wrapper share
posted earns them. ``MarketAdmin.list_asset`` now probes the token's
``value_model()`` with a static call that may fail and refuses the
dividend model: "market: dividend fund, list its wrapper". A token without
that view (a plain ERC-20, a wrapper) or with another model lists as
before.

How each test fails on the vulnerable (old) code, as seen when run on it
(MarketAdmin.vy of commit a186f5d, compiled in its place):
- ``test_list_asset__dividend_fund_raw__reverts``,
  ``test_list_asset__dividend_fund_raw_beside_listed_assets__reverts_changes_nothing``
  and ``test_list_asset__new_dividend_fund_any_decimals__reverts`` (both
  decimals): the listing goes through ("Transaction did not revert").
The other tests encode what must keep holding (they pass on the old code):
a NAV-accruing fund, a plain ERC-20 and the wrapper over fund B still
list, and the wrapper route credits fund B's dividends to its posters.
"""

import ape
import pytest

from navlend.market import deploy_market

REASON = "market: dividend fund, list its wrapper"
ORACLE_UNIT = 10**8
HOUR = 3_600
# Fund value models, as in FundToken.vy.
NAV_ACCRUING = 0
STABLE_DIVIDEND = 1


# ---- fixtures ----


@pytest.fixture
def new_market(owner, stablecoin, guardian, treasury):
    """A market over the world's stablecoin with nothing listed yet."""
    return deploy_market(owner, stablecoin, guardian=guardian, treasury=treasury)


@pytest.fixture
def feed(owner, project):
    """An 8-decimal feed answering $1.00."""
    return owner.deploy(project.MockAggregator, 8, ORACLE_UNIT)


def _list(market, owner, token, oracle):
    """Lists ``token`` with the default risk parameters and no price cap."""
    return market.list_asset(token, oracle, 8_500, 9_000, 300, 2**120 - 1, 0, 100 * HOUR, sender=owner)


# ---- the dividend fund is refused raw ----


def test_list_asset__dividend_fund_raw__reverts(new_market, owner, fund_b, oracle_b):
    assert fund_b.value_model() == STABLE_DIVIDEND
    with ape.reverts(REASON):
        _list(new_market, owner, fund_b, oracle_b)

    assert new_market.asset_count() == 0
    assert new_market.asset_at(0) == ape.utils.ZERO_ADDRESS
    with ape.reverts("market: asset not listed"):
        new_market.asset_config(fund_b)


def test_list_asset__dividend_fund_raw_beside_listed_assets__reverts_changes_nothing(
    market, owner, fund_b, oracle_b
):
    """On the local market (fund A, fund C and the wrapper listed): the
    refusal leaves the count and the listed assets as they were."""
    listed = [market.asset_at(i) for i in range(market.asset_count())]
    with ape.reverts(REASON):
        _list(market, owner, fund_b, oracle_b)

    assert market.asset_count() == len(listed) == 3
    assert [market.asset_at(i) for i in range(3)] == listed
    assert fund_b.address not in listed


@pytest.mark.parametrize("decimals", [6, 18])
def test_list_asset__new_dividend_fund_any_decimals__reverts(new_market, owner, project, feed, decimals):
    dividend_fund = owner.deploy(project.FundToken, "Dividend Fund", "DIVF", decimals, STABLE_DIVIDEND)
    with ape.reverts(REASON):
        _list(new_market, owner, dividend_fund, feed)
    assert new_market.asset_count() == 0


def test_list_asset__dividend_fund_by_non_owner__not_owner_first(new_market, fund_b, oracle_b, outsider):
    """The owner check comes before the probe."""
    with ape.reverts("ownable: caller is not the owner"):
        _list(new_market, outsider, fund_b, oracle_b)


# ---- everything else lists as before ----


def test_list_asset__nav_accruing_fund__lists(new_market, owner, project, feed):
    fund = owner.deploy(project.FundToken, "Accruing Fund", "ACRF", 18, NAV_ACCRUING)
    tx = _list(new_market, owner, fund, feed)

    assert new_market.AssetListed(token=fund, asset_id=0, oracle=feed) in tx.events
    assert new_market.asset_count() == 1
    # A fund token answers the compliance views: its own source.
    assert new_market.asset_compliance(fund) == fund.address


def test_list_asset__world_fund_c__lists(new_market, owner, fund_c, oracle_c):
    assert fund_c.value_model() == NAV_ACCRUING
    tx = _list(new_market, owner, fund_c, oracle_c)
    assert new_market.AssetListed(token=fund_c, asset_id=0, oracle=oracle_c) in tx.events


def test_list_asset__plain_erc20_without_value_model__lists(new_market, owner, project, feed):
    token = owner.deploy(project.MockERC20, "Plain token", "PLN", 18)
    tx = _list(new_market, owner, token, feed)

    assert new_market.AssetListed(token=token, asset_id=0, oracle=feed) in tx.events
    assert new_market.asset_count() == 1


def test_list_asset__wrapper_over_dividend_fund__lists(new_market, owner, wrapper, wrapper_oracle, fund_b):
    assert wrapper.asset() == fund_b.address
    tx = _list(new_market, owner, wrapper, wrapper_oracle)

    assert new_market.AssetListed(token=wrapper, asset_id=0, oracle=wrapper_oracle) in tx.events
    assert new_market.asset_config(wrapper).oracle == wrapper_oracle.address


# ---- the wrapper route credits the dividends ----


def test_distribute__to_the_wrapper__raises_the_posted_collateral_value(
    market, collaterals, give_collateral, fund_b, wrapper, issuer, borrower, advance
):
    """Fund B's dividend paid to the wrapper: once harvested and unlocked,
    each wrapper share is worth more fund B, and the borrower who posted
    wrapper shares sees its collateral value rise by the dividend's share."""
    posted_wrapper = collaterals["wrapper"]
    shares = give_collateral(posted_wrapper, borrower, 1_000 * 10**18)
    market.supply_collateral(wrapper, shares, borrower, sender=borrower)
    before = market.position(borrower).liquidation_value
    dividend = wrapper.totalAssets() // 100  # 1 % of the wrapper's fund B

    tx = fund_b.distribute([wrapper.address], [dividend], sender=issuer)
    assert fund_b.DividendsDistributed(holders=1, total=dividend) in tx.events
    wrapper.harvest(sender=borrower)
    advance(wrapper.unlock_period())

    after = market.position(borrower).liquidation_value
    assert after > before
    # The borrower's part of the dividend reaches its position, to rounding.
    assert after * 1_000 >= before * 1_009
