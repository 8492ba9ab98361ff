"""The chain edge of health from the index: :class:`keepers.localscan.HealthReads`
over the keeper's RPC reader (``keepers.chain.ChainReader``), each read an
``eth_call`` at a given block."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from navlend import abi

from keepers.chain import ChainReader
from keepers.types import to_address

_VIEWS = abi.contract("IMarketViews")
_MARKET_STATE = _VIEWS.function("market_state")
_ASSET_CONFIG = _VIEWS.function("asset_config")
_ASSET_PRICE = _VIEWS.function("asset_price")
_BASE_ASSET = _VIEWS.function("asset")
_TOKEN_DECIMALS = abi.function("ERC20", "decimals")
_FEED_DECIMALS = abi.function("IAggregatorV3", "decimals")
_LATEST_ROUND = abi.function("IAggregatorV3", "latestRoundData")


@dataclass(frozen=True)
class _FeedOf:
    """The field of ``asset_config`` the exponent needs."""

    oracle: str


class RoundCache:
    """The oracles' latest rounds read at one block, shared by the markets
    of a fleet (a fund listed in three markets: one ``latestRoundData``
    per block, not three). Only the newest block's rounds are kept."""

    def __init__(self) -> None:
        self._block: int | None = None
        self._rounds: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def get(self, oracle: str, block: int, read: Callable[[], tuple[int, int]]) -> tuple[int, int]:
        with self._lock:
            if block != self._block:
                self._block, self._rounds = block, {}
            if oracle not in self._rounds:
                self._rounds[oracle] = read()
            return self._rounds[oracle]


class ChainHealthReads:
    """The reads of one market at a block through ``reader``; ``rounds``:
    the fleet's shared :class:`RoundCache` (None: every read asked)."""

    def __init__(self, reader: ChainReader, rounds: RoundCache | None = None):
        self.reader = reader
        self.market = reader.market
        self.rounds = rounds
        self._base_decimals: int | None = None

    def market_state(self, block: int) -> tuple[int, int, int, int, int]:
        cash, borrows, reserves, index, total_scaled = self._read(_MARKET_STATE, self.market, block)
        return int(cash), int(borrows), int(reserves), int(index), int(total_scaled)

    def value_exponent(self, token: str, block: int) -> int:
        (config,) = self._read(_ASSET_CONFIG, self.market, block, token)
        oracle = to_address(_ASSET_CONFIG.output_struct.build(_FeedOf, config).oracle)
        (token_decimals,) = self._read(_TOKEN_DECIMALS, token, block)
        (oracle_decimals,) = self._read(_FEED_DECIMALS, oracle, block)
        return int(token_decimals) + int(oracle_decimals) - self.base_decimals(block)

    def asset_price(self, token: str, block: int) -> int:
        price, _stale = self._read(_ASSET_PRICE, self.market, block, token)
        return int(price)

    def latest_round(self, oracle: str, block: int) -> tuple[int, int]:
        """A feed's latest applied round at ``block``: (answer, updatedAt),
        for a followed oracle whose last round predates the index, or an
        unfollowed one at each block."""
        def read() -> tuple[int, int]:
            _round, answer, _started, updated_at, _answered = self._read(_LATEST_ROUND, oracle, block)
            return int(answer), int(updated_at)

        return read() if self.rounds is None else self.rounds.get(oracle, block, read)

    def base_decimals(self, block: int) -> int:
        """The base asset's decimals (read once)."""
        if self._base_decimals is None:
            (base,) = self._read(_BASE_ASSET, self.market, block)
            (decimals,) = self._read(_TOKEN_DECIMALS, to_address(base), block)
            self._base_decimals = int(decimals)
        return self._base_decimals

    def _read(self, function: abi.Function, to: str, block: int, *args: Any) -> tuple[Any, ...]:
        return function.decode(self.reader.call_data(to, function.encode(*args), block))
