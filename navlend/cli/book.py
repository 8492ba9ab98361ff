"""The market's borrowers, read through the Lens: every account a Borrow
event names (``on_behalf``), their health in batches of
``Lens.healths`` (500 accounts an ``eth_call``), and, for those with debt
only, their holdings priced as the market prices them (one
``collateral_of`` per asset held: the asset's terms are read once).

What the operators' commands need to say who a change puts at risk
(:mod:`navlend.cli.impact`), and what ``ape run positions`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from eth_utils import to_checksum_address

from navlend import abi
from navlend.cli.contracts import Navlend
from navlend.cli.impact import AssetTerms, BookEntry, at_risk
from navlend.cli.preview import Preview
from navlend.cli.records import Holding, Position

# Lens.MAX_ACCOUNTS: the most accounts one `healths` call takes.
LENS_BATCH = 500
_BORROW = abi.contract("MarketEvents").event("Borrow")
_BORROWER_TOPIC = _BORROW.topic_position("on_behalf")


@dataclass(frozen=True)
class Health:
    """One account of ``Lens.healths``, by the names of its struct."""

    account: str
    debt: int
    borrow_value: int
    liquidation_value: int
    health_factor: int
    liquidatable: bool
    best_token: str
    max_repay: int
    assets_bitmap: int
    failed: bool


def borrowers(nl: Navlend, start_block: int = 0) -> list[str]:
    """Every account a Borrow event of the market names, in order of its
    first borrow (one ``eth_getLogs``)."""
    logs = nl.chain.provider.web3.eth.get_logs(
        {
            "address": str(nl.market.address),
            "fromBlock": start_block,
            "toBlock": "latest",
            "topics": [_BORROW.topic],
        }
    )
    seen: dict[str, None] = {}
    for log in sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"])):
        args = _BORROW.decode(log["topics"], log["data"])
        seen.setdefault(to_checksum_address(str(args.on_behalf)), None)
    return list(seen)


def healths(nl: Navlend, accounts: list[str]) -> list[Health]:
    """``Lens.healths`` of ``accounts``, in batches of 500."""
    out: list[Health] = []
    for start in range(0, len(accounts), LENS_BATCH):
        for h in nl.lens.healths(nl.market.address, accounts[start : start + LENS_BATCH]):
            out.append(
                Health(
                    account=to_checksum_address(str(h.account)),
                    debt=int(h.debt),
                    borrow_value=int(h.borrow_value),
                    liquidation_value=int(h.liquidation_value),
                    health_factor=int(h.health_factor),
                    liquidatable=bool(h.liquidatable),
                    best_token=str(h.best_token),
                    max_repay=int(h.max_repay),
                    assets_bitmap=int(h.assets_bitmap),
                    failed=bool(h.failed),
                )
            )
    return out


class Book:
    """The borrowers with debt and their positions, read once."""

    def __init__(self, nl: Navlend):
        self.nl = nl
        self._terms: dict[str, Holding] = {}
        self.healths = [h for h in healths(nl, borrowers(nl)) if h.debt > 0 and not h.failed]
        tokens = nl.listed_tokens()
        self.positions = [self._position(h, tokens) for h in self.healths]

    def _template(self, token: str) -> Holding:
        """The listed asset's terms (balance 0), read once per asset."""
        if token not in self._terms:
            self._terms[token] = self.nl.holding(self.nl._asset(to_checksum_address(token)), 0)
        return self._terms[token]

    def _position(self, h: Health, tokens: list[str]) -> Position:
        m = self.nl.market
        holdings = tuple(
            self._template(token).with_balance(int(m.collateral_of(h.account, token)))
            for asset_id, token in enumerate(tokens)
            if h.assets_bitmap >> asset_id & 1
        )
        return Position(
            account=h.account,
            debt=h.debt,
            scaled_debt=0,
            borrow_value=h.borrow_value,
            liquidation_value=h.liquidation_value,
            health_factor=h.health_factor,
            holdings=tuple(x for x in holdings if x.balance > 0),
        )

    def entries(self) -> list[BookEntry]:
        return [
            BookEntry(p, h.liquidatable, h.max_repay, h.best_token)
            for p, h in zip(self.positions, self.healths)
        ]

    def holders_of(self, name: str) -> list[Position]:
        return [p for p in self.positions if p.holding(name) is not None]

    def affected(self, terms: AssetTerms, warn_below: int) -> list[Preview]:
        """The positions ``terms`` makes liquidatable or pushes under
        ``warn_below`` (:func:`navlend.cli.impact.at_risk`)."""
        return at_risk(self.holders_of(terms.name), terms, warn_below)


def affected(nl: Navlend, terms: AssetTerms, warn_below: int) -> list[Preview]:
    """:meth:`Book.affected` of the market's book now."""
    return Book(nl).affected(terms, warn_below)
