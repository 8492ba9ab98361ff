"""The demo's book and risk listing, calibrated to its shock (pure: no chain).

A position with loan-to-value L (debt over collateral value) has a health
factor T / L, with T the liquidation threshold. A NAV shock that multiplies
the collateral's value by s makes it T x s / L, so exactly the positions
with L > T x s become liquidatable: that LTV is the *cut-off*.

The default listing (LTV 85 %, threshold 90 %) puts the 3 % break-the-buck
cut-off at 87.3 %, above anything a borrower may open, so nobody would be
liquidated. The demo lists its assets like the tighter RWA markets
(Morpho's 91.5 % LLTV markets, Flux's 92 % collateral factor): LTV 90 %,
threshold 91 %, bonus 3 % (threshold x (1 + bonus) = 0.937 < 1). The
cut-off is then 88.27 %, and every liquidatable position is only partly
closed (health factor above the 0.95 full-close line) and healthy after
one liquidation.

:func:`plan_book` draws a deterministic book around that cut-off: prudent
plain borrowers, borrowers near their limit, and carry trades opened through
the Leverage helper at high LTVs, leaving a margin on both sides of the
cut-off so that the interest and NAV drift of the normal days cannot move
a position across it.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from navlend.constants import BPS, CLOSE_FACTOR_BPS, CLOSE_FACTOR_HF_THRESHOLD, WAD

# The market's close factor, and the health factor below which a position
# closes in full, as fractions.
CLOSE_FACTOR = Decimal(CLOSE_FACTOR_BPS) / BPS
FULL_CLOSE_HF = Decimal(CLOSE_FACTOR_HF_THRESHOLD) / WAD


@dataclass(frozen=True)
class DemoRisk:
    """The risk parameters the demo lists fund A and the wrapper with."""

    ltv_bps: int = 9_000
    threshold_bps: int = 9_100
    bonus_bps: int = 300

    def __post_init__(self) -> None:
        if not 0 < self.ltv_bps < self.threshold_bps < BPS:
            raise ValueError("need 0 < ltv < threshold < 100 %")
        if self.threshold_bps * (BPS + self.bonus_bps) >= BPS * BPS:
            raise ValueError("threshold x (1 + bonus) must stay below 1")


def cutoff_bps(risk: DemoRisk, shock: Decimal) -> Decimal:
    """The LTV (bps) above which a position is liquidatable after ``shock``."""
    return Decimal(risk.threshold_bps) * shock


def liquidatable_after(ltv_bps: Decimal | int, risk: DemoRisk, shock: Decimal) -> bool:
    """True when a position at ``ltv_bps`` is liquidatable after ``shock``."""
    return Decimal(ltv_bps) > cutoff_bps(risk, shock)


def health_after(ltv_bps: Decimal | int, risk: DemoRisk, shock: Decimal) -> Decimal:
    """Health factor after ``shock`` of a position at ``ltv_bps``."""
    return Decimal(risk.threshold_bps) * shock / Decimal(ltv_bps)


def health_after_liquidation(ltv_bps: Decimal | int, risk: DemoRisk, shock: Decimal) -> Decimal:
    """Health factor of a liquidatable position after one liquidation of
    the close factor's share of its debt (the whole debt below 0.95)."""
    hf = health_after(ltv_bps, risk, shock)
    if hf < FULL_CLOSE_HF:
        return Decimal("Infinity")
    # Per unit of debt: collateral value 1 / L', debt 1 - c, seized c x (1 + b).
    value = Decimal(BPS) / (Decimal(ltv_bps) / shock)
    bonus = Decimal(BPS + risk.bonus_bps) / BPS
    left = value - CLOSE_FACTOR * bonus
    return Decimal(risk.threshold_bps) / BPS * left / (1 - CLOSE_FACTOR)


def drift_bps(days: int, borrow_apr: Decimal, nav_apr: Decimal, ltv_bps: int) -> Decimal:
    """How far ``days`` of interest can lift an LTV when the collateral's
    NAV accrues at ``nav_apr`` (0 for a $1 fund paid in shares)."""
    growth = (1 + borrow_apr * days / 365) / (1 + nav_apr * days / 365)
    return max(Decimal(0), Decimal(ltv_bps) * (growth - 1))


class Kind(str, enum.Enum):
    PLAIN = "plain"  # posts collateral and borrows
    CARRY = "carry"  # opened through Leverage.open


ASSETS = ("fund_a", "wrapper")


@dataclass(frozen=True)
class PlannedPosition:
    """One borrower of the book."""

    index: int
    kind: Kind
    asset: str
    # Debt over collateral value at opening.
    ltv_bps: int
    # Plain: the collateral's value; carry: the stablecoin put in.
    equity_usd: int

    @property
    def collateral_usd(self) -> int:
        if self.kind is Kind.PLAIN:
            return self.equity_usd
        return self.equity_usd * BPS // (BPS - self.ltv_bps)

    @property
    def debt_usd(self) -> int:
        return self.collateral_usd * self.ltv_bps // BPS


@dataclass(frozen=True)
class Profile:
    """A kind of borrower: its share of the book, LTV band and size range."""

    name: str
    kind: Kind
    weight: Decimal
    # True: LTV above the cut-off (+ margin); False: below it (- margin).
    edge: bool
    low_ltv_bps: int
    size_usd: tuple[int, int]


