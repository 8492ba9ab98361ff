"""The keeper's liquidation amounts are the rules' (``navlend.rules``).

``keepers.decide`` feeds ``navlend.rules.liquidation.amounts`` what the
scan and the terms carry: these tests build the rules' inputs by hand from
the same figures (so a field landing in the wrong place shows), on one
position per branch of the market's ``_liquidation_amounts`` (close
factor, small position, dust trim, full seizure, a short asset, the
protocol's fee, nothing to liquidate), and check that the repayment
search builds what depends only on the terms once, not once a probe."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import pytest

from navlend.constants import BPS, MAX_UINT256, WAD
from navlend.rules import liquidation as rules
from navlend.rules.arith import Revert, at_ratio
from navlend.rules.health import health_factor
from navlend.rules.liquidation import CloseLimits, Seizable
from navlend.rules.valuation import value

from keepers import decide as d
from keepers import types
from keepers.types import AccountHealth, AssetTerms, MarketTerms

from conftest import BORROWER, FACILITY_A, FUND_A, USD

# Fund A: 6-decimal shares, an 8-decimal oracle, a 6-decimal stablecoin.
EXPONENT = 6 + 8 - 6
PRICE = 6 * 10**8  # $6.00 a share
BONUS_BPS = 300
THRESHOLD_BPS = 9_000
SMALL_POSITION = 2_000  # whole dollars, as the market stores them
DUST_FLOOR = 1_000


@dataclass(frozen=True)
class Scene:
    """One position on fund A: its balance, its debt, and the value at the
    liquidation threshold of everything it holds (fund A and any other
    collateral), with the market's terms."""

    balance: int
    debt: int
    liquidation_value: int
    ratio: int = WAD
    liquidation_fee_bps: int = 0
    small_position: int = SMALL_POSITION
    dust_floor: int = DUST_FLOOR

    @property
    def price(self) -> int:
        """The market's price per booked unit (rounded down when short)."""
        return at_ratio(PRICE, self.ratio)

    def health(self) -> AccountHealth:
        hf = health_factor(self.liquidation_value, self.debt)
        return AccountHealth(
            account=BORROWER,
            debt=self.debt,
            borrow_value=0,
            liquidation_value=self.liquidation_value,
            health_factor=hf,
            liquidatable=hf < WAD,
            best_token=FUND_A,
            max_repay=0,
            max_seize=0,
            assets_bitmap=1,
        )

    def terms(self) -> MarketTerms:
        asset = AssetTerms(
            token=FUND_A,
            asset_id=0,
            value_exponent=EXPONENT,
            price=self.price,
            bonus_bps=BONUS_BPS,
            threshold_bps=THRESHOLD_BPS,
            facility=FACILITY_A,
            redeem_price=PRICE,
            redemption_fee_bps=5,
            facility_max_redeem=10**40,
            ratio=self.ratio,
        )
        return MarketTerms(
            base_decimals=6,
            small_position=self.small_position,
            dust_floor=self.dust_floor,
            liquidation_fee_bps=self.liquidation_fee_bps,
            flash_fee_bps=5,
            max_flash_loan=10**15,
            liquidation_open=True,
            assets=(asset,),
        )

    def rules_amounts(self, max_repay: int) -> rules.Amounts:
        """The rules called directly, their inputs spelled out here."""
        target = Seizable(
            balance=self.balance, price=self.price, exponent=EXPONENT, bonus_bps=BONUS_BPS, ratio=self.ratio
        )
        limits = CloseLimits(
            base_unit=USD,
            small_position=self.small_position,
            dust_floor=self.dust_floor,
            liquidation_fee_bps=self.liquidation_fee_bps,
        )
        return rules.amounts(self.debt, self.liquidation_value, target, limits, max_repay)

    def keeper_amounts(self, max_repay: int) -> rules.Amounts | None:
        terms = self.terms()
        return d.liquidation_amounts(self.health(), self.balance, terms.assets[0], terms, max_repay)

    def agreed_amounts(self, max_repay: int = MAX_UINT256) -> rules.Amounts:
        """The keeper's amounts, checked equal to the rules' own."""
        got = self.keeper_amounts(max_repay)
        assert got is not None and got == self.rules_amounts(max_repay)
        return got


def _at_threshold(shares: int) -> int:
    """Fund A's value at the liquidation threshold, rounded down."""
    return value(shares, PRICE, EXPONENT) * THRESHOLD_BPS // BPS


