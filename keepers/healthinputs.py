"""The inputs of health from the index, besides the positions: what each
event sets, and how the stored facts assemble into
:class:`keepers.localhealth.MarketHealthInputs`. Pure: no RPC, no SQL
(``PositionIndex.apply_health_inputs`` stores the facts).

Where each input comes from:

- **Risk parameters** (market events): ``AssetListed`` (asset id, oracle),
  ``AssetRiskSet`` (LTV, threshold), ``AssetLimitsSet`` (price cap,
  maximum oracle age), ``AssetOracleSet`` (oracle), ``AssetSynced`` (the
  ratio of real to booked units: WAD when whole, else the market is short
  and prices a booked unit at answer x ratio).
- **Prices** (oracle events): the issuer's ``NavOracle`` emits
  ``NavPublished`` for every round it applies (``confirm_pending``'s too,
  which ``PendingConfirmed`` then repeats), with the answer and its strike
  time ``as_of``: what ``latestRoundData`` returns as (answer, updatedAt).
  ``NavPending`` and ``PendingRejected`` do not move the price liquidation
  uses (a pending round only lowers the value at LTV).
- **The rate curve**: ``RatesSet`` (per-second rates, kink, reserve factor).
- **The books** (index, last accrual, total scaled debt, cash, reserves):
  not from events alone (cash moves with lenders' deposits, flash fees are
  booked later, an accrual of zero interest emits nothing). Every call that
  accrues emits one of :data:`ACCRUING_EVENTS`, and nothing else moves the
  stored books, so after a block holding one, a ``market_state()`` read at
  that block returns the stored books exactly (elapsed time zero): the
  fact :data:`InputKind.BOOK`, with the block's timestamp as last accrual.
  Between such blocks the index moves by the rules' formula.
- **Read once** (:data:`InputKind.EXPONENT`): token + oracle - base
  decimals, when an asset is listed or its oracle changes; a feed's first
  answer when its round predates the index (:data:`InputKind.ANSWER` read
  from ``latestRoundData``).
- **Read every block** (not stored): the price of an asset whose feed
  emits no event per answer (a wrapper's share price that grows by the
  second, an adapter over another protocol's oracle): the market's
  ``asset_price`` at the block, passed to :func:`assemble` as
  ``read_prices``.

A fact read from the chain carries the block it was read at and
:data:`READ_LOG_INDEX` (after every log of its block), so the index orders
it with the logs and a reorg of that block forgets it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from navlend.constants import WAD
from navlend.rules.interest import Book, Rates

from keepers.localhealth import AssetPricing, MarketHealthInputs
from keepers.types import _hash_hex, to_address

# The log index of a fact read from the chain at a block (after its logs).
READ_LOG_INDEX = 1 << 30

# Market events of calls that accrue interest (and so store the books).
ACCRUING_EVENTS = frozenset(
    {"AccrueInterest", "Deposit", "Withdraw", "Borrow", "Repay", "Liquidate", "RatesSet", "ReservesWithdrawn", "SurplusBooked"}
)
# Oracle events that apply a round (what ``latestRoundData`` answers).
ROUND_EVENTS = frozenset({"NavPublished", "PendingConfirmed"})


class InputKind(enum.Enum):
    ASSET_ID = "asset_id"  # key token: (asset id,)
    ORACLE = "oracle"  # key token: (oracle as an int,)
    RISK = "risk"  # key token: (ltv, threshold)
    LIMITS = "limits"  # key token: (price cap, max oracle age)
    RATIO = "ratio"  # key token: (ratio,)
    EXPONENT = "exponent"  # key token: (value exponent[, its oracle as an int]), read
    ANSWER = "answer"  # key oracle: (answer, updated_at)
    RATES = "rates"  # key "": (base, slope1, slope2, kink, reserve factor)
    BOOK = "book"  # key "": (index, last accrual, total scaled, cash, reserves), read
    # The keeper's bookkeeping of the books (keepers/localkeeper.py): the
    # latest block holding an accruing event, and the block the books were
    # last read at; the books are current when the second is not below the first.
    ACCRUAL = "accrual"  # key "": (block number,), from the logs
    BOOKED = "booked"  # key "": (block number,), read with the books


@dataclass(frozen=True)
class InputFact:
    kind: InputKind
    key: str
    values: tuple[int, ...]

    def encoded(self) -> str:
        return ",".join(str(v) for v in self.values)

    @staticmethod
    def decode(value: str) -> tuple[int, ...]:
        return tuple(int(v) for v in value.split(",")) if value else ()


@dataclass(frozen=True)
class InputRecord:
    """The facts one log (or one read) sets, where it stands in the chain."""

    block_number: int
    block_hash: str
    log_index: int
    facts: tuple[InputFact, ...]
    removed: bool = False


class MissingInput(ValueError):
    """A fact a health factor needs is not in the index yet (read it)."""


def facts_of_event(event_name: str, args: Mapping[str, Any], emitter: str) -> tuple[InputFact, ...]:
    """The inputs a decoded market or oracle log sets (``emitter``: the
    contract that logged it); () for an event that sets none. ValueError
    for a missing argument."""
    try:
        if event_name == "AssetListed":
            token = to_address(args["token"])
            return (
                InputFact(InputKind.ASSET_ID, token, (int(args["asset_id"]),)),
                InputFact(InputKind.ORACLE, token, (int(to_address(args["oracle"]), 16),)),
            )
        if event_name == "AssetOracleSet":
            return (InputFact(InputKind.ORACLE, to_address(args["token"]), (int(to_address(args["oracle"]), 16),)),)
        if event_name == "AssetRiskSet":
            values = (int(args["ltv_bps"]), int(args["threshold_bps"]))
            return (InputFact(InputKind.RISK, to_address(args["token"]), values),)
        if event_name == "AssetLimitsSet":
            values = (int(args["price_cap"]), int(args["max_oracle_age"]))
            return (InputFact(InputKind.LIMITS, to_address(args["token"]), values),)
        if event_name == "AssetSynced":
            return (InputFact(InputKind.RATIO, to_address(args["token"]), (int(args["ratio"]),)),)
        if event_name == "RatesSet":
            names = ("base_rate", "slope1", "slope2", "kink_bps", "reserve_factor_bps")
            return (InputFact(InputKind.RATES, "", tuple(int(args[n]) for n in names)),)
        if event_name in ROUND_EVENTS:
            return (InputFact(InputKind.ANSWER, to_address(emitter), (int(args["answer"]), int(args["as_of"]))),)
    except KeyError as missing:
        raise ValueError(f"{event_name} log without argument {missing}") from None
    return ()


def input_record(
    event_name: str,
    args: Mapping[str, Any],
    emitter: str,
    *,
    block_number: int,
    block_hash: Any,
    log_index: int,
    removed: bool = False,
) -> InputRecord | None:
    """The record of one decoded log, or None when it sets no input. A
    removed log always gives a record, facts or none: the reads taken at
    its block go with it."""
    facts = facts_of_event(event_name, args, emitter)
    if not facts and not removed:
        return None
    return InputRecord(int(block_number), _hash_hex(block_hash), int(log_index), facts, bool(removed))


def read_record(block_number: int, block_hash: Any, facts: Iterable[InputFact]) -> InputRecord:
    """The record of facts read from the chain at a block."""
    return InputRecord(int(block_number), _hash_hex(block_hash), READ_LOG_INDEX, tuple(facts))


def book_fact(market_state: tuple[int, int, int, int, int], block_timestamp: int) -> InputFact:
    """``market_state()`` (cash, borrows, reserves, index, total scaled)
    read at a block holding an accruing event, as the stored books: the
    last accrual is that block's timestamp."""
    cash, _borrows, reserves, index, total_scaled = (int(v) for v in market_state)
    return InputFact(InputKind.BOOK, "", (index, int(block_timestamp), total_scaled, cash, reserves))


