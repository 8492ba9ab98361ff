"""The pre-flight decisions: given plain inputs (see :mod:`navlend.cli.records`),
each function returns what to do or raises a :class:`Refusal` that says why
not. Nothing here touches a chain, so every refusal is unit-tested; the
commands call these before anything is sent.

The market's own rules (parameter bounds, fees, values) are called from
:mod:`navlend.rules`, the one copy the model and the keeper share; a rule's
:class:`~navlend.rules.arith.Revert` becomes a refusal carrying its
message. What is left here is what only a person's command decides (a
balance, an allowance, a fund's admission, what the message should name)
and ``contracts/periphery/Leverage.vy``'s arithmetic. The commands still
simulate each transaction, so a rule missed here becomes a refusal there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from navlend.cli.amounts import format_bps, format_duration, format_units
from navlend.cli.errors import Refusal
from navlend.cli.records import AssetListing, Compliance, Control, Holding, Position, Token
from navlend.cli.risk import borrow_value, max_borrow, max_withdraw
from navlend.constants import BPS, PAUSE_ALL, PAUSE_LIQUIDATION
from navlend.market import PAUSE_BITS
from navlend.rules import params
from navlend.rules.arith import Revert
from navlend.rules.fees import flash_fee

# Leverage.vy's highest target LTV (the helper's constant, not the market's).
MAX_TARGET_LTV_BPS = 9_500
# Leverage.vy trims its closed-form flash loan at most this many times.
FLASH_TRIMS = 4


def fmt(units: int, token: Token) -> str:
    """``units`` of ``token`` as "1,000.50 USDC"."""
    return f"{format_units(units, token.decimals)} {token.symbol}"


def _obey(rule: Callable[..., None], *args: int, say: str = "{}") -> None:
    """Runs one of the market's rules (:mod:`navlend.rules.params`) on
    ``args``; when the market would revert, refuses with the rule's message
    for people, set in ``say`` (e.g. ``"--grace: {}"``, to name the flag)."""
    try:
        rule(*args)
    except Revert as err:
        raise Refusal(say.format(err.message)) from None


# ---- common ----


def check_not_paused(control: Control, *actions: str) -> None:
    """Refuses while any of ``actions`` (``PAUSE_BITS`` names) is paused."""
    for action in actions:
        if control.paused & PAUSE_BITS[action]:
            raise Refusal(f"the market has paused {action}: nothing sent")


def check_balance(balance: int, amount: int, token: Token, who: str = "the account") -> None:
    """Refuses when ``balance`` does not cover ``amount``."""
    if balance < amount:
        raise Refusal(
            f"{who} holds {fmt(balance, token)}, less than the {fmt(amount, token)} needed"
        )


def needs_approval(allowance: int, amount: int) -> bool:
    """Whether an approval must be sent before pulling ``amount``."""
    return allowance < amount


def check_compliance(c: Compliance, role: str = "account") -> None:
    """Refuses unless the fund admits ``c.account`` for a share movement."""
    if c.fund_paused:
        raise Refusal(f"{c.fund} has paused transfers: fund shares cannot move now")
    if not c.allowlisted:
        raise Refusal(
            f"{role} {c.account} is not allowlisted by {c.fund}: the issuer must admit it "
            "before it can hold or move the fund's shares"
        )
    if c.frozen:
        raise Refusal(f"{role} {c.account} is frozen by {c.fund}")


def _stale_note(h: Holding) -> str:
    age = "" if h.price_age is None else f", age {format_duration(h.price_age)}"
    limit = "" if h.max_oracle_age is None else f" > {format_duration(h.max_oracle_age)}"
    return f"{h.name}'s NAV is stale{age}{limit}"


# ---- lenders ----


def check_lend(control: Control, balance: int, amount: int, base: Token) -> None:
    """``lend``: supply open, balance enough."""
    check_not_paused(control, "supply")
    check_balance(balance, amount, base)


def check_withdraw(control: Control, claim: int, cash: int, amount: int | None, base: Token) -> int:
    """``withdraw``: returns the amount to withdraw (``None``: everything).
    Refuses above the lender's claim or the market's cash."""
    check_not_paused(control, "withdraw")
    if claim == 0:
        raise Refusal("the account has nothing lent to the market")
    wanted = claim if amount is None else amount
    if wanted > claim:
        raise Refusal(
            f"the account's claim is {fmt(claim, base)}: it cannot withdraw {fmt(wanted, base)}"
        )
    if wanted > cash:
        raise Refusal(
            f"the market holds only {fmt(cash, base)} of cash (the rest is lent out): "
            f"withdraw at most {fmt(cash, base)} now"
        )
    return wanted


# ---- borrowers ----


def check_deposit(
    control: Control, listing: AssetListing, compliance: Compliance, balance: int, amount: int
) -> None:
    """``deposit``: deposits open, asset not frozen, cap room, account
    admitted by the fund, balance enough."""
    token = Token(listing.name, listing.symbol, listing.decimals)
    check_not_paused(control, "deposit-collateral")
    if listing.frozen:
        raise Refusal(f"{listing.name} is frozen on the market: no new deposits")
    room = max(listing.supply_cap - listing.total_supplied, 0)
    if amount > room:
        raise Refusal(f"{listing.name}'s supply cap leaves room for {fmt(room, token)} only")
    check_compliance(compliance)
    check_balance(balance, amount, token)


def check_borrow(control: Control, position: Position, amount: int, cash: int, base: Token) -> None:
    """``borrow``: borrowing open, within the borrow limit (saying what the
    maximum is, and which stale NAV keeps it low), above the minimum debt,
    within the market's cash."""
    check_not_paused(control, "borrow")
    if not position.holdings:
        raise Refusal("the account has no collateral: deposit fund shares first")
    stale = [h for h in position.holdings if h.stale]
    most = max_borrow(position)
    if amount > most:
        reason = f"the most this account can borrow now is {fmt(most, base)}"
        if stale:
            notes = "; ".join(_stale_note(h) for h in stale)
            reason += f" ({notes}: a stale asset counts for nothing until a fresh NAV is published)"
        frozen = [h.name for h in position.holdings if h.frozen]
        if frozen:
            reason += f" ({', '.join(frozen)} frozen: it backs no new borrowing)"
        raise Refusal(f"borrow of {fmt(amount, base)} refused: {reason}")
    if position.debt + amount < control.min_borrow:
        raise Refusal(
            f"the market's minimum debt is {fmt(control.min_borrow, base)}: "
            f"borrow at least {fmt(control.min_borrow - position.debt, base)}"
        )
    if amount > cash:
        raise Refusal(f"the market holds only {fmt(cash, base)} of cash to lend")


