"""Shared value types (keepers/types.py): conversions from what Ape decodes."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from hexbytes import HexBytes

from navlend.constants import WAD
from navlend.rules.liquidation import CloseLimits, Seizable

from keepers.types import (
    AccountHealth,
    AssetTerms,
    Decision,
    LogRecord,
    MarketEvent,
    MarketTerms,
    Rejection,
    SkipReason,
    chunks,
    to_address,
)

BORROWER = to_address("0x" + "b0" * 20)
FUND_A = to_address("0x" + "fa" * 20)
LENS_FIELDS = (BORROWER.lower(), 10, 9, 8, 7, True, FUND_A, 5, 4, 1, False)


def test_to_address__str_bytes_or_contract__checksummed():
    assert to_address(BORROWER.lower()) == BORROWER
    assert to_address(bytes.fromhex("b0" * 20)) == BORROWER
    assert to_address(SimpleNamespace(address=BORROWER.lower())) == BORROWER


@pytest.mark.parametrize("bad", ["0x12", "", None, 5, b"\x00" * 19])
def test_to_address__not_an_address__refused(bad):
    with pytest.raises(ValueError, match="not an address"):
        to_address(bad)


def test_account_health_from_lens__tuple_struct_or_mapping__same_value():
    from_tuple = AccountHealth.from_lens(LENS_FIELDS)
    names = list(AccountHealth.__dataclass_fields__)
    from_struct = AccountHealth.from_lens(SimpleNamespace(**dict(zip(names, LENS_FIELDS))))
    from_mapping = AccountHealth.from_lens(dict(zip(names, LENS_FIELDS)))
    assert from_tuple == from_struct == from_mapping
    assert from_tuple.account == BORROWER and from_tuple.asset_ids() == [0]
    assert not from_tuple.failed


def test_account_health_from_lens__failed_entry__kept_as_failed():
    failed = AccountHealth.from_lens((BORROWER.lower(), 0, 0, 0, 0, False, "0x" + "00" * 20, 0, 0, 0, True))
    assert failed.failed and not failed.liquidatable


def test_account_health_from_lens__wrong_shape__refused():
    with pytest.raises(ValueError, match="11 fields"):
        AccountHealth.from_lens(LENS_FIELDS[:-1])


def test_log_record_from_event__each_position_event__post_state_fields():
    common = dict(block_number=5, block_hash=b"\x01" * 32, tx_hash="0xAB", log_index=3)
    supply = LogRecord.from_event(
        "SupplyCollateral", {"on_behalf": BORROWER, "token": FUND_A, "amount": 1, "collateral": 9}, **common
    )
    assert (supply.event, supply.account, supply.token, supply.collateral) == (
        MarketEvent.SUPPLY_COLLATERAL, BORROWER, FUND_A, 9
    )
    assert supply.block_hash == "0x" + "01" * 32 and supply.tx_hash == "0xab"
    repay = LogRecord.from_event("Repay", {"on_behalf": BORROWER, "scaled_debt": 0, "borrow_index": 7}, **common)
    assert (repay.scaled_debt, repay.borrow_index, repay.collateral) == (0, 7, None)
    liq = LogRecord.from_event(
        "Liquidate", {"borrower": BORROWER, "token": FUND_A, "collateral": 1, "scaled_debt": 2}, **common
    )
    assert (liq.collateral, liq.scaled_debt) == (1, 2)
    bad = LogRecord.from_event("BadDebt", {"borrower": BORROWER, "amount": 5}, removed=True, **common)
    assert bad.scaled_debt == 0 and bad.removed


def test_log_record_from_event__other_event_or_missing_arg__refused():
    common = dict(block_number=5, block_hash="0x01", tx_hash="0x02", log_index=0)
    with pytest.raises(ValueError, match="not a position event"):
        LogRecord.from_event("FlashLoan", {}, **common)
    with pytest.raises(ValueError, match="without argument 'scaled_debt'"):
        LogRecord.from_event("Borrow", {"on_behalf": BORROWER, "borrow_index": 1}, **common)


# A list of byte values: how a log's hashes reach a Silverback handler
# after the task broker's round trip (seen in the keeper's log: every live
# index handler raised TypeError, and the runner counts each as an error).
@pytest.mark.parametrize("block_hash", [b"\xab" * 32, HexBytes(b"\xab" * 32), "0x" + "AB" * 32, "ab" * 32,
                                        [0xAB] * 32])
def test_log_record_from_event__hash_as_bytes_hexbytes_str_or_byte_list__0x_lowercase(block_hash):
    record = LogRecord.from_event(
        "BadDebt", {"borrower": BORROWER}, block_number=1, block_hash=block_hash, tx_hash=block_hash, log_index=0
    )
    assert record.block_hash == record.tx_hash == "0x" + "ab" * 32


def test_market_terms_limits__whole_units__close_limits_in_base_units_cached_per_terms():
    terms = MarketTerms(
        base_decimals=6,
        small_position=2_000,
        dust_floor=1_000,
        liquidation_fee_bps=500,
        flash_fee_bps=5,
        max_flash_loan=0,
        liquidation_open=True,
        assets=(),
    )
    assert terms.limits == CloseLimits(base_unit=10**6, small_position=2_000, dust_floor=1_000, liquidation_fee_bps=500)
    assert (terms.limits.small, terms.limits.dust) == (2_000 * 10**6, 1_000 * 10**6)
    assert terms.limits is terms.limits
    assert replace(terms, dust_floor=500).limits.dust == 500 * 10**6  # new terms, new limits


def test_asset_terms_seizable__balance__carries_price_exponent_bonus_and_ratio():
    asset = AssetTerms(
        token=FUND_A, asset_id=0, value_exponent=8, price=6 * 10**8, bonus_bps=300, threshold_bps=9_000, ratio=WAD // 2
    )
    assert asset.seizable(1_000) == Seizable(balance=1_000, price=6 * 10**8, exponent=8, bonus_bps=300, ratio=WAD // 2)


def test_decision__plan_and_reason_together__refused():
    with pytest.raises(ValueError, match="either a plan or a skip reason"):
        Decision(borrower=BORROWER)
    skip = Decision(borrower=BORROWER, reason=SkipReason.HEALTHY, rejected=(Rejection(FUND_A, None, SkipReason.HEALTHY),))
    assert not skip.act


def test_chunks__sizes__split_in_order():
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    with pytest.raises(ValueError):
        chunks([1], 0)


def test_log_record_from_event__byte_list_not_32_long__refused():
    with pytest.raises(ValueError, match="not a 32-byte hash"):
        LogRecord.from_event("BadDebt", {"borrower": BORROWER}, block_number=1, block_hash=[1] * 31,
                             tx_hash=b"\xab" * 32, log_index=0)
