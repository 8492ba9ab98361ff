"""The operators' operations (owner and guardian) and the local faucet.

Every setter reads the current values first, so an option left out keeps
its value; the new values are validated as the market validates them, the
signer's role is checked, and the transaction is simulated before it is
sent.
"""

from __future__ import annotations

from decimal import Decimal

from navlend.cli import checks
from navlend.cli.amounts import (
    format_bps,
    is_all,
    parse_amount,
    parse_duration,
    parse_fraction,
    to_decimal,
)
from navlend.cli.contracts import resolve_address
from navlend.cli.checks import fmt
from navlend.cli.errors import Refusal
from navlend.cli.records import Plan, Token, TxStep
from navlend.cli.session import Report, Session
from navlend.constants import WAD, YEAR
from navlend.market import PAUSE_BITS

# Faucet defaults, in whole units.
FAUCET_DEFAULTS = {
    "usdc": "1000000",
    "fund_a": "10000",
    "fund_b": "100000",
    "fund_c": "100000",
    "wrapper": "100000",
}
# The funds the faucet allowlists the receiver on and mints shares of.
FAUCET_FUNDS = ("fund_a", "fund_b", "fund_c")
UNLIMITED = 2**120 - 1


def parse_rate(text: str, what: str) -> int:
    """An annual rate ("4%" or "0.04") as a WAD fraction."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    value = to_decimal(raw[:-1] if percent else raw, what) / (100 if percent else 1)
    wad = value * WAD
    if value < 0 or wad != wad.to_integral_value():
        raise Refusal(f"{what} '{text}' must be a non-negative rate with at most 18 decimals")
    return int(wad)


def parse_price(text: str, decimals: int, what: str) -> int:
    """A USD price ("1.00") in an oracle's decimals; "none" or 0 is no cap."""
    if str(text).strip().lower() in ("none", "0"):
        return 0
    return parse_amount(text, decimals, f"({what})")


def _owner_guardian(s: Session) -> tuple[str, str]:
    m = s.nl.market
    return str(m.owner()), str(m.guardian())


def _require_owner(s: Session) -> None:
    checks.check_role(s.address, *_owner_guardian(s))


def _send(s: Session, summary: str, label: str, method, *args, **data) -> Report:
    plan = Plan(summary)
    plan.steps.append(TxStep(label, method, args))
    return s.execute(plan, **data)


def set_risk(
    s: Session, asset: str, ltv: str | None, threshold: str | None, bonus: str | None
) -> Report:
    """Sets an asset's LTV, liquidation threshold and bonus (fractions)."""
    a = s.nl.asset(asset)
    cfg = s.nl.market.asset_config(a.address)
    new = (
        parse_fraction(ltv, "--ltv") if ltv else int(cfg.ltv_bps),
        parse_fraction(threshold, "--threshold") if threshold else int(cfg.threshold_bps),
        parse_fraction(bonus, "--bonus") if bonus else int(cfg.bonus_bps),
    )
    checks.validate_risk(*new)
    _require_owner(s)
    summary = (
        f"set {a.name} risk: LTV {format_bps(new[0])}, "
        f"threshold {format_bps(new[1])}, bonus {format_bps(new[2])}"
    )
    return _send(
        s, summary, "set_asset_risk", s.nl.market.set_asset_risk, a.address, *new, asset=a.name
    )


def set_limits(
    s: Session,
    asset: str,
    supply_cap: str | None,
    price_cap: str | None,
    max_oracle_age: str | None,
) -> Report:
    """Sets an asset's supply cap ("unlimited"), price cap ("none") and
    maximum oracle age ("100h")."""
    nl = s.nl
    a = nl.asset(asset)
    cfg = nl.market.asset_config(a.address)
    price_decimals = int(nl.aggregator(str(cfg.oracle)).decimals())
    cap = int(cfg.supply_cap)
    if supply_cap:
        cap = (
            UNLIMITED
            if supply_cap.strip().lower() == "unlimited"
            else parse_amount(supply_cap, a.decimals, a.symbol, allow_zero=True)
        )
    pcap = (
        parse_price(price_cap, price_decimals, "--price-cap") if price_cap else int(cfg.price_cap)
    )
    age = parse_duration(max_oracle_age) if max_oracle_age else int(cfg.max_oracle_age)
    checks.validate_limits(cap, age)
    _require_owner(s)
    summary = f"set {a.name} limits: supply cap {cap}, price cap {pcap}, max oracle age {age}s"
    return _send(
        s,
        summary,
        "set_asset_limits",
        nl.market.set_asset_limits,
        a.address,
        cap,
        pcap,
        age,
        asset=a.name,
    )