def check_withdraw_collateral(
    control: Control, position: Position, name: str, amount: int | None, receiver: Compliance
) -> int:
    """``withdraw-collateral``: returns the amount (``None``: the most the
    position allows). Refuses: paused, more than posted, a stale NAV while
    in debt, a receiver the fund does not admit, above the borrow limit."""
    check_not_paused(control, "withdraw-collateral")
    holding = position.holding(name)
    if holding is None or holding.balance == 0:
        raise Refusal(f"the account has no {name} posted")
    token = Token(holding.name, holding.symbol, holding.decimals)
    if amount is not None and amount > holding.balance:
        raise Refusal(f"the account has only {fmt(holding.balance, token)} of {name} posted")
    if position.debt and holding.stale:
        raise Refusal(
            f"{_stale_note(holding)}: while the account is in debt it cannot withdraw {name} "
            "until a fresh NAV is published (repay the debt first, or wait)"
        )
    check_compliance(receiver, "receiver")
    most = max_withdraw(position.holdings, holding.name, position.debt)
    wanted = most if amount is None else amount
    if wanted == 0:
        raise Refusal(f"the position's debt leaves no {name} free to withdraw")
    if wanted > most:
        raise Refusal(
            f"withdrawing {fmt(wanted, token)} would put the position above its borrow limit: "
            f"the most is {fmt(most, token)}"
        )
    return wanted


def check_repay(debt: int, amount: int | None, balance: int, base: Token) -> int:
    """``repay``: returns the amount the market will take (``None``: all).
    Refuses without debt or without the balance; more than the debt is
    capped at the debt."""
    if debt == 0:
        raise Refusal("the account has no debt to repay")
    wanted = debt if amount is None else min(amount, debt)
    if balance < wanted:
        what = "repay the whole debt" if wanted == debt else "repay"
        raise Refusal(
            f"to {what} the account needs {fmt(wanted, base)}; it holds {fmt(balance, base)}"
        )
    return wanted


# ---- leverage ----


@dataclass(frozen=True)
class LeverageQuote:
    """What ``Leverage.open`` would do, computed as the contract does."""

    equity: int
    flash: int
    fee: int
    collateral: int

    @property
    def debt(self) -> int:
        return self.flash + self.fee

    @property
    def exposure(self) -> int:
        return self.equity + self.flash


