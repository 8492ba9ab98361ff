"""The fixed gas scenario of ``docs/gas-scenario.md``: one driver, run on
any lending protocol through a :class:`LendingAdapter`.

Every measured operation is its own transaction, mined 12 seconds after the
previous one, so interest accrues on each as it does on a real chain; the
figure is the receipt's ``gasUsed`` (21,000 base cost included). Tokens are
minted and approved beforehand. The driver deploys fresh tokens of the same
contract types for every protocol (a :class:`TokenProfile`: plain mocks by
default, or the stablecoin and an allowlisted fund token), so all of them
move the very same token code; an adapter only translates each step into
its protocol's calls.

``make gas`` runs it on navlend alone beside the reference's peer figures
(below); ``make bench`` runs it on navlend, Morpho Blue and Aave v3 built
from their npm packages, in one run on one chain (:mod:`devkit.gasbench`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from devkit.world import NAV_ACCRUING
from navlend.constants import MAX_UINT256
from navlend.timeutil import DAY, HOUR

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

# The peers' figures measured with the reference scenario (anvil 1.7.1,
# minimal ERC-20 mocks), quoted in docs/gas-scenario.md.
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

LOAN_DECIMALS = 6
DEFAULT_COLLATERAL_DECIMALS = 18


@dataclass(frozen=True)
class TokenProfile:
    """The token contract types every protocol runs with, in one run."""

    key: str
    loan_type: str
    collateral_type: str
    note: str
    #: Whether the collateral admits only allowlisted parties (FundToken).
    allowlisted: bool = False


TOKEN_PROFILES = {
    "mock": TokenProfile(
        "mock",
        "MockERC20",
        "MockERC20",
        "the project's plain snekmate ERC-20 mock for both tokens: no hooks, no allowlist, "
        "an infinite allowance is never decremented",
    ),
    "fund": TokenProfile(
        "fund",
        "MockStablecoin",
        "FundToken",
        "the project's MockStablecoin (loan) and an allowlisted NAV-accruing FundToken "
        "(collateral), with every protocol's collateral holders allowlisted: what a real "
        "market over tokenized fund shares pays",
        allowlisted=True,
    ),
}
DEFAULT_TOKENS = "mock"

# The scenario's amounts, in whole tokens.
ACTOR_LOAN_BALANCE = 10_000_000
ACTOR_COLLATERAL_BALANCE = 1_000_000
FLASH_FEE_RESERVE = 1_000
LENDER0_SUPPLY = 1_000_000
BORROWER0_COLLATERAL = 100_000
BORROWER0_BORROW = 50_000
SUPPLY = 500_000
DEPOSIT_COLLATERAL = 10_000
BORROW = 8_000
REPAY = 1_000
WITHDRAW_COLLATERAL = 500
WITHDRAW = 1_000
FLASH_LOAN = 100_000
LIQUIDATE_REPAY = 1_000
# The collateral's price after the shock, relative to the start.
SHOCKED_PRICE = Fraction(4, 5)
# How far a repayment may land from the amount asked, in whole loan tokens
# (interest of one block, share rounding).
REPAY_TOLERANCE = 1


class ScenarioError(RuntimeError):
    """A protocol did not do what a scenario step asked."""


@dataclass(frozen=True)
class Actors:
    """The scenario's accounts, by role."""

    owner: Any
    lender0: Any
    borrower0: Any
    lender1: Any
    borrower1: Any
    liquidator: Any

    @classmethod
    def from_accounts(cls, accounts: Any) -> Actors:
        """The first six test accounts, in the reference's order."""
        if len(accounts) < 6:
            raise ValueError(f"the gas scenario needs 6 accounts, got {len(accounts)}")
        return cls(*accounts[:6])

    def funded(self) -> tuple[Any, ...]:
        """Every actor that holds and approves both tokens."""
        return (self.lender0, self.lender1, self.borrower0, self.borrower1, self.liquidator)


