"""After deploying: every setting read back from the chain and compared
with what the config asked for. Any mismatch fails the command.

:func:`expected_settings` (pure) says what each setting must be, by key
path; :func:`read_settings` reads the same paths from the chain;
:func:`compare` pairs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ape

from navlend.constants import YEAR, ZERO_ADDRESS
from navlend.deploy.config import MARKET_ROLES, ROLES, DeployConfig, NewAdapter
from navlend.deploy.facts import ChainFacts
from navlend.deploy.plan import Plan, listing_args
from navlend.market import market_at

# The getter of each adapter that names the issuer's contract it wraps.
TARGET_GETTER = {
    "SuperstateNavFeed": "oracle",
    "OndoNavFeed": "oracle",
    "SuperstateRedemption": "redemption",
    "OndoRedemption": "manager",
    "SuperstateCompliance": "token",
    "OndoCompliance": "token",
    "SuperstateSubscription": "share_token",
    "OndoSubscription": "manager",
}
# The market's control() outputs, in IMarketViews' order.
CONTROL_FIELDS = (
    "paused",
    "resume_at",
    "flash_fee_bps",
    "liquidation_fee_bps",
    "min_borrow",
    "small_position",
    "dust_floor",
)


@dataclass(frozen=True)
class Setting:
    """One setting: what the config asked for and what the chain holds."""

    path: str
    expected: Any
    actual: Any

    @property
    def ok(self) -> bool:
        return _norm(self.expected) == _norm(self.actual)

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, found {self.actual}"


def _norm(value: Any) -> Any:
    """Addresses compare case-blind, everything else as it is."""
    text = str(value)
    return text.lower() if text.startswith("0x") else value


def expected_settings(
    config: DeployConfig, facts: ChainFacts, plan: Plan, addresses: Mapping[str, str]
) -> dict[str, Any]:
    """Each setting's expected value by key path."""
    base, slope1, slope2, kink, reserve = config.rates.contract_args()
    flash, liquidation = config.fees.contract_args()
    unit = 10 ** (facts.stablecoin_decimals or 0)
    out: dict[str, Any] = {
        "market.asset": config.stablecoin,
        "market.name": config.name,
        "market.symbol": config.symbol,
        # Pending until the owner accepts, then its own.
        "market.owner": config.owner,
        "market.guardian": config.guardian,
        "market.treasury": config.treasury,
        "market.views": addresses["market_views"],
        "market.admin": addresses["market_admin"],
        "rates.base_rate": base // YEAR,
        "rates.slope1": slope1 // YEAR,
        "rates.slope2": slope2 // YEAR,
        "rates.kink_bps": kink,
        "rates.reserve_factor_bps": reserve,
        "fees.flash_fee_bps": flash,
        "fees.liquidation_fee_bps": liquidation,
        # Set in whole units, answered in base units.
        "limits.min_borrow": config.limits.min_borrow * unit,
        "limits.small_position": config.limits.small_position * unit,
        "limits.dust_floor": config.limits.dust_floor * unit,
        "market.asset_count": len(config.collateral),
    }
    for index, (name, item, found) in enumerate(
        zip(plan.names, config.collateral, facts.collateral)
    ):
        path = f"collateral[{index}]"
        ltv, threshold, bonus, cap, price_cap, age = listing_args(item, found)
        sources = {
            role: _address(item.source(role), addresses, f"{name}_{role}")
            for role in MARKET_ROLES
        }
        compliance = sources["compliance"] or (
            item.token if found.token_answers_compliance else ZERO_ADDRESS
        )
        out |= {
            f"{path}.listed_at": index,
            f"{path}.oracle": sources["feed"],
            f"{path}.facility": sources["facility"] or ZERO_ADDRESS,
            f"{path}.compliance": compliance,
            f"{path}.ltv_bps": ltv,
            f"{path}.threshold_bps": threshold,
            f"{path}.bonus_bps": bonus,
            f"{path}.supply_cap": cap,
            f"{path}.price_cap": price_cap,
            f"{path}.max_oracle_age": age,
            f"{path}.frozen": False,
        }
        for role in ROLES:
            source = item.source(role)
            if isinstance(source, NewAdapter):
                target = source.target or item.token
                out[f"{path}.{role}.{TARGET_GETTER[source.kind]}"] = target
        if item.subscription is not None:
            # What Leverage checks before it subscribes.
            out[f"{path}.subscription.share_token"] = item.token
            out[f"{path}.subscription.payout_token"] = config.stablecoin
    if config.leverage:
        out["leverage.MARKET"] = addresses["market"]
        out["leverage.BASE"] = config.stablecoin
    return out


