"""The pure half of :mod:`devkit.bigbook`: which positions a large seeded
book holds, and the storage words and index records that say so.

No RPC here. The chain half reads each market's asset terms and borrow
index, asks :func:`plan_book` for the positions, and writes the words this
module packs (layout: ``contracts/market/modules/market_storage.vy``; slots
from the compiler's ``-f layout``, hashed by :func:`mapping_slot`).

The book (``BookSpec``): position ``i`` lives in market ``i % markets``;
its collateral is worth ``min_usd``..``max_usd`` (a fifth of the positions
split over two assets); it borrows at an LTV (debt over collateral value)
of 60-80 %, except ``risky_bps`` of them at 84.5 % (health about 1.065 at
the default 90 % threshold: a 7 % NAV fall makes them liquidatable) and
the first ``underwater`` of each market at 92 % (health below one at once,
as after a NAV fall: a real borrow could not open them).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address

from keepers.types import LogRecord, MarketEvent
from navlend.constants import BPS, MASK16, MASK32, MASK112, MASK120, MASK128, WAD
from navlend.rules.health import health_factor
from navlend.rules.interest import debt_of, scaled_for_borrow

# Field shifts of the market's packed words (market_storage.vy; the masks
# are navlend.constants').
MARKET_ACCRUAL_SHIFT = 128
MARKET_INDEX_SHIFT = 160
POSITION_BITMAP_SHIFT = 112
POSITION_COLLATERAL_SHIFT = 128
CONFIG_LTV_SHIFT = 160
CONFIG_THRESHOLD_SHIFT = 176
CONFIG_SCALE_SHIFT = 208
TOKEN_TOTAL_SHIFT = 16

# The book's LTVs (debt over collateral value), bps.
SAFE_LTV_BPS = (6_000, 8_000)
RISKY_LTV_BPS = 8_450
UNDERWATER_LTV_BPS = 9_200
# One position in TWO_ASSET_EVERY holds two assets (half its value each).
TWO_ASSET_EVERY = 5
# Hash of the synthetic transaction the seeded facts carry in the index.
SEED_TX_HASH = "0x" + "5e" * 32


class BookError(ValueError):
    """A book that cannot be seeded as asked (bad spec, a field overflow)."""


@dataclass(frozen=True)
class BookSpec:
    """What to seed: ``positions`` spread over ``markets``."""

    positions: int
    markets: int
    seed: int = 17
    min_usd: int = 5_000
    max_usd: int = 50_000
    risky_bps: int = 100
    underwater: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.positions < 1:
            problems.append(f"positions must be at least 1, not {self.positions}")
        if self.markets < 1:
            problems.append(f"markets must be at least 1, not {self.markets}")
        if not 0 < self.min_usd <= self.max_usd:
            problems.append(f"need 0 < min_usd <= max_usd, not {self.min_usd}..{self.max_usd}")
        if not 0 <= self.risky_bps <= BPS:
            problems.append(f"risky_bps must be within 0..{BPS}, not {self.risky_bps}")
        if self.underwater < 0 or self.underwater * self.markets > self.positions:
            problems.append(f"underwater ({self.underwater} per market) must be within 0..positions/markets")
        if problems:
            raise BookError("; ".join(problems))


@dataclass(frozen=True)
class AssetTerms:
    """One listed asset of one market, as the seeding values it."""

    token: str
    asset_id: int
    # The market's price (oracle decimals) and its decimals-scale exponent:
    # value in base units = units * price // 10**scale.
    price: int
    scale: int
    ltv_bps: int
    threshold_bps: int

    @classmethod
    def from_config(cls, token: str, asset_id: int, config_word: int, price: int) -> AssetTerms:
        """From the asset's ``_asset_config`` word and the market's price."""
        if price <= 0:
            raise BookError(f"asset {asset_id} ({token}) has no price")
        return cls(
            token=to_checksum_address(token),
            asset_id=asset_id,
            price=price,
            scale=(config_word >> CONFIG_SCALE_SHIFT) & 0xFF,
            ltv_bps=(config_word >> CONFIG_LTV_SHIFT) & MASK16,
            threshold_bps=(config_word >> CONFIG_THRESHOLD_SHIFT) & MASK16,
        )

    def units_for(self, value: int) -> int:
        """Units worth ``value`` base units (rounded down)."""
        return value * 10**self.scale // self.price

    def value_of(self, units: int) -> int:
        """The market's value of ``units`` (``market_core._value``)."""
        return units * self.price // 10**self.scale


