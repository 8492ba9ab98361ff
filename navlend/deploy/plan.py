"""The deployment's plan: its ordered steps, the addresses they create, and
the table printed before anything is sent.

The order, one transaction per step:

1. the adapters (each collateral's feed, facility, compliance and
   subscription adapters the config asks for);
2. the market as ``navlend.market.deploy_market`` deploys it (MarketAdmin,
   MarketViews in front of it, Market in front of both, with the
   guardian and the treasury), the Lens the keeper reads it through and
   the FlashLiquidator it liquidates with (no capital, no allowlisting),
   and, when the config asks for it, the Leverage helper;
3. each collateral listed, its facility and compliance source set;
4. the rate curve, the fees, the borrow limits;
5. the two-step ownership transfer to the owner begun (the owner accepts).

Every step creates or changes something the next ones need, so they run in
this order, from one account: the addresses the deploys will create follow
from its nonce (:func:`predict`), which lets the checks ask the issuers
about the market and the adapters before they exist.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address
from rich.table import Table

from navlend.cli.amounts import format_bps, format_units
from navlend.cli.texts import UNLIMITED, duration_text, rate_text, usd_text
from navlend.deploy.config import ROLES, Collateral, DeployConfig, Existing, NewAdapter
from navlend.deploy.facts import ChainFacts, CollateralFacts


@dataclass(frozen=True)
class Ref:
    """The address a deploy step of the plan creates (``record``)."""

    record: str


@dataclass(frozen=True)
class Step:
    """One transaction: a contract deployed (``record`` names it in the
    deployments file) or a call on the market."""

    key: str
    kind: str
    contract_type: str
    args: tuple[Any, ...]
    label: str
    method: str = ""
    record: str = ""

    @property
    def is_deploy(self) -> bool:
        return self.kind == "deploy"


@dataclass(frozen=True)
class Plan:
    """The steps, and each collateral's record name."""

    steps: tuple[Step, ...]
    names: tuple[str, ...]
    digest: str

    def step(self, key: str) -> Step:
        return next(s for s in self.steps if s.key == key)


def create_address(sender: str, nonce: int) -> str:
    """The address a contract created by ``sender`` at ``nonce`` gets
    (CREATE: the last 20 bytes of keccak(rlp([sender, nonce])))."""
    return to_checksum_address(keccak(rlp.encode([to_canonical_address(sender), nonce]))[12:])


def config_digest(config: DeployConfig) -> str:
    """Identifies a config: a rerun resumes a recorded deployment only
    from the same one."""
    return hashlib.sha256(repr(config).encode()).hexdigest()[:16]


def record_names(config: DeployConfig, facts: ChainFacts) -> tuple[str, ...]:
    """Each collateral's record name: the config's ``name``, else its
    token's symbol in lower case (``ustb``), else ``asset<i>``."""
    names = []
    for index, (item, found) in enumerate(zip(config.collateral, facts.collateral)):
        symbol = re.sub(r"[^a-z0-9_]", "", (found.symbol or "").lower())
        name = item.name or (symbol if symbol and symbol[0].isalpha() else f"asset{index}")
        names.append(name if name not in names else f"{name}_{index}")
    return tuple(names)


def _adapter_args(
    source: NewAdapter, item: Collateral, found: CollateralFacts, config: DeployConfig
) -> tuple[Any, ...]:
    symbol = found.symbol or "?"
    if source.kind == "SuperstateNavFeed":
        return (source.target, source.description or f"{symbol} / USD NAV", found.feed.hint or 0)
    if source.kind == "OndoNavFeed":
        return (source.target, source.description or f"{symbol} / USD")
    if source.kind == "SuperstateRedemption":
        return (source.target, item.token, config.stablecoin)
    if source.kind in ("OndoRedemption", "OndoSubscription"):
        return (source.target,)
    if source.kind == "SuperstateSubscription":
        return (item.token, config.stablecoin)
    return (item.token,)  # the compliance adapters wrap the token


