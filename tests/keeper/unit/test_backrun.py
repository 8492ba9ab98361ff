"""Plans prepared on a pending NAV (keepers/backrun.py): which positions
the pending price would sink, and the book of prepared candidates."""

from __future__ import annotations

import pytest

from keepers.backrun import (
    CONFIRM_SELECTOR,
    PendingAsset,
    PendingBook,
    Prepared,
    confirm_in_pool,
    health_at_pending,
    pending_candidates,
    pending_liquidation_value,
    terms_at_pending,
)
from keepers.types import AccountHealth, AssetTerms, MarketTerms, to_address

USD = 10**6
SHARE = 10**18
NAV = 10**8  # $1.00, 8 decimals
EXPONENT = 18 + 8 - 6
FUND = to_address("0x" + "fa" * 20)
OTHER = to_address("0x" + "0b" * 20)
ORACLE = to_address("0x" + "0c" * 20)
THRESHOLD = 9_000


def account(n: int) -> str:
    return to_address(f"0x{n:040x}")


def health(who: str, debt_usd: int, liquidation_usd: int, *, failed: bool = False) -> AccountHealth:
    debt, value = debt_usd * USD, liquidation_usd * USD
    return AccountHealth(account=who, debt=debt, borrow_value=0, liquidation_value=value,
                         health_factor=value * 10**18 // debt if debt else 2**256 - 1,
                         liquidatable=debt != 0 and value < debt, best_token=FUND, max_repay=0, max_seize=0,
                         assets_bitmap=1, failed=failed)


def fund_at(pending_nav: int) -> PendingAsset:
    return PendingAsset(FUND, NAV, pending_nav, EXPONENT, THRESHOLD)


def test_pending_liquidation_value__one_asset__scaled_to_the_pending_price():
    h = health(account(1), 85_000, 90_000)  # $100,000 of the fund at 90 %

    after = pending_liquidation_value(h, {FUND: 100_000 * SHARE}, [fund_at(NAV * 90 // 100)])

    assert after == 81_000 * USD


def test_pending_liquidation_value__other_assets_kept_at_their_value():
    # $50,000 of the fund and $40,000 (at threshold) of another asset.
    h = health(account(1), 70_000, 45_000 + 40_000)

    after = pending_liquidation_value(h, {FUND: 50_000 * SHARE, OTHER: 10**30}, [fund_at(NAV * 80 // 100)])

    assert after == 36_000 * USD + 40_000 * USD


def test_pending_liquidation_value__no_balance_of_the_asset__unchanged():
    h = health(account(1), 10_000, 20_000)

    assert pending_liquidation_value(h, {OTHER: 5 * SHARE}, [fund_at(NAV // 2)]) == 20_000 * USD


def test_pending_candidates__sunk_by_the_pending_price__riskiest_first_healthy_left_out():
    held = {account(n): {FUND: 100_000 * SHARE} for n in (1, 2, 3)}
    healths = [health(account(1), 85_000, 90_000),  # 81,000 after: sunk
               health(account(2), 60_000, 90_000),  # stays healthy
               health(account(3), 89_000, 90_000)]  # sunk deeper

    assert pending_candidates(healths, held, [fund_at(NAV * 90 // 100)]) == (account(3), account(1))


def test_pending_candidates__nav_rises__none():
    healths = [health(account(1), 85_000, 90_000)]

    assert pending_candidates(healths, {account(1): {FUND: 100_000 * SHARE}}, [fund_at(NAV * 2)]) == ()


def test_pending_candidates__failed_reads_and_no_debt__skipped():
    held = {account(n): {FUND: 100_000 * SHARE} for n in (1, 2)}
    healths = [health(account(1), 85_000, 90_000, failed=True), health(account(2), 0, 90_000)]

    assert pending_candidates(healths, held, [fund_at(NAV // 10)]) == ()


def _terms(price: int, ratio: int = 10**18) -> AssetTerms:
    return AssetTerms(token=FUND, asset_id=0, value_exponent=EXPONENT, price=price, bonus_bps=500,
                      threshold_bps=THRESHOLD, ratio=ratio)


def test_pending_asset_of__capped_and_per_booked_unit():
    asset = PendingAsset.of(_terms(NAV, ratio=10**18 // 2), answer=NAV * 3, price_cap=NAV * 2)

    assert asset.pending_price == NAV and asset.price == NAV and asset.threshold_bps == THRESHOLD


def test_pending_asset_of__negative_answer__refused():
    with pytest.raises(ValueError, match="pending answer is >= 0"):
        PendingAsset.of(_terms(NAV), answer=-1)


def test_pending_book__taken_once_by_oracle_any_case():
    book = PendingBook()
    book.put(Prepared(ORACLE, NAV // 2, 10, (account(1),)))

    first = book.take(ORACLE.lower())

    assert first is not None and first.accounts == (account(1),) and book.take(ORACLE) is None


def test_pending_book__unknown_oracle__none():
    assert PendingBook().take(ORACLE) is None


def test_health_at_pending__sunk__liquidatable_with_the_new_value_and_factor():
    h = health(account(1), 85_000, 90_000)

    after = health_at_pending(h, {FUND: 100_000 * SHARE}, [fund_at(NAV * 90 // 100)])

    assert after.liquidatable and not h.liquidatable and after.liquidation_value == 81_000 * USD
    assert after.health_factor == 81_000 * 10**18 // 85_000 and after.debt == h.debt


def test_health_at_pending__stays_healthy__not_liquidatable():
    after = health_at_pending(health(account(1), 60_000, 90_000), {FUND: 100_000 * SHARE}, [fund_at(NAV * 90 // 100)])

    assert not after.liquidatable and after.liquidation_value == 81_000 * USD


def _market(*assets: AssetTerms) -> MarketTerms:
    return MarketTerms(base_decimals=6, small_position=0, dust_floor=0, liquidation_fee_bps=0, flash_fee_bps=0,
                       max_flash_loan=10**15, liquidation_open=True, assets=assets)


def test_terms_at_pending__pending_asset_repriced_and_its_redemption_scaled_others_kept():
    fund = AssetTerms(token=FUND, asset_id=0, value_exponent=EXPONENT, price=NAV, bonus_bps=500,
                      threshold_bps=THRESHOLD, redeem_price=NAV * 99 // 100)
    other = AssetTerms(token=OTHER, asset_id=1, value_exponent=EXPONENT, price=NAV * 3, bonus_bps=500,
                       threshold_bps=THRESHOLD, redeem_price=NAV * 3)

    moved = terms_at_pending(_market(fund, other), [fund_at(NAV * 80 // 100)])

    assert moved.asset(FUND).price == NAV * 80 // 100
    assert moved.asset(FUND).redeem_price == (NAV * 99 // 100) * 80 // 100
    assert moved.asset(OTHER) == other


def _pool(to: str, data: str) -> dict:
    return {"pending": {"0xguardian": {"7": {"hash": "0xc0", "to": to, "input": data}}}}


def test_confirm_in_pool__guardian_call_to_the_oracle__its_hash():
    assert confirm_in_pool(_pool(ORACLE.lower(), CONFIRM_SELECTOR), ORACLE) == "0xc0"


@pytest.mark.parametrize("to, data", [(OTHER, CONFIRM_SELECTOR), (ORACLE, "0xdeadbeef"), (None, CONFIRM_SELECTOR)])
def test_confirm_in_pool__other_calls__none(to, data):
    assert confirm_in_pool(_pool(to, data), ORACLE) is None
    assert confirm_in_pool({}, ORACLE) is None
