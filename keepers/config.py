"""The keeper's configuration: a TOML file, then ``NAVLEND_KEEPER_*``
environment variables over it, validated once at start.

Sources, lowest precedence first:

1. the field defaults below;
2. a TOML file (``load_config(path)``, or the path in
   ``NAVLEND_KEEPER_CONFIG``): flat keys, at the top level or under a
   ``[keeper]`` table;
3. ``NAVLEND_KEEPER_<FIELD>`` variables (``NAVLEND_KEEPER_DRY_RUN=true``,
   ``NAVLEND_KEEPER_NAV_ORACLES=0xabc...,0xdef...``).

Addresses left unset are read from the deployments file
(``deployments/<network>.json``, see ``navlend/deployments.py``):
``market``, ``lens``, ``flash_liquidator`` and every ``NavOracle``; so is
``start_block`` (the backfill's first block: the deployment's ``block``,
before which the market has no log) when neither the file nor the
environment sets it.

The network: ``network`` is an override only. The bot runs under
``silverback run ... --network ecosystem:network:provider``; its network
part (``network_choice``, from ``SILVERBACK_NETWORK_CHOICE``) is the
network, and a configured ``network`` that names another one is refused.
At start the bot checks the connected node (:func:`check_node`): its
network, and its chain id against the deployments file's ``chain_id``.

Type coercion and bounds are pydantic's (a ``TypeAdapter`` over the plain
dataclass); this module adds the source overlay, the deployments lookup and
the cross-field rules, and turns every problem into one :class:`ConfigError`
that names each bad key, its value and where it came from.
"""

from __future__ import annotations

import difflib
import json
import os
import runpy
import tomllib
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Mapping

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AfterValidator, TypeAdapter, ValidationError

from navlend import deployments
from navlend.constants import BPS, WAD

from keepers.localhealth import DEFAULT_EDGE_BPS
from keepers.markets import markets_problems
from keepers.shards import MAX_PARTS
from keepers.store import StoreError, mask_url, parse_location
from keepers.submit import route_problems
from keepers.types import LENS_MAX_ACCOUNTS, to_address

ENV_PREFIX = "NAVLEND_KEEPER_"
# Names a config file; not a field.
CONFIG_PATH_ENV = ENV_PREFIX + "CONFIG"
# Nodes accept a same-nonce replacement only 10 % above the old fees.
MIN_FEE_BUMP = Decimal("1.1")
MAX_FEE_BUMP = Decimal("2")
GWEI = 10**9
# FlashLiquidator.MAX_BATCH.
MAX_LIQUIDATION_BATCH = 24
# Where a value came from (``load_config_traced``'s origins).
FROM_DEFAULT = "default"
FROM_DEPLOYMENTS = "deployments file"
FROM_NETWORK_CHOICE = "silverback --network"
# What a boolean may be written as in the environment (any case).
BOOL_WORDS = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off"})


def _address_or_none(value: str | None) -> str | None:
    """A checksummed address, or None; ValueError names a bad one."""
    return None if value is None or value == "" else to_address(value)


