"""The gas scenario (``docs/gas-scenario.md``) on Aave v3, from the
``@aave/core-v3`` npm artifacts.

A minimal but real Aave v3 market: PoolAddressesProvider, ACLManager, the
Pool (its seven logic libraries deployed and linked) and PoolConfigurator
behind the provider's proxies, AToken / StableDebtToken / VariableDebtToken
implementations behind per-reserve proxies, the package's ``PriceOracle``
mock and a ``DefaultReserveInterestRateStrategy``. Two reserves, the loan
token (borrowable, flash-loanable) and the collateral (LTV 80 %, LT 86 %,
bonus 5 %). The rest follows a typical mainnet listing: see
:class:`AaveParams`. Borrows are variable-rate. The flash loan is
``flashLoanSimple`` through this package's minimal receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ape import Contract

from devkit.gasbench.scenario import AdapterDeployment, LendingAdapter, ScenarioTokens
from devkit.gasbench.artifacts import HardhatArtifact, container, contract_type
from devkit.gasbench.npm import npm_package_dir, npm_version
from devkit.gasbench.solc import CompiledContract
from navlend.constants import ZERO_ADDRESS

AAVE_PACKAGE = "@aave/core-v3"
RAY = 10**27
PRICE_DECIMALS = 8
VARIABLE_RATE = 2

# Artifact paths under the package's artifacts/contracts/.
ARTIFACTS = {
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "Pool": "protocol/pool/Pool.sol",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol",
    "DefaultReserveInterestRateStrategy": "protocol/pool/DefaultReserveInterestRateStrategy.sol",
    "AToken": "protocol/tokenization/AToken.sol",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol",
    "PriceOracle": "mocks/oracle/PriceOracle.sol",
}
LIBRARY_FOLDER = "protocol/libraries/logic"


@dataclass(frozen=True)
class AaveParams:
    """The market's risk and fee settings (basis points unless named)."""

    ltv_bps: int = 8_000
    threshold_bps: int = 8_600
    # Aave writes the bonus as 100 % + bonus.
    bonus_bps: int = 10_500
    # Mainnet stablecoin reserves keep 10 %; navlend's default too.
    reserve_factor_bps: int = 1_000
    # Mainnet v3's flash-loan premium, and navlend's flash fee.
    flash_premium_bps: int = 5
    # The same kinked curve as navlend's default: 0 % -> 4 % at 90 % -> +60 %.
    optimal_usage: Fraction = Fraction(9, 10)
    slope1: Fraction = Fraction(4, 100)
    slope2: Fraction = Fraction(60, 100)


class AaveArtifacts:
    """Loads the package's artifacts by contract name."""

    def __init__(self) -> None:
        self.root = npm_package_dir(AAVE_PACKAGE) / "artifacts" / "contracts"

    def get(self, name: str) -> HardhatArtifact:
        folder = ARTIFACTS.get(name, f"{LIBRARY_FOLDER}/{name}.sol")
        return HardhatArtifact.load(self.root / folder / f"{name}.json")