# HF 0.964, $1.12M of debt: the market repays at most half.
CLOSE_FACTOR = Scene(balance=200_000 * USD, debt=1_120_000 * USD, liquidation_value=_at_threshold(200_000 * USD))
# $1,800 of collateral, HF 0.982, debt below the small-position limit: all of it.
SMALL = Scene(balance=300 * USD, debt=1_650 * USD, liquidation_value=_at_threshold(300 * USD))
# $2,100 of fund A, other collateral keeping the HF at 0.975: half the debt
# would leave fund A under the dust floor, so the repayment is trimmed.
DUST_TRIM = Scene(balance=350 * USD, debt=4_000 * USD, liquidation_value=3_900 * USD)
# HF 0.90: the bonus on the whole debt is more than the collateral.
FULL_SEIZURE = Scene(balance=1_000 * USD, debt=6_000 * USD, liquidation_value=_at_threshold(1_000 * USD))
# The market holds 90 % of the shares it booked (an issuer's seizure).
SHORT = replace(CLOSE_FACTOR, ratio=9 * WAD // 10)
# The protocol keeps 10 % of the bonus.
PROTOCOL_FEE = replace(CLOSE_FACTOR, liquidation_fee_bps=1_000)
# Debt at the dust floor with the HF above 0.95: a partial must leave the
# floor of debt, so no repayment is allowed.
NOTHING = Scene(balance=200 * USD, debt=1_000 * USD, liquidation_value=970 * USD, small_position=1_000)


def test_liquidation_amounts__close_factor_cap__matches_rules():
    s = CLOSE_FACTOR
    assert 95 * WAD // 100 <= s.health().health_factor < WAD
    got = s.agreed_amounts()
    assert got.repaid == s.debt // 2


def test_liquidation_amounts__small_position__matches_rules():
    s = SMALL
    assert s.health().health_factor >= 95 * WAD // 100 and s.debt < SMALL_POSITION * USD
    got = s.agreed_amounts()
    assert got.repaid == s.debt and got.seized < s.balance


def test_liquidation_amounts__dust_trim__matches_rules():
    s = DUST_TRIM
    got = s.agreed_amounts()
    target_value = value(s.balance, PRICE, EXPONENT)
    assert got.repaid == (target_value - DUST_FLOOR * USD) * BPS // (BPS + BONUS_BPS) < s.debt // 2


def test_liquidation_amounts__full_seizure__matches_rules():
    s = FULL_SEIZURE
    got = s.agreed_amounts()
    assert got.seized == s.balance and got.repaid < s.debt


def test_liquidation_amounts__short_asset__matches_rules_and_sends_the_real_units():
    s = SHORT
    got = s.agreed_amounts()
    assert got.sent == at_ratio(got.taken, s.ratio) < got.taken


def test_liquidation_amounts__protocol_fee__matches_rules():
    s = PROTOCOL_FEE
    got = s.agreed_amounts()
    assert got.fee > 0 and got.taken == got.seized - got.fee == got.sent


@pytest.mark.parametrize("scene", [CLOSE_FACTOR, SMALL, DUST_TRIM, FULL_SEIZURE, SHORT, PROTOCOL_FEE])
def test_liquidation_amounts__up_to_a_tenth_of_the_debt__matches_rules(scene):
    assert scene.agreed_amounts(scene.debt // 10).repaid <= scene.debt // 10


def test_liquidation_amounts__nothing_to_liquidate__none_where_rules_revert():
    s = NOTHING
    with pytest.raises(Revert, match="nothing to liquidate"):
        s.rules_amounts(MAX_UINT256)
    assert s.keeper_amounts(MAX_UINT256) is None


# ---------------------------------------------------------------- #
#                     the largest repayment that fits               #
# ---------------------------------------------------------------- #


def _fits(a: rules.Amounts, max_taken: int, max_repaid: int) -> bool:
    return a.sent <= max_taken and a.repaid <= max_repaid


@pytest.mark.parametrize(
    "scene, max_taken, max_repaid",
    [
        (FULL_SEIZURE, 300 * USD, MAX_UINT256),  # the facility takes 300 shares
        (CLOSE_FACTOR, 10**40, 100_000 * USD),  # the market lends $100,000
        (SHORT, 50_000 * USD, MAX_UINT256),  # 50,000 real shares
        (PROTOCOL_FEE, 50_000 * USD, 250_000 * USD),
        (DUST_TRIM, 100 * USD, MAX_UINT256),
    ],
)
def test_largest_repay_within__partial_facility__matches_rules_and_is_the_largest(scene, max_taken, max_repaid):
    terms = scene.terms()
    found = d.largest_repay_within(scene.health(), scene.balance, terms.assets[0], terms, max_taken, max_repaid)
    assert found is not None
    max_repay, got = found
    assert got == scene.rules_amounts(max_repay) and _fits(got, max_taken, max_repaid)
    # The search stops at the debt, the cash, or where one more unit of
    # repayment no longer fits.
    if max_repay < min(scene.debt, max_repaid):
        assert not _fits(scene.rules_amounts(max_repay + 1), max_taken, max_repaid)


def test_largest_repay_within__facility_takes_less_than_one_unit_buys__none():
    s = CLOSE_FACTOR
    terms = s.terms()
    assert d.largest_repay_within(s.health(), s.balance, terms.assets[0], terms, 0, MAX_UINT256) is None


def test_largest_repay_within__nothing_to_liquidate__none():
    s = NOTHING
    terms = s.terms()
    assert d.largest_repay_within(s.health(), s.balance, terms.assets[0], terms, 10**40, MAX_UINT256) is None


def test_largest_repay_within__many_probes__limits_and_target_built_once(monkeypatch):
    built: Counter[str] = Counter()

    def counting(cls, name):
        def build(*args, **kwargs):
            built[name] += 1
            return cls(*args, **kwargs)

        return build

    monkeypatch.setattr(types, "CloseLimits", counting(CloseLimits, "limits"))
    monkeypatch.setattr(types, "Seizable", counting(Seizable, "target"))
    probes: list[tuple] = []
    rules_amounts = rules.amounts

    def probe(debt, liquidation_value, target, limits, max_repay):
        probes.append((target, limits))
        return rules_amounts(debt, liquidation_value, target, limits, max_repay)

    monkeypatch.setattr(rules, "amounts", probe)
    s = FULL_SEIZURE
    terms = s.terms()  # fresh: its limits are not computed yet
    found = d.largest_repay_within(s.health(), s.balance, terms.assets[0], terms, 300 * USD, MAX_UINT256)

    assert found is not None and len(probes) >= 30  # a bisection over ~$6,000 in base units
    assert built == Counter(limits=1, target=1)
    assert len({id(target) for target, _ in probes}) == 1 and len({id(limits) for _, limits in probes}) == 1
