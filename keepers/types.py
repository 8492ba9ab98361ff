"""Typed values shared by every keeper module.

All amounts are integers in the chain's units: the stablecoin in base units
(6 decimals), collateral in the token's own units, prices in the oracle's
decimals, health factors in WAD (1e18 = 1.0). Addresses are checksummed
strings (:func:`to_address`), so that values read from Ape, from SQLite and
from a config file compare equal.

Nothing here does I/O: the chain edges (``keepers/chain.py``) build these
values from RPC answers, the pure modules (``decide``, ``schedule``,
``index``) consume them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

from eth_utils import is_address, to_checksum_address
from hexbytes import HexBytes

from navlend.constants import WAD, ZERO_ADDRESS
from navlend.rules.arith import at_ratio
from navlend.rules.liquidation import CloseLimits, Seizable

# The Lens takes at most this many accounts per `healths` call.
LENS_MAX_ACCOUNTS = 500


def to_address(value: Any) -> str:
    """A checksummed address from a str, bytes or an object with
    ``.address`` (an Ape contract or account); ValueError otherwise."""
    raw = getattr(value, "address", value)
    if isinstance(raw, (bytes, bytearray)) and len(raw) == 20:
        raw = "0x" + bytes(raw).hex()
    if not isinstance(raw, str) or not is_address(raw):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(raw)


# ---------------------------------------------------------------- #
#                              SCANS                                #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class AccountHealth:
    """One entry of ``Lens.healths``: the account's position accrued to the
    block of the call and, when liquidatable, the collateral whose
    liquidation repays the most (``best_token``) with the repayment and
    seizure the market would allow for ``max_repay = max_value(uint256)``."""

    account: str
    debt: int
    borrow_value: int
    liquidation_value: int
    health_factor: int
    liquidatable: bool
    best_token: str
    max_repay: int
    max_seize: int
    assets_bitmap: int
    # The market's ``position`` view reverted for this account (the Lens
    # isolates it; every other field is zero): logged, never acted on.
    failed: bool = False

    @classmethod
    def from_lens(cls, entry: Any) -> AccountHealth:
        """From a decoded Lens struct: an object with the field names as
        attributes (Ape), a mapping, or a tuple in the struct's order."""
        names = [f for f in cls.__dataclass_fields__]
        if isinstance(entry, Mapping):
            values = [entry[n] for n in names]
        elif hasattr(entry, "account") and hasattr(entry, "health_factor"):
            values = [getattr(entry, n) for n in names]
        else:
            values = list(entry)
            if len(values) != len(names):
                raise ValueError(f"a Lens AccountHealth has {len(names)} fields, got {len(values)}")
        data = dict(zip(names, values))
        return cls(
            account=to_address(data["account"]),
            debt=int(data["debt"]),
            borrow_value=int(data["borrow_value"]),
            liquidation_value=int(data["liquidation_value"]),
            health_factor=int(data["health_factor"]),
            liquidatable=bool(data["liquidatable"]),
            best_token=to_address(data["best_token"]),
            max_repay=int(data["max_repay"]),
            max_seize=int(data["max_seize"]),
            assets_bitmap=int(data["assets_bitmap"]),
            failed=bool(data["failed"]),
        )

    def asset_ids(self) -> list[int]:
        """The asset ids whose bit is set in ``assets_bitmap``."""
        return [i for i in range(self.assets_bitmap.bit_length()) if self.assets_bitmap >> i & 1]


@dataclass(frozen=True)
class ScanRecord:
    """What the scheduler remembers of an account's last scan."""

    block: int
    health_factor: int


