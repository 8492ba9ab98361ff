"""Pure liquidation decisions: which positions, how much, which route,
whether it pays. No I/O; every input is a value from ``keepers.types``.

The market's arithmetic is not restated here: the close factor, the dust
trims, the seizure rounding, the protocol's fee, the flash fee and the
facility's payout come from ``navlend.rules``, the one copy of the market's
rules that the reference model is built on and the property suite checks
against the contracts. The decision feeds them the terms it read
(``MarketTerms.limits``, ``AssetTerms.seizable``) and adds what only a
liquidator cares about:

- the redeem route (``FlashLiquidator``): the facility must take the
  shares (``max_redeem``, ``min_redeem``), the market must have the cash to
  lend, and the payout must cover the repayment and the flash fee (the
  contract reverts otherwise). When the facility can take only part, the
  repayment is cut to the largest one whose shares it can take;
- the seize route (``Market.liquidate(..., redeem_shares=False)``): the
  keeper repays from its own stablecoin and receives the shares, so its
  receiver must be allowlisted by the fund and not frozen;
- profit = proceeds - repaid - flash fee - gas - safety buffer, in base
  units; a plan is kept only at or above ``min_profit`` unless cleanup mode
  is on.

Route choice, per collateral asset of the position: the redeem route when
the facility takes the whole liquidation; otherwise the better of a partial
redeem and the seize route. Across assets: the highest net profit.

Bundling (:func:`batch_plans`): a block's redeem-route plans on one
collateral go out as ``FlashLiquidator.liquidate_many`` batches, one flash
loan each (its loan: :func:`batch_loan`; its floor: :func:`batch_min_profit`).

Gathered batches (:func:`gather_members`, :func:`gather_groups`,
:func:`plan_gathered`): positions skipped because their seizure is under
the facility's minimum (Ondo's $50,000) are grouped per collateral until
their shares together reach it, and go out as one
``FlashLiquidator.liquidate_gathered``: each seized to the facility, one
redemption of the total, priced by the facility's quote for the total.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from navlend.constants import BPS, MAX_UINT256, WAD
from navlend.rules import liquidation
from navlend.rules.arith import Revert, ceil_div, mul_div
from navlend.rules.fees import flash_fee, redemption_payout
from navlend.rules.liquidation import Amounts, CloseLimits, Seizable

from keepers.config import MAX_LIQUIDATION_BATCH, KeeperConfig
from keepers.types import (
    AccountHealth,
    AssetTerms,
    Decision,
    ExecutionContext,
    GatheredBatch,
    MarketTerms,
    Plan,
    Rejection,
    Route,
    SkipReason,
)


# FlashLiquidator.MAX_BATCH: the most positions one liquidate_many takes.
MAX_BATCH = MAX_LIQUIDATION_BATCH
# A batch's flash loan over the sum of its repayments: the interest that
# accrues between the scan and the block (a full close repays the whole,
# grown, debt). 0.1 % is a year of 10 % interest in ~5 minutes.
LOAN_MARGIN_BPS = 10


@dataclass(frozen=True)
class ProfitPolicy:
    """The keeper's economics, in chain units (see ``KeeperConfig``)."""

    min_profit: int
    safety_buffer: int
    eth_usd_base: int
    gas_limit_redeem: int
    gas_limit_seize: int
    max_fee_wei: int
    min_out_tolerance_bps: int = 100
    cleanup_mode: bool = False

    @classmethod
    def from_config(cls, config: KeeperConfig) -> ProfitPolicy:
        return cls(
            min_profit=config.min_profit_base,
            safety_buffer=config.safety_buffer_base,
            eth_usd_base=config.eth_usd_base,
            gas_limit_redeem=config.gas_limit_redeem,
            gas_limit_seize=config.gas_limit_seize,
            max_fee_wei=config.max_fee_wei,
            min_out_tolerance_bps=config.min_out_tolerance_bps,
            cleanup_mode=config.cleanup_mode,
        )


# ---------------------------------------------------------------- #
#                              TARGETS                              #
# ---------------------------------------------------------------- #


def select_targets(healths: Iterable[AccountHealth], in_flight: Iterable[str] = ()) -> list[AccountHealth]:
    """The liquidatable positions with no liquidation in flight, the largest
    repayment first (the most bonus, and first call on shared facility
    liquidity), then the lowest health factor."""
    busy = set(in_flight)
    targets = [h for h in healths if h.liquidatable and h.debt > 0 and h.account not in busy]
    return sorted(targets, key=lambda h: (-h.max_repay, h.health_factor, h.account))


