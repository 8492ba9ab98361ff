"""Who an operator's change puts at risk: each borrower's position revalued
under an asset's new terms (price, staleness, LTV, threshold) by the
market's own rules, and the accounts the change makes liquidatable or
pushes under the warning level. Also the borrowers' list of
``ape run positions``: lowest health factor first. No chain, no I/O
(:mod:`navlend.cli.book` reads the positions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from navlend.cli.preview import Preview, preview, project
from navlend.cli.records import Position
from navlend.cli.risk import total_value


@dataclass(frozen=True)
class AssetTerms:
    """What a change does to one listed asset (``name``): its price per
    booked unit as the market will read it, its staleness, LTV or
    threshold; None leaves that figure as it is."""

    name: str
    price: int | None = None
    stale: bool | None = None
    ltv_bps: int | None = None
    threshold_bps: int | None = None

    def changes(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k != "name" and v is not None}


def reprice(position: Position, terms: AssetTerms) -> Position:
    """``position`` revalued with ``terms`` applied to its holding of the
    asset (unchanged when it holds none)."""
    held = position.holding(terms.name)
    if held is None:
        return position
    changed = replace(held, **terms.changes())
    holdings = tuple(changed if h is held else h for h in position.holdings)
    return project(replace(position, holdings=holdings))


def at_risk(positions: Iterable[Position], terms: AssetTerms, warn_below: int) -> list[Preview]:
    """The previews of the positions the change makes liquidatable or
    pushes under ``warn_below`` (WAD), lowest health factor after first.
    A position whose health the change does not lower is left out."""
    found = []
    for position in positions:
        if position.debt == 0:
            continue
        p = preview(position, reprice(position, terms))
        if p.warns(warn_below):
            found.append(p)
    return sorted(found, key=lambda p: (p.after.health_factor, p.account))


# ---- the borrowers' list ----


@dataclass(frozen=True)
class BookEntry:
    """One borrower as ``positions`` lists it: its position (holdings
    included) and what the Lens says a liquidator may repay now."""

    position: Position
    liquidatable: bool
    max_repay: int = 0
    best_token: str = ""

    @property
    def account(self) -> str:
        return self.position.account

    @property
    def debt(self) -> int:
        return self.position.debt

    @property
    def health_factor(self) -> int:
        return self.position.health_factor

    @property
    def collateral_value(self) -> int:
        """The collateral's value at price, no haircut."""
        return total_value(self.position.holdings)


def lowest_first(
    entries: Iterable[BookEntry], below: int | None = None, limit: int | None = None
) -> list[BookEntry]:
    """The entries with debt, lowest health factor first (then the
    largest debt); only those under ``below`` (WAD) when given; at most
    ``limit``."""
    kept = [e for e in entries if e.debt > 0 and (below is None or e.health_factor < below)]
    kept.sort(key=lambda e: (e.health_factor, -e.debt, e.account))
    return kept if limit is None else kept[:limit]