def _address(source: Any, addresses: Mapping[str, str], record: str) -> str | None:
    if source is None:
        return None
    if isinstance(source, NewAdapter):
        return addresses.get(record)
    return source.address


def _owner_to_be(market: Any, deployer: str) -> str:
    """The owner once the pending transfer completes: the pending owner
    while the deployer still owns the market, else the owner (with the
    pending one named, when someone else started a transfer)."""
    owner, pending = str(market.owner()), str(market.pending_owner())
    if pending == ZERO_ADDRESS:
        return owner
    return pending if owner.lower() == deployer.lower() else f"{owner} (pending {pending})"


def read_settings(
    config: DeployConfig,
    plan: Plan,
    addresses: Mapping[str, str],
    deployer: str,
    project: Any = None,
) -> dict[str, Any]:
    """The same key paths as :func:`expected_settings`, read from chain."""
    project = ape.project if project is None else project
    market = market_at(addresses["market"], project)
    rates = market.rate_config()
    control = dict(zip(CONTROL_FIELDS, market.control()))
    listed = [str(market.asset_at(i)).lower() for i in range(int(market.asset_count()))]
    out: dict[str, Any] = {
        "market.asset": market.asset(),
        "market.name": market.name(),
        "market.symbol": market.symbol(),
        "market.owner": _owner_to_be(market, deployer),
        "market.guardian": market.guardian(),
        "market.treasury": market.treasury(),
        "market.views": market.EXTENSION(),
        "market.admin": market.ADMIN(),
        "rates.base_rate": rates.base_rate,
        "rates.slope1": rates.slope1,
        "rates.slope2": rates.slope2,
        "rates.kink_bps": rates.kink_bps,
        "rates.reserve_factor_bps": rates.reserve_factor_bps,
        "fees.flash_fee_bps": control["flash_fee_bps"],
        "fees.liquidation_fee_bps": control["liquidation_fee_bps"],
        "limits.min_borrow": control["min_borrow"],
        "limits.small_position": control["small_position"],
        "limits.dust_floor": control["dust_floor"],
        "market.asset_count": len(listed),
    }
    for index, (name, item) in enumerate(zip(plan.names, config.collateral)):
        path = f"collateral[{index}]"
        if item.token.lower() not in listed:
            out[f"{path}.listed_at"] = "not listed"
            continue
        cfg = market.asset_config(item.token)
        out |= {
            f"{path}.listed_at": listed.index(item.token.lower()),
            f"{path}.oracle": cfg.oracle,
            f"{path}.facility": cfg.facility,
            f"{path}.compliance": market.asset_compliance(item.token),
            f"{path}.ltv_bps": cfg.ltv_bps,
            f"{path}.threshold_bps": cfg.threshold_bps,
            f"{path}.bonus_bps": cfg.bonus_bps,
            f"{path}.supply_cap": cfg.supply_cap,
            f"{path}.price_cap": cfg.price_cap,
            f"{path}.max_oracle_age": cfg.max_oracle_age,
            f"{path}.frozen": cfg.frozen,
        }
        for role in ROLES:
            source = item.source(role)
            if isinstance(source, NewAdapter):
                adapter = getattr(project, source.kind).at(addresses[f"{name}_{role}"])
                getter = TARGET_GETTER[source.kind]
                out[f"{path}.{role}.{getter}"] = getattr(adapter, getter)()
        subscription = _address(item.subscription, addresses, f"{name}_subscription")
        if subscription is not None:
            # Any ISubscriptionFacility: SuperstateSubscription's ABI has its views.
            facility = project.SuperstateSubscription.at(subscription)
            out[f"{path}.subscription.share_token"] = facility.share_token()
            out[f"{path}.subscription.payout_token"] = facility.payout_token()
    if config.leverage and "leverage" in addresses:
        leverage = project.Leverage.at(addresses["leverage"])
        out["leverage.MARKET"] = leverage.MARKET()
        out["leverage.BASE"] = leverage.BASE()
    return out


def compare(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> tuple[Setting, ...]:
    """Every expected setting beside what was read ("not read" when the
    chain gave nothing for it)."""
    return tuple(
        Setting(path, value, actual.get(path, "not read")) for path, value in expected.items()
    )