def leverage_flash(equity: int, target_ltv_bps: int, flash_fee_bps: int) -> tuple[int, int]:
    """The flash loan and its fee for ``equity`` at ``target_ltv_bps``, as
    ``Leverage._flash_for`` computes them with the market's fee: the closed
    form over ``flashFee(BPS * BPS)``, then trimmed a unit at a time (at
    most four) while the rounded-up fee lifts the debt above the target, so
    the quote is the loan the helper will take. Refuses a target above the
    helper's maximum first (at 100 % with no fee the closed form divides by
    zero)."""
    if target_ltv_bps > MAX_TARGET_LTV_BPS:
        raise Refusal(
            f"target LTV {format_bps(target_ltv_bps)} is above the helper's {format_bps(MAX_TARGET_LTV_BPS)}"
        )
    gross = BPS * BPS + flash_fee(BPS * BPS, flash_fee_bps)
    flash = equity * gross // (gross - target_ltv_bps * BPS) - equity
    for _ in range(FLASH_TRIMS):
        owed = flash + flash_fee(flash, flash_fee_bps)
        if flash == 0 or owed * BPS <= target_ltv_bps * (equity + flash):
            break
        flash -= 1
    return flash, flash_fee(flash, flash_fee_bps)


def check_subscription(asset: str, has_source: bool, exposure: int, minimum: int, base: Token) -> None:
    """``leverage``: the Leverage helper refuses an asset whose market has
    no compliance source (it cannot check the investor), and the issuer
    refuses a subscription under its minimum (Ondo: $100,000)."""
    if not has_source:
        raise Refusal(
            f"the market has no compliance source for {asset}: the Leverage helper refuses an asset "
            "whose investors it cannot check (the market's owner sets one with set_asset_compliance)"
        )
    if exposure < minimum:
        raise Refusal(
            f"{asset}'s issuer takes at least {fmt(minimum, base)} per subscription; this one would be "
            f"{fmt(exposure, base)}: add equity or raise --ltv"
        )


def check_leverage(
    control: Control,
    position: Position,
    asset: Holding,
    quote: LeverageQuote,
    compliance: Compliance,
    balance: int,
    cash: int,
    target_ltv_bps: int,
    base: Token,
) -> None:
    """``leverage``: the account admitted by the fund, deposits, borrowing
    and flash loans open, a fresh NAV, a target the contract and the asset
    accept, the position within its borrow limit afterwards, the minimum
    debt, the market's cash and the account's equity."""
    check_compliance(compliance)
    check_not_paused(control, "deposit-collateral", "borrow", "flash-loan")
    if asset.stale:
        raise Refusal(
            f"{_stale_note(asset)}: the market lends nothing against it until a fresh NAV"
        )
    if asset.frozen:
        raise Refusal(f"{asset.name} is frozen on the market: no new deposits")
    if target_ltv_bps >= asset.ltv_bps:
        raise Refusal(
            f"target LTV {format_bps(target_ltv_bps)} is not below {asset.name}'s LTV "
            f"{format_bps(asset.ltv_bps)}: choose a lower --ltv"
        )
    if quote.collateral == 0:
        raise Refusal(
            "the facility would mint no shares now (a stale or unusable price, or the issuer's "
            "subscriptions paused): nothing sent"
        )
    check_balance(balance, quote.equity, base)
    others = tuple(h for h in position.holdings if h.name != asset.name)
    held = position.holding(asset.name)
    after = (*others, asset.with_balance((held.balance if held else 0) + quote.collateral))
    limit = borrow_value(after)
    if position.debt + quote.debt > limit:
        raise Refusal(
            f"the levered position would owe {fmt(position.debt + quote.debt, base)} against a borrow "
            f"limit of {fmt(limit, base)}: choose a lower --ltv"
        )
    if position.debt + quote.debt < control.min_borrow:
        raise Refusal(f"the market's minimum debt is {fmt(control.min_borrow, base)}: add equity")
    if quote.debt > cash:
        raise Refusal(
            f"the market holds only {fmt(cash, base)} of cash; the position needs {fmt(quote.debt, base)}"
        )


