"""The deployment config: a TOML file (docs/deploy.md) read with the
standard library's ``tomllib`` into frozen dataclasses.

Every problem is collected with its key path (``collateral[1].ltv``)
rather than stopping at the first, and every unknown key is refused (a
misspelt key would otherwise deploy a default silently). Values are kept
in the units an operator writes (fractions, whole tokens, durations) and
converted to the contract's units by the properties and helpers here;
what needs the chain (token decimals) is converted by the plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import tomllib
from eth_utils import is_hex_address, to_checksum_address

from navlend.constants import BPS, WAD, ZERO_ADDRESS

# Networks the config may name, with their chain ids (checked against the
# connected node). Another network needs ``chain_id`` in the config.
KNOWN_CHAIN_IDS = {
    "ethereum:mainnet": 1,
    "ethereum:sepolia": 11_155_111,
    "ethereum:local": 31_337,
    "arbitrum:mainnet": 42_161,
    "base:mainnet": 8_453,
    "optimism:mainnet": 10,
    "polygon:mainnet": 137,
}
# The networks on which the command deploys without asking.
LOCAL_NETWORKS = ("ethereum:local",)
# The market's ERC-20 name and symbol limits (snekmate).
MAX_NAME = 25
MAX_SYMBOL = 5
# "100h", "4d", "90m", "3600s" or a bare number of seconds.
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}


@dataclass(frozen=True)
class AdapterKind:
    """A navlend adapter the command can deploy over an issuer's contract:
    its role, and the key naming the issuer's contract it wraps (none for
    the compliance adapters, which wrap the collateral token itself)."""

    name: str
    role: str
    target_key: str | None
    described: bool = False


ADAPTERS = {
    kind.name: kind
    for kind in (
        AdapterKind("SuperstateNavFeed", "feed", "oracle", described=True),
        AdapterKind("OndoNavFeed", "feed", "oracle", described=True),
        AdapterKind("SuperstateRedemption", "facility", "redemption"),
        AdapterKind("OndoRedemption", "facility", "manager"),
        AdapterKind("SuperstateCompliance", "compliance", None),
        AdapterKind("OndoCompliance", "compliance", None),
        AdapterKind("SuperstateSubscription", "subscription", None),
        AdapterKind("OndoSubscription", "subscription", "manager"),
    )
}
# Each collateral's sources: the market's three, and the subscription
# facility Leverage opens positions through (not a market setting).
ROLES = ("feed", "facility", "compliance", "subscription")
MARKET_ROLES = ("feed", "facility", "compliance")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at a key path of the config (or of the chain)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """A config refused: every problem found, in the file's order."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


@dataclass(frozen=True)
class NewAdapter:
    """An adapter to deploy: ``kind`` over the issuer's ``target``."""

    kind: str
    target: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Existing:
    """A contract that already exists, used as it is."""

    address: str


Source = NewAdapter | Existing


@dataclass(frozen=True)
class Rates:
    """The kinked curve, annual fractions, as ``set_rates`` takes them."""

    base: Decimal
    slope1: Decimal
    slope2: Decimal
    kink: Decimal
    reserve_factor: Decimal

    def contract_args(self) -> tuple[int, int, int, int, int]:
        """(base, slope1, slope2) as annual WAD, (kink, reserve factor) in bps."""
        return (
            to_units(self.base, WAD),
            to_units(self.slope1, WAD),
            to_units(self.slope2, WAD),
            to_units(self.kink, BPS),
            to_units(self.reserve_factor, BPS),
        )


@dataclass(frozen=True)
class Fees:
    """The flash-loan fee and the protocol's share of the bonus (fractions)."""

    flash: Decimal
    liquidation: Decimal

    def contract_args(self) -> tuple[int, int]:
        return to_units(self.flash, BPS), to_units(self.liquidation, BPS)


@dataclass(frozen=True)
class Limits:
    """The borrow limits, in whole stablecoin units."""

    min_borrow: int
    small_position: int
    dust_floor: int

    def contract_args(self) -> tuple[int, int, int]:
        return self.min_borrow, self.small_position, self.dust_floor


