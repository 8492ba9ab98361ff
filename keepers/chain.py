"""The keeper's RPC edge: every read it makes of the chain.

- :meth:`ChainReader.healths`: the Lens in batches of up to 500 accounts per
  ``eth_call``, the batches sent concurrently (the node answers them on its
  own threads), decoded word by word at the offsets of the Lens ABI (Ape's
  struct decoding costs more than the call itself at 10,000 accounts);
- :meth:`ChainReader.market_terms`: what a decision needs from the market
  and each redemption facility (``keepers.types.MarketTerms``);
- :meth:`ChainReader.market_logs`: the position events of a block range in
  chunks, as ``keepers.types.LogRecord``s (halving the chunk when the node
  refuses a range);
- :func:`log_record`: an Ape ``ContractLog`` (a Silverback event handler's
  argument, ``removed`` included) as a ``LogRecord``.

Everything is a plain ``eth_call`` / ``eth_getLogs`` through web3, keyed by
block number when the caller passes one, so a scan and its re-check read the
state they mean to. Every selector, argument and return type, event topic
and struct field comes from the compiled ABIs (:mod:`navlend.abi`), never
from a hand-typed signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import structlog
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes

from navlend.constants import BPS, WAD, ZERO_ADDRESS
from keepers.types import (
    INDEXED_EVENTS,
    LENS_MAX_ACCOUNTS,
    AccountHealth,
    AssetTerms,
    GatheredBatch,
    LogRecord,
    MarketTerms,
    Plan,
    chunks,
    to_address,
)
from keepers.rpc_policy import FailureKind, classify_exception
from navlend import abi

log = structlog.get_logger("keepers.chain")

PAUSE_LIQUIDATION = 64
PAUSE_FLASH_LOAN = 32

# Every call and event below is bound from the compiled ABIs (navlend/abi):
# a function or event the contracts no longer have fails the import, by name.
_VIEWS = abi.contract("IMarketViews")
_FLASH = abi.contract("FlashLiquidator")
_FACILITY = abi.contract("IRedemptionFacility")
# The Lens' health of a batch of accounts (decoded by decode_healths).
_HEALTHS = abi.function("Lens", "healths")
# The market's views, at the market's address.
_BASE_ASSET = _VIEWS.function("asset")
_CONTROL = _VIEWS.function("control")
_MAX_FLASH_LOAN = _VIEWS.function("maxFlashLoan")
_ASSET_COUNT = _VIEWS.function("asset_count")
_ASSET_AT = _VIEWS.function("asset_at")
_ASSET_CONFIG = _VIEWS.function("asset_config")
_ASSET_PRICE = _VIEWS.function("asset_price")
_ASSET_RATIO = _VIEWS.function("asset_ratio")
_ASSET_COMPLIANCE = _VIEWS.function("asset_compliance")
# Tokens (ERC-20 with its metadata) and price feeds.
_TOKEN_DECIMALS = abi.function("ERC20", "decimals")
_BALANCE_OF = abi.function("ERC20", "balanceOf")
_FEED_DECIMALS = abi.function("IAggregatorV3", "decimals")
# A redemption facility (the interface the market speaks), and the views
# only the local issuer models have, probed: a WrappedFacility's facility,
# a RedemptionFacility's minimum and rolling limit.
_FEE_BPS = _FACILITY.function("fee_bps")
_MAX_REDEEM = _FACILITY.function("max_redeem")
_PREVIEW_REDEEM = _FACILITY.function("preview_redeem")
_PAYOUT_TOKEN = _FACILITY.function("payout_token")
_CASH_FACILITY = abi.function("WrappedFacility", "facility")
_MIN_REDEEM = abi.function("RedemptionFacility", "min_redeem")
_REMAINING_LIMIT = abi.function("RedemptionFacility", "remaining_limit")
# A compliance source's views (a fund token, or an issuer's adapter such as
# SuperstateCompliance / OndoCompliance), and a wrapper's fund (ERC-4626
# ``asset``).
_IS_ALLOWLISTED = abi.function("IFundToken", "is_allowlisted")
_IS_FROZEN = abi.function("IFundToken", "is_frozen")
_PAUSED = abi.function("IFundToken", "paused")
# A facility that redeems, in one redemption, the shares the seize route
# sent it (the gathered batch's second half), probed (see
# ChainReader.facility_gathers).
_REDEEM_RECEIVED = abi.function("IGatheredRedemption", "redeem_received")
_WRAPPED_FUND = abi.function("IERC4626", "asset")
# snekmate's ownable, as the FlashLiquidator exports it.
_OWNER = _FLASH.function("owner")
# What the keeper sends: FlashLiquidator.liquidate(borrower, token,
# max_repay, min_profit), its batch, and Market.liquidate (the seize route).
_FLASH_LIQUIDATE = _FLASH.function("liquidate", arity=4)
_FLASH_LIQUIDATE_MANY = _FLASH.function("liquidate_many")
_FLASH_LIQUIDATE_GATHERED = _FLASH.function("liquidate_gathered")
_MARKET_LIQUIDATE = abi.function("IMarket", "liquidate", arity=6)
# What a mined FlashLiquidator transaction logs (keeper.mined_result).
_LIQUIDATED = _FLASH.event("Liquidated")
_BATCH_LIQUIDATED = _FLASH.event("BatchLiquidated")
_LIQUIDATION_SKIPPED = _FLASH.event("LiquidationSkipped")
LIQUIDATED_TOPIC = _LIQUIDATED.topic
BATCH_LIQUIDATED_TOPIC = _BATCH_LIQUIDATED.topic
LIQUIDATION_SKIPPED_TOPIC = _LIQUIDATION_SKIPPED.topic
# The market's events, whose topics the position index filters on.
_MARKET_EVENTS = abi.contract("MarketEvents")
# The revert payload of a Vyper `assert ..., "reason"` (no contract ABI
# declares it): what a skipped position's reason usually is.
_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")


@dataclass(frozen=True)
class AssetConfigRead:
    """The fields of ``asset_config`` the keeper reads, named as the ABI's
    ``AssetConfig`` components (:meth:`navlend.abi.Struct.build` copies them
    by name; ``tests/lib`` holds the names and order to the ABI)."""

    oracle: str
    facility: str
    threshold_bps: int
    bonus_bps: int
    frozen: bool


# How long an empty revert at the head waits for the head to move (see Rpc).
EMPTY_REVERT_WAIT_SECONDS = 0.5


class RpcError(RuntimeError):
    """A JSON-RPC error that is not a revert (the node refused the request)."""


class CallReverted(RuntimeError):
    """An ``eth_call`` or ``eth_estimateGas`` that reverted: the node's
    message (``execution reverted: <reason>``) and the revert data."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(message)
        self.message = message
        self.data = data


