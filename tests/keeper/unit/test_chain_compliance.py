"""Where the keeper's chain reader asks whether its signer may hold an
asset (keepers/chain.py ``is_allowlisted`` / ``is_frozen``), without a
node: an ``Rpc`` double answers ``eth_call`` per (contract, function) from
a table, every calldata encoded and every answer decoded with the
compiled ABIs (navlend/abi).

The order: the market's compliance source for the asset (an issuer's
adapter for USTB or OUSG, whose tokens have no such views); the token
itself when the market has none (or predates ``asset_compliance``); a
wrapper's fund when the token is a wrapper; False when nothing answers.
The same reads run on chain in tests/world/test_issuer_tools.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_abi import encode

from keepers.chain import CallReverted, ChainReader
from keepers.types import to_address
from navlend import abi

from conftest import FUND_A, LIQUIDATOR, MARKET

ZERO = "0x" + "00" * 20
ADAPTER = to_address("0x" + "ad" * 20)
WRAPPER = to_address("0x" + "e4" * 20)
USTB_LIKE = to_address("0x" + "55" * 20)

_ASSET_COMPLIANCE = abi.function("IMarketViews", "asset_compliance")
_IS_ALLOWLISTED = abi.function("IFundToken", "is_allowlisted")
_IS_FROZEN = abi.function("IFundToken", "is_frozen")
_ASSET = abi.function("IERC4626", "asset")


@dataclass
class TableRpc:
    """``eth_call`` answered from ``answers[(to, selector)]`` (the output
    values, encoded with the function's output types); anything else
    reverts, as a contract without the function does. Records each call."""

    answers: dict[tuple[str, bytes], tuple[abi.Function, tuple[Any, ...]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, to: str, function: abi.Function, *values: Any) -> None:
        self.answers[(to_address(to), function.selector)] = (function, values)

    def call(self, tx: dict[str, Any], block: int | str, *, probe: bool = False) -> bytes:
        data = bytes.fromhex(tx["data"][2:])
        to = to_address(tx["to"])
        found = self.answers.get((to, data[:4]))
        self.calls.append((to, found[0].name if found else data[:4].hex()))
        if found is None:
            raise CallReverted("execution reverted")
        function, values = found
        return encode(list(function.output_types), list(values))


@pytest.fixture
def rpc() -> TableRpc:
    return TableRpc()


@pytest.fixture
def reader(rpc) -> ChainReader:
    reader = ChainReader(None, MARKET, MARKET, decode_logs=lambda raw: [], event_topics=[])
    reader.rpc = rpc
    return reader


def test_is_allowlisted__market_has_a_source__asks_the_source_not_the_token(reader, rpc):
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ADAPTER)
    rpc.answer(ADAPTER, _IS_ALLOWLISTED, True)
    rpc.answer(ADAPTER, _IS_FROZEN, False)
    assert reader.compliance_source(USTB_LIKE) == ADAPTER
    assert reader.is_allowlisted(USTB_LIKE, LIQUIDATOR) is True
    assert reader.is_frozen(USTB_LIKE, LIQUIDATOR) is False
    assert all(to != USTB_LIKE for to, _ in rpc.calls)


def test_is_allowlisted__source_refuses__not_allowlisted(reader, rpc):
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ADAPTER)
    rpc.answer(ADAPTER, _IS_ALLOWLISTED, False)
    assert reader.is_allowlisted(USTB_LIKE, LIQUIDATOR) is False


def test_is_allowlisted__no_source__falls_back_to_the_token(reader, rpc):
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ZERO)
    rpc.answer(FUND_A, _IS_ALLOWLISTED, True)
    rpc.answer(FUND_A, _IS_FROZEN, True)
    assert reader.compliance_source(FUND_A) is None
    assert reader.is_allowlisted(FUND_A, LIQUIDATOR) is True
    assert reader.is_frozen(FUND_A, LIQUIDATOR) is True


def test_is_allowlisted__market_without_the_view__falls_back_to_the_token(reader, rpc):
    """A market deployed before ``asset_compliance`` existed."""
    rpc.answer(FUND_A, _IS_ALLOWLISTED, True)
    assert reader.compliance_source(FUND_A) is None
    assert reader.is_allowlisted(FUND_A, LIQUIDATOR) is True


def test_is_allowlisted__no_source_wrapper__its_fund_answers(reader, rpc):
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ZERO)
    rpc.answer(WRAPPER, _ASSET, FUND_A)
    rpc.answer(FUND_A, _IS_ALLOWLISTED, True)
    assert reader.is_allowlisted(WRAPPER, LIQUIDATOR) is True


def test_is_allowlisted__no_source_token_without_views__false(reader, rpc):
    """USTB or OUSG listed with no adapter set: the keeper cannot count on
    holding it, so the seize route stays shut to it."""
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ZERO)
    assert reader.is_allowlisted(USTB_LIKE, LIQUIDATOR) is False
    assert reader.is_frozen(USTB_LIKE, LIQUIDATOR) is False


def test_compliance_source__read_once_per_asset_and_block(reader, rpc):
    # The keeper asks allowlisted, frozen, paused and market-admitted of one
    # asset in one block: the market's asset_compliance was read for each
    # (3 times per asset per refresh, the issue-15 review found); once now.
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ADAPTER)
    rpc.answer(ADAPTER, _IS_ALLOWLISTED, True)
    rpc.answer(ADAPTER, _IS_FROZEN, False)
    reader.is_allowlisted(USTB_LIKE, LIQUIDATOR, 100)
    reader.is_frozen(USTB_LIKE, LIQUIDATOR, 100)
    reader.market_admitted(USTB_LIKE, 100)
    assert [name for _, name in rpc.calls].count("asset_compliance") == 1


def test_compliance_source__next_block_or_latest__read_again(reader, rpc):
    # A new block may carry the admin's set_asset_compliance: never reused across blocks.
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ADAPTER)
    reader.compliance_source(USTB_LIKE, 100)
    rpc.answer(MARKET, _ASSET_COMPLIANCE, ZERO)
    assert reader.compliance_source(USTB_LIKE, 101) is None
    reader.compliance_source(USTB_LIKE, "latest")
    reader.compliance_source(USTB_LIKE, "latest")
    assert [name for _, name in rpc.calls].count("asset_compliance") == 4