@dataclass(frozen=True)
class MarketTerms:
    """What the plan needs of one market: its assets, borrow index, base
    unit and smallest debt."""

    assets: tuple[AssetTerms, ...]
    borrow_index: int
    base_unit: int
    min_debt: int

    def __post_init__(self) -> None:
        if not self.assets:
            raise BookError("a market without listed assets cannot hold a position")
        if self.borrow_index < WAD:
            raise BookError(f"borrow index {self.borrow_index} below one (WAD)")


@dataclass(frozen=True)
class Holding:
    asset_id: int
    token: str
    units: int


@dataclass(frozen=True)
class PlannedPosition:
    """One seeded position and what the market must say of it."""

    market: int
    account: str
    holdings: tuple[Holding, ...]
    scaled_debt: int
    # At the borrow index of the plan.
    debt: int
    liquidation_value: int
    health: int

    @property
    def bitmap(self) -> int:
        return sum(1 << h.asset_id for h in self.holdings)


@dataclass(frozen=True)
class MarketTotals:
    positions: int
    total_scaled: int
    borrowed: int
    units: dict[str, int]


def borrower_address(market: int, i: int) -> str:
    """The ``i``-th seeded borrower of ``market`` (deterministic)."""
    return to_checksum_address(keccak(text=f"navlend bigbook {market} {i}")[-20:])


def _ltv_for(spec: BookSpec, rng: random.Random, rank: int) -> int:
    if rank < spec.underwater:
        return UNDERWATER_LTV_BPS
    if rng.randrange(BPS) < spec.risky_bps:
        return RISKY_LTV_BPS
    return rng.randrange(SAFE_LTV_BPS[0], SAFE_LTV_BPS[1] + 1)


