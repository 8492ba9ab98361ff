"""The gas scenario (``docs/gas-scenario.md``) on Morpho Blue 1.0, built
from its npm sources.

One isolated market (loan token, collateral token, the package's
``OracleMock`` and ``IrmMock``, LLTV 86 %), no fee. The flash loan goes
through the package's ``FlashBorrowerMock``, which approves repayment in
its callback. The liquidator repays the borrow shares worth the asked
amount at the market's stored totals (Morpho's ``repaidShares`` route).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from devkit.gasbench.scenario import AdapterDeployment, LendingAdapter, ScenarioTokens
from devkit.gasbench.artifacts import container
from devkit.gasbench.solc import CompiledContract

LLTV = 86 * 10**16
ORACLE_PRICE_SCALE = 10**36
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1


class MorphoAdapter(LendingAdapter):
    key = "morpho_blue"
    name = "Morpho Blue"

    def __init__(self, contracts: dict[str, CompiledContract]):
        self.contracts = contracts

    def deploy(self, owner: Any, tokens: ScenarioTokens) -> AdapterDeployment:
        self.tokens = tokens
        build = self.contracts
        self.morpho = owner.deploy(container(build["Morpho"]), owner)
        self.oracle = owner.deploy(container(build["OracleMock"]))
        self.irm = owner.deploy(container(build["IrmMock"]))
        self.set_collateral_price(owner, Fraction(1))
        self.params = (
            tokens.loan.address,
            tokens.collateral.address,
            self.oracle.address,
            self.irm.address,
            LLTV,
        )
        self.market_id = keccak(
            encode(["address", "address", "address", "address", "uint256"], self.params)
        )
        self.morpho.enableIrm(self.irm, sender=owner)
        self.morpho.enableLltv(LLTV, sender=owner)
        self.morpho.createMarket(self.params, sender=owner)
        self.receiver = owner.deploy(container(build["FlashBorrowerMock"]), self.morpho)
        return AdapterDeployment(
            spender=self.morpho.address,
            flash_receiver=self.receiver.address,
            collateral_holders=(self.morpho.address,),
        )

    def describe(self) -> str:
        return "Morpho.sol 1.0; LLTV 86 %, no fee (flash loans free); OracleMock, IrmMock; FlashBorrowerMock"

    def supply(self, lender: Any, assets: int) -> Any:
        return self.morpho.supply(self.params, assets, 0, lender, b"", sender=lender)

    def deposit_collateral(self, borrower: Any, amount: int) -> Any:
        return self.morpho.supplyCollateral(self.params, amount, borrower, b"", sender=borrower)

    def borrow(self, borrower: Any, assets: int) -> Any:
        return self.morpho.borrow(self.params, assets, 0, borrower, borrower, sender=borrower)

    def repay(self, borrower: Any, assets: int) -> Any:
        return self.morpho.repay(self.params, assets, 0, borrower, b"", sender=borrower)

    def withdraw_collateral(self, borrower: Any, amount: int) -> Any:
        return self.morpho.withdrawCollateral(
            self.params, amount, borrower, borrower, sender=borrower
        )

    def withdraw(self, lender: Any, assets: int) -> Any:
        return self.morpho.withdraw(self.params, assets, 0, lender, lender, sender=lender)

    def flash_loan(self, caller: Any, assets: int) -> Any:
        token = self.tokens.loan.address
        return self.receiver.flashLoan(token, assets, encode(["address"], [token]), sender=caller)

    def set_collateral_price(self, owner: Any, relative: Fraction) -> None:
        # Loan units per collateral unit, scaled by 1e36.
        scale = (
            ORACLE_PRICE_SCALE
            * 10**self.tokens.loan_decimals
            // 10**self.tokens.collateral_decimals
        )
        self.oracle.setPrice(scale * relative.numerator // relative.denominator, sender=owner)

    def liquidate(self, liquidator: Any, borrower: Any, assets: int) -> Any:
        total_assets, total_shares = self._borrow_totals()
        shares = assets * (total_shares + VIRTUAL_SHARES) // (total_assets + VIRTUAL_ASSETS)
        return self.morpho.liquidate(self.params, borrower, 0, shares, b"", sender=liquidator)

    def debt_of(self, borrower: Any) -> int:
        shares = self.morpho.position(self.market_id, borrower).borrowShares
        total_assets, total_shares = self._borrow_totals()
        return -(-shares * (total_assets + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES))

    def _borrow_totals(self) -> tuple[int, int]:
        market = self.morpho.market(self.market_id)
        return market.totalBorrowAssets, market.totalBorrowShares
