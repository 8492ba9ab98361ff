"""The fixed gas scenario of ``shared/reference/gas-scenario.md``, run on this
market over Ape (anvil).

Every measured operation is its own transaction, mined 12 seconds after the
previous one, so interest accrues on each as it does on a real chain; the
figure is the receipt's ``gasUsed`` (21,000 base cost included). Tokens are
minted and approved beforehand. The peers' figures are the ones the
reference measured on anvil 1.7.1 with minimal ERC-20 mocks; the
side-by-side run against freshly built peers is ``make bench``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from navlend.market import AssetListing, deploy_market, list_asset

# The order the scenario measures in.
OPERATIONS = (
    "supply",
    "deposit_collateral",
    "borrow",
    "repay",
    "withdraw_collateral",
    "withdraw",
    "flash_loan",
    "liquidate",
)

# Figures from gas-scenario.md (anvil 1.7.1, minimal ERC-20 mocks).
MORPHO_BLUE = {
    "supply": 98_059,
    "deposit_collateral": 74_019,
    "borrow": 83_635,
    "repay": 80_910,
    "withdraw_collateral": 81_003,
    "withdraw": 76_356,
    "flash_loan": 74_265,
    "liquidate": 107_397,
}
AAVE_V3 = {
    "supply": 193_235,
    "deposit_collateral": 186_073,
    "borrow": 225_257,
    "repay": 175_356,
    "withdraw_collateral": 205_004,
    "withdraw": 166_876,
    "flash_loan": 176_546,
    "liquidate": 314_118,
}

# Seconds between measured transactions, as on mainnet.
BLOCK_SECONDS = 12
DAY = 86_400
HOUR = 3_600


@dataclass
class ScenarioResult:
    """Gas per operation, in scenario order."""

    gas: dict[str, int] = field(default_factory=dict)

    def ratio(self, peer: dict[str, int]) -> dict[str, float]:
        return {op: self.gas[op] / peer[op] for op in OPERATIONS if op in self.gas}


def run(accounts: Any, chain: Any, project: Any, *, collateral_decimals: int = 18) -> ScenarioResult:
    """Runs the scenario on a fresh market and returns the gas figures.

    Uses the plain ``MockERC20`` for both tokens and the settable
    ``MockAggregator`` as the collateral's feed, as the peers' figures did.
    The market's parameters follow the scenario's liquidation threshold
    (86 %) and bonus (5 %). The LTV is 85 % rather than Aave's 80 %: the
    scenario borrows exactly 80 % of the collateral, which a protocol that
    rounds debt up and value down must refuse at an 80 % limit, and Morpho
    (one LLTV of 86 %) lends up to the threshold anyway.
    """
    owner, lender0, borrower0, lender1, borrower1, liquidator = accounts[:6]
    loan = owner.deploy(project.MockERC20, "Loan", "LOAN", 6)
    collateral = owner.deploy(project.MockERC20, "Collateral", "COLL", collateral_decimals)
    feed = owner.deploy(project.MockAggregator, 8, 10**8)
    market = deploy_market(owner, loan, guardian=owner, treasury=owner, project=project)
    listing = AssetListing(ltv_bps=8_500, threshold_bps=8_600, bonus_bps=500)
    list_asset(market, owner, collateral, feed, listing)
    receiver = owner.deploy(project.FlashBorrowerMock)
    # Quiet mode: approve repayment and return, recording nothing.
    receiver.set_mode(4, receiver, b"", sender=owner)

    usd = 10**6
    coll = 10**collateral_decimals
    for account in (lender0, lender1, borrower0, borrower1, liquidator):
        loan.mint(account, 10_000_000 * usd, sender=owner)
        loan.approve(market, 2**256 - 1, sender=account)
        collateral.mint(account, 1_000_000 * coll, sender=owner)
        collateral.approve(market, 2**256 - 1, sender=account)
    # The receiver pays the 5 bps fee from its own balance.
    loan.mint(receiver, 1_000 * usd, sender=owner)

    # Background, not measured.
    market.deposit(1_000_000 * usd, lender0, sender=lender0)
    market.supply_collateral(collateral, 100_000 * coll, borrower0, sender=borrower0)
    market.borrow(50_000 * usd, borrower0, borrower0, sender=borrower0)
    chain.pending_timestamp += HOUR
    chain.mine()

    result = ScenarioResult()

    def measure(key: str, send: Any) -> None:
        chain.pending_timestamp += BLOCK_SECONDS
        result.gas[key] = send().gas_used

    measure("supply", lambda: market.deposit(500_000 * usd, lender1, sender=lender1))
    measure(
        "deposit_collateral",
        lambda: market.supply_collateral(collateral, 10_000 * coll, borrower1, sender=borrower1),
    )
    measure("borrow", lambda: market.borrow(8_000 * usd, borrower1, borrower1, sender=borrower1))
    chain.pending_timestamp += DAY
    measure("repay", lambda: market.repay(1_000 * usd, borrower1, sender=borrower1))
    measure(
        "withdraw_collateral",
        lambda: market.withdraw_collateral(collateral, 500 * coll, borrower1, borrower1, sender=borrower1),
    )
    measure("withdraw", lambda: market.withdraw(1_000 * usd, lender1, lender1, sender=lender1))
    measure(
        "flash_loan",
        lambda: receiver.borrow(market, loan, 100_000 * usd, b"", sender=owner),
    )
    # The collateral price falls 20 % (not measured), then a liquidation.
    feed.set_answer(80 * 10**6, 0, sender=owner)
    measure(
        "liquidate",
        lambda: market.liquidate(borrower1, collateral, 1_000 * usd, 0, False, liquidator, sender=liquidator),
    )
    return result