@dataclass(frozen=True)
class ScenarioTokens:
    """The loan and collateral tokens of one protocol's run."""

    loan: Any
    collateral: Any
    loan_decimals: int
    collateral_decimals: int
    profile: TokenProfile = TOKEN_PROFILES[DEFAULT_TOKENS]

    def admit(self, owner: Any, accounts: list[Any]) -> None:
        """Allowlists ``accounts`` on a permissioned collateral (else nothing)."""
        if self.profile.allowlisted:
            self.collateral.set_allowlisted_batch(accounts, True, sender=owner)

    def loan_units(self, tokens: int) -> int:
        return tokens * 10**self.loan_decimals

    def collateral_units(self, tokens: int) -> int:
        return tokens * 10**self.collateral_decimals


@dataclass(frozen=True)
class AdapterDeployment:
    """What the driver needs from a deployed protocol: the address the actors
    approve, the flash-loan receiver that holds the fee reserve, and the
    contracts that pull or hold the collateral (a permissioned collateral
    must admit them)."""

    spender: str
    flash_receiver: str
    collateral_holders: tuple[str, ...]


class LendingAdapter(ABC):
    """One protocol's translation of the scenario's steps. Amounts are in
    token units; each step sends one transaction and returns its receipt."""

    #: Stable key for JSON output, e.g. ``"morpho_blue"``.
    key: str
    #: Display name, e.g. ``"Morpho Blue"``.
    name: str

    @abstractmethod
    def deploy(self, owner: Any, tokens: ScenarioTokens) -> AdapterDeployment:
        """Deploys and configures the protocol over ``tokens``."""

    @abstractmethod
    def describe(self) -> str:
        """One line on how the protocol is set up (oracle, fees, receiver)."""

    @abstractmethod
    def supply(self, lender: Any, assets: int) -> Any: ...

    @abstractmethod
    def deposit_collateral(self, borrower: Any, amount: int) -> Any: ...

    @abstractmethod
    def borrow(self, borrower: Any, assets: int) -> Any: ...

    @abstractmethod
    def repay(self, borrower: Any, assets: int) -> Any: ...

    @abstractmethod
    def withdraw_collateral(self, borrower: Any, amount: int) -> Any: ...

    @abstractmethod
    def withdraw(self, lender: Any, assets: int) -> Any: ...

    @abstractmethod
    def flash_loan(self, caller: Any, assets: int) -> Any: ...

    @abstractmethod
    def set_collateral_price(self, owner: Any, relative: Fraction) -> None:
        """Sets the collateral's price to ``relative`` times its starting
        price (1 collateral token = 1 loan token)."""

    @abstractmethod
    def liquidate(self, liquidator: Any, borrower: Any, assets: int) -> Any:
        """Repays about ``assets`` of ``borrower``'s debt for collateral."""

    @abstractmethod
    def debt_of(self, borrower: Any) -> int:
        """The borrower's debt in loan-token units (for the driver's checks)."""


@dataclass(frozen=True)
class ScenarioResult:
    """Gas per operation, in scenario order, for one protocol."""

    protocol: str
    gas: dict[str, int]

    def ratio(self, peer: Mapping[str, int]) -> dict[str, float]:
        return {op: self.gas[op] / peer[op] for op in OPERATIONS if op in self.gas and op in peer}


def deploy_tokens(
    owner: Any,
    project: Any,
    collateral_decimals: int = DEFAULT_COLLATERAL_DECIMALS,
    profile: TokenProfile = TOKEN_PROFILES[DEFAULT_TOKENS],
) -> ScenarioTokens:
    """Fresh loan and collateral tokens of ``profile``'s contract types."""
    if not 0 <= collateral_decimals <= 36:
        raise ValueError(f"collateral decimals must be 0-36, got {collateral_decimals}")
    loan = owner.deploy(getattr(project, profile.loan_type), "Loan", "LOAN", LOAN_DECIMALS)
    collateral_args: tuple[Any, ...] = ("Collateral", "COLL", collateral_decimals)
    if profile.allowlisted:
        collateral_args += (NAV_ACCRUING,)
    collateral = owner.deploy(getattr(project, profile.collateral_type), *collateral_args)
    return ScenarioTokens(loan, collateral, LOAN_DECIMALS, collateral_decimals, profile)


def token_profile(key: str) -> TokenProfile:
    """The profile named ``key``; raises with the known names otherwise."""
    if key not in TOKEN_PROFILES:
        raise ValueError(
            f"unknown token profile {key!r}: choose one of {', '.join(TOKEN_PROFILES)}"
        )
    return TOKEN_PROFILES[key]