class ConfigError(ValueError):
    """The configuration cannot be used; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid keeper configuration:\n  - " + "\n  - ".join(self.problems))


@dataclass(frozen=True)
class KeeperConfig:
    """Everything a keeper process needs to know at start.

    Money is in human units (USD, ETH, gwei) as an operator writes it; the
    ``*_base`` / ``*_wei`` / ``*_wad`` properties give the chain units."""

    # --- where ---
    network: str = "local"
    deployments_file: Path | None = None
    market: str | None = None
    lens: str | None = None
    flash_liquidator: str | None = None
    nav_oracles: tuple[str, ...] = ()
    base_decimals: Annotated[int, Ge(0), Le(36)] = 6
    # --- who ---
    signer_alias: str = ""
    # --- index ---
    # A new index's first block; load_config takes the deployments file's
    # ``block`` when neither the file nor the environment sets it.
    start_block: Annotated[int, Ge(0)] = 0
    backfill_chunk_blocks: Annotated[int, Ge(1)] = 2_000
    finality_depth: Annotated[int, Ge(1)] = 64
    db_path: Path = Path(".keeper/index.sqlite")
    # --- scan ---
    scan_batch_size: Annotated[int, Ge(1), Le(LENS_MAX_ACCOUNTS)] = LENS_MAX_ACCOUNTS
    near_edge_hf: Annotated[Decimal, Gt(1)] = Decimal("1.05")
    # A NAV update's full scan reads positions below this health factor
    # first (riskiest first) and acts on them before reading the rest: a
    # NAV drop of up to 1 - 1/1.25 = 20 % can only sink positions below it.
    nav_first_hf: Annotated[Decimal, Gt(1)] = Decimal("1.25")
    healthy_scan_interval: Annotated[int, Ge(1)] = 10
    shard_count: Annotated[int, Ge(1)] = 1
    shard_id: Annotated[int, Ge(0)] = 0
    # --- profit ---
    min_profit_usd: Annotated[Decimal, Ge(0)] = Decimal("1")
    safety_buffer_usd: Annotated[Decimal, Ge(0)] = Decimal("1")
    eth_usd: Annotated[Decimal, Gt(0)] = Decimal("3000")
    gas_limit_redeem: Annotated[int, Gt(0)] = 450_000
    gas_limit_seize: Annotated[int, Gt(0)] = 250_000
    min_out_tolerance_bps: Annotated[int, Ge(0), Lt(BPS)] = 100
    cleanup_mode: bool = False
    # Redeem-route positions per FlashLiquidator.liquidate_many (one flash
    # loan, one transaction); 1 sends one transaction per position.
    liquidation_batch_size: Annotated[int, Ge(1), Le(MAX_LIQUIDATION_BATCH)] = 10
    # --- transactions ---
    max_fee_gwei: Annotated[Decimal, Gt(0)] = Decimal("200")
    priority_fee_gwei: Annotated[Decimal, Ge(0)] = Decimal("1")
    fee_bump: Decimal = Decimal("1.125")
    max_fee_bumps: Annotated[int, Ge(0)] = 5
    pending_timeout_blocks: Annotated[int, Ge(1)] = 3
    dry_run: bool = False
    # --- operations ---
    metrics_host: str = "127.0.0.1"
    metrics_port: Annotated[int, Ge(0), Le(65_535)] = 9_108
    low_balance_eth: Annotated[Decimal, Ge(0)] = Decimal("0.05")
    redis_url: str | None = None
    # --- brakes and profit model (keepers/brakes.py, profit.py, treasury.py) ---
    # Gas budgets in ETH actually paid (receipts); None turns one off.
    max_gas_per_tx_eth: Annotated[Decimal, Gt(0)] | None = Decimal("0.1")
    max_gas_per_hour_eth: Annotated[Decimal, Gt(0)] | None = Decimal("1")
    max_gas_per_day_eth: Annotated[Decimal, Gt(0)] | None = Decimal("5")
    max_consecutive_failures: Annotated[int, Ge(1)] = 5
    balance_floor_eth: Annotated[Decimal, Ge(0)] = Decimal("0.01")
    # Its presence halts every send while the keeper runs.
    kill_file: Path | None = Path(".keeper/STOP")
    # Chainlink AggregatorV3 ETH/USD; eth_usd is the fallback only.
    eth_usd_feed: Annotated[str | None, AfterValidator(_address_or_none)] = None
    eth_usd_max_age_seconds: Annotated[int, Gt(0)] = 3_600
    # Redeem-route gas per transaction: fixed + per position (measured).
    gas_redeem_fixed: Annotated[int, Ge(0)] = 177_260
    gas_redeem_per_position: Annotated[int, Gt(0)] = 52_583
    gas_margin_bps: Annotated[int, Ge(BPS), Le(4 * BPS)] = BPS
    # OP-stack GasPriceOracle (0x420000000000000000000000000000000000000F); unset elsewhere.
    l1_fee_oracle: Annotated[str | None, AfterValidator(_address_or_none)] = None
    # The tip: this share of the expected profit, at most tip_cap_gwei a gas.
    tip_share_bps: Annotated[int, Ge(0), Le(BPS)] = 0
    tip_cap_gwei: Annotated[Decimal, Ge(0)] = Decimal("50")
    # Profit above the float goes to the receiver (never the signer).
    profit_receiver: Annotated[str | None, AfterValidator(_address_or_none)] = None
    sweep_float_usd: Annotated[Decimal, Ge(0)] = Decimal("0")
    min_sweep_usd: Annotated[Decimal, Ge(0)] = Decimal("100")
    # The market's stablecoin allowance for the seize route, at most.
    seize_approval_usd: Annotated[Decimal, Gt(0)] = Decimal("100000")
    approval_reset_first: bool = False
    # --- running (keepers/run.py, keepers/configcli.py, keepers/passphrase.py) ---
    # Send on a network that is not local (``python -m keepers.run --live``);
    # dry run there otherwise (keepers.brakes.effective_dry_run).
    live: bool = False
    # Run with no NAV oracle (no NAV-triggered full scan); refused unless set.
    allow_no_nav_oracles: bool = False
    # A file holding the signer's Ape keyfile passphrase; mode 0600 or stricter.
    passphrase_file: Path | None = None
    # --- operations: metrics and health (i16-ops) ---
    # /healthz fails while a transaction has been in flight longer than
    # this (or is past its expiry: a cancel not mined yet).
    stuck_tx_max_age_seconds: Annotated[int, Gt(0)] = 600
    # Sharded scan workers (shard_count > 1): each process serves /metrics
    # and /healthz on the first free port of this range.
    scan_metrics_port: Annotated[int, Ge(1), Le(65_535)] = 9_120
    scan_metrics_ports: Annotated[int, Ge(1), Le(1_024)] = 16
    # --- submission routes (keepers/submit.py) ---
    # Fallback order: public (the node), private (private_rpc_url), bundle
    # (eth_sendBundle to builder_urls), sequencer (sequencer_url).
    submit_routes: tuple[str, ...] = ("public",)
    private_rpc_url: str | None = None
    builder_urls: tuple[str, ...] = ()
    sequencer_url: str | None = None
    # Blocks after the head each bundle is offered for.
    bundle_blocks: Annotated[int, Ge(1), Le(25)] = 3
    submit_timeout_seconds: Annotated[Decimal, Gt(0)] = Decimal("10")
    # On a pending NAV: plan the positions it would sink, send them in the
    # confirmation's block (bundled behind it where bundles are a route).
    pending_nav_plans: bool = True
    # --- rpc endpoints (keepers/rpc.py; wired in keepers/wiring.py) ---
    # Read endpoints in failover order; empty: the Ape provider's URI.
    rpc_urls: tuple[str, ...] = ()
    # Where eth_sendRawTransaction goes; unset: the read endpoints.
    send_rpc_url: str | None = None
    # Seconds per HTTP call, every call.
    rpc_timeout_seconds: Annotated[Decimal, Gt(0)] = Decimal("10")
    # Requests a second per endpoint (and at once), below the provider's limit.
    rpc_rate_per_second: Annotated[Decimal, Gt(0)] = Decimal("100")
    rpc_burst: Annotated[int, Ge(1)] = 200
    # A call gives up after this long waiting for endpoints (429s, outages).
    rpc_max_wait_seconds: Annotated[Decimal, Ge(0)] = Decimal("60")
    # --- shared index store (keepers/store.py; i17-pg) ---
    # The index and the transactions in flight in PostgreSQL, shared by
    # several hosts (postgresql://user:password@host:5432/navlend); unset:
    # SQLite at db_path, one host.
    db_url: str | None = None
    # --- several hosts ---
    # Scanner workers (keepers/bots/scanner.py, shard_count > 1): each
    # market's positions in shard_count address ranges, one block task each
    # (keepers/shards.py); a range is scanned one block in scan_every_blocks.
    scan_every_blocks: Annotated[int, Ge(1), Le(1_000)] = 1
    # This submitter syncs the index from the chain's logs, the one writer
    # (false: a second submitter, with another signing key, only reads it).
    index_writer: bool = True
    # --- local health (keepers/localkeeper.py; i17-local) ---
    # Health factors computed from the index each block; the Lens is asked
    # only about the candidates and the near-edge band (false: the Lens
    # reads every position on the scan schedule).
    local_health: bool = True
    # Seconds between full Lens sweeps checking the local figures of every
    # position (mismatches logged and counted); 0: never.
    health_sweep_seconds: Annotated[int, Ge(0)] = 3_600
    # Positions whose liquidation value is within this many basis points
    # above their debt are re-checked with the Lens every block.
    health_edge_bps: Annotated[int, Ge(0), Le(BPS)] = DEFAULT_EDGE_BPS
    # Assets whose price is read every block (asset_price), besides those
    # whose oracle is not among nav_oracles (always read).
    read_priced_assets: tuple[Annotated[str, AfterValidator(to_address)], ...] = ()
    # Blocks between compactions of the index below the finalized block
    # (head - finality_depth); 0: never.
    compact_every_blocks: Annotated[int, Ge(0)] = 1_000
    # --- several markets (keepers/markets.py, keepers/fleet.py; i17-multi) ---
    # One deployments file per market (market, lens, flash_liquidator, NAV
    # oracles each); empty: the one market of deployments_file / the
    # addresses above. One signer, one transaction manager for them all.
    deployments: tuple[Path, ...] = ()

    # -- chain units --

    @property
    def base_unit(self) -> int:
        return 10**self.base_decimals

    @property
    def min_profit_base(self) -> int:
        return _scale(self.min_profit_usd, self.base_unit)

    @property
    def safety_buffer_base(self) -> int:
        return _scale(self.safety_buffer_usd, self.base_unit)

    @property
    def eth_usd_base(self) -> int:
        """Stablecoin base units per whole ETH."""
        return _scale(self.eth_usd, self.base_unit)

    @property
    def near_edge_hf_wad(self) -> int:
        return _scale(self.near_edge_hf, WAD)

    @property
    def nav_first_hf_wad(self) -> int:
        return _scale(self.nav_first_hf, WAD)

    @property
    def max_fee_wei(self) -> int:
        return _scale(self.max_fee_gwei, GWEI)

    @property
    def priority_fee_wei(self) -> int:
        return _scale(self.priority_fee_gwei, GWEI)

    @property
    def low_balance_wei(self) -> int:
        return _scale(self.low_balance_eth, 10**18)

    @property
    def balance_floor_wei(self) -> int:
        return _scale(self.balance_floor_eth, 10**18)

    def budget_wei(self, field_name: str) -> int | None:
        """A ``max_gas_per_*_eth`` budget in wei, or None when off."""
        value = getattr(self, field_name)
        return None if value is None else _scale(value, 10**18)

    def log_fields(self) -> dict[str, Any]:
        """The settings worth logging at start (db_url's password masked;
        nothing else secret is held here)."""
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["db_url"] = None if self.db_url is None else mask_url(self.db_url)
        return out


_ADAPTER = TypeAdapter(KeeperConfig)
_FIELDS = {f.name: f for f in fields(KeeperConfig)}
_ADDRESS_FIELDS = ("market", "lens", "flash_liquidator")
_TUPLE_FIELDS = ("nav_oracles",)
_TUPLE_FIELDS += ("submit_routes", "builder_urls")  # submission routes
_TUPLE_FIELDS += ("rpc_urls",)  # rpc endpoints
_TUPLE_FIELDS += ("read_priced_assets",)  # local health
_TUPLE_FIELDS += ("deployments",)  # several markets


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    network_choice: str | None = None,
) -> KeeperConfig:
    """Reads, merges and validates the configuration (module docstring).
    ``network_choice`` is Silverback's ``--network`` (``ethereum:sepolia:node``)
    when known. Raises :class:`ConfigError` listing every problem found."""
    return load_config_traced(path, env, network_choice=network_choice).config


@dataclass(frozen=True)
class TracedConfig:
    """A validated configuration and where each field's value came from:
    ``default``, the file's path, ``$NAVLEND_KEEPER_<FIELD>``, ``deployments
    file`` or ``silverback --network``."""

    config: KeeperConfig
    origins: Mapping[str, str]


def load_config_traced(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    network_choice: str | None = None,
) -> TracedConfig:
    """:func:`load_config`, with each field's origin."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []

    path = path if path is not None else env.get(CONFIG_PATH_ENV) or None
    if path is not None:
        _read_file(Path(path), raw, origin, problems)
    _read_env(env, raw, origin, problems)
    problems.extend(_type_problems(raw, origin))
    _take_network(network_choice, raw, origin, problems)

    try:
        config = _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            got = raw.get(key, "<missing>")
            problems.append(f"{key}: {err['msg']} (got {got!r} from {origin.get(key, FROM_DEFAULT)})")
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)

    if config.deployments and config.deployments_file is None:
        # Several markets: the top-level addresses are the first market's.
        config = replace(config, deployments_file=config.deployments[0])
        origin["deployments_file"] = f"the first of deployments ({origin.get('deployments', FROM_DEFAULT)})"
    deployment = _DeploymentOnce(config, problems)
    before = config
    config = _resolve_addresses(config, origin, problems, deployment)
    if "start_block" not in raw:
        config = _start_at_deployment(config, deployment)
    for f in fields(config):
        if f.name not in origin and getattr(config, f.name) != getattr(before, f.name):
            origin[f.name] = FROM_DEPLOYMENTS
    problems.extend(_cross_checks(config))
    if problems:
        raise ConfigError(problems)
    return TracedConfig(config, {f.name: origin.get(f.name, FROM_DEFAULT) for f in fields(config)})