def at_risk(healths: Iterable[AccountHealth], near_edge_hf_wad: int) -> list[AccountHealth]:
    """Positions with debt whose health factor is below the near-edge
    threshold (liquidatable ones included)."""
    return [h for h in healths if h.debt > 0 and h.health_factor < near_edge_hf_wad]


# ---------------------------------------------------------------- #
#                         MARKET ARITHMETIC                         #
# ---------------------------------------------------------------- #


def _amounts(
    debt: int, liquidation_value: int, target: Seizable, limits: CloseLimits, max_repay: int
) -> Amounts | None:
    """The market's amounts, or None where it would revert ("nothing to
    liquidate", or a zero price)."""
    try:
        return liquidation.amounts(debt, liquidation_value, target, limits, max_repay)
    except Revert:
        return None


def liquidation_amounts(
    health: AccountHealth, balance: int, asset: AssetTerms, terms: MarketTerms, max_repay: int
) -> Amounts | None:
    """The market's ``_liquidation_amounts`` for this position and asset
    (close factor, small-position full close, dust trims, rounding), and
    the protocol's fee; None when the market would revert "nothing to
    liquidate". ``health`` gives the debt and liquidation value accrued to
    the scanned block, ``balance`` the position's collateral of ``asset``."""
    return _amounts(health.debt, health.liquidation_value, asset.seizable(balance), terms.limits, max_repay)


def redeem_payout(asset: AssetTerms, shares: int) -> tuple[int, int]:
    """The facility's payout for ``shares`` (real units) and its fee, in
    base units, at its own NAV: the rules' ``redemption_payout``, both
    rounded down. When the facility reports no price (Ondo's adapter quotes
    0 for one share, under its minimum) the market's price stands in; it
    is per booked unit, so for a short asset (``ratio`` below one, after an
    issuer's burn or seizure was synced) it is taken back to a real share,
    rounded down (valuing real shares at the booked price counted the
    ratio twice: a redeem route that pays was skipped as
    "payout_below_cost")."""
    nav = asset.redeem_price or _real_unit_price(asset)
    return redemption_payout(shares, nav, asset.value_exponent, asset.redemption_fee_bps)


def _real_unit_price(asset: AssetTerms) -> int:
    """The market's price of one real unit: ``price`` (per booked unit)
    over the ratio, rounded down; the price itself for a whole asset, or
    one with nothing left (no real unit to price)."""
    if asset.ratio in (0, WAD):
        return asset.price
    return mul_div(asset.price, WAD, asset.ratio, False)


def gas_cost(gas_units: int, gas_price_wei: int, eth_usd_base: int) -> int:
    """Gas in stablecoin base units (10**18 wei an ether), rounded up."""
    return ceil_div(gas_units * gas_price_wei * eth_usd_base, 10**18)


def largest_repay_within(
    health: AccountHealth,
    balance: int,
    asset: AssetTerms,
    terms: MarketTerms,
    max_taken: int,
    max_repaid: int,
) -> tuple[int, Amounts] | None:
    """The largest ``max_repay`` whose liquidation gives at most
    ``max_taken`` shares and repays at most ``max_repaid``, with its
    amounts; None if no repayment fits.

    A search rather than an inverse formula: the dust trims and the
    full-seizure branch make the inverse piecewise, while what the market
    repays and seizes is non-decreasing in ``max_repay``, which is all a
    bisection needs (about 60 steps of integer arithmetic). What depends
    only on the terms and the balance is built once, before the probes."""
    target, limits = asset.seizable(balance), terms.limits

    def amounts_for(max_repay: int) -> Amounts | None:
        return _amounts(health.debt, health.liquidation_value, target, limits, max_repay)

    def fits(a: Amounts | None) -> bool:
        return a is not None and a.sent <= max_taken and a.repaid <= max_repaid

    lo, hi = 0, min(health.debt, max_repaid)
    best: tuple[int, Amounts] | None = None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        a = amounts_for(mid)
        if a is None or fits(a):
            if fits(a):
                best = (mid, a)  # type: ignore[assignment]
            lo = mid
        else:
            hi = mid - 1
    if best is None and lo > 0:
        a = amounts_for(lo)
        if fits(a):
            best = (lo, a)  # type: ignore[assignment]
    return best


# ---------------------------------------------------------------- #
#                              ROUTES                               #
# ---------------------------------------------------------------- #