@dataclass(frozen=True)
class Collateral:
    """One collateral asset: the token, its three sources (and the
    subscription facility Leverage uses, if any), its risk parameters.
    ``supply_cap`` is in whole tokens, ``price_cap`` in USD
    (0: none), ``max_oracle_age`` in seconds."""

    token: str
    feed: Source
    facility: Source | None
    compliance: Source | None
    ltv: Decimal
    threshold: Decimal
    bonus: Decimal
    supply_cap: Decimal
    max_oracle_age: int
    price_cap: Decimal = Decimal(0)
    name: str | None = None
    subscription: Source | None = None

    @property
    def risk_bps(self) -> tuple[int, int, int]:
        """(LTV, threshold, bonus) in bps."""
        return to_units(self.ltv, BPS), to_units(self.threshold, BPS), to_units(self.bonus, BPS)

    def supply_cap_units(self, token_decimals: int) -> Decimal:
        """The supply cap in the token's smallest units (whole when the
        config is exact to one unit)."""
        return self.supply_cap * 10**token_decimals

    def price_cap_units(self, feed_decimals: int) -> Decimal:
        """The price cap in the feed's decimals (0: none)."""
        return self.price_cap * 10**feed_decimals

    def source(self, role: str) -> Source | None:
        return {
            "feed": self.feed,
            "facility": self.facility,
            "compliance": self.compliance,
            "subscription": self.subscription,
        }[role]


@dataclass(frozen=True)
class DeployConfig:
    """A whole deployment config."""

    network: str
    chain_id: int
    deployer: str
    owner: str
    guardian: str
    treasury: str
    stablecoin: str
    name: str
    symbol: str
    rates: Rates
    fees: Fees
    limits: Limits
    collateral: tuple[Collateral, ...]
    # Deploy the Leverage helper (contracts/periphery/Leverage.vy).
    leverage: bool = False

    @property
    def network_name(self) -> str:
        """The Ape network name (``mainnet`` of ``ethereum:mainnet``): the
        deployments file's name, as the other tools look it up."""
        return self.network.split(":")[1]

    @property
    def is_local(self) -> bool:
        return self.network in LOCAL_NETWORKS


def to_units(value: Decimal, unit: int) -> int:
    """``value`` x ``unit`` as an exact integer (the parser refused
    anything finer than one unit)."""
    return int(value * unit)


# ---------------------------------------------------------------- #
#                             reading                               #
# ---------------------------------------------------------------- #

TOP_KEYS = (
    "network", "chain_id", "deployer", "owner", "guardian", "treasury", "stablecoin",
    "name", "symbol", "rates", "fees", "limits", "collateral", "leverage",
)  # fmt: skip
RATE_KEYS = ("base", "slope1", "slope2", "kink", "reserve_factor")
FEE_KEYS = ("flash", "liquidation")
LIMIT_KEYS = ("min_borrow", "small_position", "dust_floor")
COLLATERAL_KEYS = (
    "name", "token", "feed", "facility", "compliance", "subscription", "ltv", "threshold", "bonus",
    "supply_cap", "price_cap", "max_oracle_age",
)  # fmt: skip