def check_unwind(
    control: Control,
    debt: int,
    collateral: int,
    asset: Token,
    facility: str,
    max_redeem: int,
    payout: int,
    fee: int,
    base: Token,
) -> int:
    """``unwind``: returns the stablecoin expected back. Refuses without
    collateral or facility, while flash loans or withdrawals are paused,
    when the facility cannot take it all now, or when the redemption would
    not cover the debt and the flash fee."""
    if collateral == 0:
        raise Refusal(f"the account has no {asset.name} posted")
    if not facility or int(facility, 16) == 0:
        raise Refusal(f"{asset.name} has no redemption facility on the market")
    check_not_paused(control, "withdraw-collateral", *(("flash-loan",) if debt else ()))
    if max_redeem < collateral:
        raise Refusal(
            f"the facility can redeem only {fmt(max_redeem, asset)} now (liquidity, daily limit or a "
            f"stale NAV); the position holds {fmt(collateral, asset)}"
        )
    if payout < debt + fee:
        raise Refusal(
            f"redeeming the {asset.name} pays {fmt(payout, base)}, less than the debt and flash fee "
            f"{fmt(debt + fee, base)}: repay part of the debt first"
        )
    return payout - debt - fee


# ---- operators ----


def pause_bits(actions: tuple[str, ...] | list[str]) -> int:
    """The PAUSE_* bits of ``actions`` (``PAUSE_BITS`` names, or "all"),
    which the market's rule on the bits must accept (a person names
    actions, so a refusal names them too)."""
    names = f"{', '.join(PAUSE_BITS)} or all"
    bits = 0
    for action in actions:
        key = action.strip().lower().replace("_", "-")
        if key == "all":
            bits |= PAUSE_ALL
        elif key in PAUSE_BITS:
            bits |= PAUSE_BITS[key]
        else:
            raise Refusal(f"unknown action '{action}': one of {names}")
    _obey(params.check_actions, bits, say=f"{{}}: name at least one action: {names}")
    return bits


def check_role(account: str, owner: str, guardian: str, bits: int | None = None) -> None:
    """Refuses an account that may not do it: the owner may do anything;
    the guardian may pause and unpause all but liquidation (``bits``)."""
    who = account.lower()
    if who == owner.lower():
        return
    if bits is not None and who == guardian.lower() and not bits & PAUSE_LIQUIDATION:
        return
    role = "the owner" if bits is None or bits & PAUSE_LIQUIDATION else "the guardian or the owner"
    raise Refusal(f"{account} is not {role} of the market (owner {owner}, guardian {guardian})")


def check_unpause(bits: int, grace: int) -> None:
    """``unpause``'s ``--grace``: as the market takes it (only with
    liquidation, at most four hours), the refusal naming the flag."""
    _obey(params.check_grace, bits, grace, say="--grace: {}")


def validate_risk(ltv_bps: int, threshold_bps: int, bonus_bps: int) -> None:
    """``set-risk`` / ``list-collateral``: the market's bounds on the risk."""
    _obey(params.check_risk, ltv_bps, threshold_bps, bonus_bps)


def validate_limits(supply_cap: int, max_oracle_age: int) -> None:
    """``set-limits`` / ``list-collateral``: the supply cap's width and the
    oracle age's range, as the market takes them."""
    _obey(params.check_asset_limits, supply_cap, max_oracle_age)


def validate_rates(
    base: int, slope1: int, slope2: int, kink_bps: int, reserve_factor_bps: int
) -> None:
    """``set-rates`` (annual WAD rates): the market's bounds on the curve."""
    _obey(params.check_rates, base, slope1, slope2, kink_bps, reserve_factor_bps)


def validate_fees(flash_fee_bps: int, liquidation_fee_bps: int) -> None:
    """``set-fees``: the market's bounds on the flash fee and its share of
    the liquidation bonus."""
    _obey(params.check_fees, flash_fee_bps, liquidation_fee_bps)


def validate_borrow_limits(min_borrow: int, small_position: int, dust_floor: int) -> None:
    """``set-borrow-limits`` (whole base units): as the market takes them."""
    _obey(params.check_borrow_limits, min_borrow, small_position, dust_floor)


def check_surplus(surplus: int, base: Token) -> int:
    """``book-surplus``: refuses when there is nothing to book."""
    if surplus == 0:
        raise Refusal(f"the market holds no {base.symbol} beyond its cash: nothing to book")
    return surplus


def check_reserves(amount: int | None, reserves: int, cash: int, base: Token) -> int:
    """``withdraw-reserves``: returns the amount (``None``: all it can)."""
    most = min(reserves, cash)
    wanted = most if amount is None else amount
    if wanted == 0:
        raise Refusal("the market has no reserves to withdraw")
    if wanted > reserves:
        raise Refusal(f"the reserves are {fmt(reserves, base)}")
    if wanted > cash:
        raise Refusal(f"the market holds only {fmt(cash, base)} of cash")
    return wanted
