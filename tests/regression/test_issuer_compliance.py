"""Regression: a lending market as a way around the issuer's KYC.

Historical class: permissioned-token bypasses through a permissionless
wrapper or pool. A tokenized fund admits only allowlisted, unfrozen
holders; a market that holds the shares for its borrowers must not let an
account the issuer froze or removed (sanctions, a failed KYC refresh, a
court order) keep drawing value from them, nor let an allowlisted
accomplice park shares in the name of someone the issuer never admitted.
Issuers answer this with a freeze that reaches every wrapper (USDY's
spender checks, BUIDL's transfer agent); a market is one more wrapper.

The hole (spec, hole 2): the old market checked no owner. The fund token
checks the parties of each transfer, but a borrow pays out the stablecoin,
a withdrawal can name any allowlisted receiver, and a deposit on behalf of
someone else moves shares only between the depositor and the market. So a
frozen or de-allowlisted owner could still borrow against its shares and
move them out to an allowlisted accomplice, and an allowlisted party could
credit shares to a never-allowlisted outsider. The new market asks each
asset's compliance source (by default the token itself; the wrapper's is
fund B, its underlying) whether the owner, the receiver and the
beneficiary are allowlisted and not frozen, and leaves repayment and
liquidation open whatever the owner's status. The owner may change or
clear (empty address) an asset's source with ``set_asset_compliance``.

How each test fails on the vulnerable (old) code, as seen when run on it:
- ``test_borrow__owner_not_compliant__reverts``: the borrow goes through
  (DID NOT RAISE).
- ``test_withdraw_collateral__owner_not_compliant__to_accomplice_reverts``:
  the shares reach the accomplice (DID NOT RAISE).
- ``test_supply_collateral__for_never_allowlisted_outsider__reverts``: the
  outsider is credited (DID NOT RAISE).
- ``test_withdraw_collateral__receiver_not_compliant_on_source__reverts``,
  ``test_supply_collateral__own_position__no_owner_check``,
  ``test_set_asset_compliance__empty_source__turns_the_checks_off`` and
  ``test_set_asset_compliance__by_non_owner__reverts``: the market has no
  ``set_asset_compliance`` / ``asset_compliance`` (AttributeError).
The other tests encode what must keep holding (they pass on the old code):
compliant owners borrow, withdraw and post for others; repayment and
liquidation of a frozen or de-allowlisted owner still work.
"""

import ape
import pytest

USD = 10**6
MAX = 2**256 - 1
ZERO = ape.utils.ZERO_ADDRESS
NOT_OWNER = "ownable: caller is not the owner"
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}
STATUSES = ["frozen", "delisted"]


def units(c, usd: int) -> int:
    """The amount of ``c`` worth ``usd`` dollars at BASE_PRICE."""
    return usd * 10 ** (c.decimals + 8) // BASE_PRICE[c.name]


@pytest.fixture
def source_of(world):
    """``source_of(c)``: the fund whose allowlist governs ``c`` (the wrapper
    follows fund B, its underlying)."""
    return lambda c: world.fund_b if c.name == "wrapper" else world.fund_a


@pytest.fixture
def exclude(issuer):
    """``exclude(fund, who, status)``: the issuer freezes ``who`` or takes
    it off the allowlist."""

    def go(fund, who, status: str):
        if status == "frozen":
            fund.freeze(who, sender=issuer)
        else:
            fund.set_allowlisted(who, False, sender=issuer)
        assert not fund.can_transfer(who, who, who)

    return go


