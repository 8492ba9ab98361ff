"""Fixtures of the keeper's unit tests: pure values, no chain.

Positions are built in ``navlend.model.MarketModel`` (the reference model
the property suite checks against the contracts) and read back the way the
Lens reads the market (``lens_health``), so the decision tests are fed what
the keeper gets on chain without restating the market's rules here.

Role-named addresses: ``borrower``, ``other_borrower``, ``liquidator``;
tokens ``fund_a`` (6 decimals, NAV about $10.50, 8-decimal oracle) and
``fund_c`` (18 decimals, the raw 18-decimal fund; priced $1.00 here).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from navlend import model
from navlend.constants import MAX_UINT256

from keepers.decide import ProfitPolicy
from keepers.store import StoreKind, StoreLocation
from keepers.types import AccountHealth, AssetTerms, ExecutionContext, MarketTerms, to_address

USD = 10**6
NOW = 1_800_000_000

BORROWER = to_address("0x" + "b0" * 20)
OTHER_BORROWER = to_address("0x" + "b1" * 20)
LIQUIDATOR = to_address("0x" + "1a" * 20)
FUND_A = to_address("0x" + "fa" * 20)
FUND_C = to_address("0x" + "fc" * 20)
FACILITY_A = to_address("0x" + "ca" * 20)
FACILITY_C = to_address("0x" + "cc" * 20)
MARKET = to_address("0x" + "3a" * 20)


def model_market(*, liquidation_fee_bps: int = 0, small_position: int = 2_000, dust_floor: int = 1_000) -> model.MarketModel:
    """A model market listing fund A (asset 0) and fund C (asset 1) with the
    default risk parameters (LTV 85 %, threshold 90 %, bonus 3 %)."""
    m = model.MarketModel(
        base_decimals=6,
        owner=LIQUIDATOR,
        guardian=LIQUIDATOR,
        treasury=LIQUIDATOR,
        liquidation_fee_bps=liquidation_fee_bps,
        small_position=small_position,
        dust_floor=dust_floor,
    )
    common = dict(ltv_bps=8_500, threshold_bps=9_000, bonus_bps=300, supply_cap=10**40, price_cap=0, max_oracle_age=360_000)
    m.assets = [
        model.Asset(token=FUND_A, exponent=6 + 8 - 6, facility=FACILITY_A, **common),
        model.Asset(token=FUND_C, exponent=18 + 8 - 6, facility=FACILITY_C, **common),
    ]
    return m


def open_position(m: model.MarketModel, account: str, collateral: dict[int, int], debt: int) -> None:
    """Writes a position straight into the model (index 1.0, so scaled debt
    = debt)."""
    for asset_id, amount in collateral.items():
        m.collateral[(account, asset_id)] = amount
    m.scaled[account] = debt
    m.total_scaled += debt
    m.last_accrual = NOW


def feed_of(prices: dict[int, int]):
    return lambda asset_id: (prices[asset_id], NOW)


class LensWouldRevert(Exception):
    """``Lens.healths`` reverts for this position: the market's
    ``preview_liquidation`` reverts "nothing to liquidate" on a dust
    position (seizure rounds to zero), and the Lens does not catch it, so
    the whole batch call reverts (reported as a contract issue)."""


def lens_health(m: model.MarketModel, account: str, prices: dict[int, int]) -> AccountHealth:
    """What ``Lens._health`` returns for this model position
    (:class:`LensWouldRevert` where the real Lens reverts)."""
    feed = feed_of(prices)
    debt, _, borrow_value, liquidation_value, hf, bitmap = m.position(account, NOW, feed)
    best, repay, seize = "0x" + "00" * 20, 0, 0
    if debt and hf < model.WAD:
        for asset_id in range(len(m.assets)):
            if not bitmap >> asset_id & 1:
                continue
            try:
                r, s = m.preview_liquidation(account, m.assets[asset_id].token, MAX_UINT256, NOW, feed)
            except model.ModelRevert as revert:
                raise LensWouldRevert(revert.reason) from None
            if r > repay or (best == "0x" + "00" * 20 and s != 0):
                best, repay, seize = m.assets[asset_id].token, r, s
    return AccountHealth(
        account=account,
        debt=debt,
        borrow_value=borrow_value,
        liquidation_value=liquidation_value,
        health_factor=hf,
        liquidatable=best != "0x" + "00" * 20,
        best_token=to_address(best),
        max_repay=repay,
        max_seize=seize,
        assets_bitmap=bitmap,
    )


def terms_of(m: model.MarketModel, prices: dict[int, int], **asset_overrides) -> MarketTerms:
    """Market terms as the chain edge would read them: plentiful facility
    liquidity and flash cash unless overridden (``asset_overrides`` apply
    to every asset)."""
    assets = tuple(
        AssetTerms(
            token=a.token,
            asset_id=i,
            value_exponent=a.exponent,
            price=prices[i],
            bonus_bps=a.bonus_bps,
            threshold_bps=a.threshold_bps,
            facility=a.facility,
            redeem_price=prices[i],
            redemption_fee_bps=5,
            facility_max_redeem=10**40,
            facility_min_redeem=1,
            facility_liquidity=10**15,
            facility_remaining_limit=10**15,
        )
        for i, a in enumerate(m.assets)
    )
    assets = tuple(replace(a, **asset_overrides) for a in assets)
    return MarketTerms(
        base_decimals=m.base_decimals,
        small_position=m.small_position,
        dust_floor=m.dust_floor,
        liquidation_fee_bps=m.liquidation_fee_bps,
        flash_fee_bps=m.flash_fee_bps,
        max_flash_loan=10**15,
        liquidation_open=True,
        assets=assets,
    )


def balances_of(m: model.MarketModel, account: str) -> dict[str, int]:
    return {a.token: m.balance(account, i) for i, a in enumerate(m.assets) if m.balance(account, i)}


@pytest.fixture
def policy() -> ProfitPolicy:
    """$1 minimum profit, $1 buffer, ETH at $3,000, 200 gwei cap."""
    return ProfitPolicy(
        min_profit=1 * USD,
        safety_buffer=1 * USD,
        eth_usd_base=3_000 * USD,
        gas_limit_redeem=450_000,
        gas_limit_seize=250_000,
        max_fee_wei=200 * 10**9,
        min_out_tolerance_bps=100,
    )


@pytest.fixture
def ctx() -> ExecutionContext:
    """2 gwei, a ready FlashLiquidator, no stablecoin, no allowlisting."""
    return ExecutionContext(gas_price_wei=2 * 10**9)


@pytest.fixture
def underwater():
    """A borrower with 1,000 fund A shares and 6,000 USDC of debt after a
    NAV drop to $6.00 (health factor 0.90): a full close (below 0.95)."""
    m = model_market()
    open_position(m, BORROWER, {0: 1_000 * USD}, 6_000 * USD)
    prices = {0: 6 * 10**8, 1: 10**8}
    return m, prices


# The least environment ``load_config`` accepts without a deployments file
# (the brakes', profit model's and treasury's config tests add to it).
CONFIG_ENV = {
    "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
    "NAVLEND_KEEPER_MARKET": MARKET,
    "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": "0x" + "f1" * 20,
    "NAVLEND_KEEPER_NAV_ORACLES": "0x" + "0a" * 20,
}


# ---------------------------------------------------------------- #
#          the index's two stores: SQLite and PostgreSQL (i17)      #
# ---------------------------------------------------------------- #

STORES = ("sqlite", "postgresql")
_DATABASES = itertools.count()


@pytest.fixture(params=STORES)
def new_location(request, tmp_path):
    """A factory of empty store locations of one kind (each test runs on
    both; PostgreSQL: ``postgres_server`` of tests/keeper/conftest.py): ``new_location()`` is SQLite's ``:memory:`` or a new PostgreSQL
    schema prefix; ``new_location(persistent=True)`` a SQLite file
    (reopened, the same store) or a new PostgreSQL schema prefix."""
    if request.param == "sqlite":
        files = itertools.count()
        return lambda persistent=False: str(tmp_path / f"store-{next(files)}.sqlite") if persistent else ":memory:"
    return request.getfixturevalue("postgres_location")


@pytest.fixture
def postgres_location(postgres_server):
    """``new_location`` on PostgreSQL only: a new schema prefix per call,
    in the one database (a CREATE DATABASE each is ten times slower)."""
    return lambda persistent=False: StoreLocation(StoreKind.POSTGRESQL, postgres_server.url, f"t{next(_DATABASES)}_")