def plan_redeem(
    health: AccountHealth,
    balance: int,
    asset: AssetTerms,
    terms: MarketTerms,
    ctx: ExecutionContext,
    policy: ProfitPolicy,
) -> Plan | Rejection:
    """The redeem route through the FlashLiquidator, or why not."""

    def reject(reason: SkipReason, detail: str = "") -> Rejection:
        return Rejection(asset.token, Route.REDEEM, reason, detail)

    if not asset.has_facility:
        return reject(SkipReason.NO_FACILITY, "the market has no facility for this asset")
    if not ctx.flash_liquidator_ready:
        return reject(SkipReason.FLASH_UNAVAILABLE, "no usable FlashLiquidator")
    if terms.max_flash_loan == 0:
        return reject(SkipReason.FLASH_UNAVAILABLE, "flash loans paused or no cash")
    full = liquidation_amounts(health, balance, asset, terms, MAX_UINT256)
    if full is None:
        return reject(SkipReason.NOTHING_TO_LIQUIDATE)
    if asset.facility_max_redeem == 0:
        return reject(SkipReason.FACILITY_DRY, _facility_detail(asset))

    amounts, max_repay, partial = full, MAX_UINT256, False
    # The facility's limits count the real shares it receives.
    if full.sent > asset.facility_max_redeem or full.repaid > terms.max_flash_loan:
        found = largest_repay_within(health, balance, asset, terms, asset.facility_max_redeem, terms.max_flash_loan)
        if found is None:
            return reject(SkipReason.FACILITY_DRY, _facility_detail(asset))
        max_repay, amounts = found
        partial = True
    if amounts.sent < asset.facility_min_redeem:
        return reject(
            SkipReason.FACILITY_BELOW_MINIMUM, f"{amounts.sent} shares < minimum {asset.facility_min_redeem}"
        )

    payout, redemption_fee = redeem_payout(asset, amounts.sent)
    fee = flash_fee(amounts.repaid, terms.flash_fee_bps)
    if payout < amounts.repaid + fee:
        return reject(
            SkipReason.PAYOUT_BELOW_COST, f"payout {payout} < repaid {amounts.repaid} + flash fee {fee}"
        )
    gas = gas_cost(policy.gas_limit_redeem, ctx.gas_price_wei, policy.eth_usd_base)
    return _priced(
        health,
        asset,
        Route.REDEEM,
        amounts,
        policy,
        max_repay=max_repay,
        proceeds=payout,
        flash_fee=fee,
        redemption_fee=redemption_fee,
        gas=gas,
        # On-chain floor: the stablecoin profit must at least pay the gas
        # and the minimum; the buffer absorbs drift between scan and block.
        min_profit=0 if policy.cleanup_mode else gas + policy.min_profit,
        min_out=0,
        partial=partial,
    )


def plan_seize(
    health: AccountHealth,
    balance: int,
    asset: AssetTerms,
    terms: MarketTerms,
    ctx: ExecutionContext,
    policy: ProfitPolicy,
) -> Plan | Rejection:
    """The seize route with the keeper's own stablecoin, or why not. The
    shares are valued at the market's price less the facility's fee (what
    redeeming them later would cost)."""

    def reject(reason: SkipReason, detail: str = "") -> Rejection:
        return Rejection(asset.token, Route.SEIZE, reason, detail)

    if asset.token not in ctx.allowlisted_tokens:
        return reject(SkipReason.NOT_ALLOWLISTED, "the keeper's receiver may not hold this fund")
    if asset.token in ctx.frozen_tokens:
        return reject(SkipReason.KEEPER_FROZEN, "the fund has frozen the keeper's receiver: it may not receive the shares")
    if ctx.stable_balance == 0:
        return reject(SkipReason.INSUFFICIENT_BALANCE, "no stablecoin to repay with")
    # "Up to" the balance: the market trims to its own cap, never above.
    amounts = liquidation_amounts(health, balance, asset, terms, ctx.stable_balance)
    if amounts is None:
        return reject(SkipReason.INSUFFICIENT_BALANCE, f"balance {ctx.stable_balance} buys nothing past the dust rules")
    full = liquidation_amounts(health, balance, asset, terms, MAX_UINT256)
    partial = full is not None and full.repaid > amounts.repaid

    # What redeeming the shares later brings: the facility's payout on the
    # booked units at the market's price.
    proceeds, redemption_fee = redemption_payout(
        amounts.taken, asset.price, asset.value_exponent, asset.redemption_fee_bps
    )
    return _priced(
        health,
        asset,
        Route.SEIZE,
        amounts,
        policy,
        max_repay=ctx.stable_balance,
        proceeds=proceeds,
        flash_fee=0,
        redemption_fee=redemption_fee,
        gas=gas_cost(policy.gas_limit_seize, ctx.gas_price_wei, policy.eth_usd_base),
        min_profit=0,
        # The market checks the real units it sends against min_out.
        min_out=mul_div(amounts.sent, BPS - policy.min_out_tolerance_bps, BPS, False),
        partial=partial,
        note="partial: stablecoin balance" if partial else "",
    )