def needs_book_read(event_names: Iterable[str]) -> bool:
    """Whether a block's market events moved the stored books."""
    return any(name in ACCRUING_EVENTS for name in event_names)


def assemble(current: Mapping[tuple[InputKind, str], tuple[int, ...]], read_prices: Mapping[str, int] | None = None) -> MarketHealthInputs:
    """The market's health inputs from the index's current facts (by kind
    and key) and this block's read prices (by token: the market's
    ``asset_price``; they take precedence over an event-sourced answer).
    :class:`MissingInput` names every fact still missing."""
    read_prices = read_prices or {}
    missing: list[str] = []
    book = current.get((InputKind.BOOK, ""))
    rates = current.get((InputKind.RATES, ""))
    if book is None:
        missing.append("the books (market_state at the last accruing block)")
    if rates is None:
        missing.append("the rate curve (RatesSet or rate_config)")
    listed = sorted((values[0], key) for (kind, key), values in current.items() if kind is InputKind.ASSET_ID)
    assets = []
    for asset_id, token in listed:
        risk = current.get((InputKind.RISK, token))
        exponent = current.get((InputKind.EXPONENT, token))
        oracle = current.get((InputKind.ORACLE, token))
        limits = current.get((InputKind.LIMITS, token))
        ratio = current.get((InputKind.RATIO, token), (WAD,))[0]
        if risk is None:
            missing.append(f"{token}: risk parameters (AssetRiskSet)")
        if exponent is None:
            missing.append(f"{token}: value exponent (read)")
        if limits is None:
            missing.append(f"{token}: price cap and oracle age (AssetLimitsSet)")
        answer: tuple[int, ...] | None = None
        if token not in read_prices:
            answer = current.get((InputKind.ANSWER, to_address(f"0x{oracle[0]:040x}"))) if oracle else None
            if answer is None:
                missing.append(f"{token}: price (its oracle's round, or a read)")
        if risk is None or exponent is None or limits is None or (answer is None and token not in read_prices):
            continue
        assets.append(
            AssetPricing(
                token=token,
                asset_id=asset_id,
                exponent=exponent[0],
                ltv_bps=risk[0],
                threshold_bps=risk[1],
                answer=answer[0] if answer else 0,
                updated_at=answer[1] if answer else 0,
                price_cap=limits[0],
                ratio=ratio,
                max_oracle_age=limits[1],
                read_price=read_prices.get(token),
            )
        )
    if missing or book is None or rates is None:
        raise MissingInput("; ".join(missing))
    return MarketHealthInputs(book=Book(*book), rates=Rates(*rates), assets=tuple(assets))
