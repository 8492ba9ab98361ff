"""The thin chain adapter the invariants are written against, and the
snapshot they read.

An adapter offers four primitives: ``storage(address, slot)``, ``now()``,
``call(contract, fn, *args, sender=None)`` and ``balance(token, account)``.
Everything the invariants need is derived from them in :func:`read_snapshot`
(packed storage words decoded with the compiler's storage layout), so the
same invariant functions run in-process (:class:`EvmAdapter`: storage
reads straight from revm's state, no EVM execution) and on Ape/anvil
(:class:`ApeAdapter`: ``eth_getStorageAt`` through the provider).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_hash.auto import keccak

from navlend.constants import MASK16, MASK32, MASK40, MASK48, MASK112, MASK120, MASK128



def _word(x: Any) -> bytes:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).rjust(32, b"\0")
    if isinstance(x, str):
        return bytes.fromhex(x[2:] if x.startswith("0x") else x).rjust(32, b"\0")
    if hasattr(x, "address"):
        return _word(str(x.address))
    if isinstance(x, int):
        return x.to_bytes(32, "big")
    return _word(str(x))


_SLOTS: dict[tuple, int] = {}


def map_slot(slot: int, *keys: Any) -> int:
    """Slot of ``HashMap[...][k1][k2]`` at ``slot`` (vyper: keccak(slot ++
    key)); memoised, since the same few slots are read after every step."""
    ck = (slot, *(k if isinstance(k, (int, str)) else _address(k) for k in keys))
    hit = _SLOTS.get(ck)
    if hit is not None:
        return hit
    s = slot
    for k in keys:
        s = int.from_bytes(keccak(s.to_bytes(32, "big") + _word(k)), "big")
    if len(_SLOTS) < 100_000:
        _SLOTS[ck] = s
    return s


class ChainAdapter(Protocol):
    def storage(self, address: Any, slot: int) -> int: ...

    def now(self) -> int: ...

    def call(self, contract: Any, fn: str, *args: Any, sender: Any = None) -> Any: ...

    def balance(self, token: Any, account: Any) -> int: ...


def _address(x: Any) -> str:
    return str(getattr(x, "address", x))


class EvmAdapter:
    """The in-process chain (``propkit.evm.RevmEnv``): storage straight from
    revm's state; calls through the ABI contracts."""

    def __init__(self, env: Any):
        self.env = env

    def storage(self, address: Any, slot: int) -> int:
        return self.env.get_storage(_address(address), slot)

    def now(self) -> int:
        return self.env.timestamp

    def call(self, contract: Any, fn: str, *args: Any, sender: Any = None) -> Any:
        f = getattr(contract, fn)
        return f(*args, sender=sender) if sender is not None else f(*args)

    def balance(self, token: Any, account: Any) -> int:
        return token.balanceOf(account)


class ApeAdapter:
    """Ape (any provider, anvil in the test): eth_getStorageAt and Ape's
    contract calls (``sender=`` for transactions)."""

    def __init__(self, chain: Any):
        self.chain = chain

    def storage(self, address: Any, slot: int) -> int:
        raw = self.chain.provider.get_storage(_address(address), slot)
        return int.from_bytes(bytes(raw), "big") if not isinstance(raw, int) else raw

    def now(self) -> int:
        return self.chain.pending_timestamp

    def call(self, contract: Any, fn: str, *args: Any, sender: Any = None) -> Any:
        f = getattr(contract, fn)
        return f(*args, sender=sender) if sender is not None else f(*args)

    def balance(self, token: Any, account: Any) -> int:
        return token.balanceOf(account)


# ---------------------------------------------------------------- #
#                              LAYOUT                               #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class MarketLayout:
    """Storage slots of the market's variables (from the compiler)."""

    market: int
    book: int
    rates: int
    control: int
    positions: int
    collateral: int
    asset_config: int
    assets: int
    asset_price_cap: int
    balance_of: int
    total_supply: int

    @classmethod
    def from_layout(cls, layout: dict) -> "MarketLayout":
        s = layout.get("storage_layout", layout)
        core = s["store"]
        erc = s["erc20"]
        return cls(
            market=core["_market"]["slot"],
            book=core["_book"]["slot"],
            rates=core["_rates"]["slot"],
            control=core["_control"]["slot"],
            positions=core["_positions"]["slot"],
            collateral=core["_collateral"]["slot"],
            asset_config=core["_asset_config"]["slot"],
            assets=core["_assets"]["slot"],
            asset_price_cap=core["_asset_price_cap"]["slot"],
            balance_of=erc["balanceOf"]["slot"],
            total_supply=erc["totalSupply"]["slot"],
        )