def _priced(
    health: AccountHealth,
    asset: AssetTerms,
    route: Route,
    amounts: Amounts,
    policy: ProfitPolicy,
    *,
    max_repay: int,
    proceeds: int,
    flash_fee: int,
    redemption_fee: int,
    gas: int,
    min_profit: int,
    min_out: int,
    partial: bool,
    note: str = "",
) -> Plan | Rejection:
    """The plan with its net profit, or UNPROFITABLE below the minimum
    (outside cleanup mode)."""
    net = proceeds - amounts.repaid - flash_fee - gas - policy.safety_buffer
    if net < policy.min_profit and not policy.cleanup_mode:
        return Rejection(asset.token, route, SkipReason.UNPROFITABLE, f"net {net} < min profit {policy.min_profit}")
    return _plan_of(
        health, asset.token, route, amounts,
        max_repay=max_repay, proceeds=proceeds, flash_fee=flash_fee, redemption_fee=redemption_fee, gas=gas,
        safety_buffer=policy.safety_buffer, net=net, min_profit=min_profit, min_out=min_out,
        partial_for_liquidity=partial, cleanup=policy.cleanup_mode and net < policy.min_profit, note=note,
    )


def _plan_of(
    health: AccountHealth, token: str, route: Route, amounts: Amounts, *, max_repay: int, proceeds: int,
    flash_fee: int, redemption_fee: int, gas: int, safety_buffer: int, net: int, min_profit: int, min_out: int,
    partial_for_liquidity: bool = False, cleanup: bool = False, note: str = "",
) -> Plan:
    """A :class:`Plan` of ``health``'s position from the market's
    ``amounts`` and the route's figures."""
    return Plan(
        borrower=health.account,
        token=token,
        route=route,
        max_repay=max_repay,
        repaid=amounts.repaid,
        seized=amounts.seized,
        taken=amounts.taken,
        sent=amounts.sent,
        proceeds=proceeds,
        flash_fee=flash_fee,
        redemption_fee=redemption_fee,
        gas_cost=gas,
        safety_buffer=safety_buffer,
        net_profit=net,
        min_profit=min_profit,
        min_out=min_out,
        health_factor=health.health_factor,
        partial_for_liquidity=partial_for_liquidity,
        cleanup=cleanup,
        note=note,
    )


def _facility_detail(asset: AssetTerms) -> str:
    return (
        f"facility takes {asset.facility_max_redeem} shares now "
        f"(liquidity {asset.facility_liquidity}, remaining daily limit {asset.facility_remaining_limit}"
        f"{', NAV stale' if asset.stale else ''})"
    )


# ---------------------------------------------------------------- #
#                             DECISIONS                             #
# ---------------------------------------------------------------- #


def decide(
    health: AccountHealth,
    balances: Mapping[str, int],
    terms: MarketTerms,
    ctx: ExecutionContext,
    policy: ProfitPolicy,
    in_flight: bool = False,
) -> Decision:
    """The plan for one position, or the reason to skip it.

    ``balances`` is the position's collateral by token (from the index);
    an asset in the Lens bitmap with no known balance is skipped."""
    borrower = health.account

    def skip(reason: SkipReason, detail: str = "", rejected: tuple[Rejection, ...] = ()) -> Decision:
        return Decision(borrower=borrower, reason=reason, detail=detail, rejected=rejected)

    if health.debt == 0:
        return skip(SkipReason.NO_DEBT)
    if in_flight:
        return skip(SkipReason.IN_FLIGHT, "a liquidation of this position is pending")
    if not terms.liquidation_open:
        return skip(SkipReason.LIQUIDATION_CLOSED, "liquidation paused or in its grace period")
    if health.health_factor >= WAD or not health.liquidatable:
        return skip(SkipReason.HEALTHY, f"health factor {health.health_factor / WAD:.4f}")
    if ctx.gas_price_wei > policy.max_fee_wei:
        return skip(SkipReason.GAS_PRICE_ABOVE_CAP, f"gas price {ctx.gas_price_wei} > cap {policy.max_fee_wei}")

    rejected: list[Rejection] = []
    candidates: list[Plan] = []
    for asset in _assets_of(health, terms, rejected):
        balance = balances.get(asset.token, 0)
        if balance == 0:
            rejected.append(Rejection(asset.token, None, SkipReason.NO_COLLATERAL, "no balance in the index"))
            continue
        barred = _issuer_bar(asset)
        if barred is not None:
            # Every route moves the token: none can pass (planning one only
            # had its simulation revert in the token, every block).
            rejected.append(barred)
            continue
        redeem = plan_redeem(health, balance, asset, terms, ctx, policy)
        if isinstance(redeem, Plan) and not redeem.partial_for_liquidity:
            candidates.append(redeem)
            continue
        options = [redeem, plan_seize(health, balance, asset, terms, ctx, policy)]
        for option in options:
            (candidates if isinstance(option, Plan) else rejected).append(option)  # type: ignore[arg-type]

    if candidates:
        best = max(candidates, key=lambda p: (p.net_profit, p.route is Route.REDEEM))
        return Decision(borrower=borrower, plan=_with_lens_check(best, health), rejected=tuple(rejected))
    main = _main_reason(rejected, health.best_token)
    return skip(main.reason, _summary(rejected), tuple(rejected))


