"""Several markets in one keeper: which markets, read from their
deployments files, and each market's own configuration.

``deployments`` (``NAVLEND_KEEPER_DEPLOYMENTS=m0/local.json,m1/local.json``,
or a TOML list) names one deployments file per market; each gives its
market, Lens, FlashLiquidator, NAV oracles and first block
(:func:`read_market`). The rest of the configuration (signer, fees,
brakes, scan policy, store) is shared: one keeper process, one signer,
one transaction manager (``keepers/fleet.py``).

Pure (reads the files, nothing on chain). The rules (:func:`markets_problems`,
called by ``keepers.config``'s cross checks, every problem listed):

- every file readable, with ``market``, ``lens`` and ``flash_liquidator``;
- no market twice, no FlashLiquidator in two markets (one serves the
  market it was deployed for: its ``MARKET`` is immutable), one chain id;
- the top-level ``market``, ``lens``, ``flash_liquidator`` and
  ``nav_oracles``, when set, are the first file's (``keepers.config``
  resolves them from it): a market set beside ``deployments`` would be
  ignored otherwise.

``shard_count`` > 1 with ``deployments``: the keeper on several hosts
over every market (``keepers/hosts.py``: each market's positions in
``shard_count`` ranges; the submitter drives the fleet).

On chain, at start, each market's keeper checks its FlashLiquidator is
the signer's and bound to that market (``Keeper.check_setup``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from navlend import deployments

from keepers.types import to_address


class MarketsSettings(Protocol):
    """What the rules read of ``keepers.config.KeeperConfig`` (not
    imported: the configuration imports these rules)."""

    deployments: tuple[Path, ...]
    deployments_file: Path | None
    shard_count: int
    market: str | None
    lens: str | None
    flash_liquidator: str | None
    nav_oracles: tuple[str, ...]
    start_block: int
    db_path: Path


# A KeeperConfig (a frozen dataclass with MarketsSettings' fields).
Config = TypeVar("Config", bound=Any)

# The deployments file's contract names a market's keeper needs.
MARKET_KEYS = ("market", "lens", "flash_liquidator")


class MarketsError(ValueError):
    """A market's deployments file cannot be used; ``problems`` says why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class MarketSpec:
    """One market of a several-market keeper, from its deployments file."""

    deployments_file: Path
    market: str
    lens: str
    flash_liquidator: str
    nav_oracles: tuple[str, ...]
    start_block: int
    chain_id: int


