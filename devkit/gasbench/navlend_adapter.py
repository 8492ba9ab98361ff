"""The gas scenario (``docs/gas-scenario.md``) on this market
(``contracts/market/Market.vy``).

The collateral is priced by the settable ``MockAggregator`` (8 decimals).
The flash loan goes through a minimal receiver that approves repayment:
by default the project's ``FlashBorrowerMock`` in its quiet mode (``make
gas``, no Solidity build); the side-by-side benchmark passes the Solidity
``NavlendFlashReceiver`` instead, built like the peers' receivers, so the
receiver's own cost is the same for all three. The asset's threshold (86 %) and
bonus (5 %) follow the scenario. Its LTV is 85 % rather than Aave's 80 %:
the scenario borrows exactly 80 % of the collateral, which a protocol that
rounds debt up and value down must refuse at an 80 % limit, and Morpho (one
LLTV of 86 %) lends up to the threshold anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from devkit.gasbench.scenario import AdapterDeployment, LendingAdapter, ScenarioTokens
from devkit.gasbench.artifacts import container
from devkit.gasbench.solc import CompiledContract
from navlend.market import AssetListing, deploy_market, list_asset

FEED_DECIMALS = 8
# FlashBorrowerMock's MODE_QUIET.
QUIET_RECEIVER = 4


@dataclass(frozen=True)
class NavlendParams:
    """The listing of the scenario's collateral."""

    ltv_bps: int = 8_500
    threshold_bps: int = 8_600
    bonus_bps: int = 500


class NavlendAdapter(LendingAdapter):
    key = "navlend"
    name = "navlend"

    def __init__(
        self,
        project: Any,
        params: NavlendParams = NavlendParams(),
        receiver: CompiledContract | None = None,
    ):
        self.project = project
        self.params = params
        self.receiver_build = receiver

    def deploy(self, owner: Any, tokens: ScenarioTokens) -> AdapterDeployment:
        self.tokens = tokens
        self.feed = owner.deploy(self.project.MockAggregator, FEED_DECIMALS, 10**FEED_DECIMALS)
        self.market = deploy_market(
            owner, tokens.loan, guardian=owner, treasury=owner, project=self.project
        )
        listing = AssetListing(
            ltv_bps=self.params.ltv_bps,
            threshold_bps=self.params.threshold_bps,
            bonus_bps=self.params.bonus_bps,
        )
        # A permissioned collateral must admit the market before it is listed.
        tokens.admit(owner, [self.market])
        list_asset(self.market, owner, tokens.collateral, self.feed, listing)
        if self.receiver_build is None:
            self.receiver = owner.deploy(self.project.FlashBorrowerMock)
            self.receiver.set_mode(QUIET_RECEIVER, self.receiver, b"", sender=owner)
        else:
            self.receiver = owner.deploy(container(self.receiver_build), self.market)
        return AdapterDeployment(
            spender=self.market.address,
            flash_receiver=self.receiver.address,
            collateral_holders=(self.market.address,),
        )

    def deployed_addresses(self) -> dict[str, str]:
        """The market and its admin extension, as deployed by this run (their
        on-chain code, immutables included, is what EIP-170 counts)."""
        return {
            "Market": str(self.market.address),
            "MarketViews": str(self.market.EXTENSION()),
            "MarketAdmin": str(self.market.ADMIN()),
        }

    def describe(self) -> str:
        p = self.params
        receiver = (
            "FlashBorrowerMock (quiet)"
            if self.receiver_build is None
            else "NavlendFlashReceiver (solc)"
        )
        return (
            f"Market.vy; LTV {p.ltv_bps / 100:g} %, LT {p.threshold_bps / 100:g} %, bonus {p.bonus_bps / 100:g} %; "
            "default rates (reserve factor 10 %) and 5 bps flash fee (booked later by book_surplus); "
            f"MockAggregator feed (one storage word, as OracleMock); {receiver}"
        )

    def supply(self, lender: Any, assets: int) -> Any:
        return self.market.deposit(assets, lender, sender=lender)

    def deposit_collateral(self, borrower: Any, amount: int) -> Any:
        return self.market.supply_collateral(
            self.tokens.collateral, amount, borrower, sender=borrower
        )

    def borrow(self, borrower: Any, assets: int) -> Any:
        return self.market.borrow(assets, borrower, borrower, sender=borrower)

    def repay(self, borrower: Any, assets: int) -> Any:
        return self.market.repay(assets, borrower, sender=borrower)

    def withdraw_collateral(self, borrower: Any, amount: int) -> Any:
        return self.market.withdraw_collateral(
            self.tokens.collateral, amount, borrower, borrower, sender=borrower
        )

    def withdraw(self, lender: Any, assets: int) -> Any:
        return self.market.withdraw(assets, lender, lender, sender=lender)

    def flash_loan(self, caller: Any, assets: int) -> Any:
        if self.receiver_build is None:
            return self.receiver.borrow(self.market, self.tokens.loan, assets, b"", sender=caller)
        return self.receiver.flash(self.tokens.loan, assets, sender=caller)

    def set_collateral_price(self, owner: Any, relative: Fraction) -> None:
        answer = 10**FEED_DECIMALS * relative.numerator // relative.denominator
        self.feed.set_answer(answer, 0, sender=owner)

    def liquidate(self, liquidator: Any, borrower: Any, assets: int) -> Any:
        collateral = self.tokens.collateral
        return self.market.liquidate(
            borrower, collateral, assets, 0, False, liquidator, sender=liquidator
        )

    def debt_of(self, borrower: Any) -> int:
        return self.market.debt_of(borrower)