def retry_empty_revert(data: bytes, block: int | str, head_now: int, attempt: int) -> bool:
    """Whether a call that reverted with ``data`` at ``block`` is asked again.

    anvil answers a call at the head (``latest``, or the head's number)
    from its live state: while it mines the next block, a call can run on
    that block's state with the head's environment (``block.timestamp``,
    ``block.number``), and anvil publishes the new head only after. The
    market and the facility then compute ``block.timestamp - last_update``
    with ``last_update`` from the newer block, which underflows: a revert
    with no data at all. Measured on anvil 1.7.1 with interval mining: 1 to
    3 calls in 10,000-23,000 at the head, none in 21,000 at the block
    before. Once the head has moved past ``block``, the same call reads a
    finished block and its answer is final: one retry. A revert with data
    (a reason) is the contract's own answer; so is an empty one at a block
    that is still the head (:class:`Rpc` waits a moment for it to move)."""
    if data or attempt >= 1:
        return False
    return not isinstance(block, int) or head_now > block


class Rpc:
    """JSON-RPC through web3's provider (``w3.provider.make_request``),
    without web3's eth-module formatting, which cost ~0.3 s per
    10,000-account scan. Blocks are numbers (pinned) or tags. Reverts
    raise :class:`CallReverted`, other node errors :class:`RpcError`;
    an empty revert at the head is asked again (:func:`retry_empty_revert`).
    ``on_call`` is told of each request (the benchmark counts them)."""

    def __init__(
        self,
        w3: Any,
        on_call: Callable[[str], None] | None = None,
        empty_revert_wait: float = EMPTY_REVERT_WAIT_SECONDS,
    ) -> None:
        self.w3 = w3
        self._on_call = on_call or (lambda method: None)
        self.empty_revert_wait = empty_revert_wait

    def request(self, method: str, params: list[Any]) -> Any:
        self._on_call(method)
        reply = self.w3.provider.make_request(method, params)
        error = reply.get("error") if isinstance(reply, dict) else None
        if error:
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            if "revert" in message.lower():
                raise CallReverted(message, _revert_data(error))
            raise RpcError(f"{method}: {message}")
        return reply.get("result")

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def call(self, tx: dict[str, Any], block: int | str, *, probe: bool = False) -> bytes:
        """``eth_call`` at ``block``: the return data. ``probe``: a call
        that may revert by design (a function the contract may not have),
        never asked again."""
        result = self._executing("eth_call", tx, block, retry=not probe)
        return bytes.fromhex(result[2:])

    def estimate_gas(self, tx: dict[str, Any], block: int | str) -> int:
        return int(self._executing("eth_estimateGas", tx, block), 16)

    def _executing(self, method: str, tx: dict[str, Any], block: int | str, retry: bool = True) -> Any:
        tag = hex(block) if isinstance(block, int) else block
        attempt = 0
        while True:
            try:
                return self.request(method, [tx, tag])
            except CallReverted as err:
                # A reason needs no look at the head (it is the contract's answer).
                if not retry or err.data or not retry_empty_revert(err.data, block, self._head_past(block), attempt):
                    raise
                attempt += 1
                log.info("empty revert at the head; asked again", method=method, block=block)

    def _head_past(self, block: int | str) -> int:
        """The head, waited for (``empty_revert_wait`` at most) until it is
        past ``block``: anvil publishes a block a moment after its state."""
        deadline = time.monotonic() + self.empty_revert_wait
        head = self.block_number()
        while isinstance(block, int) and head <= block and time.monotonic() < deadline:
            time.sleep(0.02)
            head = self.block_number()
        return head