@pytest.fixture
def posted(market, owner, collateral, borrower, lend, give_collateral, set_price):
    """Flat 0 % curve, $100,000 lent; ``borrower`` posts $10,000 of
    ``collateral`` (settable feed at BASE_PRICE) and borrows $1,000."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(100_000 * USD)
    set_price(collateral, BASE_PRICE[collateral.name])
    amount = give_collateral(collateral, borrower, units(collateral, 10_000))
    market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    return amount


@pytest.fixture
def registry(owner, project, borrower, attacker):
    """A separate KYC registry (a FundToken used only for its allowlist)
    admitting ``borrower`` and ``attacker``."""
    kyc = owner.deploy(project.FundToken, "KYC registry", "KYC", 6, 0)
    kyc.set_allowlisted_batch([borrower, attacker], True, sender=owner)
    return kyc


# ---- borrow ----


@pytest.mark.parametrize("status", STATUSES)
def test_borrow__owner_not_compliant__reverts(
    market, collateral, borrower, posted, source_of, exclude, status
):
    exclude(source_of(collateral), borrower, status)
    with ape.reverts("market: owner not compliant"):
        market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    assert market.debt_of(borrower) == 1_000 * USD


def test_borrow__owner_readmitted__works(
    market, collateral, issuer, borrower, posted, source_of, exclude
):
    fund = source_of(collateral)
    exclude(fund, borrower, "frozen")
    fund.unfreeze(borrower, sender=issuer)
    tx = market.borrow(1_000 * USD, borrower, borrower, sender=borrower)
    assert market.Borrow(on_behalf=borrower, amount=1_000 * USD) in tx.events


# ---- withdraw_collateral ----


@pytest.mark.parametrize("status", STATUSES)
def test_withdraw_collateral__owner_not_compliant__to_accomplice_reverts(
    market, collateral, borrower, attacker, posted, source_of, exclude, status
):
    """The token would let the market pay the allowlisted accomplice; the
    owner's own status is what must stop it."""
    exclude(source_of(collateral), borrower, status)
    before = collateral.token.balanceOf(attacker)
    with ape.reverts("market: owner not compliant"):
        market.withdraw_collateral(
            collateral.token, posted // 10, borrower, attacker, sender=borrower
        )
    assert collateral.token.balanceOf(attacker) == before


def test_withdraw_collateral__compliant_owner__to_another_allowlisted_party_works(
    market, collateral, borrower, attacker, posted
):
    tx = market.withdraw_collateral(
        collateral.token, posted // 10, borrower, attacker, sender=borrower
    )
    assert market.WithdrawCollateral(
        on_behalf=borrower, token=collateral.token, receiver=attacker, amount=posted // 10
    ) in tx.events
    assert collateral.token.balanceOf(attacker) == posted // 10


def test_withdraw_collateral__receiver_not_compliant_on_source__reverts(
    market, owner, collaterals, borrower, attacker, give_collateral, registry
):
    """Fund A's source is a separate registry that froze ``attacker``
    (whom fund A itself still admits): paying it is refused; paying the
    compliant owner works."""
    fund_a = collaterals["fund_a"]
    market.set_asset_compliance(fund_a.token, registry, sender=owner)
    registry.freeze(attacker, sender=owner)
    give_collateral(fund_a, borrower, 100 * USD)
    market.supply_collateral(fund_a.token, 100 * USD, borrower, sender=borrower)

    with ape.reverts("market: receiver not compliant"):
        market.withdraw_collateral(fund_a.token, 10 * USD, borrower, attacker, sender=borrower)
    tx = market.withdraw_collateral(fund_a.token, 10 * USD, borrower, borrower, sender=borrower)
    assert market.WithdrawCollateral(receiver=borrower, amount=10 * USD) in tx.events


# ---- supply_collateral on behalf ----


def test_supply_collateral__for_never_allowlisted_outsider__reverts(
    market, collateral, attacker, outsider, give_collateral
):
    amount = give_collateral(collateral, attacker, units(collateral, 1_000))
    with ape.reverts("market: beneficiary not compliant"):
        market.supply_collateral(collateral.token, amount, outsider, sender=attacker)
    assert market.collateral_of(outsider, collateral.token) == 0


def test_supply_collateral__for_an_allowlisted_borrower__works(
    market, collateral, attacker, borrower, give_collateral
):
    amount = give_collateral(collateral, attacker, units(collateral, 1_000))
    tx = market.supply_collateral(collateral.token, amount, borrower, sender=attacker)
    assert market.SupplyCollateral(
        caller=attacker, on_behalf=borrower, token=collateral.token, amount=amount
    ) in tx.events
    assert market.collateral_of(borrower, collateral.token) == amount