def token_balance_slot(layout: dict) -> int:
    """``erc20.balanceOf`` slot of a snekmate-based token."""
    s = layout.get("storage_layout", layout)
    return s["erc20"]["balanceOf"]["slot"]


# ---------------------------------------------------------------- #
#                             SNAPSHOT                              #
# ---------------------------------------------------------------- #


@dataclass
class PositionWord:
    scaled: int
    bitmap: int
    collateral: list[int]


@dataclass
class AssetWord:
    total_supplied: int
    supply_cap: int
    frozen_token: bool
    deposit_paused_token: bool
    ltv_bps: int
    threshold_bps: int
    bonus_bps: int
    exponent: int
    flags: int
    max_oracle_age: int
    price_cap: int


@dataclass
class Snapshot:
    """The market's stored state and the balances the invariants need."""

    now: int
    index: int
    last_accrual: int
    paused: int
    total_scaled: int
    cash: int
    reserves: int
    rates: tuple[int, int, int, int, int]
    control: tuple[int, int, int, int, int, int]  # resume_at, flash, liq fee, min, small, dust
    total_supply: int
    positions: dict[str, PositionWord] = field(default_factory=dict)
    shares: dict[str, int] = field(default_factory=dict)
    assets: list[AssetWord] = field(default_factory=list)
    market_base_balance: int = 0
    market_token_balances: list[int] = field(default_factory=list)


def read_snapshot(
    ad: ChainAdapter,
    market: Any,
    lay: MarketLayout,
    accounts: list[str],
    n_assets: int,
    base_token: Any,
    base_balance_slot: int,
    tokens: list[Any],
    token_balance_slots: list[int],
) -> Snapshot:
    st = ad.storage
    m = st(market, lay.market)
    book = st(market, lay.book)
    rates = st(market, lay.rates)
    control = st(market, lay.control)
    snap = Snapshot(
        now=ad.now(),
        index=m >> 160,
        last_accrual=(m >> 128) & MASK32,
        # Pause bits 112-119; the flash fee sits above them (120-127).
        paused=(m >> 112) & 0xFF,
        total_scaled=m & MASK112,
        cash=book & MASK128,
        reserves=book >> 128,
        rates=(rates & (2**64 - 1), (rates >> 64) & (2**64 - 1), (rates >> 128) & (2**64 - 1), (rates >> 192) & MASK16, (rates >> 208) & MASK16),
        control=(control & MASK40, (m >> 120) & 0xFF, (control >> 56) & MASK16, (control >> 72) & MASK48, (control >> 120) & MASK48, (control >> 168) & MASK48),
        total_supply=st(market, lay.total_supply),
    )
    for acct in accounts:
        w = st(market, map_slot(lay.positions, acct))
        bitmap = (w >> 112) & MASK16
        coll = [w >> 128]
        for i in range(1, n_assets):
            coll.append(st(market, map_slot(lay.collateral, acct, i)) if bitmap >> i & 1 else 0)
        snap.positions[acct] = PositionWord(scaled=w & MASK112, bitmap=bitmap, collateral=coll)
        snap.shares[acct] = st(market, map_slot(lay.balance_of, acct))
    for i, token in enumerate(tokens):
        tw = st(market, map_slot(lay.assets, token))
        cw = st(market, map_slot(lay.asset_config, i))
        snap.assets.append(
            AssetWord(
                total_supplied=(tw >> 16) & MASK120,
                supply_cap=tw >> 136,
                frozen_token=bool(tw & 256),
                deposit_paused_token=bool(tw & 512),
                ltv_bps=(cw >> 160) & MASK16,
                threshold_bps=(cw >> 176) & MASK16,
                bonus_bps=(cw >> 192) & MASK16,
                exponent=(cw >> 208) & 255,
                flags=(cw >> 216) & 255,
                max_oracle_age=cw >> 224,
                price_cap=st(market, map_slot(lay.asset_price_cap, i)),
            )
        )
        snap.market_token_balances.append(st(token, map_slot(token_balance_slots[i], market)))
    snap.market_base_balance = st(base_token, map_slot(base_balance_slot, market))
    return snap