def read_market(path: Path) -> MarketSpec:
    """The market of the deployments file at ``path``; MarketsError names
    the file and every missing or bad entry."""
    try:
        record = deployments.Deployment.from_json(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        raise MarketsError([f"deployments: no deployments file at {path}"]) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MarketsError([f"deployments: {path} cannot be read: {exc}"]) from None
    problems, found = [], {}
    for key in MARKET_KEYS:
        entry = record.get(key)
        if entry is None:
            problems.append(f"deployments: {path} has no {key!r}")
            continue
        try:
            found[key] = to_address(entry.address)
        except ValueError:
            problems.append(f"deployments: {path}: {key} is not an address: {entry.address!r}")
    if problems:
        raise MarketsError(problems)
    oracles = tuple(to_address(r.address) for r in record.contracts.values() if r.contract_type == "NavOracle")
    return MarketSpec(Path(path), found["market"], found["lens"], found["flash_liquidator"], oracles,
                      int(record.block), int(record.chain_id))


def read_markets(paths: tuple[Path, ...]) -> tuple[tuple[MarketSpec, ...], list[str]]:
    """Every readable market of ``paths`` and the problems of the others."""
    specs, problems = [], []
    for path in paths:
        try:
            specs.append(read_market(path))
        except MarketsError as err:
            problems.extend(err.problems)
    return tuple(specs), problems


def spec_problems(specs: tuple[MarketSpec, ...]) -> list[str]:
    """Pure: a market or a FlashLiquidator listed twice, or markets on
    different chains."""
    problems = []
    seen_market: dict[str, Path] = {}
    seen_flash: dict[str, MarketSpec] = {}
    for spec in specs:
        if spec.market in seen_market:
            problems.append(f"deployments: market {spec.market} is listed twice ({seen_market[spec.market]} and "
                            f"{spec.deployments_file}); each market once")
        else:
            seen_market[spec.market] = spec.deployments_file
        other = seen_flash.get(spec.flash_liquidator)
        if other is not None and other.market != spec.market:
            problems.append(f"deployments: flash_liquidator {spec.flash_liquidator} is listed for market "
                            f"{other.market} ({other.deployments_file}) and market {spec.market} "
                            f"({spec.deployments_file}); a FlashLiquidator serves the one market it was deployed for")
        seen_flash.setdefault(spec.flash_liquidator, spec)
    chains = sorted({spec.chain_id for spec in specs})
    if len(chains) > 1:
        per = ", ".join(f"{s.deployments_file}: {s.chain_id}" for s in specs)
        problems.append(f"deployments: the markets are on different chains ({per}); one keeper serves one chain "
                        "(run one keeper per chain)")
    return problems


def markets_problems(config: MarketsSettings) -> list[str]:
    """Every problem of ``config``'s several-market settings (none when
    ``deployments`` is empty: one market, as before)."""
    if not config.deployments:
        return []
    specs, problems = read_markets(config.deployments)
    problems += spec_problems(specs)
    if config.deployments_file is not None and Path(config.deployments_file) not in set(map(Path, config.deployments)):
        problems.append(f"deployments_file: {config.deployments_file} is set beside deployments and is not one of "
                        "them (unset it: the markets come from deployments)")
    if specs and specs[0].deployments_file == Path(config.deployments[0]):
        first = specs[0]
        for key in MARKET_KEYS:
            value = getattr(config, key)
            if value is not None and value != getattr(first, key):
                problems.append(f"{key}: {value} is set beside deployments; each market's {key} comes from its "
                                f"deployments file (unset {key}, or list its file in deployments)")
        if config.nav_oracles and config.nav_oracles != first.nav_oracles:
            problems.append("nav_oracles: set beside deployments; each market's NAV oracles come from its "
                            "deployments file (unset nav_oracles)")
    return problems


def market_db_path(db_path: Path, market: str) -> Path:
    """The SQLite index file of ``market`` beside ``db_path`` (SQLite
    keeps one file per store; on PostgreSQL the markets share the database,
    each index in its own schema)."""
    path = Path(db_path)
    return path.with_name(f"{path.stem}-{market[2:].lower()}{path.suffix}")


def market_config(config: Config, spec: MarketSpec) -> Config:
    """``config`` for one market: the market's addresses, NAV oracles,
    deployments file, first block (the file's, else the configured one)
    and, on SQLite, its own index file; ``deployments`` emptied (one
    market)."""
    return replace(
        config,
        deployments=(),
        deployments_file=spec.deployments_file,
        market=spec.market,
        lens=spec.lens,
        flash_liquidator=spec.flash_liquidator,
        nav_oracles=spec.nav_oracles,
        start_block=spec.start_block or config.start_block,
        db_path=market_db_path(config.db_path, spec.market),
    )


def market_configs(config: Config) -> tuple[Config, ...]:
    """Each market's configuration, in ``deployments`` order; ``(config,)``
    for a one-market configuration. MarketsError when a file is bad (a
    validated configuration has none)."""
    if not config.deployments:
        return (config,)
    specs, problems = read_markets(config.deployments)
    problems += spec_problems(specs)
    if problems:
        raise MarketsError(problems)
    return tuple(market_config(config, spec) for spec in specs)


__all__ = [
    "MARKET_KEYS", "MarketSpec", "MarketsSettings", "MarketsError", "market_config", "market_configs", "market_db_path",
    "markets_problems", "read_market", "read_markets", "spec_problems",
]