def set_rates(
    s: Session,
    base: str | None,
    slope1: str | None,
    slope2: str | None,
    kink: str | None,
    reserve_factor: str | None,
) -> Report:
    """Sets the kinked curve (annual rates) and the reserve factor."""
    cfg = s.nl.market.rate_config()
    new = (
        parse_rate(base, "--base") if base else int(cfg.base_rate) * YEAR,
        parse_rate(slope1, "--slope1") if slope1 else int(cfg.slope1) * YEAR,
        parse_rate(slope2, "--slope2") if slope2 else int(cfg.slope2) * YEAR,
        parse_fraction(kink, "--kink") if kink else int(cfg.kink_bps),
        parse_fraction(reserve_factor, "--reserve-factor", allow_zero=True)
        if reserve_factor
        else int(cfg.reserve_factor_bps),
    )
    checks.validate_rates(*new)
    _require_owner(s)
    pct = [f"{Decimal(r) * 100 / WAD:.4f}%" for r in new[:3]]
    summary = (
        f"set rates: base {pct[0]}, slope1 {pct[1]}, slope2 {pct[2]}, "
        f"kink {format_bps(new[3])}, reserve factor {format_bps(new[4])}"
    )
    return _send(s, summary, "set_rates", s.nl.market.set_rates, *new)


def set_fees(s: Session, flash_fee: str | None, liquidation_fee: str | None) -> Report:
    """Sets the flash-loan fee and the protocol's share of the bonus."""
    control = s.nl.control()
    new = (
        parse_fraction(flash_fee, "--flash-fee", allow_zero=True)
        if flash_fee
        else control.flash_fee_bps,
        parse_fraction(liquidation_fee, "--liquidation-fee", allow_zero=True)
        if liquidation_fee
        else control.liquidation_fee_bps,
    )
    checks.validate_fees(*new)
    _require_owner(s)
    summary = f"set fees: flash {format_bps(new[0])}, protocol share of bonus {format_bps(new[1])}"
    return _send(s, summary, "set_fees", s.nl.market.set_fees, *new)


def set_borrow_limits(
    s: Session, min_borrow: str | None, small_position: str | None, dust_floor: str | None
) -> Report:
    """Sets the minimum borrow, small-position and dust thresholds (whole
    stablecoin units)."""
    base = s.nl.base
    control = s.nl.control()
    unit = 10**base.decimals

    def whole(text: str | None, current: int, what: str) -> int:
        if not text:
            return current // unit
        return parse_amount(text, 0, f"{base.symbol} ({what}, whole units)", allow_zero=True)

    new = (
        whole(min_borrow, control.min_borrow, "--min-borrow"),
        whole(small_position, control.small_position, "--small-position"),
        whole(dust_floor, control.dust_floor, "--dust-floor"),
    )
    checks.validate_borrow_limits(*new)
    _require_owner(s)
    summary = f"set borrow limits: minimum {new[0]}, small position {new[1]}, dust floor {new[2]} {base.symbol}"
    return _send(s, summary, "set_borrow_limits", s.nl.market.set_borrow_limits, *new)


def pause(s: Session, actions: tuple[str, ...]) -> Report:
    """Pauses ``actions`` (guardian or owner; liquidation: owner only)."""
    bits = checks.pause_bits(actions)
    checks.check_role(s.address, *_owner_guardian(s), bits=bits)
    names = _names(bits)
    return _send(s, f"pause {', '.join(names)}", "pause", s.nl.market.pause, bits, paused=names)


def unpause(s: Session, actions: tuple[str, ...], grace: str = "0") -> Report:
    """Unpauses ``actions``; unpausing liquidation may start a grace period."""
    bits = checks.pause_bits(actions)
    seconds = parse_duration(grace)
    checks.check_unpause(bits, seconds)
    checks.check_role(s.address, *_owner_guardian(s), bits=bits)
    names = _names(bits)
    return _send(
        s,
        f"unpause {', '.join(names)}",
        "unpause",
        s.nl.market.unpause,
        bits,
        seconds,
        unpaused=names,
    )


def _names(bits: int) -> list[str]:
    return [name for name, bit in PAUSE_BITS.items() if bits & bit]


def list_collateral(
    s: Session,
    token: str,
    oracle: str,
    ltv: str = "0.85",
    threshold: str = "0.90",
    bonus: str = "0.03",
    supply_cap: str = "unlimited",
    price_cap: str = "none",
    max_oracle_age: str = "100h",
    facility: str | None = None,
) -> Report:
    """Lists ``token`` with its ``oracle`` (deployment names or addresses),
    then, with ``facility``, sets its redemption facility."""
    nl, m = s.nl, s.nl.market
    token_address = _deployed_address(s, token)
    oracle_address = _deployed_address(s, oracle)
    if token_address.lower() in (t.lower() for t in nl.listed_tokens()):
        raise Refusal(f"{token} is already listed")
    decimals = int(nl.erc20(token_address).decimals())
    price_decimals = int(nl.aggregator(oracle_address).decimals())
    risk = (
        parse_fraction(ltv, "--ltv"),
        parse_fraction(threshold, "--threshold"),
        parse_fraction(bonus, "--bonus"),
    )
    checks.validate_risk(*risk)
    cap = (
        UNLIMITED
        if supply_cap.strip().lower() == "unlimited"
        else parse_amount(supply_cap, decimals, "", allow_zero=True)
    )
    pcap = parse_price(price_cap, price_decimals, "--price-cap")
    age = parse_duration(max_oracle_age)
    checks.validate_limits(cap, age)
    _require_owner(s)
    plan = Plan(
        f"list {token} priced by {oracle}: LTV {format_bps(risk[0])}, "
        f"threshold {format_bps(risk[1])}, bonus {format_bps(risk[2])}"
    )
    plan.steps.append(
        TxStep("list_asset", m.list_asset, (token_address, oracle_address, *risk, cap, pcap, age))
    )
    if facility:
        plan.steps.append(
            TxStep(
                "set_asset_facility",
                m.set_asset_facility,
                (token_address, _deployed_address(s, facility)),
            )
        )
    plan.notes.append("the fund must allowlist the market before anyone can post this token")
    return s.execute(plan, token=token_address, oracle=oracle_address)