def decide_block(
    healths: Iterable[AccountHealth],
    balances: Mapping[str, Mapping[str, int]],
    terms: MarketTerms,
    ctx: ExecutionContext,
    policy: ProfitPolicy,
    in_flight: Iterable[str] = (),
    reserved: Iterable[Plan] = (),
) -> list[Decision]:
    """Decisions for one block's scan, in sending order. Plans draw on
    shared resources in that order: each redeem plan uses up facility
    capacity (``facility_max_redeem``) and each seize plan the keeper's
    stablecoin, so later positions see what is left. ``reserved`` are the
    plans of the keeper's own transactions sent but not mined by the block
    the terms were read at: their draw is taken first (else a redeem plan
    of the next block counts on shares the facility has already promised,
    and reverts "insufficient liquidity" when mined). Positions that are
    not liquidatable get no decision; those in flight get an ``IN_FLIGHT``
    skip."""
    busy = set(in_flight)
    for plan in reserved:
        terms, ctx = _consume(plan, terms, ctx)
    decisions: list[Decision] = []
    for health in select_targets(healths):
        decision = decide(health, balances.get(health.account, {}), terms, ctx, policy, health.account in busy)
        decisions.append(decision)
        if decision.plan is not None:
            terms, ctx = _consume(decision.plan, terms, ctx)
    return decisions


def still_liquidatable(plans: Iterable[Plan], healths: Iterable[AccountHealth]) -> tuple[list[Plan], list[Plan]]:
    """The plans whose position the re-check at the latest block still
    finds liquidatable, and the others (healthy now, or no answer)."""
    liquidatable = {h.account for h in healths if h.liquidatable and h.debt > 0}
    kept, gone = [], []
    for plan in plans:
        (kept if plan.borrower in liquidatable else gone).append(plan)
    return kept, gone


def _consume(plan: Plan, terms: MarketTerms, ctx: ExecutionContext) -> tuple[MarketTerms, ExecutionContext]:
    """What ``plan`` leaves of the keeper's stablecoin (seize route) or of
    its facility's capacity (redeem route, and a gathered batch's member:
    the facility redeems its shares)."""
    if plan.route is Route.SEIZE:
        return terms, replace(ctx, stable_balance=max(0, ctx.stable_balance - plan.repaid))
    assets = tuple(
        replace(a, facility_max_redeem=max(0, a.facility_max_redeem - plan.sent)) if a.token == plan.token else a
        for a in terms.assets
    )
    return replace(terms, assets=assets), ctx


def _issuer_bar(asset: AssetTerms) -> Rejection | None:
    """Why no route can move ``asset`` now, by the issuer's act read from
    its compliance source: the token paused, or the market itself taken
    off the issuer's allowlist / KYC (the market sends the shares in
    every route); None when neither."""
    if asset.paused:
        return Rejection(asset.token, None, SkipReason.TOKEN_PAUSED, "the issuer has paused the token")
    if not asset.market_admitted:
        return Rejection(
            asset.token, None, SkipReason.MARKET_NOT_ADMITTED, "the issuer does not admit the market"
        )
    return None


def _assets_of(health: AccountHealth, terms: MarketTerms, rejected: list[Rejection]) -> list[AssetTerms]:
    by_id = {a.asset_id: a for a in terms.assets}
    assets = []
    for asset_id in health.asset_ids():
        asset = by_id.get(asset_id)
        if asset is None:
            rejected.append(Rejection(f"asset#{asset_id}", None, SkipReason.UNKNOWN_ASSET, "not in the market terms"))
        else:
            assets.append(asset)
    return assets


def _with_lens_check(plan: Plan, health: AccountHealth) -> Plan:
    """Notes when the rules, fed the index's balance, disagree with the
    Lens on the Lens's own best liquidation (a lagging index)."""
    if plan.token != health.best_token or plan.max_repay != MAX_UINT256 or plan.route is not Route.REDEEM:
        return plan
    if (plan.repaid, plan.seized) == (health.max_repay, health.max_seize):
        return plan
    note = f"index drift: rules ({plan.repaid}, {plan.seized}) vs lens ({health.max_repay}, {health.max_seize})"
    return replace(plan, note=(plan.note + "; " if plan.note else "") + note)