def run_scenario(
    adapter: LendingAdapter, actors: Actors, chain: Any, tokens: ScenarioTokens
) -> ScenarioResult:
    """Deploys ``adapter``'s protocol over ``tokens``, plays the scenario and
    returns the gas of every measured operation. Raises
    :class:`ScenarioError` when a step does not move the debt it should."""
    deployment = adapter.deploy(actors.owner, tokens)
    _fund(actors, tokens, deployment)
    loan, coll = tokens.loan_units, tokens.collateral_units

    # Background, not measured.
    adapter.supply(actors.lender0, loan(LENDER0_SUPPLY))
    adapter.deposit_collateral(actors.borrower0, coll(BORROWER0_COLLATERAL))
    adapter.borrow(actors.borrower0, loan(BORROWER0_BORROW))
    chain.pending_timestamp += HOUR
    chain.mine()

    gas: dict[str, int] = {}

    def measure(key: str, send: Callable[[], Any]) -> None:
        chain.pending_timestamp += BLOCK_SECONDS
        gas[key] = send().gas_used

    borrower1 = actors.borrower1
    measure("supply", lambda: adapter.supply(actors.lender1, loan(SUPPLY)))
    measure(
        "deposit_collateral",
        lambda: adapter.deposit_collateral(borrower1, coll(DEPOSIT_COLLATERAL)),
    )
    measure("borrow", lambda: adapter.borrow(borrower1, loan(BORROW)))
    _expect_debt(adapter, borrower1, at_least=loan(BORROW), step="borrow")
    chain.pending_timestamp += DAY
    before = adapter.debt_of(borrower1)
    measure("repay", lambda: adapter.repay(borrower1, loan(REPAY)))
    _expect_repaid(adapter, tokens, borrower1, before, REPAY, step="repay")
    measure(
        "withdraw_collateral",
        lambda: adapter.withdraw_collateral(borrower1, coll(WITHDRAW_COLLATERAL)),
    )
    measure("withdraw", lambda: adapter.withdraw(actors.lender1, loan(WITHDRAW)))
    measure("flash_loan", lambda: adapter.flash_loan(actors.owner, loan(FLASH_LOAN)))
    adapter.set_collateral_price(actors.owner, SHOCKED_PRICE)
    before = adapter.debt_of(borrower1)
    measure(
        "liquidate", lambda: adapter.liquidate(actors.liquidator, borrower1, loan(LIQUIDATE_REPAY))
    )
    _expect_repaid(adapter, tokens, borrower1, before, LIQUIDATE_REPAY, step="liquidate")
    return ScenarioResult(adapter.name, gas)


def _fund(actors: Actors, tokens: ScenarioTokens, deployment: AdapterDeployment) -> None:
    owner = actors.owner
    tokens.admit(owner, [*actors.funded(), *deployment.collateral_holders])
    for account in actors.funded():
        tokens.loan.mint(account, tokens.loan_units(ACTOR_LOAN_BALANCE), sender=owner)
        tokens.loan.approve(deployment.spender, MAX_UINT256, sender=account)
        tokens.collateral.mint(
            account, tokens.collateral_units(ACTOR_COLLATERAL_BALANCE), sender=owner
        )
        tokens.collateral.approve(deployment.spender, MAX_UINT256, sender=account)
    # The receiver pays any flash-loan fee from its own balance.
    tokens.loan.mint(deployment.flash_receiver, tokens.loan_units(FLASH_FEE_RESERVE), sender=owner)


def _expect_debt(adapter: LendingAdapter, borrower: Any, *, at_least: int, step: str) -> None:
    debt = adapter.debt_of(borrower)
    if debt < at_least:
        raise ScenarioError(
            f"{adapter.name}: after {step}, the debt is {debt}, expected at least {at_least}"
        )


def _expect_repaid(
    adapter: LendingAdapter,
    tokens: ScenarioTokens,
    borrower: Any,
    before: int,
    whole_tokens: int,
    *,
    step: str,
) -> None:
    repaid = before - adapter.debt_of(borrower)
    target, slack = tokens.loan_units(whole_tokens), tokens.loan_units(REPAY_TOLERANCE)
    if abs(repaid - target) > slack:
        raise ScenarioError(
            f"{adapter.name}: {step} cut the debt by {repaid}, expected about {target}"
        )
