"""The keeper's RPC edge: every read it makes of the chain.

- :meth:`ChainReader.healths`: the Lens in batches of up to 500 accounts per
  ``eth_call``, the batches sent concurrently (the node answers them on its
  own threads), decoded with eth-abi (Ape's struct decoding costs more than
  the call itself at 10,000 accounts);
- :meth:`ChainReader.market_terms`: what a decision needs from the market
  and each redemption facility (``keepers.types.MarketTerms``);
- :meth:`ChainReader.market_logs`: the position events of a block range in
  chunks, as ``keepers.types.LogRecord``s (halving the chunk when the node
  refuses a range);
- :func:`log_record`: an Ape ``ContractLog`` (a Silverback event handler's
  argument, ``removed`` included) as a ``LogRecord``.

Everything is a plain ``eth_call`` / ``eth_getLogs`` through web3, keyed by
block number when the caller passes one, so a scan and its re-check read the
state they mean to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

from keepers.types import (
    BPS,
    INDEXED_EVENTS,
    LENS_MAX_ACCOUNTS,
    ZERO_ADDRESS,
    AccountHealth,
    AssetTerms,
    LogRecord,
    MarketTerms,
    Plan,
    chunks,
    to_address,
)

log = structlog.get_logger("keepers.chain")

PAUSE_LIQUIDATION = 64
PAUSE_FLASH_LOAN = 32
_HEALTH_TUPLE = "(address,uint256,uint256,uint256,uint256,bool,address,uint256,uint256,uint256)"
_HEALTHS_SELECTOR = function_signature_to_4byte_selector("healths(address,address[])")
_FLASH_LIQUIDATE = function_signature_to_4byte_selector("liquidate(address,address,uint256,uint256)")
_MARKET_LIQUIDATE = function_signature_to_4byte_selector("liquidate(address,address,uint256,uint256,bool,address)")
# FlashLiquidator.Liquidated(borrower, token, repaid, seized, payout, flash_fee, profit)
LIQUIDATED_TOPIC = "0x" + keccak(text="Liquidated(address,address,uint256,uint256,uint256,uint256,uint256)").hex()


@dataclass(frozen=True)
class BlockRef:
    """A block as the keeper keys it."""

    number: int
    hash: str
    timestamp: int
    base_fee: int


def whole_limits(small_position: int, dust_floor: int, base_decimals: int) -> tuple[int, int]:
    """``control()``'s small-position and dust-floor limits, which it returns
    in base units (``MarketAdmin.control`` multiplies the stored whole
    units by ``BASE_UNIT``), as the whole stablecoin units that
    ``MarketTerms`` and the reference model take (the model multiplies by
    the base unit again: passing base units made every position "small"
    and every partial liquidation a dust violation)."""
    unit = 10**base_decimals
    return small_position // unit, dust_floor // unit


class ChainReader:
    """Reads of one market, its lens and facilities through ``w3``.

    ``decode_logs(raw_logs)`` turns raw ``eth_getLogs`` entries into Ape
    ``ContractLog``s (the market's event ABIs); ``on_call`` is told of each
    RPC request (the benchmark counts them)."""

    def __init__(
        self,
        w3: Any,
        market: str,
        lens: str,
        *,
        decode_logs: Callable[[list[dict[str, Any]]], list[Any]],
        event_topics: Sequence[str],
        batch_size: int = LENS_MAX_ACCOUNTS,
        parallel: int = 4,
        on_call: Callable[[str], None] | None = None,
    ) -> None:
        self.w3 = w3
        self.market = to_address(market)
        self.lens = to_address(lens)
        self.batch_size = min(batch_size, LENS_MAX_ACCOUNTS)
        self._decode_logs = decode_logs
        self._topics = list(event_topics)
        self._pool = ThreadPoolExecutor(max_workers=max(parallel, 1), thread_name_prefix="lens")
        self._on_call = on_call or (lambda method: None)

    # ---- blocks

    def head(self) -> BlockRef:
        return self.block("latest")

    def block(self, ident: int | str) -> BlockRef:
        self._on_call("eth_getBlockByNumber")
        b = self.w3.eth.get_block(ident)
        return BlockRef(
            number=int(b["number"]),
            hash=_hex(b["hash"]),
            timestamp=int(b["timestamp"]),
            base_fee=int(b.get("baseFeePerGas", 0) or 0),
        )

    def block_hash(self, number: int) -> str | None:
        try:
            return self.block(number).hash
        except Exception as err:
            if "not found" in str(err).lower():
                return None
            raise

    # ---- health

    def healths(self, accounts: Sequence[str], block: int | str = "latest") -> list[AccountHealth]:
        """The Lens health of every account, in order."""
        batches = chunks(list(accounts), self.batch_size)
        if len(batches) <= 1:
            results = [self._healths_batch(b, block) for b in batches]
        else:
            results = list(self._pool.map(lambda b: self._healths_batch(b, block), batches))
        return [h for batch in results for h in batch]

    def health(self, account: str, block: int | str = "latest") -> AccountHealth:
        return self._healths_batch([account], block)[0]

    def _healths_batch(self, accounts: list[str], block: int | str) -> list[AccountHealth]:
        data = _HEALTHS_SELECTOR + encode(["address", "address[]"], [self.market, accounts])
        raw = self._call(self.lens, data, block)
        (entries,) = decode([f"{_HEALTH_TUPLE}[]"], raw)
        return [AccountHealth.from_lens(e) for e in entries]

    # ---- market and facilities

    def market_terms(self, block: int | str = "latest") -> MarketTerms:
        """The market's liquidation parameters and every asset's terms."""
        base = self._read(self.market, "asset()", [], ["address"], block)[0]
        base_decimals = self._read(base, "decimals()", [], ["uint8"], block)[0]
        control = self._read(self.market, "control()", [], ["uint256"] * 7, block)
        paused, resume_at, flash_fee_bps, liq_fee_bps, _min_borrow, small, dust = control
        small, dust = whole_limits(small, dust, base_decimals)
        now = self.block(block).timestamp if block != "latest" else self.head().timestamp
        max_flash = self._read(self.market, "maxFlashLoan(address)", ["address"], ["uint256"], block, base)[0]
        count = self._read(self.market, "asset_count()", [], ["uint256"], block)[0]
        assets = tuple(self._asset_terms(i, base_decimals, block) for i in range(count))
        return MarketTerms(
            base_decimals=base_decimals,
            small_position=small,
            dust_floor=dust,
            liquidation_fee_bps=liq_fee_bps,
            flash_fee_bps=flash_fee_bps,
            max_flash_loan=max_flash,
            liquidation_open=not (paused & PAUSE_LIQUIDATION) and now >= resume_at,
            assets=assets,
        )

    def _asset_terms(self, asset_id: int, base_decimals: int, block: int | str) -> AssetTerms:
        token = self._read(self.market, "asset_at(uint256)", ["uint256"], ["address"], block, asset_id)[0]
        cfg = self._read(
            self.market,
            "asset_config(address)",
            ["address"],
            ["(address,address,address,uint256,uint256,uint256,uint256,uint256,uint256,bool,uint256)"],
            block,
            token,
        )[0]
        oracle, facility, threshold, bonus = cfg[1], to_address(cfg[2]), cfg[4], cfg[5]
        price, stale = self._read(self.market, "asset_price(address)", ["address"], ["uint256", "bool"], block, token)
        token_decimals = self._read(token, "decimals()", [], ["uint8"], block)[0]
        oracle_decimals = self._read(oracle, "decimals()", [], ["uint8"], block)[0]
        exponent = token_decimals + oracle_decimals - base_decimals
        terms = dict(
            token=to_address(token),
            asset_id=asset_id,
            value_exponent=exponent,
            price=price,
            bonus_bps=bonus,
            threshold_bps=threshold,
            stale=stale,
        )
        if facility == ZERO_ADDRESS:
            return AssetTerms(**terms)
        fee = self._read(facility, "fee_bps()", [], ["uint256"], block)[0]
        max_redeem = self._read(facility, "max_redeem()", [], ["uint256"], block)[0]
        one = 10**token_decimals
        net_one = self._read(facility, "preview_redeem(uint256)", ["uint256"], ["uint256"], block, one)[0]
        # Back to the facility's gross price per share in oracle decimals.
        gross_one = net_one * BPS // (BPS - fee) if fee < BPS else 0
        redeem_price = gross_one * 10 ** (oracle_decimals - base_decimals) if oracle_decimals >= base_decimals else 0
        payout = self._read(facility, "payout_token()", [], ["address"], block)[0]
        # A WrappedFacility redeems through the fund's facility, which holds the cash.
        try:
            cash_holder = self._read(facility, "facility()", [], ["address"], block)[0]
        except Exception:
            cash_holder = facility
        liquidity = self._read(payout, "balanceOf(address)", ["address"], ["uint256"], block, cash_holder)[0]
        min_redeem = self._optional(facility, "min_redeem()", block)
        remaining = self._optional(cash_holder, "remaining_limit()", block, default=liquidity)
        return AssetTerms(
            **terms,
            facility=facility,
            redeem_price=redeem_price,
            redemption_fee_bps=fee,
            facility_max_redeem=max_redeem,
            facility_min_redeem=min_redeem,
            facility_liquidity=liquidity,
            facility_remaining_limit=remaining,
        )

    def erc20_balance(self, token: str, account: str, block: int | str = "latest") -> int:
        return self._read(token, "balanceOf(address)", ["address"], ["uint256"], block, account)[0]

    def is_allowlisted(self, fund: str, account: str, block: int | str = "latest") -> bool:
        """FundToken's allowlist (a wrapper defers to its fund's; a token
        without one answers False)."""
        try:
            return bool(self._read(fund, "is_allowlisted(address)", ["address"], ["bool"], block, account)[0])
        except Exception:
            try:
                underlying = self._read(fund, "asset()", [], ["address"], block)[0]
                return bool(
                    self._read(underlying, "is_allowlisted(address)", ["address"], ["bool"], block, account)[0]
                )
            except Exception:
                return False

    def is_frozen(self, fund: str, account: str, block: int | str = "latest") -> bool:
        """FundToken's freeze (a wrapper defers to its fund's; a token
        without one answers False: nothing to freeze)."""
        try:
            return bool(self._read(fund, "is_frozen(address)", ["address"], ["bool"], block, account)[0])
        except Exception:
            try:
                underlying = self._read(fund, "asset()", [], ["address"], block)[0]
                return bool(self._read(underlying, "is_frozen(address)", ["address"], ["bool"], block, account)[0])
            except Exception:
                return False

    def owner_of(self, contract: str) -> str:
        return to_address(self._read(contract, "owner()", [], ["address"], "latest")[0])

    def code_size(self, address: str) -> int:
        self._on_call("eth_getCode")
        return len(self.w3.eth.get_code(to_address(address)))

    def native_balance(self, account: str) -> int:
        self._on_call("eth_getBalance")
        return int(self.w3.eth.get_balance(to_address(account)))

    def read_address(self, contract: str, signature: str) -> str:
        return to_address(self._read(contract, signature, [], ["address"], "latest")[0])

    # ---- logs

    def market_logs(self, start: int, end: int, chunk: int) -> list[LogRecord]:
        """The position events of blocks ``start..end`` (inclusive), in
        order; the range is fetched ``chunk`` blocks at a time, halved when
        the node refuses it."""
        records: list[LogRecord] = []
        lo = start
        size = max(chunk, 1)
        while lo <= end:
            hi = min(lo + size - 1, end)
            try:
                raw = self._get_logs(lo, hi)
            except Exception as err:
                if size > 1 and _range_refused(err):
                    size = max(size // 2, 1)
                    continue
                raise
            records.extend(log_record(entry) for entry in self._decode_logs(raw))
            lo = hi + 1
        return records

    def _get_logs(self, start: int, end: int) -> list[dict[str, Any]]:
        self._on_call("eth_getLogs")
        return list(
            self.w3.eth.get_logs(
                {"fromBlock": start, "toBlock": end, "address": self.market, "topics": [self._topics]}
            )
        )

    # ---- plumbing

    def _read(
        self, to: str, signature: str, types_in: list[str], types_out: list[str], block: int | str, *args: Any
    ) -> tuple[Any, ...]:
        data = function_signature_to_4byte_selector(signature) + (encode(types_in, list(args)) if types_in else b"")
        return decode(types_out, self._call(to, data, block))

    def _optional(self, to: str, signature: str, block: int | str, default: int = 0) -> int:
        try:
            return int(self._read(to, signature, [], ["uint256"], block)[0])
        except Exception:
            return default

    def _call(self, to: str, data: bytes, block: int | str) -> bytes:
        self._on_call("eth_call")
        return bytes(self.w3.eth.call({"to": to_address(to), "data": "0x" + data.hex()}, block))

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def encode_flash_liquidate(plan: Plan) -> bytes:
    """Calldata of ``FlashLiquidator.liquidate(borrower, token, max_repay, min_profit)``."""
    return _FLASH_LIQUIDATE + encode(
        ["address", "address", "uint256", "uint256"], [plan.borrower, plan.token, plan.max_repay, plan.min_profit]
    )


def encode_market_liquidate(plan: Plan, receiver: str) -> bytes:
    """Calldata of ``Market.liquidate(borrower, token, max_repay, min_out, False, receiver)``."""
    return _MARKET_LIQUIDATE + encode(
        ["address", "address", "uint256", "uint256", "bool", "address"],
        [plan.borrower, plan.token, plan.max_repay, plan.min_out, False, to_address(receiver)],
    )


def decode_liquidated_profit(data: Any) -> int:
    """``profit`` from the data of a FlashLiquidator ``Liquidated`` log."""
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
    return int(decode(["uint256"] * 5, raw)[4])


def event_topics(event_abis: Sequence[Any]) -> list[str]:
    """topic0 of each event ABI (Ape ``EventABI``) the index consumes."""
    return ["0x" + keccak(text=abi.selector).hex() for abi in event_abis if abi.name in INDEXED_EVENTS]


def log_record(entry: Any) -> LogRecord:
    """An Ape ``ContractLog`` (or a decoded dict of one) as a ``LogRecord``."""
    get = entry.get if isinstance(entry, dict) else lambda key, default=None: getattr(entry, key, default)
    return LogRecord.from_event(
        get("event_name"),
        dict(get("event_arguments")),
        block_number=get("block_number"),
        block_hash=get("block_hash"),
        tx_hash=get("transaction_hash"),
        log_index=get("log_index"),
        removed=bool(get("removed", False) or False),
    )


def _range_refused(err: BaseException) -> bool:
    text = str(err).lower()
    return any(s in text for s in ("range", "too many", "limit", "exceed", "timeout", "10000"))


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = value.hex() if hasattr(value, "hex") and not isinstance(value, str) else str(value)
    return text if text.startswith("0x") else "0x" + text
