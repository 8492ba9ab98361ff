"""Markets over the issuers' doubles with every navlend adapter wired:
price feed, redemption, compliance and subscription, plus a Leverage
helper, each admitted by the issuer the way docs/issuers.md says it must
be. Plain functions over the fixtures of ``tests/world/conftest.py``
(``ustb``, ``ondo``), shared by tests/world/test_leverage_issuers.py and,
loaded by path, by the CLI suite (tests/cli/conftest.py).

- USTB: the token sells its shares at its oracle's price (Superstate's
  SuperstateOracle, extrapolated) with a ``SUBSCRIPTION_FEE_BPS`` fee,
  the cash swept to the issuer; the issuer gives the market, the
  subscription adapter and Leverage protocol permissions.
- OUSG: Ondo KYCs the market, both adapters and Leverage; LTV 89 %.
Both markets lend at a flat zero rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from navlend.market import AssetListing, deploy_market, list_asset

# Superstate's subscription fee here (its cap), and the oldest price its
# token accepts for a subscription.
SUBSCRIPTION_FEE_BPS = 10
SUPERSTATE_ORACLE_DELAY = 3_600
# OUSG's listing (as tests/world/test_ondo_market.py lists it).
OUSG_LISTING = AssetListing(ltv_bps=8_900, threshold_bps=9_000, bonus_bps=300)


@dataclass
class IssuerMarket:
    """A market over one issuer's fund and the contracts around it."""

    market: Any
    base: Any
    token: Any
    feed: Any
    redemption: Any
    compliance: Any
    subscription: Any
    leverage: Any
    owner: Any

    def lend(self, lender: Any, amount: int) -> None:
        """``lender`` (already holding ``amount`` of the base) supplies it."""
        self.base.approve(self.market, amount, sender=lender)
        self.market.deposit(amount, lender, sender=lender)


def _wire(market: Any, owner: Any, token: Any, redemption: Any, compliance: Any) -> None:
    market.set_asset_facility(token, redemption, sender=owner)
    market.set_asset_compliance(token, compliance, sender=owner)
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)


def superstate_market(project: Any, ustb: Any, stablecoin: Any, issuer: Any, owner: Any,
                      guardian: Any, treasury: Any) -> IssuerMarket:
    """A market over USTB owned by ``owner``; ``issuer`` is Superstate."""
    ustb.token.setOracle(ustb.oracle, SUPERSTATE_ORACLE_DELAY, sender=issuer)
    ustb.token.setStablecoinConfig(stablecoin, issuer, SUBSCRIPTION_FEE_BPS, sender=issuer)
    market = deploy_market(owner, stablecoin, guardian=guardian, treasury=treasury)
    subscription = owner.deploy(project.SuperstateSubscription, ustb.token, stablecoin)
    leverage = owner.deploy(project.Leverage, market)
    # Protocol permissions need code: granted once the contracts exist.
    ustb.admit(issuer, market, subscription, leverage)
    list_asset(market, owner, ustb.token, ustb.feed)
    _wire(market, owner, ustb.token, ustb.adapter, ustb.compliance)
    return IssuerMarket(market, stablecoin, ustb.token, ustb.feed, ustb.adapter, ustb.compliance,
                        subscription, leverage, owner)


def ondo_market(project: Any, ondo: Any, owner: Any, guardian: Any, treasury: Any) -> IssuerMarket:
    """A market over OUSG in Ondo's USDC owned by ``owner``."""
    market = deploy_market(owner, ondo.usdc, guardian=guardian, treasury=treasury)
    feed = owner.deploy(project.OndoNavFeed, ondo.oracle, "OUSG / USD")
    redemption = owner.deploy(project.OndoRedemption, ondo.manager)
    compliance = owner.deploy(project.OndoCompliance, ondo.ousg)
    subscription = owner.deploy(project.OndoSubscription, ondo.manager)
    leverage = owner.deploy(project.Leverage, market)
    ondo.kyc(market, redemption, subscription, leverage)
    list_asset(market, owner, ondo.ousg, feed, OUSG_LISTING)
    _wire(market, owner, ondo.ousg, redemption, compliance)
    return IssuerMarket(market, ondo.usdc, ondo.ousg, feed, redemption, compliance,
                        subscription, leverage, owner)