# Plain borrowers mostly prudent; carry trades run close to the limit,
# since the carry only pays at high leverage.
PROFILES = (
    Profile("prudent borrower", Kind.PLAIN, Decimal("0.48"), False, 3_500, (20_000, 1_000_000)),
    Profile("borrower at the limit", Kind.PLAIN, Decimal("0.12"), True, 0, (20_000, 600_000)),
    Profile("carry, cautious", Kind.CARRY, Decimal("0.18"), False, 8_000, (10_000, 150_000)),
    Profile("carry, at the limit", Kind.CARRY, Decimal("0.22"), True, 0, (10_000, 120_000)),
)


@dataclass(frozen=True)
class BookPlan:
    """The seeded book and what the shock is expected to do to it."""

    risk: DemoRisk
    shock: Decimal
    margin_bps: int
    positions: tuple[PlannedPosition, ...]
    lenders_usd: tuple[int, ...]

    @property
    def total_debt_usd(self) -> int:
        return sum(p.debt_usd for p in self.positions)

    @property
    def total_supply_usd(self) -> int:
        return sum(self.lenders_usd)

    @property
    def expected_liquidatable(self) -> tuple[PlannedPosition, ...]:
        return tuple(p for p in self.positions if liquidatable_after(p.ltv_bps, self.risk, self.shock))

    @property
    def expected_share(self) -> Decimal:
        if not self.positions:
            return Decimal(0)
        return Decimal(len(self.expected_liquidatable)) / len(self.positions)

    def expected_repay_usd(self, asset: str | None = None) -> int:
        """Debt the liquidations repay (one close-factor liquidation each)."""
        return sum(
            int(Decimal(p.debt_usd) * CLOSE_FACTOR)
            for p in self.expected_liquidatable
            if asset is None or p.asset == asset
        )

    def expected_payout_usd(self, asset: str) -> int:
        """Stablecoin the redeem route would draw from ``asset``'s facility."""
        bonus = Decimal(BPS + self.risk.bonus_bps) / BPS
        return int(Decimal(self.expected_repay_usd(asset)) * bonus)


def _split(count: int, weights: list[Decimal]) -> list[int]:
    """``count`` split by ``weights`` (largest remainders), summing exactly."""
    total = sum(weights)
    raw = [Decimal(count) * w / total for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: count - sum(counts)]:
        counts[i] += 1
    return counts


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def plan_book(
    count: int,
    *,
    risk: DemoRisk = DemoRisk(),
    shock: Decimal = Decimal("0.97"),
    margin_bps: int = 30,
    utilization: Decimal = Decimal("0.80"),
    lenders: int = 5,
    seed: int = 2008,
    profiles: tuple[Profile, ...] = PROFILES,
) -> BookPlan:
    """A deterministic book of ``count`` borrowers (see the module doc),
    and lenders supplying enough for ``utilization``."""
    if count < 1:
        raise ValueError(f"need at least one borrower, got {count}")
    if not Decimal(0) < utilization < Decimal(1):
        raise ValueError(f"utilization must be in (0, 1), got {utilization}")
    if lenders < 1:
        raise ValueError(f"need at least one lender, got {lenders}")
    cut = cutoff_bps(risk, shock)
    edge_low = int(cut) + 1 + margin_bps
    safe_high = int(cut) - margin_bps
    # Room under the LTV for rounding in the market's and Leverage's checks.
    edge_high = risk.ltv_bps - 10
    if edge_low > edge_high:
        raise ValueError(
            f"the shock's cut-off ({cut / 100:.2f} %) plus the margin leaves no room below the "
            f"LTV ({risk.ltv_bps / 100:.2f} %): choose a larger shock or a smaller margin"
        )
    rng = random.Random(seed)
    counts = _split(count, [p.weight for p in profiles])
    assets = _split(count, [Decimal("0.6"), Decimal("0.4")])
    asset_pool = [ASSETS[0]] * assets[0] + [ASSETS[1]] * assets[1]
    rng.shuffle(asset_pool)
    drafts: list[tuple[Profile, int, int]] = []
    for profile, n in zip(profiles, counts):
        for _ in range(n):
            if profile.edge:
                ltv = rng.randint(edge_low, edge_high)
            else:
                ltv = rng.randint(min(profile.low_ltv_bps, safe_high), safe_high)
            drafts.append((profile, ltv, _log_uniform(rng, *profile.size_usd)))
    rng.shuffle(drafts)
    positions = tuple(
        PlannedPosition(index=i, kind=profile.kind, asset=asset_pool[i], ltv_bps=ltv, equity_usd=size)
        for i, (profile, ltv, size) in enumerate(drafts)
    )
    debt = sum(p.debt_usd for p in positions)
    supply = int(Decimal(debt) / utilization) + 1
    weights = [Decimal(w) for w in (40, 25, 15, 12, 8, 5, 3, 2)] + [Decimal(1)] * lenders
    shares = _split(supply, weights[:lenders])
    return BookPlan(
        risk=risk, shock=shock, margin_bps=margin_bps, positions=positions, lenders_usd=tuple(shares)
    )


def facility_liquidity_usd(plan: BookPlan, asset: str, cover: Decimal | None) -> int:
    """Stablecoin to pre-fund ``asset``'s facility with: ``cover`` times the
    expected payouts, or (None) three times them, at least $1M."""
    need = plan.expected_payout_usd(asset)
    if cover is None:
        return max(3 * need, 1_000_000)
    return int(Decimal(need) * cover)