def _deployed_address(s: Session, text: str) -> str:
    record = s.nl.deployment.get(text)
    return record.address if record else resolve_address(text)


def withdraw_reserves(s: Session, amount: str) -> Report:
    """Sends ``amount`` ("max": all that cash allows) of reserves to the
    treasury. The market books its surplus (unbooked flash-loan fees) into
    the reserves first, so the checks count it too."""
    nl, base = s.nl, s.nl.base
    units = None if is_all(amount) else parse_amount(amount, base.decimals, base.symbol)
    state = nl.book_state()
    surplus = int(nl.market.surplus())
    wanted = checks.check_reserves(units, state.reserves + surplus, state.cash + surplus, base)
    _require_owner(s)
    summary = f"withdraw {fmt(wanted, base)} of reserves to the treasury {nl.market.treasury()}"
    return _send(
        s,
        summary,
        "withdraw_reserves",
        nl.market.withdraw_reserves,
        wanted,
        amount=fmt(wanted, base),
    )


def book_surplus(s: Session) -> Report:
    """Books the market's surplus (flash-loan fees, donations) as reserves;
    any account may."""
    nl, base = s.nl, s.nl.base
    surplus = checks.check_surplus(int(nl.market.surplus()), base)
    summary = f"book {fmt(surplus, base)} of surplus (flash-loan fees, donations) as reserves"
    return _send(s, summary, "book_surplus", nl.market.book_surplus, amount=fmt(surplus, base))


# ---- faucet ----


def faucet(s: Session, to: str, amounts: dict[str, str]) -> Report:
    """Local networks only: the issuer (the session's account) allowlists
    ``to`` on every fund and mints it stablecoin, fund shares and wrapper
    shares (``amounts`` by "usdc", "fund_a", "fund_b", "fund_c", "wrapper";
    "0" skips). Fund B is the wrapper's underlying: the market lists only
    the wrapper, so its raw shares are for wrapping."""
    nl = s.nl
    if not s.local:
        raise Refusal(f"the faucet mints mock tokens: local networks only, not '{s.network.name}'")
    receiver = resolve_address(to)
    funds = {key: nl.contract(key) for key in FAUCET_FUNDS}
    fund_b, wrapper = funds["fund_b"], nl.contract("wrapper")
    issuer = str(funds["fund_a"].owner())
    if issuer.lower() != s.address.lower():
        raise Refusal(
            f"{s.address} is not the funds' issuer ({issuer}): the faucet signs as the issuer"
        )
    contracts = {"usdc": nl.stablecoin, **funds, "wrapper": wrapper}
    tokens = {k: Token(k, str(c.symbol()), int(c.decimals())) for k, c in contracts.items()}
    units = {
        k: parse_amount(amounts.get(k, FAUCET_DEFAULTS[k]), t.decimals, t.symbol, allow_zero=True)
        for k, t in tokens.items()
    }
    if not any(units.values()):
        raise Refusal("nothing to mint: every amount is 0")
    plan = Plan(f"faucet to {receiver}")
    for fund in funds.values():
        if not fund.is_allowlisted(receiver):
            plan.steps.append(
                TxStep(f"allowlist on {fund.symbol()}", fund.set_allowlisted, (receiver, True))
            )
    if units["usdc"]:
        plan.steps.append(TxStep("mint stablecoin", nl.stablecoin.mint, (receiver, units["usdc"])))
    for key, fund in funds.items():
        if units[key]:
            plan.steps.append(TxStep(f"mint {key}", fund.mint, (receiver, units[key])))
    if units["wrapper"]:
        # Wrapper shares: the issuer mints fund B to itself and wraps for the receiver.
        fund_b_units = int(wrapper.previewMint(units["wrapper"]))
        plan.steps.append(TxStep("mint fund_b to wrap", fund_b.mint, (s.address, fund_b_units)))
        plan.steps.append(
            TxStep("approve wrapper", fund_b.approve, (wrapper.address, fund_b_units))
        )
        plan.steps.append(
            TxStep("wrap for the receiver", wrapper.mint, (units["wrapper"], receiver))
        )
    minted = {k: fmt(units[k], t) for k, t in tokens.items()}
    report = s.execute(plan, receiver=receiver, minted=minted)
    report.data["after"] = [f"{key}: +{text}" for key, text in minted.items() if units[key]]
    return report