def test_supply_collateral__own_position__no_owner_check(
    market, owner, collaterals, borrower, attacker, give_collateral, lend, registry
):
    """Fund A's source is a separate registry that has removed ``borrower``
    (fund A itself still admits it): ``borrower`` may still post for
    itself, its shares only moving into the market, but nobody else may
    post for it, and it may not borrow."""
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    market.set_asset_compliance(fund_a.token, registry, sender=owner)
    registry.set_allowlisted(borrower, False, sender=owner)
    give_collateral(fund_a, borrower, 100 * USD)
    give_collateral(fund_a, attacker, 100 * USD)

    tx = market.supply_collateral(fund_a.token, 100 * USD, borrower, sender=borrower)
    assert market.SupplyCollateral(
        caller=borrower, on_behalf=borrower, amount=100 * USD
    ) in tx.events
    with ape.reverts("market: beneficiary not compliant"):
        market.supply_collateral(fund_a.token, 100 * USD, borrower, sender=attacker)
    with ape.reverts("market: owner not compliant"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


# ---- repay and liquidation stay open ----


@pytest.mark.parametrize("status", STATUSES)
def test_repay_and_liquidate__owner_not_compliant__still_work(
    market, collaterals, stablecoin, mint_stable, borrower, liquidator, give_collateral,
    set_price, lend, owner, exclude, liquidate_shares, status
):
    """``borrower`` ($10,000 of fund A, $8,000 owed) is frozen or removed
    by the issuer: it (or anyone) can still repay, and once fund A falls to
    $8.50 (health factor 0.956) a liquidator still takes its fund A."""
    fund_a = collaterals["fund_a"]
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(100_000 * USD)
    feed = set_price(fund_a, BASE_PRICE["fund_a"])
    give_collateral(fund_a, borrower, units(fund_a, 10_000))
    market.supply_collateral(fund_a.token, units(fund_a, 10_000), borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    for who in (borrower, liquidator):
        mint_stable(who, 10_000 * USD)
        stablecoin.approve(market, MAX, sender=who)
    exclude(fund_a.token, borrower, status)

    tx = market.repay(100 * USD, borrower, sender=borrower)
    assert market.Repay(caller=borrower, on_behalf=borrower, amount=100 * USD) in tx.events

    feed.set_answer(85 * 10**7, 0, sender=owner)
    assert market.position(borrower).health_factor < 10**18
    liquidate_shares(borrower, fund_a.token, 1_000 * USD, liquidator)


# ---- the owner's switch ----


def test_set_asset_compliance__empty_source__turns_the_checks_off(
    market, owner, world, collaterals, borrower, attacker, outsider, give_collateral, lend
):
    """Defaults: each fund is its own source, the wrapper follows fund B.
    Cleared (empty address) for fund A: a frozen owner borrows again and an
    outsider may be credited fund A."""
    fund_a = collaterals["fund_a"]
    assert market.asset_compliance(world.fund_a) == world.fund_a.address
    assert market.asset_compliance(world.fund_c) == world.fund_c.address
    assert market.asset_compliance(world.wrapper) == world.fund_b.address

    tx = market.set_asset_compliance(fund_a.token, ZERO, sender=owner)

    assert tx.events.filter(market.AssetComplianceSet) == [
        market.AssetComplianceSet(token=fund_a.token, source=ZERO)
    ]
    assert market.asset_compliance(fund_a.token) == ZERO
    lend(10_000 * USD)
    give_collateral(fund_a, borrower, 100 * USD)
    market.supply_collateral(fund_a.token, 100 * USD, borrower, sender=borrower)
    world.fund_a.freeze(borrower, sender=owner)
    market.borrow(500 * USD, borrower, borrower, sender=borrower)
    give_collateral(fund_a, attacker, 10 * USD)
    market.supply_collateral(fund_a.token, 10 * USD, outsider, sender=attacker)
    assert market.collateral_of(outsider, fund_a.token) == 10 * USD


@pytest.mark.parametrize("caller", ["attacker", "guardian"])
def test_set_asset_compliance__by_non_owner__reverts(market, world, request, caller):
    with ape.reverts(NOT_OWNER):
        market.set_asset_compliance(world.fund_a, ZERO, sender=request.getfixturevalue(caller))
    assert market.asset_compliance(world.fund_a) == world.fund_a.address