# The order in which a skip's headline reason is picked: the one closest
# to acting first (an unprofitable plan was otherwise possible). The
# keeper's own freeze comes before the facility's state: a frozen keeper is
# what blocks the seize route it would fall back on, and the one reason an
# operator must act on (a dry facility refills by itself); under
# "facility_dry" it went unseen.
# The issuer's pause of the token and its removal of the market come
# before the facility's state too: they are what the operator acts on (the
# facility answers 0 while the token is paused).
_REASON_RANK = (
    SkipReason.UNPROFITABLE,
    SkipReason.PAYOUT_BELOW_COST,
    SkipReason.KEEPER_FROZEN,
    SkipReason.TOKEN_PAUSED,
    SkipReason.MARKET_NOT_ADMITTED,
    SkipReason.FACILITY_DRY,
    SkipReason.FACILITY_BELOW_MINIMUM,
    SkipReason.FLASH_UNAVAILABLE,
    SkipReason.NO_FACILITY,
    SkipReason.NOT_ALLOWLISTED,
    SkipReason.INSUFFICIENT_BALANCE,
    SkipReason.NOTHING_TO_LIQUIDATE,
    SkipReason.NO_COLLATERAL,
    SkipReason.UNKNOWN_ASSET,
)


def _main_reason(rejected: list[Rejection], best_token: str) -> Rejection:
    """The headline rejection: on the Lens's best asset if any, the redeem
    route's reason when the seize route was merely unavailable to us."""
    pool = [r for r in rejected if r.token == best_token] or rejected
    if not pool:
        return Rejection(best_token, None, SkipReason.NO_COLLATERAL, "no collateral asset to seize")
    return min(pool, key=lambda r: _REASON_RANK.index(r.reason) if r.reason in _REASON_RANK else len(_REASON_RANK))


def _summary(rejected: list[Rejection]) -> str:
    return "; ".join(
        f"{r.token} {r.route.value if r.route else '-'}: {r.reason.value}{' (' + r.detail + ')' if r.detail else ''}"
        for r in rejected
    )


# ---------------------------------------------------------------- #
#                             BATCHES                               #
# ---------------------------------------------------------------- #


def batch_loan(plans: Iterable[Plan]) -> int:
    """The flash loan of a ``liquidate_many`` over ``plans``: their
    repayments plus ``LOAN_MARGIN_BPS``, rounded up (the unused part goes
    back with the loan, at the cost of its flash fee)."""
    return _loan(sum(plan.repaid for plan in plans))


def batch_min_profit(plans: Iterable[Plan]) -> int:
    """The on-chain profit floor of a batch: the sum of its plans' floors
    (each covers a single transaction's gas and the minimum profit, so a
    batch, which costs less gas per position, clears it with room). A
    position skipped inside the batch (someone else liquidated it first)
    takes its profit out, not its floor: when the others' profit no
    longer covers every floor the batch reverts, unprofitable, as a
    single liquidation would."""
    return sum(plan.min_profit for plan in plans)