def _revert_data(error: dict[str, Any]) -> bytes:
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


@dataclass(frozen=True)
class BlockRef:
    """A block as the keeper keys it."""

    number: int
    hash: str
    timestamp: int
    base_fee: int
    # The previous block's hash ("" when unknown): a block whose parent is
    # the checkpoint needs no look back for a reorg.
    parent_hash: str = ""


def block_ref(block: Any) -> BlockRef | None:
    """The keeper's :class:`BlockRef` of a block Silverback hands a block
    task (Ape's block: ``number``, ``hash``, ``timestamp``, ``base_fee``,
    ``parent_hash``), so the keeper need not read the head again; None
    when the block lacks a number or hash (the keeper reads the head)."""
    number, block_hash = getattr(block, "number", None), getattr(block, "hash", None)
    if not isinstance(number, int) or block_hash is None:
        return None
    parent = getattr(block, "parent_hash", None)
    return BlockRef(
        number=number,
        hash=HexBytes(block_hash).to_0x_hex(),
        timestamp=int(getattr(block, "timestamp", 0) or 0),
        base_fee=int(getattr(block, "base_fee", 0) or 0),
        parent_hash=HexBytes(parent).to_0x_hex() if parent else "",
    )


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
        self.rpc = Rpc(w3, on_call)
        self.market = to_address(market)
        self.lens = to_address(lens)
        self.batch_size = min(batch_size, LENS_MAX_ACCOUNTS)
        self._decode_logs = decode_logs
        self._topics = list(event_topics)
        self._pool = ThreadPoolExecutor(max_workers=max(parallel, 1), thread_name_prefix="lens")
        self._on_call = on_call or (lambda method: None)
        # facility -> whether it gathers (probed once per facility).
        self._gathers: dict[str, bool] = {}
        # token -> its compliance source, for one block number at a time
        # (the keeper asks four views of one asset per block; an admin's
        # set_asset_compliance takes effect in a later block).
        self._sources: dict[str, str | None] = {}
        self._sources_block: int | None = None

    # ---- blocks

    def head(self) -> BlockRef:
        return self.block("latest")

    def block(self, ident: int | str) -> BlockRef:
        self._on_call("eth_getBlockByNumber")
        b = self.w3.eth.get_block(ident)
        return BlockRef(
            number=int(b["number"]),
            hash=HexBytes(b["hash"]).to_0x_hex(),
            timestamp=int(b["timestamp"]),
            base_fee=int(b.get("baseFeePerGas", 0) or 0),
            parent_hash=HexBytes(b["parentHash"]).to_0x_hex() if b.get("parentHash") else "",
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
        data = _HEALTHS.encode(self.market, accounts)
        return decode_healths(self._call(self.lens, data, block), accounts)

    # ---- market and facilities

    def market_terms(self, block: int | str = "latest") -> MarketTerms:
        """The market's liquidation parameters and every asset's terms."""
        (base,) = self._read(_BASE_ASSET, self.market, block)
        (base_decimals,) = self._read(_TOKEN_DECIMALS, base, block)
        # Vyper names no output of control()'s bare 7-tuple: the order is the
        # ABI's (views.vy's NatSpec), its arity checked by this unpacking and
        # against navlend.cli.records.Control by tests/lib.
        paused, resume_at, flash_fee_bps, liq_fee_bps, _min_borrow, small, dust = self._read(
            _CONTROL, self.market, block)
        small, dust = whole_limits(small, dust, base_decimals)
        now = self.block(block).timestamp if block != "latest" else self.head().timestamp
        (max_flash,) = self._read(_MAX_FLASH_LOAN, self.market, block, base)
        (count,) = self._read(_ASSET_COUNT, self.market, block)
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
        (token,) = self._read(_ASSET_AT, self.market, block, asset_id)
        (config,) = self._read(_ASSET_CONFIG, self.market, block, token)
        cfg = _ASSET_CONFIG.output_struct.build(AssetConfigRead, config)
        facility = to_address(cfg.facility)
        price, stale = self._read(_ASSET_PRICE, self.market, block, token)
        (token_decimals,) = self._read(_TOKEN_DECIMALS, token, block)
        (oracle_decimals,) = self._read(_FEED_DECIMALS, cfg.oracle, block)
        exponent = token_decimals + oracle_decimals - base_decimals
        # Real units per booked unit (below one once an issuer's seizure or
        # burn of the market's shares is synced). A short asset is always
        # frozen (the sync freezes it, and it cannot be unfrozen while
        # short), so only a frozen one costs the extra call; a market
        # without the view predates the sync: whole.
        ratio = WAD
        if cfg.frozen:
            try:
                ratio = int(self._read(_ASSET_RATIO, self.market, block, token, probe=True)[0])
            except Exception:
                ratio = WAD
        terms = dict(
            token=to_address(token),
            asset_id=asset_id,
            value_exponent=exponent,
            price=price,
            bonus_bps=cfg.bonus_bps,
            threshold_bps=cfg.threshold_bps,
            stale=stale,
            ratio=ratio,
            **self._issuer_bars(token, block),
        )
        if facility == ZERO_ADDRESS:
            return AssetTerms(**terms)
        (fee,) = self._read(_FEE_BPS, facility, block)
        (max_redeem,) = self._read(_MAX_REDEEM, facility, block)
        one = 10**token_decimals
        (net_one,) = self._read(_PREVIEW_REDEEM, facility, block, one)
        # Back to the facility's gross price per share in oracle decimals.
        gross_one = net_one * BPS // (BPS - fee) if fee < BPS else 0
        redeem_price = gross_one * 10 ** (oracle_decimals - base_decimals) if oracle_decimals >= base_decimals else 0
        (payout,) = self._read(_PAYOUT_TOKEN, facility, block)
        # A WrappedFacility redeems through the fund's facility, which holds the cash.
        try:
            (cash_holder,) = self._read(_CASH_FACILITY, facility, block, probe=True)
        except Exception:
            cash_holder = facility
        (liquidity,) = self._read(_BALANCE_OF, payout, block, cash_holder)
        min_redeem = self._optional(_MIN_REDEEM, facility, block)
        remaining = self._optional(_REMAINING_LIMIT, cash_holder, block, default=liquidity)
        return AssetTerms(
            **terms,
            facility=facility,
            redeem_price=redeem_price,
            redemption_fee_bps=fee,
            facility_max_redeem=max_redeem,
            facility_min_redeem=min_redeem,
            facility_liquidity=liquidity,
            facility_remaining_limit=remaining,
            facility_gathers=self.facility_gathers(facility, block),
        )

    def erc20_balance(self, token: str, account: str, block: int | str = "latest") -> int:
        return self._read(_BALANCE_OF, token, block, account)[0]

    def compliance_source(self, token: str, block: int | str = "latest") -> str | None:
        """The market's compliance source for the listed ``token``: the
        fund token itself, a wrapper's fund, or an issuer's adapter
        (SuperstateCompliance, OndoCompliance) for a token with another
        interface; None when the market has none (or predates the view).
        Read once per token and block number (a tag such as "latest" is
        read every time)."""
        token = to_address(token)
        pinned = isinstance(block, int)
        if pinned and self._sources_block == block and token in self._sources:
            return self._sources[token]
        try:
            (source,) = self._read(_ASSET_COMPLIANCE, self.market, block, token, probe=True)
            source = to_address(source)
            answer = None if source == ZERO_ADDRESS else source
        except Exception:
            answer = None
        if pinned:
            if self._sources_block != block:
                self._sources, self._sources_block = {}, block
            self._sources[token] = answer
        return answer

    def is_allowlisted(self, token: str, account: str, block: int | str = "latest") -> bool:
        """Whether ``account`` may hold ``token``: the market's compliance
        source's answer, else the token's own (a wrapper defers to its
        fund's); a token that answers neither way: False."""
        return self._compliance(_IS_ALLOWLISTED, token, account, block)

    def is_frozen(self, token: str, account: str, block: int | str = "latest") -> bool:
        """Whether ``account`` is frozen for ``token``, read as
        :meth:`is_allowlisted` reads (False where nothing answers: nothing
        to freeze; Superstate and Ondo have no freeze, their adapters
        answer False)."""
        return self._compliance(_IS_FROZEN, token, account, block)

    def _compliance(
        self, view: abi.Function, token: str, account: str | None, block: int | str, *, source: Any = ...
    ) -> bool:
        """``view`` (of ``account``, or of nothing) asked of the asset's
        compliance source (``source`` when the caller has read it), else
        of the token, else of a wrapper's fund; False where none answers."""
        if source is ...:
            source = self.compliance_source(token, block)
        candidates = [source] if source is not None else [token]
        if source is None:
            try:
                candidates.append(self._read(_WRAPPED_FUND, token, block, probe=True)[0])
            except Exception:
                pass
        for holder in candidates:
            try:
                args = () if account is None else (account,)
                return bool(self._read(view, holder, block, *args, probe=True)[0])
            except Exception:
                log.debug("no compliance view", view=view.label, holder=holder, token=token)
        return False

    def _issuer_bars(self, token: str, block: int | str) -> dict[str, bool]:
        """``paused`` and ``market_admitted`` of ``token``'s terms, the
        compliance source read once for both."""
        source = self.compliance_source(token, block)
        return {
            "paused": self._compliance(_PAUSED, token, None, block, source=source),
            "market_admitted": self._admits_market(source, token, block),
        }

    def is_paused(self, token: str, block: int | str = "latest") -> bool:
        """Whether the issuer has paused ``token``'s transfers: the
        ``paused()`` of the market's compliance source (SuperstateCompliance
        and OndoCompliance pass on the token's), else of the token or a
        wrapper's fund, as :meth:`is_allowlisted` reads; False where none
        has the view (nothing to pause)."""
        return self._compliance(_PAUSED, to_address(token), None, block)

    def market_admitted(self, token: str, block: int | str = "latest") -> bool:
        """Whether the market's compliance source for ``token`` admits the
        market itself (``is_allowlisted(market)``): the market sends the
        shares in both routes, so the issuer's token refuses every
        liquidation when it does not. Only the market's own source is
        asked: without one (a wrapper, whose fund admits the wrapper, not
        the market) the market is taken as admitted, and so when the source
        does not answer."""
        token = to_address(token)
        return self._admits_market(self.compliance_source(token, block), token, block)

    def _admits_market(self, source: str | None, token: str, block: int | str) -> bool:
        """:meth:`market_admitted` with the compliance source read."""
        if source is None:
            return True
        try:
            return bool(self._read(_IS_ALLOWLISTED, source, block, self.market, probe=True)[0])
        except Exception:
            log.debug("compliance source without is_allowlisted", source=source, token=token)
            return True

    def facility_gathers(self, facility: str, block: int | str = "latest") -> bool:
        """Whether ``facility`` implements ``IGatheredRedemption`` (the
        redemption half of ``FlashLiquidator.liquidate_gathered``), probed
        once per facility and remembered.

        No flag names it on chain (no ERC-165 in the adapters), and a
        config list would go stale when the owner changes a facility; an
        ``eth_call`` of ``redeem_received(0, receiver)`` to a real receiver
        would answer what redeeming the facility's holdings pays, or an
        issuer's refusal, neither of which says whether the function
        exists. So the probe calls it with the zero receiver, which every
        implementation refuses first, with a reason ("adapter: zero
        address", "adapter: bad receiver"), before it reads anything: a
        revert *with a reason* (or a uint256 answer) means the function is
        there; a revert without data (a Vyper contract without the
        selector and no fallback) or a success with no return data (a
        fallback that takes anything) means it is not. An ``eth_call``
        changes nothing. A facility that a fallback answers with a reason
        would be taken as gathering: the batch's simulation then reverts
        and nothing is sent."""
        facility = to_address(facility)
        known = self._gathers.get(facility)
        if known is None:
            known = self.answers(facility, _REDEEM_RECEIVED.encode(0, ZERO_ADDRESS), block)
            self._gathers[facility] = known
            log.info("facility probed for gathered redemptions", facility=facility, gathers=known)
        return known

    def answers(self, to: str, data: bytes, block: int | str = "latest") -> bool:
        """Whether ``to`` has the function ``data`` calls (see
        :meth:`facility_gathers`): it returned a word, or reverted with a
        reason (``Error(string)``)."""
        try:
            out = self._call(to_address(to), data, block, probe=True)
        except CallReverted as err:
            return err.data[:4] == _ERROR_STRING
        return len(out) >= 32

    def has_liquidate_gathered(self, flash: str) -> bool:
        """Whether the FlashLiquidator ``flash`` has ``liquidate_gathered``
        (probed as :meth:`facility_gathers` probes: an empty batch is
        refused with a reason, by its owner check or its batch check)."""
        return self.answers(to_address(flash), _FLASH_LIQUIDATE_GATHERED.encode(ZERO_ADDRESS, [], [], 0, 0))

    def preview_redeem(self, facility: str, shares: int, block: int | str = "latest") -> int:
        """The facility's payout for ``shares`` in one redemption (0 when
        it would refuse it)."""
        return int(self._read(_PREVIEW_REDEEM, to_address(facility), block, shares)[0])

    def owner_of(self, contract: str) -> str:
        """The ``owner()`` of an ownable contract (snekmate's, as the
        FlashLiquidator exports it)."""
        return self.read_address(contract, _OWNER)

    def code_size(self, address: str) -> int:
        self._on_call("eth_getCode")
        return len(self.w3.eth.get_code(to_address(address)))

    def native_balance(self, account: str) -> int:
        self._on_call("eth_getBalance")
        return int(self.w3.eth.get_balance(to_address(account)))

    def read_address(self, contract: str, function: abi.Function) -> str:
        """The address a view without arguments returns (``function`` of
        ``contract``'s ABI, e.g. ``FlashLiquidator.MARKET``) at the head."""
        _expect_outputs(function, ("address",))
        return to_address(self._read(function, contract, "latest")[0])

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
                part = self.market_logs_once(lo, hi)
            except Exception as err:
                if size > 1 and _range_refused(err):
                    size = max(size // 2, 1)
                    continue
                raise
            records.extend(part)
            lo = hi + 1
        return records

    def market_logs_once(self, start: int, end: int) -> list[LogRecord]:
        """The position events of blocks ``start..end`` in one ``getLogs``
        (a refusal raises: ``keepers.backfill`` sizes its chunks itself)."""
        return [log_record(entry) for entry in self._decode_logs(self._get_logs(start, end))]

    def logs_of(self, start: int, end: int, addresses: Sequence[str], topics: Sequence[str]) -> list[dict[str, Any]]:
        """The raw logs of blocks ``start..end`` emitted by any of
        ``addresses`` with any of the topic0s ``topics``, in ONE ``getLogs``
        (health from the index: the market's and the NAV oracles' logs
        together; a refusal raises, as :meth:`market_logs_once`)."""
        self._on_call("eth_getLogs")
        return list(self.w3.eth.get_logs(
            {"fromBlock": start, "toBlock": end, "address": list(addresses), "topics": [list(topics)]}))

    def _get_logs(self, start: int, end: int) -> list[dict[str, Any]]:
        self._on_call("eth_getLogs")
        return list(
            self.w3.eth.get_logs(
                {"fromBlock": start, "toBlock": end, "address": self.market, "topics": [self._topics]}
            )
        )

    # ---- plumbing

    def _read(
        self, function: abi.Function, to: str, block: int | str, *args: Any, probe: bool = False
    ) -> tuple[Any, ...]:
        """``function`` called on ``to`` with ``args``, its outputs decoded;
        ``probe``: a function ``to`` may not have (its revert is an answer,
        not asked again)."""
        return function.decode(self._call(to, function.encode(*args), block, probe=probe))

    def call_data(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        """The raw answer of an ``eth_call`` of ``data`` on ``to`` at
        ``block`` (a price feed, a token's allowance, an L1 fee oracle)."""
        return self._call(to, data, block)

    def optional_uint(self, to: str, function: abi.Function, block: int | str = "latest") -> int:
        """A ``uint`` view without arguments that ``to`` may not have (0 then),
        e.g. ``FlashLiquidator.MAX_BATCH`` of one deployed before batches."""
        return self._optional(function, to, block)

    def _optional(self, function: abi.Function, to: str, block: int | str, default: int = 0) -> int:
        _expect_outputs(function, ("uint256",))
        try:
            return int(self._read(function, to, block, probe=True)[0])
        except Exception:
            return default

    def _call(self, to: str, data: bytes, block: int | str, probe: bool = False) -> bytes:
        return self.rpc.call({"to": to, "data": "0x" + data.hex()}, block, probe=probe)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _expect_outputs(function: abi.Function, types: tuple[str, ...]) -> None:
    """Refuses a view whose outputs are not ``types`` (a caller that bound
    the wrong function), naming it."""
    if function.output_types != types:
        returns, wanted = ",".join(function.output_types), ",".join(types)
        raise abi.AbiError(f"{function.label} returns ({returns}), not ({wanted})")


# Lens.healths returns an array of Lens.AccountHealth, a static struct: the
# array is laid out inline (an offset word, a length word, then
# _HEALTH_BYTES per entry) and each field sits at a fixed offset of its
# entry. Both come from the Lens ABI, once, at import.
_HEALTH = _HEALTHS.output_struct
if not _HEALTHS.output_types[0].endswith(")[]"):
    raise abi.AbiError(
        f"{_HEALTHS.label} returns {_HEALTHS.output_types[0]}: decode_healths reads a dynamic array"
    )
_HEALTH_BYTES = _HEALTH.size
_WORD = abi.WORD


def _slot(name: str, abi_type: str) -> slice:
    """Where field ``name`` of an AccountHealth entry is: its word (an
    address's last 20 bytes), at the ABI's offset. AbiError at import when
    the Lens no longer has the field, or no longer as ``abi_type`` (the
    type :func:`decode_healths` reads it as)."""
    param = _HEALTH.component(name)
    if param.type != abi_type:
        raise abi.AbiError(
            f"{_HEALTH.label}.{name} is a {param.type}; decode_healths reads a {abi_type}"
        )
    at = _HEALTH.offset(name)
    return slice(at + _WORD - 20, at + _WORD) if abi_type == "address" else slice(at, at + _WORD)


_ACCOUNT = _slot("account", "address")
_DEBT = _slot("debt", "uint256")
_BORROW_VALUE = _slot("borrow_value", "uint256")
_LIQUIDATION_VALUE = _slot("liquidation_value", "uint256")
_HEALTH_FACTOR = _slot("health_factor", "uint256")
_LIQUIDATABLE = _slot("liquidatable", "bool")
_BEST_TOKEN = _slot("best_token", "address")
_MAX_REPAY = _slot("max_repay", "uint256")
_MAX_SEIZE = _slot("max_seize", "uint256")
_ASSETS_BITMAP = _slot("assets_bitmap", "uint256")
_FAILED = _slot("failed", "bool")
# Every field of the struct is read (distinct names): one the Lens adds
# must be read too.
_SLOTS = (_ACCOUNT, _DEBT, _BORROW_VALUE, _LIQUIDATION_VALUE, _HEALTH_FACTOR, _LIQUIDATABLE,
          _BEST_TOKEN, _MAX_REPAY, _MAX_SEIZE, _ASSETS_BITMAP, _FAILED)
if len(_SLOTS) != len(_HEALTH.components):
    raise abi.AbiError(
        f"{_HEALTH.label} has fields decode_healths does not read: {', '.join(_HEALTH.names)}"
    )


def decode_healths(raw: bytes, accounts: Sequence[str]) -> list[AccountHealth]:
    """``Lens.healths(market, accounts)``'s return data as ``AccountHealth``s.

    What eth-abi's generic decoder returns for the function's output type
    (``Lens.healths``' ABI), read word by word: the entries are static
    tuples, so each field is a fixed 32-byte slice, at the offset the ABI
    gives (the ``_slot`` constants above). At 10,000 accounts eth-abi plus
    checksumming took ~2.4 s of the scan's ~3 s (the node answers in
    ~0.3 s); this takes ~0.05 s. The unit tests hold it equal to eth-abi's
    decoding, and tests/lib holds ``AccountHealth``'s fields to the ABI's.
    The account of each entry must be the one asked for, in order (the
    Lens answers in order), so its checksum is the caller's."""
    view = memoryview(raw)
    if len(view) < 2 * _WORD:
        raise ValueError(f"Lens.healths: {len(view)} bytes of return data")
    offset = int.from_bytes(view[:_WORD], "big")
    count = int.from_bytes(view[offset : offset + _WORD], "big")
    start = offset + _WORD
    if count != len(accounts) or len(view) < start + count * _HEALTH_BYTES:
        raise ValueError(f"Lens.healths answered {count} entries for {len(accounts)} accounts")
    out = []
    word = int.from_bytes
    for account in accounts:
        entry = view[start : start + _HEALTH_BYTES]
        start += _HEALTH_BYTES
        if entry[_ACCOUNT] != bytes.fromhex(account[2:]):
            answered = entry[_ACCOUNT].hex()
            raise ValueError(f"Lens.healths answered for 0x{answered} in place of {account}")
        out.append(
            AccountHealth(
                account=account,
                debt=word(entry[_DEBT], "big"),
                borrow_value=word(entry[_BORROW_VALUE], "big"),
                liquidation_value=word(entry[_LIQUIDATION_VALUE], "big"),
                health_factor=word(entry[_HEALTH_FACTOR], "big"),
                liquidatable=word(entry[_LIQUIDATABLE], "big") != 0,
                best_token=_checksum(bytes(entry[_BEST_TOKEN])),
                max_repay=word(entry[_MAX_REPAY], "big"),
                max_seize=word(entry[_MAX_SEIZE], "big"),
                assets_bitmap=word(entry[_ASSETS_BITMAP], "big"),
                failed=word(entry[_FAILED], "big") != 0,
            )
        )
    return out


@lru_cache(maxsize=256)
def _checksum(raw: bytes) -> str:
    """A 20-byte address checksummed (a scan sees few distinct tokens)."""
    return to_address("0x" + raw.hex())


def encode_flash_liquidate(plan: Plan) -> bytes:
    """Calldata of ``FlashLiquidator.liquidate(borrower, token, max_repay, min_profit)``."""
    return _FLASH_LIQUIDATE.encode(plan.borrower, plan.token, plan.max_repay, plan.min_profit)


def encode_flash_liquidate_many(plans: Sequence[Plan], loan: int, min_profit: int) -> bytes:
    """Calldata of ``FlashLiquidator.liquidate_many(token, borrowers,
    max_repays, loan, min_profit)``; every plan is on the same token."""
    tokens = {plan.token for plan in plans}
    if len(tokens) != 1:
        raise ValueError(f"a batch is on one collateral, not {sorted(tokens)}")
    return _FLASH_LIQUIDATE_MANY.encode(
        plans[0].token, [p.borrower for p in plans], [p.max_repay for p in plans], loan, min_profit
    )


def encode_flash_liquidate_gathered(batch: GatheredBatch) -> bytes:
    """Calldata of ``FlashLiquidator.liquidate_gathered(token, borrowers,
    max_repays, loan, min_profit)``."""
    return _FLASH_LIQUIDATE_GATHERED.encode(
        batch.token, list(batch.borrowers), [p.max_repay for p in batch.plans], batch.loan, batch.min_profit
    )


def encode_market_liquidate(plan: Plan, receiver: str) -> bytes:
    """Calldata of ``Market.liquidate(borrower, token, max_repay, min_out, False, receiver)``."""
    return _MARKET_LIQUIDATE.encode(
        plan.borrower, plan.token, plan.max_repay, plan.min_out, False, to_address(receiver)
    )


def decode_liquidated_profit(data: Any) -> int:
    """``profit`` from the data (bytes or 0x-hex) of a FlashLiquidator ``Liquidated`` log."""
    return int(_LIQUIDATED.decode_data(data).profit)


def decode_batch_liquidated(data: Any) -> tuple[int, int]:
    """``(liquidated, profit)`` from the data of a ``BatchLiquidated`` log."""
    args = _BATCH_LIQUIDATED.decode_data(data)
    return int(args.liquidated), int(args.profit)


def decode_skipped_reason(data: Any) -> str:
    """The market's revert reason carried by a ``LiquidationSkipped`` log
    (an ``Error(string)``, possibly truncated: read by hand, which eth-abi
    refuses), or its raw hex."""
    reason = _LIQUIDATION_SKIPPED.decode_data(data).reason
    if reason[:4] == _ERROR_STRING and len(reason) >= 68:
        length = int.from_bytes(reason[36:68], "big")
        return reason[68 : 68 + length].decode("utf-8", errors="replace")
    return "0x" + reason.hex()


def event_topics(names: Sequence[str] = INDEXED_EVENTS) -> list[str]:
    """topic0 of each market event ``names`` (by default those the index
    consumes), from the market's ABI."""
    return [_MARKET_EVENTS.event(name).topic for name in names]


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
    """Whether the node refused a ``getLogs`` range as too large, as
    :func:`keepers.rpc_policy.classify_exception` reads providers' words
    (a 429 or a timeout is not a range refusal: halving on it shrank the
    chunk for nothing)."""
    return classify_exception(err).kind is FailureKind.LOG_RANGE