def load(path: Path | str) -> DeployConfig:
    """Reads and parses the config file at ``path`` (ConfigError listing
    every problem)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(str(path), [Problem("file", "not found")]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [Problem("file", f"not valid TOML: {err}")]) from None
    return parse(raw, source=str(path))


def parse(raw: Mapping[str, Any], source: str = "config") -> DeployConfig:
    """Parses a TOML document (as ``tomllib`` returns it)."""
    reader = _Reader()
    config = reader.config(raw)
    if reader.problems:
        raise ConfigError(source, reader.problems)
    assert config is not None
    return config


class _Reader:
    """Reads one document, collecting problems; each method answers None
    (or a placeholder) for a value it refused."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # ---- structure ----

    def table(
        self, raw: Mapping[str, Any], path: str, allowed: tuple[str, ...]
    ) -> Mapping[str, Any]:
        for key in raw:
            if key not in allowed:
                self.fail(_join(path, key), f"unknown key (allowed: {', '.join(allowed)})")
        return raw

    def sub_table(
        self, raw: Mapping[str, Any], key: str, allowed: tuple[str, ...]
    ) -> Mapping[str, Any]:
        value = raw.get(key)
        if value is None:
            self.fail(key, "missing table")
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, "must be a table")
            return {}
        return self.table(value, key, allowed)

    def required(self, raw: Mapping[str, Any], path: str, key: str) -> Any:
        if key not in raw:
            self.fail(_join(path, key), "missing")
            return None
        return raw[key]

    # ---- values ----

    def string(
        self, raw: Mapping[str, Any], path: str, key: str, max_len: int | None = None
    ) -> str | None:
        value = self.required(raw, path, key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(_join(path, key), "must be a non-empty string")
            return None
        if max_len is not None and len(value) > max_len:
            self.fail(_join(path, key), f"at most {max_len} characters (got {len(value)})")
            return None
        return value

    def address(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.fail(path, "must be an address string (0x and 40 hex digits)")
            return None
        if not is_hex_address(value):
            hint = " (replace the placeholder)" if "_" in value or "<" in value else ""
            self.fail(path, f"not an address: {value!r}{hint}")
            return None
        if value.lower() == ZERO_ADDRESS:
            self.fail(path, "the zero address")
            return None
        return to_checksum_address(value)

    def address_at(self, raw: Mapping[str, Any], path: str, key: str) -> str | None:
        value = self.required(raw, path, key)
        return None if value is None else self.address(value, _join(path, key))

    def fraction(
        self, raw: Mapping[str, Any], path: str, key: str, unit: int, default: Decimal | None = None
    ) -> Decimal:
        """A fraction written as a string ("0.83") or a number, exact to
        one ``unit`` (1 bps, or 1 wei of a WAD rate), from 0 to 10."""
        number, value = self._number(raw, path, key, default)
        if number is None:
            return Decimal(0)
        if number < 0 or number > 10:
            self.fail(_join(path, key), f"{value!r} is not a fraction (write 0.83 for 83 %)")
        elif number * unit != int(number * unit):
            step = "0.0001 (1 bps)" if unit == BPS else "1e-18"
            self.fail(_join(path, key), f"{value!r} is finer than {step}")
        return number

    def _number(
        self, raw: Mapping[str, Any], path: str, key: str, default: Decimal | None
    ) -> tuple[Decimal | None, Any]:
        """The number at ``key`` (``default`` when absent and there is
        one; None when missing or not a number) and the value as written."""
        if key not in raw and default is not None:
            return default, default
        value = self.required(raw, path, key)
        return (None if value is None else self.decimal(value, _join(path, key))), value

    def decimal(self, value: Any, path: str) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(path, f"must be a number or a numeric string, got {value!r}")
            return None
        try:
            number = Decimal(str(value).replace("_", "").strip())
        except InvalidOperation:
            self.fail(path, f"not a number: {value!r}")
            return None
        if not number.is_finite():
            self.fail(path, f"not a number: {value!r}")
            return None
        return number

    def amount(
        self, raw: Mapping[str, Any], path: str, key: str, default: Decimal | None = None
    ) -> Decimal:
        """A non-negative amount (whole tokens, USD)."""
        number, value = self._number(raw, path, key, default)
        if number is None:
            return Decimal(0)
        if number < 0:
            self.fail(_join(path, key), f"must not be negative, got {value!r}")
        return number

    def whole(self, raw: Mapping[str, Any], path: str, key: str) -> int:
        value = self.required(raw, path, key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(_join(path, key), f"must be a whole non-negative number, got {value!r}")
            return 0
        return value

    def flag(self, raw: Mapping[str, Any], path: str, key: str) -> bool:
        """An optional true/false (false when absent)."""
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.fail(_join(path, key), f"must be true or false, got {value!r}")
            return False
        return value

    def duration(self, raw: Mapping[str, Any], path: str, key: str) -> int:
        value = self.required(raw, path, key)
        if value is None:
            return 0
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None or int(match.group(1)) == 0:
            self.fail(_join(path, key), f'not a duration: {value!r} (e.g. "100h", "4d", 3600)')
            return 0
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]

    def source(self, raw: Mapping[str, Any], path: str, role: str, optional: bool) -> Source | None:
        if role not in raw:
            if not optional:
                self.fail(_join(path, role), "missing")
            return None
        value, where = raw[role], _join(path, role)
        if isinstance(value, str):
            address = self.address(value, where)
            return Existing(address) if address else None
        if not isinstance(value, Mapping):
            self.fail(where, 'must be an address or a table { adapter = "...", ... }')
            return None
        kind_name = value.get("adapter")
        kinds = [k.name for k in ADAPTERS.values() if k.role == role]
        kind = ADAPTERS.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None or kind.role != role:
            self.fail(
                _join(where, "adapter"),
                f"{kind_name!r} is not a {role} adapter (one of {', '.join(kinds)})",
            )
            return None
        allowed = (
            ("adapter",)
            + ((kind.target_key,) if kind.target_key else ())
            + (("description",) if kind.described else ())
        )
        self.table(value, where, allowed)
        target = self.address_at(value, where, kind.target_key) if kind.target_key else None
        description = None
        if kind.described and "description" in value:
            description = self.string(value, where, "description", max_len=64)
        return NewAdapter(kind.name, target, description)

    # ---- the document ----

    def config(self, raw: Mapping[str, Any]) -> DeployConfig | None:
        self.table(raw, "", TOP_KEYS)
        network = self.string(raw, "", "network")
        chain_id = self.chain_id(raw, network)
        deployer = self.string(raw, "", "deployer")
        owner = self.address_at(raw, "", "owner")
        guardian = self.address_at(raw, "", "guardian")
        treasury = self.address_at(raw, "", "treasury")
        stablecoin = self.address_at(raw, "", "stablecoin")
        name = self.string(raw, "", "name", max_len=MAX_NAME)
        symbol = self.string(raw, "", "symbol", max_len=MAX_SYMBOL)
        rates_raw = self.sub_table(raw, "rates", RATE_KEYS)
        rates = Rates(
            *(
                self.fraction(
                    rates_raw, "rates", key, WAD if key in ("base", "slope1", "slope2") else BPS
                )
                for key in RATE_KEYS
            )
        )
        fees_raw = self.sub_table(raw, "fees", FEE_KEYS)
        fees = Fees(*(self.fraction(fees_raw, "fees", key, BPS) for key in FEE_KEYS))
        limits_raw = self.sub_table(raw, "limits", LIMIT_KEYS)
        limits = Limits(*(self.whole(limits_raw, "limits", key) for key in LIMIT_KEYS))
        leverage = self.flag(raw, "", "leverage")
        collateral = self.collaterals(raw, stablecoin)
        if not leverage:
            self.problems.extend(
                Problem(
                    f"collateral[{index}].subscription", "only Leverage uses it: set leverage = true"
                )
                for index, item in enumerate(collateral)
                if item.subscription is not None
            )
        if self.problems:
            return None
        return DeployConfig(
            network=network,
            chain_id=chain_id,
            deployer=deployer,
            owner=owner,
            guardian=guardian,
            treasury=treasury,
            stablecoin=stablecoin,
            name=name,
            symbol=symbol,
            rates=rates,
            fees=fees,
            limits=limits,
            collateral=collateral,
            leverage=leverage,
        )  # type: ignore[arg-type]  # every None was a problem, refused above

    def chain_id(self, raw: Mapping[str, Any], network: str | None) -> int:
        if network is not None and network.count(":") != 1:
            self.fail("network", f"{network!r} is not ecosystem:network (e.g. ethereum:mainnet)")
            return 0
        if "chain_id" in raw:
            value = raw["chain_id"]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                self.fail("chain_id", f"must be a positive whole number, got {value!r}")
                return 0
            known = KNOWN_CHAIN_IDS.get(network or "")
            if known is not None and known != value:
                self.fail("chain_id", f"{network} is chain {known}, not {value}")
            return value
        if network is not None and network not in KNOWN_CHAIN_IDS:
            self.fail(
                "chain_id", f"missing: {network} is not a network navlend knows (set chain_id)"
            )
            return 0
        return KNOWN_CHAIN_IDS.get(network or "", 0)

    def collaterals(self, raw: Mapping[str, Any], stablecoin: str | None) -> tuple[Collateral, ...]:
        items = raw.get("collateral")
        if items is None:
            self.fail("collateral", "missing: at least one [[collateral]]")
            return ()
        if (
            not isinstance(items, list)
            or not all(isinstance(i, Mapping) for i in items)
            or not items
        ):
            self.fail("collateral", "must be one or more [[collateral]] tables")
            return ()
        out: list[Collateral] = []
        seen: dict[str, str] = {}
        for index, item in enumerate(items):
            path = f"collateral[{index}]"
            self.table(item, path, COLLATERAL_KEYS)
            token = self.address_at(item, path, "token")
            if token is not None and token == stablecoin:
                self.fail(_join(path, "token"), "is the stablecoin (the market's base asset)")
            if token is not None and token in seen:
                self.fail(_join(path, "token"), f"listed twice (also {seen[token]})")
            elif token is not None:
                seen[token] = path
            name = None
            if "name" in item:
                name = self.string(item, path, "name")
                if name is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                    self.fail(
                        _join(path, "name"),
                        f"{name!r}: lower-case letters, digits and _ (a record name)",
                    )
            out.append(
                Collateral(
                    token=token or "",
                    feed=self.source(item, path, "feed", optional=False) or Existing(""),
                    facility=self.source(item, path, "facility", optional=True),
                    compliance=self.source(item, path, "compliance", optional=True),
                    subscription=self.source(item, path, "subscription", optional=True),
                    ltv=self.fraction(item, path, "ltv", BPS),
                    threshold=self.fraction(item, path, "threshold", BPS),
                    bonus=self.fraction(item, path, "bonus", BPS),
                    supply_cap=self.amount(item, path, "supply_cap"),
                    price_cap=self.amount(item, path, "price_cap", default=Decimal(0)),
                    max_oracle_age=self.duration(item, path, "max_oracle_age"),
                    name=name,
                )
            )
        return tuple(out)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