def batch_plans(plans: Iterable[Plan], batch_size: int, max_loan: int) -> list[tuple[Plan, ...]]:
    """A block's plans bundled into transactions, in their order.

    Redeem-route plans on the same collateral share a ``liquidate_many``:
    at most ``batch_size`` each, and a loan (:func:`batch_loan`) within
    ``max_loan`` (the market's flash-loan capacity: each transaction's
    loan is repaid within it, so only one loan at a time must fit). A
    plan whose loan alone is above ``max_loan`` is left alone (its own
    simulation says why). Seize-route plans, and everything when
    ``batch_size`` is 1, go one per transaction. Groups of one are sent
    with ``FlashLiquidator.liquidate``."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    groups: list[list[Plan]] = []
    open_group: dict[str, list[Plan]] = {}
    for plan in plans:
        if plan.route is not Route.REDEEM or batch_size == 1:
            groups.append([plan])
            continue
        group = open_group.get(plan.token)
        if group is None or len(group) >= batch_size or batch_loan([*group, plan]) > max_loan:
            group = []
            groups.append(group)
            open_group[plan.token] = group
        group.append(plan)
    return [tuple(group) for group in groups]


# ---------------------------------------------------------------- #
#                          GATHERED BATCHES                         #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class GatherMember:
    """A position the keeper skips as ``facility_below_minimum`` on
    ``token``, with what the seize route would take of it (the whole
    liquidation the market allows: the facility is the receiver, so no
    capacity of the keeper's limits it)."""

    health: AccountHealth
    token: str
    amounts: Amounts


@dataclass(frozen=True)
class GatherGroup:
    """Members on one collateral whose seized shares together reach the
    facility's minimum and fit its capacity, the flash-loan capacity and
    ``MAX_BATCH``: a gathered batch once priced (:func:`plan_gathered`)."""

    token: str
    members: tuple[GatherMember, ...]

    @property
    def shares(self) -> int:
        return sum(m.amounts.sent for m in self.members)

    @property
    def repaid(self) -> int:
        return sum(m.amounts.repaid for m in self.members)

    @property
    def loan(self) -> int:
        return _loan(self.repaid)


def _loan(repaid: int) -> int:
    """A batch's flash loan for ``repaid`` (:func:`batch_loan`'s margin)."""
    return ceil_div(repaid * (BPS + LOAN_MARGIN_BPS), BPS)


def gather_members(
    decisions: Iterable[Decision],
    healths: Iterable[AccountHealth],
    balances: Mapping[str, Mapping[str, int]],
    terms: MarketTerms,
    ctx: ExecutionContext,
) -> list[GatherMember]:
    """The skipped positions a gathered batch could take: the redeem route
    refused as under the facility's minimum on a collateral whose facility
    gathers (``AssetTerms.facility_gathers``), with a FlashLiquidator that
    has ``liquidate_gathered``. A position joins on its first such
    collateral only. A position with a plan keeps it (an allowlisted
    keeper's seize route does not wait for others)."""
    if not (ctx.flash_liquidator_ready and ctx.flash_gathers) or terms.max_flash_loan == 0:
        return []
    by_account = {h.account: h for h in healths}
    members = []
    for decision in decisions:
        health = by_account.get(decision.borrower)
        if decision.plan is not None or health is None:
            continue
        for rejection in decision.rejected:
            if rejection.route is not Route.REDEEM or rejection.reason is not SkipReason.FACILITY_BELOW_MINIMUM:
                continue
            asset = terms.asset(rejection.token)
            if asset is None or not asset.facility_gathers:
                continue
            balance = balances.get(decision.borrower, {}).get(asset.token, 0)
            amounts = liquidation_amounts(health, balance, asset, terms, MAX_UINT256)
            if amounts is not None and amounts.sent > 0:
                members.append(GatherMember(health, asset.token, amounts))
                break
    return members


def gather_groups(
    members: Iterable[GatherMember],
    terms: MarketTerms,
    drawn: Iterable[Plan] = (),
    batch_size: int = MAX_BATCH,
) -> tuple[list[GatherGroup], list[GatherMember]]:
    """``members`` grouped per collateral into gathered batches, and the
    members left out (their group stays under the facility's minimum).

    The largest seizures first, so that the fewest positions reach the
    minimum; a group closes when the next member would take it past
    ``batch_size`` (``FlashLiquidator.MAX_BATCH``), past the facility's
    capacity (``facility_max_redeem`` less what ``drawn``, the block's and
    the in-flight redeem-route and gathered plans, already takes) or past
    the market's flash-loan capacity. A group whose shares stay under
    ``facility_min_redeem`` is no batch: the manager would refuse it."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    taken: dict[str, int] = {}
    for plan in drawn:
        if plan.route is not Route.SEIZE:
            taken[plan.token] = taken.get(plan.token, 0) + plan.sent
    by_token: dict[str, list[GatherMember]] = {}
    for member in members:
        by_token.setdefault(member.token, []).append(member)
    groups: list[GatherGroup] = []
    left: list[GatherMember] = []
    for token, pool in by_token.items():
        asset = terms.asset(token)
        if asset is None:
            left += pool
            continue
        capacity = max(0, asset.facility_max_redeem - taken.get(token, 0))
        current: list[GatherMember] = []

        def close(group: list[GatherMember]) -> int:
            """Keeps ``group`` as a batch (its shares drawn) or leaves its
            members out when under the minimum; the shares drawn."""
            shares = sum(m.amounts.sent for m in group)
            if not group or shares < asset.facility_min_redeem:
                left.extend(group)
                return 0
            groups.append(GatherGroup(token, tuple(group)))
            return shares

        for member in sorted(pool, key=lambda m: (-m.amounts.sent, m.health.account)):
            shares = sum(m.amounts.sent for m in current) + member.amounts.sent
            repaid = sum(m.amounts.repaid for m in current) + member.amounts.repaid
            if len(current) < batch_size and shares <= capacity and _loan(repaid) <= terms.max_flash_loan:
                current.append(member)
                continue
            capacity -= close(current)
            if member.amounts.sent <= capacity and _loan(member.amounts.repaid) <= terms.max_flash_loan:
                current = [member]
            else:
                current = []
                left.append(member)
        close(current)
    return groups, left


def gathered_gas_units(positions: int, policy: ProfitPolicy) -> int:
    """The gas of a gathered batch of ``positions``: one flash-loan
    redemption (``gas_limit_redeem``) and a seizure for each other
    position (``gas_limit_seize``)."""
    return policy.gas_limit_redeem + (positions - 1) * policy.gas_limit_seize


def plan_gathered(
    group: GatherGroup,
    payout: int,
    terms: MarketTerms,
    ctx: ExecutionContext,
    policy: ProfitPolicy,
) -> GatheredBatch | Rejection:
    """The gathered batch of ``group``, priced by ``payout``: the
    facility's ``preview_redeem`` of the group's total shares (one quote:
    the issuer's minimum, fee and limits apply to the one redemption). The
    payout must cover the repayments, the flash fee on the loan and the
    gas (the contract itself reverts below repayments + fee: the adapter's
    ``min_out``); the net profit must reach the minimum outside cleanup
    mode."""

    def reject(reason: SkipReason, detail: str) -> Rejection:
        return Rejection(group.token, Route.GATHERED, reason, detail)

    n = len(group.members)
    shares, repaid, loan = group.shares, group.repaid, group.loan
    fee = flash_fee(loan, terms.flash_fee_bps)
    gas = gas_cost(gathered_gas_units(n, policy), ctx.gas_price_wei, policy.eth_usd_base)
    detail = f"{n} positions, {shares} shares: payout {payout}, repaid {repaid}, flash fee {fee}, gas {gas}"
    if payout == 0:
        return reject(SkipReason.FACILITY_DRY, f"the facility quotes nothing for {shares} shares")
    if payout < repaid + fee + gas:
        return reject(SkipReason.PAYOUT_BELOW_COST, detail)
    net = payout - repaid - fee - gas - policy.safety_buffer
    if net < policy.min_profit and not policy.cleanup_mode:
        return reject(SkipReason.UNPROFITABLE, f"net {net} < min profit {policy.min_profit} ({detail})")
    plans = tuple(_gathered_member(m, group, payout, fee, gas, policy, n) for m in group.members)
    return GatheredBatch(
        token=group.token,
        plans=plans,
        shares=shares,
        repaid=repaid,
        loan=loan,
        payout=payout,
        flash_fee=fee,
        gas_cost=gas,
        net_profit=net,
        min_profit=0 if policy.cleanup_mode else gas + policy.min_profit,
    )


def _gathered_member(
    member: GatherMember, group: GatherGroup, payout: int, fee: int, gas: int, policy: ProfitPolicy, n: int
) -> Plan:
    """One member's plan, its shares of the batch's payout, fee and gas
    pro rata (rounded down: for the logs and the in-flight draw only)."""
    a = member.amounts
    proceeds = mul_div(payout, a.sent, group.shares, False)
    member_fee = mul_div(fee, a.repaid, group.repaid, False) if group.repaid else 0
    return _plan_of(
        member.health, group.token, Route.GATHERED, a,
        max_repay=MAX_UINT256, proceeds=proceeds, flash_fee=member_fee, redemption_fee=0, gas=gas // n,
        safety_buffer=policy.safety_buffer // n,
        net=proceeds - a.repaid - member_fee - gas // n - policy.safety_buffer // n,
        min_profit=0, min_out=0, note=f"gathered: {n} positions, {group.shares} shares",
    )


def with_gathered(
    decisions: Iterable[Decision], batches: Iterable[GatheredBatch], refused: Iterable[tuple[GatherGroup, Rejection]]
) -> list[Decision]:
    """The block's decisions once gathered: a position in a batch becomes
    that batch's member plan; one in a group priced out (payout below
    cost, unprofitable) is skipped with the group's reason; the rest are
    unchanged (a group under the minimum keeps ``facility_below_minimum``)."""
    planned = {p.borrower: p for b in batches for p in b.plans}
    dropped = {m.health.account: r for group, r in refused for m in group.members}
    out = []
    for d in decisions:
        if d.borrower in planned:
            out.append(Decision(borrower=d.borrower, plan=planned[d.borrower], rejected=d.rejected))
        elif d.borrower in dropped and d.plan is None:
            r = dropped[d.borrower]
            out.append(Decision(borrower=d.borrower, reason=r.reason, detail=f"gathered: {r.detail}",
                                rejected=(*d.rejected, r)))
        else:
            out.append(d)
    return out