# ---------------------------------------------------------------- #
#                              SOURCES                              #
# ---------------------------------------------------------------- #


def _read_file(path: Path, raw: dict[str, Any], origin: dict[str, str], problems: list[str]) -> None:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        problems.append(f"config file not found: {path}")
        return
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"config file {path} cannot be read: {exc}")
        return
    table = data.get("keeper", data)
    if not isinstance(table, dict):
        problems.append(f"config file {path}: [keeper] must be a table")
        return
    for key, value in table.items():
        if key not in _FIELDS:
            problems.append(f"{path}: unknown key {key!r}{_suggest(key)}")
            continue
        raw[key] = value
        origin[key] = str(path)


def _read_env(env: Mapping[str, str], raw: dict[str, Any], origin: dict[str, str], problems: list[str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_PATH_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in _FIELDS:
            problems.append(f"unknown environment variable {name}{_suggest(key)}")
            continue
        if key in _TUPLE_FIELDS:
            raw[key] = tuple(part.strip() for part in value.split(",") if part.strip())
        elif value == "" and _optional(key):
            raw[key] = None
        else:
            raw[key] = value
        origin[key] = f"${name}"


def _optional(key: str) -> bool:
    """The field takes None (an empty variable sets it so: an unset
    address, or a brake turned off)."""
    field = _FIELDS[key]
    return field.default is None or "None" in str(field.type)


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, list(_FIELDS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(key: str) -> str:
    """The value kind a field takes: bool, int, decimal, path, tuple or str."""
    text = str(_FIELDS[key].type)
    for kind, marker in (("bool", "bool"), ("tuple", "tuple["), ("decimal", "Decimal"), ("path", "Path")):
        if marker in text:
            return kind
    return "int" if text == "int" or text.startswith("Annotated[int") else "str"


def _type_problems(raw: dict[str, Any], origin: Mapping[str, str]) -> list[str]:
    """The type mistakes pydantic's lax mode lets through: ``true`` for a
    number, ``1`` (a number) or ``"maybe"`` for a boolean, an empty value for
    a name or a path. A TOML float for a decimal field is read from its text
    (``0.1``, not the binary ``0.1000000000000000055...``). A bad value is
    taken out of ``raw``, so that pydantic still reports the other fields."""
    problems = []
    for key, value in list(raw.items()):
        kind, where = _kind(key), origin.get(key, FROM_DEFAULT)
        if kind == "bool":
            ok = isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in BOOL_WORDS)
            if not ok:
                problems.append(f"{key}: must be true or false (got {value!r} from {where})")
                del raw[key]
        elif kind in ("int", "decimal") and isinstance(value, bool):
            problems.append(f"{key}: must be a number, not a boolean (got {value!r} from {where})")
            del raw[key]
        elif kind == "decimal" and isinstance(value, float):
            raw[key] = repr(value)
        elif (kind in ("str", "path") and isinstance(value, str) and not value.strip() and not _optional(key)
              and key != "signer_alias"):  # _cross_checks says how to set the alias
            problems.append(f"{key}: must not be empty (got {value!r} from {where})")
            del raw[key]
    return problems


def _take_network(choice: str | None, raw: dict[str, Any], origin: dict[str, str], problems: list[str]) -> None:
    """The network from Silverback's ``--network``: a configured ``network``
    is only an override that must agree with it."""
    derived = network_of_choice(choice)
    if derived is None:
        return
    configured = raw.get("network")
    if isinstance(configured, str) and configured.strip():
        if bare_network(configured) != derived:
            problems.append(
                f"network: {configured!r} (from {origin['network']}) disagrees with silverback --network "
                f"{choice!r} ({derived}); remove the override or run on that network"
            )
        return
    raw["network"] = derived
    origin["network"] = FROM_NETWORK_CHOICE


def bare_network(network: str) -> str:
    """A configured network's name: ``ethereum:sepolia`` -> ``sepolia``; a
    bare name is itself (lower case)."""
    return network_of_choice(network) or network.strip().lower()


def network_of_choice(choice: str | None) -> str | None:
    """The network part of an Ape network choice (``ethereum:sepolia:node``
    and ``ethereum:sepolia:https://...`` -> ``sepolia``); None when it does
    not name one (unset, ``auto``, a bare URL or ecosystem)."""
    if not choice or not choice.strip():
        return None
    parts = choice.strip().split(":", 2)
    if len(parts) < 2 or parts[0].lower() in ("http", "https", "ws", "wss") or not parts[1].strip():
        return None
    return parts[1].strip().lower()


# ---------------------------------------------------------------- #
#                         ADDRESSES AND RULES                       #
# ---------------------------------------------------------------- #


class _DeploymentOnce:
    """The deployments file, read at most once for all the fields that
    fall back on it (a problem with it is listed once)."""

    def __init__(self, config: KeeperConfig, problems: list[str]) -> None:
        self._config, self._problems = config, problems
        self._read = False
        self._deployment: Any = None

    def __call__(self, required: bool) -> Any:
        """The deployment, or None; ``required``: its absence is a problem
        (the addresses ask first, so a required read is never preceded by
        an optional one)."""
        if not self._read:
            self._read = True
            self._deployment = _load_deployment(self._config, self._problems, required)
        return self._deployment


def _start_at_deployment(config: KeeperConfig, deployment: _DeploymentOnce) -> KeeperConfig:
    """``start_block`` from the deployments file's ``block`` (the block of
    the deployment's first transaction), when the file is there; the
    default (0: from genesis) otherwise."""
    record = deployment(required=False)
    if record is None or not record.block:
        return config
    return replace(config, start_block=int(record.block))


def _resolve_addresses(
    config: KeeperConfig, origin: dict[str, str], problems: list[str], deployment: _DeploymentOnce
) -> KeeperConfig:
    """Checksums the given addresses and fills the missing ones from the
    deployments file."""
    values: dict[str, Any] = {}
    for key in _ADDRESS_FIELDS:
        value = getattr(config, key)
        if value is not None:
            values[key] = _checked_address(key, value, origin, problems)
    oracles = tuple(_checked_address("nav_oracles", o, origin, problems) for o in config.nav_oracles)

    missing = [k for k in _ADDRESS_FIELDS if getattr(config, k) is None]
    if missing or not oracles:
        deployment = deployment(required=bool(missing))
        if deployment is not None:
            for key in missing:
                record = deployment.get(key)
                if record is None:
                    problems.append(f"{key}: not set and not in the deployments file (set {ENV_PREFIX}{key.upper()})")
                else:
                    values[key] = _checked_address(key, record.address, {key: "deployments file"}, problems)
            if not oracles:
                oracles = tuple(
                    to_address(r.address) for r in deployment.contracts.values() if r.contract_type == "NavOracle"
                )
    values["nav_oracles"] = tuple(oracles)
    return replace(config, **values)


def _load_deployment(config: KeeperConfig, problems: list[str], required: bool) -> Any:
    path = config.deployments_file or deployments.deployments_path(config.network)
    try:
        return deployments.Deployment.from_json(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        if required:
            problems.append(
                f"no deployments file at {path} to read missing addresses from "
                f"(run `ape run deploy`, set deployments_file, or set the addresses)"
            )
    except (OSError, ValueError, KeyError) as exc:
        problems.append(f"deployments file {path} cannot be read: {exc}")
    return None


def _checked_address(key: str, value: Any, origin: Mapping[str, str], problems: list[str]) -> str | None:
    try:
        return to_address(value)
    except ValueError:
        problems.append(f"{key}: not an address: {value!r} (from {origin.get(key, 'defaults')})")
        return None


def _cross_checks(config: KeeperConfig) -> list[str]:
    problems = []
    if not config.signer_alias.strip():
        problems.append(f"signer_alias: required (an Ape account alias, e.g. TEST::0; set {ENV_PREFIX}SIGNER_ALIAS)")
    if config.shard_id >= config.shard_count:
        problems.append(f"shard_id: {config.shard_id} must be below shard_count {config.shard_count}")
    problems.extend(_running_checks(config))
    if not MIN_FEE_BUMP <= config.fee_bump <= MAX_FEE_BUMP:
        problems.append(f"fee_bump: {config.fee_bump} must be between {MIN_FEE_BUMP} and {MAX_FEE_BUMP} (nodes need +10 %)")
    if config.priority_fee_gwei > config.max_fee_gwei:
        problems.append(f"priority_fee_gwei: {config.priority_fee_gwei} is above max_fee_gwei {config.max_fee_gwei}")
    if config.balance_floor_eth > config.low_balance_eth:
        problems.append(
            f"balance_floor_eth: {config.balance_floor_eth} is above low_balance_eth {config.low_balance_eth} "
            "(the low-balance alert must come before sending stops)"
        )
    budgets = [(k, getattr(config, k)) for k in ("max_gas_per_tx_eth", "max_gas_per_hour_eth", "max_gas_per_day_eth")]
    for (small, a), (large, b) in zip(budgets, budgets[1:]):
        if a is not None and b is not None and a > b:
            problems.append(f"{small}: {a} is above {large} {b}")
    if config.tip_cap_gwei > config.max_fee_gwei:
        problems.append(f"tip_cap_gwei: {config.tip_cap_gwei} is above max_fee_gwei {config.max_fee_gwei}")
    if config.tip_share_bps and config.priority_fee_gwei > config.tip_cap_gwei:
        problems.append(f"priority_fee_gwei: {config.priority_fee_gwei} (the tip's floor) is above tip_cap_gwei {config.tip_cap_gwei}")
    problems.extend(_route_checks(config))
    problems += _ops_checks(config)
    problems.extend(_rpc_checks(config))
    problems.extend(_store_checks(config))
    problems.extend(_hosts_checks(config))
    problems.extend(_local_health_checks(config))
    problems.extend(_markets_checks(config))
    return problems


def _hosts_checks(config: KeeperConfig) -> list[str]:
    """The scanner workers' shards (several hosts, keepers/shards.py)."""
    problems = []
    if config.shard_count > MAX_PARTS:
        problems.append(f"shard_count: {config.shard_count} is above {MAX_PARTS} ranges per market")
    if config.scan_every_blocks > 1 and config.shard_count == 1:
        problems.append(f"scan_every_blocks: {config.scan_every_blocks} needs the scanner workers (shard_count > 1); "
                        "the single-process keeper has its own schedule (healthy_scan_interval)")
    return problems


def _local_health_checks(config: KeeperConfig) -> list[str]:
    """Health from the index (keepers/localkeeper.py): each read-priced
    asset named once (the bounds of the other fields are their types')."""
    seen = list(config.read_priced_assets)
    twice = sorted({a for a in seen if seen.count(a) > 1})
    if twice:
        return [f"read_priced_assets: listed more than once: {', '.join(twice)}"]
    return []
def _markets_checks(config: KeeperConfig) -> list[str]:
    """Several markets (keepers/markets.py): each file readable, no market
    or FlashLiquidator twice, one chain."""
    return markets_problems(config)


def _store_checks(config: KeeperConfig) -> list[str]:
    """``db_url`` is a PostgreSQL (or sqlite:///) URL the driver can parse."""
    if config.db_url is None:
        return []
    try:
        parse_location(config.db_url)
    except (ValueError, StoreError) as err:  # StoreError: the driver is missing (a broken setup)
        return [f"db_url: {err}"]
    return []


def _ops_checks(config: KeeperConfig) -> list[str]:
    """The scan workers' metrics port range (i16-ops)."""
    problems = []
    last = config.scan_metrics_port + config.scan_metrics_ports - 1
    if last > 65_535:
        problems.append(f"scan_metrics_ports: {config.scan_metrics_port}-{last} goes past port 65535")
    if config.scan_metrics_port <= config.metrics_port <= last:
        problems.append(f"metrics_port: {config.metrics_port} is inside the scan workers' range "
                        f"{config.scan_metrics_port}-{last} (scan_metrics_port, scan_metrics_ports)")
    return problems


def _running_checks(config: KeeperConfig) -> list[str]:
    """The rules of running it (keepers/run.py): shards need Redis."""
    problems = []
    if config.shard_count > 1 and not (config.redis_url or "").strip():
        problems.append(
            f"redis_url: required when shard_count is {config.shard_count} (the shards share a Redis broker; "
            f"set {ENV_PREFIX}REDIS_URL, e.g. redis://127.0.0.1:6379/0)"
        )
    return problems


def bot_problems(config: KeeperConfig) -> list[str]:
    """What a running bot needs beyond a valid configuration (the library
    and its tests build keepers without NAV oracles): at least one NAV
    oracle, unless ``allow_no_nav_oracles`` says to run without."""
    if config.nav_oracles or config.allow_no_nav_oracles:
        return []
    return [
        "nav_oracles: empty: neither the configuration nor the deployments file names a NavOracle, so a NAV "
        f"update would trigger no scan (set {ENV_PREFIX}NAV_ORACLES, or allow_no_nav_oracles = true to run "
        "on the healthy-scan interval alone)"
    ]


@dataclass(frozen=True)
class NodeCheck:
    """What :func:`check_node` found: the deployments file's chain id
    (None when there is no file to compare with)."""

    node_network: str
    node_chain_id: int
    deployment_chain_id: int | None


def check_node(config: KeeperConfig, node_network: str, node_chain_id: int) -> NodeCheck:
    """The connected node against the configuration: its network (Ape's
    name, ``sepolia``) must be ``config.network``, and its chain id the
    deployments file's ``chain_id`` (checked whenever the file is there:
    with every address set explicitly there may be none). Raises
    :class:`ConfigError` naming both sides."""
    problems = []
    if bare_network(node_network) != bare_network(config.network):
        problems.append(
            f"network: the node is on {node_network!r} but the configuration says {config.network!r} "
            "(start it with `python -m keepers.run --network ...`, which hands the network to the "
            "configuration, or fix the network override)"
        )
    path = Path(config.deployments_file or deployments.deployments_path(config.network))
    expected = None
    try:
        expected = int(json.loads(path.read_text())["chain_id"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"deployments file {path}: no readable chain_id ({exc})")
    if expected is not None and expected != node_chain_id:
        problems.append(
            f"chain id: the node answers {node_chain_id} but the deployments file {path} was written for "
            f"chain {expected} (wrong RPC URL, or the wrong deployments file)"
        )
    if problems:
        raise ConfigError(problems)
    return NodeCheck(node_network, node_chain_id, expected)


def _route_checks(config: KeeperConfig) -> list[str]:
    """The submission routes (keepers/submit.py): known names, each with its URL."""
    return route_problems(config.submit_routes, config.private_rpc_url, config.builder_urls,
                          config.sequencer_url, config.bundle_blocks)


def _rpc_checks(config: KeeperConfig) -> list[str]:
    """The endpoints are http(s) URLs, none listed twice."""
    problems = []
    urls = [("rpc_urls", url) for url in config.rpc_urls]
    if config.send_rpc_url is not None:
        urls.append(("send_rpc_url", config.send_rpc_url))
    for key, url in urls:
        if not url.startswith(("http://", "https://")) or "://" == url[-3:]:
            problems.append(f"{key}: {_mask_url(url)!r} is not an http(s) URL")
    if len(set(config.rpc_urls)) != len(config.rpc_urls):
        problems.append("rpc_urls: an endpoint is listed twice")
    return problems


def _mask_url(url: str) -> str:
    """A URL's scheme and host only (keys in paths stay out of messages)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rsplit('@', 1)[-1]}/..." if rest else url


def _scale(amount: Decimal, unit: int) -> int:
    """``amount`` x ``unit`` as an integer, rounded down."""
    return int(amount * unit)


def _plain(value: Any) -> Any:
    if isinstance(value, (Decimal, Path)):
        return str(value)
    return value


if __name__ == "__main__":
    # ``python -m keepers.config``: the command line is keepers/configcli.py.
    # It imports this file as ``keepers.config``; run as ``__main__`` here,
    # this file is not that module, so running it (not importing it) keeps
    # configcli -> config the only edge between the two.
    runpy.run_module("keepers.configcli", run_name="__main__", alter_sys=True)