def build_plan(config: DeployConfig, facts: ChainFacts) -> Plan:
    """The steps of ``config`` (pure: the facts give the decimals, the
    symbols and the Superstate feeds' hints)."""
    names = record_names(config, facts)
    steps: list[Step] = []
    sources: dict[tuple[str, str], Any] = {}
    for name, item, found in zip(names, config.collateral, facts.collateral):
        for role in ROLES:
            source = item.source(role)
            if isinstance(source, NewAdapter):
                record = f"{name}_{role}"
                steps.append(
                    Step(
                        record,
                        "deploy",
                        source.kind,
                        _adapter_args(source, item, found, config),
                        f"deploy {source.kind} for {name}",
                        record=record,
                    )
                )
                sources[(name, role)] = Ref(record)
            elif isinstance(source, Existing):
                sources[(name, role)] = source.address
    base = config.stablecoin
    steps += [
        Step(
            "market_admin",
            "deploy",
            "MarketAdmin",
            (base,),
            "deploy MarketAdmin",
            record="market_admin",
        ),
        Step(
            "market_views",
            "deploy",
            "MarketViews",
            (base, Ref("market_admin")),
            "deploy MarketViews",
            record="market_views",
        ),
        Step(
            "market",
            "deploy",
            "Market",
            (
                base,
                Ref("market_views"),
                config.name,
                config.symbol,
                config.guardian,
                config.treasury,
            ),
            "deploy Market",
            record="market",
        ),
        Step("lens", "deploy", "Lens", (), "deploy Lens", record="lens"),
        Step(
            "flash_liquidator",
            "deploy",
            "FlashLiquidator",
            (Ref("market"),),
            "deploy FlashLiquidator",
            record="flash_liquidator",
        ),
    ]
    if config.leverage:
        steps.append(
            Step(
                "leverage",
                "deploy",
                "Leverage",
                (Ref("market"),),
                "deploy Leverage",
                record="leverage",
            )
        )
    for name, item, found in zip(names, config.collateral, facts.collateral):
        steps.append(
            _call(
                f"list_asset:{name}",
                "list_asset",
                f"list {name}",
                item.token,
                sources[(name, "feed")],
                *listing_args(item, found),
            )
        )
        for role, label in (
            ("facility", "redemption facility"),
            ("compliance", "compliance source"),
        ):
            if (name, role) in sources:
                method = f"set_asset_{role}"
                steps.append(
                    _call(
                        f"{method}:{name}",
                        method,
                        f"{name}: {label}",
                        item.token,
                        sources[(name, role)],
                    )
                )
    steps += [
        _call("set_rates", "set_rates", "rate curve", *config.rates.contract_args()),
        _call("set_fees", "set_fees", "fees", *config.fees.contract_args()),
        _call(
            "set_borrow_limits",
            "set_borrow_limits",
            "borrow limits",
            *config.limits.contract_args(),
        ),
    ]
    if config.owner != facts.deployer:
        steps.append(
            _call(
                "transfer_ownership", "transfer_ownership", "begin ownership transfer", config.owner
            )
        )
    return Plan(tuple(steps), names, config_digest(config))


def listing_args(item: Collateral, found: CollateralFacts) -> tuple[int, int, int, int, int, int]:
    """``list_asset``'s risk and limit arguments: LTV, threshold and bonus
    in bps, the supply cap in token units, the price cap in the feed's
    decimals, the oracle age in seconds."""
    ltv, threshold, bonus = item.risk_bps
    return (
        ltv,
        threshold,
        bonus,
        int(item.supply_cap_units(found.token_decimals or 0)),
        int(item.price_cap_units(found.feed.decimals or 0)),
        item.max_oracle_age,
    )


def _call(key: str, method: str, label: str, *args: Any) -> Step:
    return Step(key, "call", "Market", tuple(args), label, method=method)