def plan_book(spec: BookSpec, markets: Sequence[MarketTerms]) -> tuple[PlannedPosition, ...]:
    """Every position of ``spec`` over ``markets`` (one MarketTerms per
    market), deterministic in ``spec.seed``. BookError when the spec does
    not fit the markets (count, a debt below the market's minimum)."""
    if len(markets) != spec.markets:
        raise BookError(f"spec wants {spec.markets} markets, {len(markets)} given")
    rng = random.Random(spec.seed)
    rank = [0] * spec.markets
    out = []
    for i in range(spec.positions):
        k = i % spec.markets
        terms = markets[k]
        usd = rng.randint(spec.min_usd, spec.max_usd)
        assets = list(terms.assets)
        picks = [rng.choice(assets)]
        if len(assets) > 1 and rng.randrange(TWO_ASSET_EVERY) == 0:
            picks.append(rng.choice([a for a in assets if a is not picks[0]]))
        share = usd * terms.base_unit // len(picks)
        holdings = tuple(sorted((Holding(a.asset_id, a.token, a.units_for(share)) for a in picks), key=lambda h: h.asset_id))
        by_id = {a.asset_id: a for a in assets}
        value = sum(by_id[h.asset_id].value_of(h.units) for h in holdings)
        ltv = _ltv_for(spec, rng, rank[k])
        borrowed = value * ltv // BPS
        if borrowed < terms.min_debt:
            raise BookError(f"position {i}: debt {borrowed} below market {k}'s minimum {terms.min_debt}; raise min_usd")
        scaled = scaled_for_borrow(borrowed, terms.borrow_index)
        debt = debt_of(scaled, terms.borrow_index)
        lv = sum(by_id[h.asset_id].value_of(h.units) * by_id[h.asset_id].threshold_bps // BPS for h in holdings)
        out.append(PlannedPosition(k, borrower_address(k, rank[k]), holdings, scaled, debt, lv, health_factor(lv, debt)))
        rank[k] += 1
    return tuple(out)


def totals(positions: Iterable[PlannedPosition], borrow_index: int) -> MarketTotals:
    """One market's sums: scaled debt, the cash the borrows took out (what
    the borrowers received: ``scaled x index`` rounded down is at most
    what was lent) and the units per token."""
    count = total_scaled = borrowed = 0
    units: dict[str, int] = {}
    for p in positions:
        count += 1
        total_scaled += p.scaled_debt
        borrowed += p.scaled_debt * borrow_index // WAD
        for h in p.holdings:
            units[h.token] = units.get(h.token, 0) + h.units
    return MarketTotals(count, total_scaled, borrowed, units)


# ---- storage words ----


def mapping_slot(slot: int, key: int | str) -> int:
    """The slot of ``map[key]`` for a Vyper HashMap at ``slot``:
    keccak256(slot ++ key), each a 32-byte word (Vyper puts the slot
    first, Solidity the key). ``key``: an int or a 0x address."""
    if isinstance(key, str):
        key = int(key, 16)
    if key < 0 or slot < 0:
        raise BookError("negative slot or key")
    return int.from_bytes(keccak(slot.to_bytes(32, "big") + key.to_bytes(32, "big")), "big")


def position_word(p: PlannedPosition) -> int:
    """The position's ``_positions`` word: scaled debt | bitmap | asset 0's
    collateral."""
    coll0 = next((h.units for h in p.holdings if h.asset_id == 0), 0)
    if p.scaled_debt > MASK112 or coll0 > MASK128 or p.bitmap > MASK16:
        raise BookError(f"{p.account}: a field overflows its position word")
    return p.scaled_debt | (p.bitmap << POSITION_BITMAP_SHIFT) | (coll0 << POSITION_COLLATERAL_SHIFT)


def market_word(word: int, total_scaled: int, accrued_at: int) -> int:
    """``_market`` with the total scaled debt and the last accrual replaced
    (index, pause bits, flash fee kept)."""
    if total_scaled > MASK112 or accrued_at > MASK32:
        raise BookError("total scaled debt or accrual time overflows the market word")
    word &= ~MASK112 & ~(MASK32 << MARKET_ACCRUAL_SHIFT)
    return word | total_scaled | (accrued_at << MARKET_ACCRUAL_SHIFT)


def book_word(word: int, borrowed: int) -> int:
    """``_book`` with ``borrowed`` taken from the cash (reserves kept)."""
    cash = word & MASK128
    if borrowed > cash:
        raise BookError(f"the market's cash {cash} cannot cover borrows of {borrowed}")
    return word - borrowed


def token_word(word: int, added: int) -> int:
    """An ``_assets`` word with ``added`` units more supplied."""
    total = ((word >> TOKEN_TOTAL_SHIFT) & MASK120) + added
    if total > MASK120:
        raise BookError("total supplied overflows the asset word")
    return (word & ~(MASK120 << TOKEN_TOTAL_SHIFT)) | (total << TOKEN_TOTAL_SHIFT)


def position_writes(positions: Iterable[PlannedPosition], positions_slot: int, collateral_slot: int) -> list[tuple[int, int]]:
    """``(slot, value)`` of every position word and every collateral
    balance of an asset other than 0 (``_collateral[account][id]``)."""
    out = []
    for p in positions:
        out.append((mapping_slot(positions_slot, p.account), position_word(p)))
        for h in p.holdings:
            if h.asset_id != 0:
                out.append((mapping_slot(mapping_slot(collateral_slot, p.account), h.asset_id), h.units))
    return out


# ---- the keeper's index ----


def index_records(positions: Iterable[PlannedPosition], block_number: int, block_hash: str, borrow_index: int) -> list[LogRecord]:
    """The facts a storage-written book would have logged, as the index's
    input: per position a SupplyCollateral per asset and a Borrow (its
    scaled debt and ``borrow_index``), all dated ``block_number`` /
    ``block_hash`` (the block that holds the book) with log indexes in
    order and the synthetic transaction :data:`SEED_TX_HASH`. They exist in
    no node: a keeper gets the book from them, never from ``eth_getLogs``."""
    out = []
    n = 0
    for p in positions:
        for h in p.holdings:
            out.append(LogRecord(MarketEvent.SUPPLY_COLLATERAL, block_number, block_hash, SEED_TX_HASH, n,
                                 p.account, token=h.token, collateral=h.units))
            n += 1
        out.append(LogRecord(MarketEvent.BORROW, block_number, block_hash, SEED_TX_HASH, n,
                             p.account, scaled_debt=p.scaled_debt, borrow_index=borrow_index))
        n += 1
    return out