# ---------------------------------------------------------------- #
#                          MARKET TERMS                             #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class AssetTerms:
    """A listed collateral asset as one block sees it, with what its
    redemption facility can take.

    ``value_exponent`` is token decimals + oracle decimals - base decimals:
    value (base units) = amount x price // 10**value_exponent, the market's
    own formula. ``price`` is the market's price (``asset_price``: the last
    answer capped), ``redeem_price`` what the facility pays per share before
    its fee (its own oracle's NAV; for a wrapper, the wrapper's NAV).
    ``facility_max_redeem`` is the facility's ``max_redeem()`` in shares: it
    already folds in the liquidity, the rolling daily limit, the pause and a
    stale NAV (0 when any of them blocks). ``facility_min_redeem`` is the
    smallest redemption it accepts, in shares."""

    token: str
    asset_id: int
    value_exponent: int
    price: int
    bonus_bps: int
    threshold_bps: int
    facility: str = ZERO_ADDRESS
    redeem_price: int = 0
    redemption_fee_bps: int = 0
    facility_max_redeem: int = 0
    facility_min_redeem: int = 0
    facility_liquidity: int = 0
    facility_remaining_limit: int = 0
    stale: bool = False
    # The facility redeems, in one redemption, the shares the seize route
    # sent it (``IGatheredRedemption.redeem_received``): positions each
    # under its ``min_redeem`` can be liquidated together
    # (``FlashLiquidator.liquidate_gathered``). Probed once per facility.
    facility_gathers: bool = False
    # The compliance source's ``paused()`` (the token's transfers stopped:
    # every route reverts in the token). A source without the view: False.
    paused: bool = False
    # The compliance source's ``is_allowlisted(market)``: False when the
    # issuer has taken the market off its allowlist / KYC (every route
    # reverts in the token). True when the market has no compliance source.
    market_admitted: bool = True
    # Real units per booked unit (``asset_ratio``, WAD): below one after
    # ``sync_asset`` recognised an issuer's seizure or burn of the market's
    # shares. ``price`` is then per booked unit; what leaves the market, and
    # what the facility redeems, is the real units.
    ratio: int = WAD

    @property
    def has_facility(self) -> bool:
        return self.facility != ZERO_ADDRESS

    def real(self, booked: int) -> int:
        """The real units ``booked`` units hold (the market's
        ``_real_amount``, rounded down)."""
        return at_ratio(booked, self.ratio)

    def seizable(self, balance: int) -> Seizable:
        """A position's ``balance`` of this asset as the liquidation rules
        take it. The one place the decision reads the asset's bonus: every
        seizure and fee figure derives from this value."""
        return Seizable(
            balance=balance,
            price=self.price,
            exponent=self.value_exponent,
            bonus_bps=self.bonus_bps,
            ratio=self.ratio,
        )


@dataclass(frozen=True)
class MarketTerms:
    """The market-wide parameters a liquidation depends on, read once per
    block. ``small_position`` and ``dust_floor`` are in whole stablecoin
    units as the market stores them and the rules take them (:attr:`limits`;
    ``control()`` returns them in base units, ``keepers.chain.whole_limits``
    converts); ``max_flash_loan`` is the market's cash (0 while flash loans
    are paused); ``liquidation_open`` is False while liquidation is paused
    or in its grace period."""

    base_decimals: int
    small_position: int
    dust_floor: int
    liquidation_fee_bps: int
    flash_fee_bps: int
    max_flash_loan: int
    liquidation_open: bool
    assets: tuple[AssetTerms, ...]

    @cached_property
    def limits(self) -> CloseLimits:
        """The market-wide limits of a liquidation, as the rules take them.
        Cached: every probe of a repayment search shares them, and a
        change of terms (``dataclasses.replace``) makes a new object."""
        return CloseLimits(
            base_unit=10**self.base_decimals,
            small_position=self.small_position,
            dust_floor=self.dust_floor,
            liquidation_fee_bps=self.liquidation_fee_bps,
        )

    def asset(self, token: str) -> AssetTerms | None:
        """The terms of ``token``, or None if the market does not list it."""
        for a in self.assets:
            if a.token == token:
                return a
        return None


@dataclass(frozen=True)
class ExecutionContext:
    """The keeper's own situation at decision time: the gas price it would
    pay (wei), its stablecoin balance (for the seize route), the tokens its
    receiver may hold (the funds allowlist it), the tokens whose fund has
    frozen it (a frozen account can receive nothing, allowlisted or not),
    and whether its FlashLiquidator is deployed, owned and usable."""

    gas_price_wei: int
    stable_balance: int = 0
    allowlisted_tokens: frozenset[str] = frozenset()
    frozen_tokens: frozenset[str] = frozenset()
    flash_liquidator_ready: bool = True
    # The keeper's FlashLiquidator has ``liquidate_gathered`` (one deployed
    # before it existed has not: no gathered batches then).
    flash_gathers: bool = False


# ---------------------------------------------------------------- #
#                            DECISIONS                              #
# ---------------------------------------------------------------- #


class Route(enum.Enum):
    """How a liquidation settles."""

    # FlashLiquidator: flash loan, redeem route, repay; profit in stablecoin.
    REDEEM = "redeem"
    # The keeper's own stablecoin repays; the fund shares come to the keeper.
    SEIZE = "seize"
    # FlashLiquidator.liquidate_gathered: flash loan, the seize route of
    # several positions with the facility as receiver, one redemption of
    # them all (an issuer's minimum no single seizure reaches), repay.
    GATHERED = "gathered"


