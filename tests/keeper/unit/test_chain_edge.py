"""The keeper's RPC edge without a node (keepers/chain.py): the Lens
return data decoded word by word, held equal to eth-abi's decoding of the
output type the Lens ABI declares (navlend/abi/Lens.json), and
the empty-revert rule for anvil's race between a call at the head and the
mining of the next block (``Rpc`` against a node double that reproduces
what anvil does)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from keepers.chain import CallReverted, Rpc, RpcError, decode_healths, retry_empty_revert
from keepers.types import AccountHealth, to_address
from navlend import abi

from conftest import BORROWER, FUND_A, OTHER_BORROWER

ZERO = "0x" + "00" * 20
UINT = st.integers(0, 2**256 - 1)
# Lens.healths' return type, e.g. "(address,uint256,...)[]", from its ABI.
HEALTHS_TYPES = list(abi.function("Lens", "healths").output_types)


def _entry(
    account: str, hf: int, liquidatable: bool, best: str = ZERO, words=(1, 2, 3, 4, 5, 6), failed: bool = False
) -> tuple:
    debt, borrow, liq_value, repay, seize, bitmap = words
    return (account, debt, borrow, liq_value, hf, liquidatable, best, repay, seize, bitmap, failed)


def _lens_return(entries: list[tuple]) -> bytes:
    return encode(HEALTHS_TYPES, [entries])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(UINT, st.booleans(), st.tuples(UINT, UINT, UINT, UINT, UINT, UINT), st.booleans()), max_size=6
    )
)
def test_decode_healths__any_lens_answer__equals_eth_abi(rows):
    accounts = [to_address("0x" + f"{i + 1:040x}") for i in range(len(rows))]
    entries = [
        _entry(a, hf, liq, FUND_A if liq else ZERO, words, failed)
        for a, (hf, liq, words, failed) in zip(accounts, rows)
    ]
    raw = _lens_return(entries)
    (reference,) = decode(HEALTHS_TYPES, raw)
    assert decode_healths(raw, accounts) == [AccountHealth.from_lens(e) for e in reference]


def test_decode_healths__answer_for_another_account__refused():
    raw = _lens_return([_entry(BORROWER, 10**18, False)])
    with pytest.raises(ValueError, match="answered for"):
        decode_healths(raw, [OTHER_BORROWER])


def test_decode_healths__fewer_entries_than_accounts__refused():
    raw = _lens_return([_entry(BORROWER, 10**18, False)])
    with pytest.raises(ValueError, match="1 entries for 2 accounts"):
        decode_healths(raw, [BORROWER, OTHER_BORROWER])


# ---------------------------------------------------------------- #
#                the empty revert at the head (anvil)               #
# ---------------------------------------------------------------- #


def test_retry_empty_revert__head_moved_past_the_block__asked_again():
    assert retry_empty_revert(b"", block=100, head_now=101, attempt=0)


def test_retry_empty_revert__at_latest__asked_again():
    assert retry_empty_revert(b"", block="latest", head_now=100, attempt=0)


def test_retry_empty_revert__revert_with_a_reason__never_asked_again():
    reason = bytes.fromhex("08c379a0") + encode(["string"], ["market: position healthy"])
    assert not retry_empty_revert(reason, block=100, head_now=101, attempt=0)


def test_retry_empty_revert__head_still_the_block__the_contracts_answer():
    assert not retry_empty_revert(b"", block=100, head_now=100, attempt=0)


def test_retry_empty_revert__asked_again_once_already__final():
    assert not retry_empty_revert(b"", block=100, head_now=105, attempt=1)


@dataclass
class RacingAnvil:
    """A node double doing what anvil 1.7 does under interval mining: a
    call at the head that overlaps the mining of the next block runs on
    the new block's state with the head's timestamp, and the market's
    ``block.timestamp - last_accrual`` underflows (a revert with no data).
    ``races`` calls race that way; the block they raced with is published
    ``publish_after`` head queries later (anvil commits a block's state
    before it publishes the block). ``empty`` calls at the head revert with
    no data by design (a function the contract does not have)."""

    head: int = 100
    races: int = 1
    publish_after: int = 0
    empty: bool = False
    answer: str = "0x" + "00" * 31 + "2a"
    calls: list[tuple[str, list]] = field(default_factory=list)
    _unpublished: int = -1

    def make_request(self, method: str, params: list) -> dict:
        self.calls.append((method, params))
        if method == "eth_blockNumber":
            if self._unpublished == 0:
                self.head += 1
            self._unpublished -= 1
            return {"result": hex(self.head)}
        at_head = params[-1] in ("latest", hex(self.head))
        if method == "eth_call" and (self.empty or (at_head and self.races)):
            if not self.empty:
                self.races -= 1
                self._unpublished = self.publish_after  # the block the call raced with is being mined
            return {"error": {"code": 3, "message": "execution reverted", "data": "0x"}}
        if method == "eth_call" and params[0].get("data") == "0xdead":
            reason = bytes.fromhex("08c379a0") + encode(["string"], ["market: position healthy"])
            return {"error": {"code": 3, "message": "execution reverted: market: position healthy",
                              "data": "0x" + reason.hex()}}
        if method == "eth_call":
            return {"result": self.answer}
        return {"error": {"code": -32602, "message": "BlockOutOfRangeError: block height is 100"}}


@dataclass
class W3:
    provider: RacingAnvil


def test_rpc_call__empty_revert_while_the_next_block_is_mined__answered_at_the_same_block():
    node = RacingAnvil(head=100, races=1, publish_after=0)
    assert Rpc(W3(node)).call({"to": FUND_A, "data": "0x"}, 100) == bytes.fromhex(node.answer[2:])
    calls = [(m, p[1]) for m, p in node.calls if m == "eth_call"]
    assert calls == [("eth_call", "0x64"), ("eth_call", "0x64")]  # pinned: block 100 both times


def test_rpc_call__revert_with_a_reason__raised_once_with_its_data():
    node = RacingAnvil(head=100, races=0)
    with pytest.raises(CallReverted, match="position healthy") as err:
        Rpc(W3(node)).call({"to": FUND_A, "data": "0xdead"}, 100)
    assert err.value.data[:4] == bytes.fromhex("08c379a0")
    assert [m for m, _ in node.calls] == ["eth_call"]


def test_rpc_call__block_published_a_moment_after_its_state__waits_then_answers():
    node = RacingAnvil(head=100, races=1, publish_after=3)
    assert Rpc(W3(node), empty_revert_wait=5.0).call({"to": FUND_A, "data": "0x"}, 100) == bytes.fromhex(
        node.answer[2:])
    assert sum(1 for m, _ in node.calls if m == "eth_blockNumber") == 4


def test_rpc_call__racing_every_time_at_latest__asked_again_once():
    node = RacingAnvil(head=100, races=10)
    with pytest.raises(CallReverted):
        Rpc(W3(node)).call({"to": FUND_A, "data": "0x"}, "latest")
    assert sum(1 for m, _ in node.calls if m == "eth_call") == 2


def test_rpc_call__empty_revert_and_the_head_stays__the_contracts_answer():
    node = RacingAnvil(head=100, races=0, empty=True)
    with pytest.raises(CallReverted):
        Rpc(W3(node), empty_revert_wait=0.05).call({"to": FUND_A, "data": "0x"}, 100)
    assert sum(1 for m, _ in node.calls if m == "eth_call") == 1


def test_rpc_call__probe_reverts_empty__never_asked_again():
    node = RacingAnvil(head=100, races=1)
    with pytest.raises(CallReverted):
        Rpc(W3(node)).call({"to": FUND_A, "data": "0x"}, 100, probe=True)
    assert [m for m, _ in node.calls] == ["eth_call"]


def test_rpc_request__node_refuses__rpc_error_not_a_revert():
    with pytest.raises(RpcError, match="BlockOutOfRange"):
        Rpc(W3(RacingAnvil())).request("eth_getBalance", [FUND_A, "0x99"])


def test_block_ref__ape_block__the_keeper_block_without_a_read():
    from types import SimpleNamespace

    from keepers.chain import BlockRef, block_ref

    block = SimpleNamespace(number=7, hash=bytes.fromhex("ab" * 32), timestamp=1_700_000_000, base_fee=9,
                            parent_hash=bytes.fromhex("cd" * 32))
    assert block_ref(block) == BlockRef(7, "0x" + "ab" * 32, 1_700_000_000, 9, "0x" + "cd" * 32)


def test_block_ref__block_without_number_or_hash__none_so_the_keeper_reads_the_head():
    from types import SimpleNamespace

    from keepers.chain import block_ref

    assert block_ref(SimpleNamespace(number=None, hash=b"\x01" * 32)) is None
    assert block_ref(SimpleNamespace(number=7, hash=None)) is None