class AaveAdapter(LendingAdapter):
    key = "aave_v3"
    name = "Aave v3"

    def __init__(self, contracts: dict[str, CompiledContract], params: AaveParams = AaveParams()):
        self.receiver_build = contracts["AaveFlashReceiver"]
        self.params = params
        self.artifacts = AaveArtifacts()
        self.libraries: dict[str, str] = {}

    def deploy(self, owner: Any, tokens: ScenarioTokens) -> AdapterDeployment:
        self.tokens = tokens
        self.libraries = {}
        self.provider = owner.deploy(self._plain("PoolAddressesProvider"), "navlend-bench", owner)
        self.provider.setACLAdmin(owner, sender=owner)
        acl = owner.deploy(self._plain("ACLManager"), self.provider)
        self.provider.setACLManager(acl, sender=owner)
        acl.addPoolAdmin(owner, sender=owner)
        # The Pool's implementation binds the provider in its constructor.
        pool_impl = owner.deploy(self._linked(owner, "Pool"), self.provider)
        self.pool = self._behind_proxy(
            owner, "Pool", pool_impl, self.provider.setPoolImpl, self.provider.getPool
        )
        configurator_impl = owner.deploy(self._linked(owner, "PoolConfigurator"))
        configurator = self._behind_proxy(
            owner,
            "PoolConfigurator",
            configurator_impl,
            self.provider.setPoolConfiguratorImpl,
            self.provider.getPoolConfigurator,
        )
        self.oracle = owner.deploy(self._plain("PriceOracle"))
        self.provider.setPriceOracle(self.oracle, sender=owner)
        self._price(owner, tokens.loan, Fraction(1))
        self.set_collateral_price(owner, Fraction(1))
        self._init_reserves(owner, configurator)
        p = self.params
        configurator.configureReserveAsCollateral(
            tokens.collateral, p.ltv_bps, p.threshold_bps, p.bonus_bps, sender=owner
        )
        configurator.setReserveBorrowing(tokens.loan, True, sender=owner)
        configurator.setReserveFlashLoaning(tokens.loan, True, sender=owner)
        configurator.setReserveFactor(tokens.loan, p.reserve_factor_bps, sender=owner)
        configurator.updateFlashloanPremiumTotal(p.flash_premium_bps, sender=owner)
        debt_token = self.pool.getReserveData(tokens.loan).variableDebtTokenAddress
        self.variable_debt = Contract(debt_token, contract_type=self._type("VariableDebtToken"))
        self.receiver = owner.deploy(container(self.receiver_build), self.pool)
        # The collateral's aToken holds the supplied collateral.
        a_token = self.pool.getReserveData(tokens.collateral).aTokenAddress
        return AdapterDeployment(
            spender=self.pool.address,
            flash_receiver=self.receiver.address,
            collateral_holders=(self.pool.address, a_token),
        )

    def describe(self) -> str:
        p = self.params
        return (
            f"Pool {npm_version(AAVE_PACKAGE)} (libraries linked) behind proxies; LTV {p.ltv_bps / 100:g} %, LT {p.threshold_bps / 100:g} %, "
            f"bonus {p.bonus_bps / 100 - 100:g} %; reserve factor {p.reserve_factor_bps / 100:g} %, "
            f"flash premium {p.flash_premium_bps} bps; PriceOracle mock; AaveFlashReceiver (solc)"
        )

    def supply(self, lender: Any, assets: int) -> Any:
        return self.pool.supply(self.tokens.loan, assets, lender, 0, sender=lender)

    def deposit_collateral(self, borrower: Any, amount: int) -> Any:
        return self.pool.supply(self.tokens.collateral, amount, borrower, 0, sender=borrower)

    def borrow(self, borrower: Any, assets: int) -> Any:
        return self.pool.borrow(
            self.tokens.loan, assets, VARIABLE_RATE, 0, borrower, sender=borrower
        )

    def repay(self, borrower: Any, assets: int) -> Any:
        return self.pool.repay(self.tokens.loan, assets, VARIABLE_RATE, borrower, sender=borrower)

    def withdraw_collateral(self, borrower: Any, amount: int) -> Any:
        return self.pool.withdraw(self.tokens.collateral, amount, borrower, sender=borrower)

    def withdraw(self, lender: Any, assets: int) -> Any:
        return self.pool.withdraw(self.tokens.loan, assets, lender, sender=lender)

    def flash_loan(self, caller: Any, assets: int) -> Any:
        return self.receiver.flash(self.tokens.loan, assets, sender=caller)

    def set_collateral_price(self, owner: Any, relative: Fraction) -> None:
        self._price(owner, self.tokens.collateral, relative)

    def liquidate(self, liquidator: Any, borrower: Any, assets: int) -> Any:
        tokens = self.tokens
        return self.pool.liquidationCall(
            tokens.collateral, tokens.loan, borrower, assets, False, sender=liquidator
        )

    def debt_of(self, borrower: Any) -> int:
        return self.variable_debt.balanceOf(borrower)

    # ---- deployment helpers ----

    def _price(self, owner: Any, token: Any, relative: Fraction) -> None:
        price = 10**PRICE_DECIMALS * relative.numerator // relative.denominator
        self.oracle.setAssetPrice(token, price, sender=owner)

    def _init_reserves(self, owner: Any, configurator: Any) -> None:
        p = self.params
        strategy = owner.deploy(
            self._plain("DefaultReserveInterestRateStrategy"),
            self.provider,
            _ray(p.optimal_usage),
            0,
            _ray(p.slope1),
            _ray(p.slope2),
            0,
            0,
            0,
            0,
            _ray(Fraction(1, 5)),
        )
        implementations = [
            owner.deploy(self._plain(name), self.pool)
            for name in ("AToken", "StableDebtToken", "VariableDebtToken")
        ]
        inputs = []
        for token, decimals, symbol in (
            (self.tokens.loan, self.tokens.loan_decimals, "LOAN"),
            (self.tokens.collateral, self.tokens.collateral_decimals, "COLL"),
        ):
            inputs.append(
                (
                    implementations[0],
                    implementations[1],
                    implementations[2],
                    decimals,
                    strategy,
                    token,
                    owner,
                    ZERO_ADDRESS,
                    f"Aave {symbol}",
                    f"a{symbol}",
                    f"Aave variable debt {symbol}",
                    f"variableDebt{symbol}",
                    f"Aave stable debt {symbol}",
                    f"stableDebt{symbol}",
                    b"",
                )
            )
        configurator.initReserves(inputs, sender=owner)

    def _behind_proxy(
        self, owner: Any, name: str, implementation: Any, set_impl: Any, get_proxy: Any
    ) -> Any:
        """Has the provider put ``implementation`` behind its proxy (which
        initialises it) and returns the proxy with ``name``'s ABI."""
        set_impl(implementation, sender=owner)
        return Contract(get_proxy(), contract_type=self._type(name))

    def _linked(self, owner: Any, name: str) -> Any:
        """The container of ``name`` with its libraries deployed and linked
        (each library once, its own libraries first)."""
        artifact = self.artifacts.get(name)
        for library in artifact.libraries():
            if library not in self.libraries:
                self.libraries[library] = owner.deploy(self._linked(owner, library)).address
        return container(artifact.linked(self.libraries))

    def _plain(self, name: str) -> Any:
        artifact = self.artifacts.get(name)
        if artifact.links:
            raise ValueError(f"{name} needs linked libraries: deploy it through _linked")
        return container(artifact.linked({}))

    def _type(self, name: str) -> Any:
        return contract_type(name, self.artifacts.get(name).abi)


def _ray(value: Fraction) -> int:
    return RAY * value.numerator // value.denominator