class SkipReason(enum.Enum):
    """Why a position is not liquidated now. The value is the metric label
    and the log field."""

    NO_DEBT = "no_debt"
    HEALTHY = "healthy"
    IN_FLIGHT = "in_flight"
    LIQUIDATION_CLOSED = "liquidation_closed"
    UNKNOWN_ASSET = "unknown_asset"
    NO_COLLATERAL = "no_collateral"
    NOTHING_TO_LIQUIDATE = "nothing_to_liquidate"
    NO_FACILITY = "no_facility"
    FACILITY_DRY = "facility_dry"
    FACILITY_BELOW_MINIMUM = "facility_below_minimum"
    FLASH_UNAVAILABLE = "flash_unavailable"
    PAYOUT_BELOW_COST = "payout_below_cost"
    NOT_ALLOWLISTED = "not_allowlisted"
    # The fund froze the keeper's receiver: it may not receive the shares.
    KEEPER_FROZEN = "keeper_frozen"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    GAS_PRICE_ABOVE_CAP = "gas_price_above_cap"
    UNPROFITABLE = "unprofitable"
    # The token's transfers are paused by the issuer: every route reverts.
    TOKEN_PAUSED = "token_paused"
    # The issuer has taken the market off its allowlist / KYC: every route
    # reverts in the token.
    MARKET_NOT_ADMITTED = "market_not_admitted"


@dataclass(frozen=True)
class Plan:
    """One liquidation to send, with the figures it was chosen on.

    ``max_repay`` is the argument to pass (the market trims "up to"
    amounts); ``repaid``/``seized``/``taken`` are what the market's rules
    give at the scanned block (``taken`` = ``seized`` less the protocol's
    fee, on the market's books; ``sent`` = the real units of ``taken``, what
    the receiver or the facility gets: ``taken`` unless the market is short
    of the asset, see ``AssetTerms.ratio``). ``proceeds`` is the
    stablecoin the route brings back: the facility's payout (redeem route)
    or the shares' value net of the redemption fee (seize route).
    ``net_profit`` = proceeds - repaid - flash fee - gas - safety buffer
    (base units; negative only in cleanup mode).

    Transaction arguments: the redeem route calls
    ``FlashLiquidator.liquidate(borrower, token, max_repay, min_profit)``;
    the seize route calls ``Market.liquidate(borrower, token, max_repay,
    min_out, False, receiver)``; a gathered plan is one member of a
    :class:`GatheredBatch` (its ``proceeds``, flash fee and gas are its
    pro-rata share of the batch's, for the logs)."""

    borrower: str
    token: str
    route: Route
    max_repay: int
    repaid: int
    seized: int
    taken: int
    sent: int
    proceeds: int
    flash_fee: int
    redemption_fee: int
    gas_cost: int
    safety_buffer: int
    net_profit: int
    min_profit: int
    min_out: int
    health_factor: int
    partial_for_liquidity: bool = False
    cleanup: bool = False
    note: str = ""

    @property
    def gross_profit(self) -> int:
        """Proceeds less the repayment and the flash fee (before gas)."""
        return self.proceeds - self.repaid - self.flash_fee

    def log_fields(self) -> dict[str, Any]:
        """Flat fields for a structlog event."""
        return {
            "borrower": self.borrower,
            "token": self.token,
            "route": self.route.value,
            "repaid": self.repaid,
            "seized": self.seized,
            "proceeds": self.proceeds,
            "net_profit": self.net_profit,
            "min_profit": self.min_profit,
            "partial_for_liquidity": self.partial_for_liquidity,
            "cleanup": self.cleanup,
            "note": self.note,
        }


@dataclass(frozen=True)
class GatheredBatch:
    """One ``FlashLiquidator.liquidate_gathered(token, borrowers,
    max_repays, loan, min_profit)``: positions each under the facility's
    minimum, seized to the facility and redeemed together. ``shares`` is
    the real units the facility receives (the sum of the plans' ``sent``),
    ``payout`` the facility's ``preview_redeem(shares)`` (one quote for the
    total: a minimum, a fee floor or a limit applies to the redemption,
    not to each part), ``flash_fee`` the fee on ``loan``, ``gas`` the
    batch's gas in base units. ``net_profit`` = payout - repaid - flash fee
    - gas - safety buffer; ``min_profit`` is the on-chain floor."""

    token: str
    plans: tuple[Plan, ...]
    shares: int
    repaid: int
    loan: int
    payout: int
    flash_fee: int
    gas_cost: int
    net_profit: int
    min_profit: int

    @property
    def borrowers(self) -> tuple[str, ...]:
        return tuple(p.borrower for p in self.plans)

    def log_fields(self) -> dict[str, Any]:
        """Flat fields for a structlog event."""
        return {
            "token": self.token,
            "route": Route.GATHERED.value,
            "positions": len(self.plans),
            "shares": self.shares,
            "repaid": self.repaid,
            "payout": self.payout,
            "net_profit": self.net_profit,
            "min_profit": self.min_profit,
        }