def predict(plan: Plan, deployer: str, nonce: int, done: Mapping[str, str]) -> dict[str, str]:
    """Each deploy step's address: ``done`` (step key -> address) for the
    steps already mined, else where the deployer's next nonces put it, the
    remaining steps sent in order from ``nonce``."""
    addresses: dict[str, str] = {}
    for step in plan.steps:
        if step.key in done:
            if step.is_deploy:
                addresses[step.record] = done[step.key]
            continue
        if step.is_deploy:
            addresses[step.record] = create_address(deployer, nonce)
        nonce += 1
    return addresses


def resolve(args: tuple[Any, ...], addresses: Mapping[str, str]) -> tuple[Any, ...]:
    """``args`` with each :class:`Ref` replaced by its address."""
    return tuple(addresses[a.record] if isinstance(a, Ref) else a for a in args)


def render(
    plan: Plan,
    addresses: Mapping[str, str],
    done: Mapping[str, str],
    title: str,
    facts: ChainFacts | None = None,
) -> Table:
    """The plan as a table: each step, its arguments (references shown as
    the addresses they will be), the address it creates, whether it is
    already done (a resumed deployment), and what a market call sets, in
    human units (percentages, durations, token amounts; ``facts`` give
    the decimals)."""
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("step", style="bold")
    table.add_column("arguments", overflow="fold")
    table.add_column("creates", style="cyan", no_wrap=True)
    table.add_column("status")
    table.add_column("sets", overflow="fold")
    units = _listing_units(plan, facts)
    for number, step in enumerate(plan.steps, 1):
        args = ", ".join(_show(a, addresses) for a in step.args)
        call = f"{step.method}({args})" if step.method else f"{step.contract_type}({args})"
        table.add_row(
            str(number),
            step.label,
            call,
            addresses.get(step.record, "") if step.is_deploy else "",
            "done" if step.key in done else "to send",
            describe(step, units.get(step.key)),
        )
    return table


def _listing_units(plan: Plan, facts: ChainFacts | None) -> dict[str, tuple[int, int, str]]:
    """Per ``list_asset`` step: the token's decimals, the feed's and the
    token's symbol (what its caps are in)."""
    if facts is None:
        return {}
    return {
        f"list_asset:{name}": (found.token_decimals or 0, found.feed.decimals or 0, found.symbol or "")
        for name, found in zip(plan.names, facts.collateral)
    }


def describe(step: Step, units: tuple[int, int, str] | None = None) -> str:
    """What a market call sets, as people read it ("" for a deploy)."""
    args = step.args
    if step.method == "list_asset":
        ltv, threshold, bonus, cap, price_cap, age = args[2:8]
        parts = [f"LTV {_pct(ltv)}", f"threshold {_pct(threshold)}", f"bonus {_pct(bonus)}"]
        if units is not None:
            token_decimals, feed_decimals, symbol = units
            parts.append(
                "supply cap "
                + ("unlimited" if cap >= UNLIMITED else f"{format_units(cap, token_decimals)} {symbol}".strip())
            )
            parts.append("price cap " + ("none" if price_cap == 0 else usd_text(price_cap, feed_decimals)))
        parts.append(f"max oracle age {duration_text(age)}")
        return ", ".join(parts)
    if step.method == "set_rates":
        base, slope1, slope2, kink, reserve = args
        return (
            f"base {rate_text(base)}, slope 1 {rate_text(slope1)}, slope 2 {rate_text(slope2)} (APR), "
            f"kink {_pct(kink)}, reserve factor {_pct(reserve)}"
        )
    if step.method == "set_fees":
        return f"flash fee {_pct(args[0])}, protocol's share of the liquidation bonus {_pct(args[1])}"
    if step.method == "set_borrow_limits":
        return (
            f"minimum borrow {args[0]:,}, small position {args[1]:,}, dust floor {args[2]:,} "
            "(whole stablecoin units)"
        )
    return ""


def _pct(bps: int) -> str:
    return format_bps(int(bps))


def _show(arg: Any, addresses: Mapping[str, str]) -> str:
    if isinstance(arg, Ref):
        return f"{arg.record}={addresses.get(arg.record, '?')}"
    if isinstance(arg, int) and arg >= 10**12:
        return f"{arg:,}"
    return str(arg)
