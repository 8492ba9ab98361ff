"""Health from the index, per block: keeps the position table and the
health inputs up to date from what a block brought, makes the few reads
the design needs (``keepers/healthinputs.py``), and screens every position
(``keepers/localhealth.py``). The keeper then asks the Lens only about
``HealthScreen.accounts_to_recheck()``.

Reads per block: none when nothing moved the books and every asset is
priced from events; one ``market_state`` after a block holding an accruing
market event; one ``asset_price`` per asset whose feed emits no event per
answer (``read_priced``); one ``value_exponent`` when an asset is listed
or its oracle changes.

The chain edge implements :class:`HealthReads` (not yet wired: the keeper's
``ChainReader`` has no ``market_state`` nor ``value_exponent`` today).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from keepers.healthinputs import (
    InputFact,
    InputKind,
    InputRecord,
    assemble,
    book_fact,
    needs_book_read,
    read_record,
)
from keepers.index import PositionIndex
from keepers.localhealth import (
    DEFAULT_EDGE_BPS,
    HealthScreen,
    MarketHealthInputs,
    PositionArrays,
    PositionTable,
    screen,
)


class HealthReads(Protocol):
    """The chain reads health from the index needs, each at a block."""

    def market_state(self, block: int) -> tuple[int, int, int, int, int]:
        """``MarketViews.market_state()``: cash, borrows, reserves, index,
        total scaled debt."""

    def value_exponent(self, token: str, block: int) -> int:
        """Token + oracle - base decimals of a listed asset."""

    def asset_price(self, token: str, block: int) -> int:
        """``MarketViews.asset_price(token)``'s price."""

    def latest_round(self, oracle: str, block: int) -> tuple[int, int]:
        """A feed's ``latestRoundData``: (answer, updatedAt)."""


class LocalHealth:
    """One market's local health (module docstring). ``read_priced``: the
    tokens whose price is read every block instead of sourced from their
    feed's events."""

    def __init__(self, index: PositionIndex, reads: HealthReads, read_priced: Iterable[str] = (), edge_bps: int = DEFAULT_EDGE_BPS):
        self.index = index
        self.reads = reads
        self.read_priced = frozenset(read_priced)
        # Oracles whose latest round is read at each screened block (feeds
        # that emit no event per answer: a wrapper's share price), priced
        # then by the market's rule like an event-sourced round.
        self.read_rounds: frozenset[str] = frozenset()
        self.edge_bps = edge_bps
        self._table: PositionTable | None = None

    def on_block(
        self,
        number: int,
        block_hash: str,
        timestamp: int,
        market_events: Iterable[str],
        inputs: Iterable[InputRecord] = (),
        touched: Iterable[str] = (),
    ) -> None:
        """What block ``number`` (its hash and timestamp) brought: its
        market events' names, the
        input records of its logs, the accounts its position logs touched
        (``ApplyResult.touched``, already applied to the index)."""
        records = list(inputs)
        self.index.apply_health_inputs(records)
        reads: list[InputFact] = []
        listed = {f.key for r in records for f in r.facts if f.kind in (InputKind.ASSET_ID, InputKind.ORACLE)}
        for token in sorted(listed):
            reads.append(InputFact(InputKind.EXPONENT, token, (self.reads.value_exponent(token, number),)))
        if needs_book_read(market_events):
            reads.append(book_fact(self.reads.market_state(number), timestamp))
        if reads:
            self.index.apply_health_inputs([read_record(number, block_hash, reads)])
        if listed:
            self._table = None  # new columns: rebuild from the index
        if self._table is not None:
            for account in touched:
                position = self.index.position(account)
                self._table.upsert(position.account, position.scaled_debt, position.collateral)

    def follow(self, accounts: Iterable[str]) -> None:
        """Positions changed outside :meth:`on_block` (applied by another
        path, e.g. a live log handler, before the block's logs were read):
        their rows read back from the index."""
        if self._table is None:
            return
        for account in accounts:
            position = self.index.position(account)
            self._table.upsert(position.account, position.scaled_debt, position.collateral)

    def on_rewind(self, block: int) -> None:
        """The keeper rewound the index to ``block`` (``PositionIndex.rewind``,
        already done): the inputs above it go too, and the table is rebuilt
        from the index on the next screen."""
        self.index.rewind_health_inputs(block)
        self._table = None

    def screen(self, number: int, timestamp: int) -> HealthScreen:
        """Every position screened at block ``number`` (its timestamp)."""
        inputs = self.inputs_at(number)
        return screen(self.positions(inputs), inputs, timestamp, self.edge_bps)

    def inputs_at(self, number: int) -> MarketHealthInputs:
        """The market's inputs at block ``number`` (the read prices and the
        read rounds read)."""
        current = dict(self.index.health_inputs())
        for oracle in sorted(self.read_rounds):
            current[(InputKind.ANSWER, oracle)] = self.reads.latest_round(oracle, number)
        prices = {token: self.reads.asset_price(token, number) for token in sorted(self.read_priced)}
        return assemble(current, prices)

    def positions(self, inputs: MarketHealthInputs) -> PositionArrays:
        """The open positions in the inputs' columns (the table, rebuilt
        from the index when the listing changed)."""
        if self._table is None or self._table.tokens != inputs.tokens:
            self._table = PositionTable(inputs.tokens, capacity=max(1024, 2 * len(self.index.open_accounts())))
            for position in self.index.open_positions():
                self._table.upsert(position.account, position.scaled_debt, position.collateral)
        return self._table.arrays()