@dataclass(frozen=True)
class Rejection:
    """A (token, route) candidate that was considered and dropped."""

    token: str
    route: Route | None
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    """The outcome for one borrower: a plan, or the reason for skipping.
    ``rejected`` lists every candidate dropped on the way, for logs."""

    borrower: str
    plan: Plan | None = None
    reason: SkipReason | None = None
    detail: str = ""
    rejected: tuple[Rejection, ...] = ()

    def __post_init__(self) -> None:
        if (self.plan is None) == (self.reason is None):
            raise ValueError("a Decision holds either a plan or a skip reason")

    @property
    def act(self) -> bool:
        return self.plan is not None


# ---------------------------------------------------------------- #
#                              EVENTS                               #
# ---------------------------------------------------------------- #


class MarketEvent(enum.Enum):
    """The market events that move a position (``market_core.vy``); each
    carries the position's value after the operation."""

    SUPPLY_COLLATERAL = "SupplyCollateral"
    WITHDRAW_COLLATERAL = "WithdrawCollateral"
    BORROW = "Borrow"
    REPAY = "Repay"
    LIQUIDATE = "Liquidate"
    BAD_DEBT = "BadDebt"


# The market event names the index consumes (for log filters).
INDEXED_EVENTS: tuple[str, ...] = tuple(e.value for e in MarketEvent)


@dataclass(frozen=True)
class LogRecord:
    """One market log, reduced to what the position index needs.

    ``account`` is the position the log is about (``on_behalf`` or
    ``borrower``); ``collateral`` is the account's balance of ``token``
    after the log, ``scaled_debt`` its scaled debt after the log (None when
    the event does not carry it). ``removed`` is True when the node
    retracts the log (a reorg)."""

    event: MarketEvent
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    account: str
    token: str | None = None
    collateral: int | None = None
    scaled_debt: int | None = None
    borrow_index: int | None = None
    removed: bool = False

    @classmethod
    def from_event(
        cls,
        event_name: str,
        args: Mapping[str, Any],
        *,
        block_number: int,
        block_hash: Any,
        tx_hash: Any,
        log_index: int,
        removed: bool = False,
    ) -> LogRecord:
        """From an event's name and decoded arguments (Ape's
        ``log.event_name`` / ``log.event_arguments``). ValueError for an
        event the index does not consume or a missing argument."""
        try:
            event = MarketEvent(event_name)
        except ValueError:
            raise ValueError(f"not a position event: {event_name!r}") from None
        try:
            if event in (MarketEvent.SUPPLY_COLLATERAL, MarketEvent.WITHDRAW_COLLATERAL):
                fields = dict(account=args["on_behalf"], token=args["token"], collateral=int(args["collateral"]))
            elif event in (MarketEvent.BORROW, MarketEvent.REPAY):
                fields = dict(
                    account=args["on_behalf"],
                    scaled_debt=int(args["scaled_debt"]),
                    borrow_index=int(args["borrow_index"]),
                )
            elif event is MarketEvent.LIQUIDATE:
                fields = dict(
                    account=args["borrower"],
                    token=args["token"],
                    collateral=int(args["collateral"]),
                    scaled_debt=int(args["scaled_debt"]),
                )
            else:  # BadDebt: the write-off clears the scaled debt.
                fields = dict(account=args["borrower"], scaled_debt=0)
        except KeyError as missing:
            raise ValueError(f"{event_name} log without argument {missing}") from None
        token = fields.pop("token", None)
        return cls(
            event=event,
            block_number=int(block_number),
            # 0x-prefixed lowercase, whether Ape gave bytes, HexBytes or a
            # str, or the broker's round trip a list of byte values.
            block_hash=_hash_hex(block_hash),
            tx_hash=_hash_hex(tx_hash),
            log_index=int(log_index),
            account=to_address(fields.pop("account")),
            token=to_address(token) if token is not None else None,
            removed=bool(removed),
            **fields,
        )


def _hash_hex(value: Any) -> str:
    """A 32-byte hash as 0x-prefixed lowercase hex, from bytes, HexBytes or
    a str, or a list of byte values (Silverback hands a handler the log's
    ``model_dump()``, which makes a HexBytes a list of ints); ValueError
    for a list that is not 32 byte values."""
    if isinstance(value, (list, tuple)):
        if len(value) != 32 or not all(isinstance(b, int) and 0 <= b < 256 for b in value):
            raise ValueError(f"not a 32-byte hash: {str(value)[:80]}")
        value = bytes(value)
    return HexBytes(value).to_0x_hex()


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` split in lists of at most ``size`` (size >= 1)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
