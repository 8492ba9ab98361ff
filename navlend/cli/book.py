"""The market's borrowers, read through the Lens: every account a Borrow
event names (``on_behalf``), their health in batches of
``Lens.healths`` (500 accounts an ``eth_call``), and, for those with debt
only, their holdings priced as the market prices them (one
``collateral_of`` per asset held: the asset's terms are read once).

What the operators' commands need to say who a change puts at risk
(:mod:`navlend.cli.impact`), and what ``ape run positions`` lists.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from navlend import abi
from navlend.cli.contracts import Navlend
from navlend.cli.impact import AssetTerms, BookEntry, at_risk
from navlend.cli.preview import Preview
from navlend.cli.records import Holding, Plan, Position

# Lens.MAX_ACCOUNTS: the most accounts one `healths` call takes.
LENS_BATCH = 500
_BORROW = abi.contract("MarketEvents").event("Borrow")


def borrowers(nl: Navlend, start_block: int | None = None) -> list[str]:
    """Every account a Borrow event of the market names, in order of its
    first borrow (``eth_getLogs`` from the deployment's block, in windows)."""
    seen: dict[str, None] = {}
    for log in nl.market_logs([_BORROW.topic], start_block):
        args = _BORROW.decode(log["topics"], log["data"])
        seen.setdefault(to_checksum_address(str(args.on_behalf)), None)
    return list(seen)


def healths(nl: Navlend, accounts: list[str]) -> list[Any]:
    """``Lens.healths`` of ``accounts`` (its ``AccountHealth`` structs, read
    by name), in batches of 500."""
    out: list[Any] = []
    for start in range(0, len(accounts), LENS_BATCH):
        out += list(nl.lens.healths(nl.market.address, accounts[start : start + LENS_BATCH]))
    return out


class Book:
    """The borrowers with debt and their positions, read once."""

    def __init__(self, nl: Navlend):
        self.nl = nl
        self._terms: dict[str, Holding] = {}
        self.healths = [h for h in healths(nl, borrowers(nl)) if int(h.debt) > 0 and not h.failed]
        tokens = nl.listed_tokens()
        self.positions = [self._position(h, tokens) for h in self.healths]

    def _template(self, token: str) -> Holding:
        """The listed asset's terms (balance 0), read once per asset."""
        if token not in self._terms:
            self._terms[token] = self.nl.holding(self.nl._asset(to_checksum_address(token)), 0)
        return self._terms[token]

    def _position(self, h: Any, tokens: list[str]) -> Position:
        """The position of one ``AccountHealth``: the Lens's figures and
        one ``collateral_of`` per asset its bitmap names."""
        m, account, bitmap = self.nl.market, to_checksum_address(str(h.account)), int(h.assets_bitmap)
        holdings = tuple(
            self._template(token).with_balance(int(m.collateral_of(account, token)))
            for asset_id, token in enumerate(tokens)
            if bitmap >> asset_id & 1
        )
        return Position(
            account=account,
            debt=int(h.debt),
            scaled_debt=0,
            borrow_value=int(h.borrow_value),
            liquidation_value=int(h.liquidation_value),
            health_factor=int(h.health_factor),
            holdings=tuple(x for x in holdings if x.balance > 0),
        )

    def entries(self) -> list[BookEntry]:
        return [
            BookEntry(p, bool(h.liquidatable), int(h.max_repay), str(h.best_token))
            for p, h in zip(self.positions, self.healths)
        ]

    def holders_of(self, name: str) -> list[Position]:
        return [p for p in self.positions if p.holding(name) is not None]

    def affected(self, terms: AssetTerms, warn_below: int) -> list[Preview]:
        """The positions ``terms`` makes liquidatable or pushes under
        ``warn_below`` (:func:`navlend.cli.impact.at_risk`)."""
        return at_risk(self.holders_of(terms.name), terms, warn_below)



def list_affected(nl: Navlend, plan: Plan, terms: AssetTerms, warn_below: int) -> None:
    """Fills ``plan.affected`` with the borrowers ``terms`` puts at risk,
    and notes how many positions were checked."""
    book = Book(nl)
    held = book.holders_of(terms.name)
    plan.affected = book.affected(terms, warn_below)
    plan.notes.append(
        f"checked the {len(held)} position(s) with debt holding {terms.name}: "
        f"{len(plan.affected) or 'none'} put at risk"
    )
