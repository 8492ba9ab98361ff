"""The operators' operations (owner and guardian) and the local faucet.

Every setter reads the current values first, so an option left out keeps
its value; the new values are validated as the market validates them, the
signer's role is checked, and the transaction is simulated before it is
sent. Each shows its settings old → new in human units
(:mod:`navlend.cli.settings`), and a change that moves health factors
(LTV, threshold, price cap, maximum oracle age, oracle) lists the
borrowers it makes liquidatable or pushes under the warning level
(:mod:`navlend.cli.book`, :mod:`navlend.cli.impact`): the session then
asks for confirmation on every network.
"""

from __future__ import annotations

from ape.exceptions import ContractLogicError

from navlend import abi
from navlend.cli import checks, settings
from navlend.cli.amounts import (
    format_bps,
    is_all,
    parse_amount,
    parse_duration,
    parse_fraction,
    to_decimal,
)
from navlend.cli.book import list_affected
from navlend.cli.checks import fmt
from navlend.cli.contracts import RoundData, resolve_address
from navlend.cli.errors import BadInput, Refusal
from navlend.cli.impact import AssetTerms
from navlend.cli.records import Plan, Quantity, Token, TxStep
from navlend.cli.render import usd
from navlend.cli.render_preview import amount_json
from navlend.cli.session import Report, Session
from navlend.cli.settings import UNLIMITED
from navlend.constants import WAD, YEAR
from navlend.market import PAUSE_BITS
from navlend.rules import valuation

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
_LATEST_ROUND = abi.function("IAggregatorV3", "latestRoundData")


def parse_rate(text: str, what: str) -> int:
    """An annual rate ("4%" or "0.04") as a WAD fraction."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    value = to_decimal(raw[:-1] if percent else raw, what) / (100 if percent else 1)
    wad = value * WAD
    if value < 0 or wad != wad.to_integral_value():
        raise BadInput(f"{what} '{text}' must be a non-negative rate with at most 18 decimals")
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


def _plan(command: str, summary: str, label: str, method, *args) -> Plan:
    plan = Plan(summary, command=command)
    plan.steps.append(TxStep(label, method, args))
    return plan


def _feed_round(s: Session, oracle: str) -> RoundData:
    """The feed's latest round, by name."""
    return _LATEST_ROUND.outputs_as(RoundData, s.nl.aggregator(oracle).latestRoundData())


def _now(s: Session) -> int:
    return int(s.nl.chain.blocks.head.timestamp)


def set_risk(
    s: Session, asset: str, ltv: str | None, threshold: str | None, bonus: str | None
) -> Report:
    """Sets an asset's LTV, liquidation threshold and bonus (fractions),
    showing the borrowers the new LTV or threshold puts at risk."""
    a = s.nl.asset(asset)
    cfg = s.nl.market.asset_config(a.address)
    old = (int(cfg.ltv_bps), int(cfg.threshold_bps), int(cfg.bonus_bps))
    new = (
        parse_fraction(ltv, "--ltv") if ltv else old[0],
        parse_fraction(threshold, "--threshold") if threshold else old[1],
        parse_fraction(bonus, "--bonus") if bonus else old[2],
    )
    checks.validate_risk(*new)
    _require_owner(s)
    plan = _plan(
        "admin set-risk",
        f"set {a.name} risk: LTV {format_bps(new[0])}, threshold {format_bps(new[1])}, "
        f"bonus {format_bps(new[2])}",
        "set_asset_risk",
        s.nl.market.set_asset_risk,
        a.address,
        *new,
    )
    for name, before, after in zip(("LTV", "liquidation threshold", "liquidation bonus"), old, new):
        plan.changes.append(settings.bps_change(f"{a.name} {name}", before, after))
    if new[:2] != old[:2]:
        list_affected(s.nl, plan, AssetTerms(a.name, ltv_bps=new[0], threshold_bps=new[1]), s.warn_below)
    return s.execute(plan, asset=a.name, ltv_bps=new[0], threshold_bps=new[1], bonus_bps=new[2])


def set_limits(
    s: Session,
    asset: str,
    supply_cap: str | None,
    price_cap: str | None,
    max_oracle_age: str | None,
) -> Report:
    """Sets an asset's supply cap ("unlimited"), price cap ("none") and
    maximum oracle age ("100h"), showing the borrowers a lower price cap
    puts at risk."""
    nl = s.nl
    a = nl.asset(asset)
    token = a.as_token()
    cfg = nl.market.asset_config(a.address)
    oracle = str(cfg.oracle)
    price_decimals = int(nl.aggregator(oracle).decimals())
    old = (int(cfg.supply_cap), int(cfg.price_cap), int(cfg.max_oracle_age))
    cap = old[0]
    if supply_cap:
        cap = (
            UNLIMITED
            if supply_cap.strip().lower() == "unlimited"
            else parse_amount(supply_cap, a.decimals, a.symbol, allow_zero=True)
        )
    pcap = parse_price(price_cap, price_decimals, "--price-cap") if price_cap else old[1]
    age = parse_duration(max_oracle_age) if max_oracle_age else old[2]
    checks.validate_limits(cap, age)
    _require_owner(s)
    texts = (
        settings.supply_cap_text(cap, token),
        settings.price_cap_text(pcap, price_decimals),
        settings.duration_text(age),
    )
    plan = _plan(
        "admin set-limits",
        f"set {a.name} limits: supply cap {texts[0]}, price cap {texts[1]}, max oracle age {texts[2]}",
        "set_asset_limits",
        nl.market.set_asset_limits,
        a.address,
        cap,
        pcap,
        age,
    )
    plan.changes += [
        settings.change(f"{a.name} supply cap", settings.supply_cap_text(old[0], token), texts[0]),
        settings.change(f"{a.name} price cap", settings.price_cap_text(old[1], price_decimals), texts[1]),
        settings.change(f"{a.name} max oracle age", settings.duration_text(old[2]), texts[2]),
    ]
    if (pcap, age) != old[1:]:
        feed = _feed_round(s, oracle)
        ratio = nl.asset_ratio(a.address) if cfg.frozen else WAD
        price, stale = valuation.market_price(feed.answer, feed.updated_at, _now(s), pcap, ratio, age)
        before, _ = nl.market.asset_price(a.address)
        plan.changes.append(
            settings.change(
                f"{a.name} price used",
                settings.usd_text(int(before), price_decimals),
                settings.usd_text(price, price_decimals) + (" (stale)" if stale else ""),
            )
        )
        list_affected(s.nl, plan, AssetTerms(a.name, price=price, stale=stale), s.warn_below)
    return s.execute(
        plan,
        asset=a.name,
        supply_cap=None if cap >= UNLIMITED else amount_json(cap, token),
        price_cap=amount_json(pcap, usd(price_decimals)) if pcap else None,
        max_oracle_age=age,
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
    old = (
        int(cfg.base_rate) * YEAR,
        int(cfg.slope1) * YEAR,
        int(cfg.slope2) * YEAR,
        int(cfg.kink_bps),
        int(cfg.reserve_factor_bps),
    )
    new = (
        parse_rate(base, "--base") if base else old[0],
        parse_rate(slope1, "--slope1") if slope1 else old[1],
        parse_rate(slope2, "--slope2") if slope2 else old[2],
        parse_fraction(kink, "--kink") if kink else old[3],
        parse_fraction(reserve_factor, "--reserve-factor", allow_zero=True)
        if reserve_factor
        else old[4],
    )
    checks.validate_rates(*new)
    _require_owner(s)
    pct = [settings.rate_text(r) for r in new[:3]]
    plan = _plan(
        "admin set-rates",
        f"set rates: base {pct[0]}, slope1 {pct[1]}, slope2 {pct[2]}, "
        f"kink {format_bps(new[3])}, reserve factor {format_bps(new[4])}",
        "set_rates",
        s.nl.market.set_rates,
        *new,
    )
    for i, name in enumerate(("base rate (APR)", "slope 1 (APR)", "slope 2 (APR)")):
        plan.changes.append(settings.change(name, settings.rate_text(old[i]), pct[i]))
    plan.changes.append(settings.bps_change("kink (utilisation)", old[3], new[3]))
    plan.changes.append(settings.bps_change("reserve factor", old[4], new[4]))
    return s.execute(
        plan,
        base_rate_apr=pct[0],
        slope1_apr=pct[1],
        slope2_apr=pct[2],
        kink_bps=new[3],
        reserve_factor_bps=new[4],
    )


def set_fees(s: Session, flash_fee: str | None, liquidation_fee: str | None) -> Report:
    """Sets the flash-loan fee and the protocol's share of the bonus."""
    control = s.nl.control()
    old = (control.flash_fee_bps, control.liquidation_fee_bps)
    new = (
        parse_fraction(flash_fee, "--flash-fee", allow_zero=True) if flash_fee else old[0],
        parse_fraction(liquidation_fee, "--liquidation-fee", allow_zero=True)
        if liquidation_fee
        else old[1],
    )
    checks.validate_fees(*new)
    _require_owner(s)
    plan = _plan(
        "admin set-fees",
        f"set fees: flash {format_bps(new[0])}, protocol share of bonus {format_bps(new[1])}",
        "set_fees",
        s.nl.market.set_fees,
        *new,
    )
    plan.changes.append(settings.bps_change("flash-loan fee", old[0], new[0]))
    plan.changes.append(settings.bps_change("protocol's share of the liquidation bonus", old[1], new[1]))
    return s.execute(plan, flash_fee_bps=new[0], liquidation_fee_bps=new[1])


def set_borrow_limits(
    s: Session, min_borrow: str | None, small_position: str | None, dust_floor: str | None
) -> Report:
    """Sets the minimum borrow, small-position and dust thresholds (whole
    stablecoin units)."""
    base = s.nl.base
    control = s.nl.control()
    unit = 10**base.decimals
    old = (control.min_borrow // unit, control.small_position // unit, control.dust_floor // unit)

    def whole(text: str | None, current: int, what: str) -> int:
        if not text:
            return current
        return parse_amount(text, 0, f"{base.symbol} ({what}, whole units)", allow_zero=True)

    new = (
        whole(min_borrow, old[0], "--min-borrow"),
        whole(small_position, old[1], "--small-position"),
        whole(dust_floor, old[2], "--dust-floor"),
    )
    checks.validate_borrow_limits(*new)
    _require_owner(s)
    texts = [settings.whole_text(n, base) for n in new]
    plan = _plan(
        "admin set-borrow-limits",
        f"set borrow limits: minimum {texts[0]}, small position {texts[1]}, dust floor {texts[2]}",
        "set_borrow_limits",
        s.nl.market.set_borrow_limits,
        *new,
    )
    for i, name in enumerate(("minimum borrow", "small position", "dust floor")):
        plan.changes.append(settings.change(name, settings.whole_text(old[i], base), texts[i]))
    return s.execute(
        plan,
        min_borrow=amount_json(new[0] * unit, base),
        small_position=amount_json(new[1] * unit, base),
        dust_floor=amount_json(new[2] * unit, base),
    )


def pause(s: Session, actions: tuple[str, ...]) -> Report:
    """Pauses ``actions`` (guardian or owner; liquidation: owner only)."""
    bits = checks.pause_bits(actions)
    checks.check_role(s.address, *_owner_guardian(s), bits=bits)
    names = _names(bits)
    paused = s.nl.control().paused
    plan = _plan("admin pause", f"pause {', '.join(names)}", "pause", s.nl.market.pause, bits)
    plan.changes.append(
        settings.change("paused", settings.names_text(_names(paused)), settings.names_text(_names(paused | bits)))
    )
    return s.execute(plan, paused=names)


def unpause(s: Session, actions: tuple[str, ...], grace: str = "0") -> Report:
    """Unpauses ``actions``; unpausing liquidation may start a grace period."""
    bits = checks.pause_bits(actions)
    seconds = parse_duration(grace)
    checks.check_unpause(bits, seconds)
    checks.check_role(s.address, *_owner_guardian(s), bits=bits)
    names = _names(bits)
    paused = s.nl.control().paused
    plan = _plan(
        "admin unpause", f"unpause {', '.join(names)}", "unpause", s.nl.market.unpause, bits, seconds
    )
    plan.changes.append(
        settings.change("paused", settings.names_text(_names(paused)), settings.names_text(_names(paused & ~bits)))
    )
    if seconds:
        plan.changes.append(
            settings.change("liquidations resume", "now", f"{settings.duration_text(seconds)} after this block")
        )
    return s.execute(plan, unpaused=names, grace_seconds=seconds)


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
    erc20 = nl.erc20(token_address)
    info = Token(token, str(erc20.symbol()), int(erc20.decimals()), token_address)
    feed = nl.aggregator(oracle_address)
    price_decimals = int(feed.decimals())
    risk = (
        parse_fraction(ltv, "--ltv"),
        parse_fraction(threshold, "--threshold"),
        parse_fraction(bonus, "--bonus"),
    )
    checks.validate_risk(*risk)
    cap = (
        UNLIMITED
        if supply_cap.strip().lower() == "unlimited"
        else parse_amount(supply_cap, info.decimals, info.symbol, allow_zero=True)
    )
    pcap = parse_price(price_cap, price_decimals, "--price-cap")
    age = parse_duration(max_oracle_age)
    checks.validate_limits(cap, age)
    _require_owner(s)
    plan = Plan(
        f"list {token} priced by {oracle}: LTV {format_bps(risk[0])}, "
        f"threshold {format_bps(risk[1])}, bonus {format_bps(risk[2])}",
        command="admin list-collateral",
    )
    plan.steps.append(
        TxStep("list_asset", m.list_asset, (token_address, oracle_address, *risk, cap, pcap, age))
    )
    round_ = _feed_round(s, oracle_address)
    rows = [
        ("token", f"{info.symbol} {token_address}"),
        ("oracle", f"{oracle_address} ({settings.usd_text(max(round_.answer, 0), price_decimals)} now)"),
        ("LTV", format_bps(risk[0])),
        ("liquidation threshold", format_bps(risk[1])),
        ("liquidation bonus", format_bps(risk[2])),
        ("supply cap", settings.supply_cap_text(cap, info)),
        ("price cap", settings.price_cap_text(pcap, price_decimals)),
        ("max oracle age", settings.duration_text(age)),
    ]
    if facility:
        facility_address = _deployed_address(s, facility)
        rows.append(("redemption facility", facility_address))
        plan.steps.append(
            TxStep("set_asset_facility", m.set_asset_facility, (token_address, facility_address))
        )
    plan.changes += [settings.change(f"{token} {name}", "not listed", value) for name, value in rows]
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
    reserves = state.reserves + surplus
    wanted = checks.check_reserves(units, reserves, state.cash + surplus, base)
    _require_owner(s)
    treasury = str(nl.market.treasury())
    plan = _plan(
        "admin withdraw-reserves",
        f"withdraw {fmt(wanted, base)} of reserves to the treasury {treasury}",
        "withdraw_reserves",
        nl.market.withdraw_reserves,
        wanted,
    )
    plan.amounts["amount"] = Quantity(wanted, base)
    plan.changes.append(settings.change("reserves", fmt(reserves, base), fmt(reserves - wanted, base)))
    return s.execute(plan, amount=amount_json(wanted, base), treasury=treasury)


def book_surplus(s: Session) -> Report:
    """Books the market's surplus (flash-loan fees, donations) as reserves;
    any account may."""
    nl, base = s.nl, s.nl.base
    surplus = checks.check_surplus(int(nl.market.surplus()), base)
    reserves = nl.book_state().reserves
    plan = _plan(
        "admin book-surplus",
        f"book {fmt(surplus, base)} of surplus (flash-loan fees, donations) as reserves",
        "book_surplus",
        nl.market.book_surplus,
    )
    plan.amounts["surplus"] = Quantity(surplus, base)
    plan.changes.append(settings.change("reserves", fmt(reserves, base), fmt(reserves + surplus, base)))
    plan.changes.append(settings.change("surplus", fmt(surplus, base), fmt(0, base)))
    return s.execute(plan, amount=amount_json(surplus, base))


# ---- assets and roles ----


def set_frozen(s: Session, asset: str, frozen: bool) -> Report:
    """Freezes ``asset`` (guardian or owner: no new deposits of it, no new
    borrowing against it) or unfreezes it (owner only). Health factors do
    not move: liquidation counts a frozen asset at its price."""
    nl = s.nl
    a = nl.asset(asset)
    cfg = nl.market.asset_config(a.address)
    if bool(cfg.frozen) == frozen:
        raise Refusal(f"{a.name} is already {'frozen' if frozen else 'not frozen'}: nothing to change")
    owner, guardian = _owner_guardian(s)
    checks.check_role(s.address, owner, guardian, bits=0 if frozen else None)
    if not frozen and nl.asset_ratio(a.address) < WAD:
        raise Refusal(
            f"the market is short of {a.name} (an issuer's seizure or burn was synced): it stays "
            "frozen, since new units would be booked at par"
        )
    verb = "freeze" if frozen else "unfreeze"
    plan = _plan(
        f"admin {verb}",
        f"{verb} {a.name}: " + ("no new deposits of it, no new borrowing against it" if frozen else "deposits and borrowing against it open again"),
        "set_asset_frozen",
        nl.market.set_asset_frozen,
        a.address,
        frozen,
    )
    plan.changes.append(settings.change(f"{a.name} frozen", settings.flag_text(not frozen), settings.flag_text(frozen)))
    plan.notes.append("health factors do not move: liquidation counts a frozen asset at its price")
    return s.execute(plan, asset=a.name, frozen=frozen)


def set_oracle(s: Session, asset: str, oracle: str) -> Report:
    """Points ``asset`` at a new AggregatorV3 feed, showing its price
    against the old one and the borrowers it puts at risk. Refused before
    sending: a feed with other decimals than the old one (the price cap
    and every price the operators set are in those), no round, a
    non-positive answer, or one older than the asset's maximum age (the
    market reverts on the last two)."""
    nl = s.nl
    a = nl.asset(asset)
    cfg = nl.market.asset_config(a.address)
    old_address = str(cfg.oracle)
    new_address = _deployed_address(s, oracle)
    if new_address.lower() == old_address.lower():
        raise Refusal(f"{a.name} is priced by {new_address} already: nothing to change")
    if not nl.chain.provider.get_code(new_address):
        raise Refusal(f"no contract at {new_address} on this chain: not a price feed")
    old_decimals = int(nl.aggregator(old_address).decimals())
    feed = nl.aggregator(new_address)
    try:
        new_decimals = int(feed.decimals())
        round_ = _feed_round(s, new_address)
    except ContractLogicError as err:
        raise Refusal(f"{new_address} does not answer as a price feed ({err.message}): nothing sent") from None
    if new_decimals != old_decimals:
        raise Refusal(
            f"{new_address} answers with {new_decimals} decimals, the current feed with {old_decimals}: "
            f"{a.name}'s price cap is in those; refused"
        )
    now, age = _now(s), int(cfg.max_oracle_age)
    if round_.answer <= 0:
        raise Refusal(f"{new_address} answers {round_.answer}: the market refuses a feed without a positive price")
    if round_.updated_at > now:
        raise Refusal(f"{new_address}'s round is dated in the future: the market would price it at nothing")
    if now - round_.updated_at > age:
        raise Refusal(
            f"{new_address}'s answer is {settings.duration_text(now - round_.updated_at)} old, older than "
            f"{a.name}'s max oracle age {settings.duration_text(age)}: the market refuses a stale feed"
        )
    _require_owner(s)
    ratio = nl.asset_ratio(a.address) if cfg.frozen else WAD
    price, stale = valuation.market_price(
        round_.answer, round_.updated_at, now, int(cfg.price_cap), ratio, age
    )
    before, _ = nl.market.asset_price(a.address)
    plan = _plan(
        "admin set-oracle",
        f"price {a.name} by {new_address}: {settings.usd_text(price, new_decimals)} "
        f"(now {settings.usd_text(int(before), old_decimals)})",
        "set_asset_oracle",
        nl.market.set_asset_oracle,
        a.address,
        new_address,
    )
    plan.changes.append(settings.change(f"{a.name} oracle", old_address, new_address))
    plan.changes.append(
        settings.change(
            f"{a.name} price used",
            settings.usd_text(int(before), old_decimals),
            settings.usd_text(price, new_decimals),
        )
    )
    list_affected(s.nl, plan, AssetTerms(a.name, price=price, stale=stale), s.warn_below)
    price_token = usd(new_decimals)
    return s.execute(
        plan,
        asset=a.name,
        oracle=new_address,
        price_before=amount_json(int(before), price_token),
        price_after=amount_json(price, price_token),
    )


def _set_role(s: Session, role: str, address: str) -> Report:
    nl = s.nl
    new = resolve_address(address)
    if int(new, 16) == 0:
        raise Refusal(f"the {role} cannot be the zero address (the market refuses it)")
    current = str(getattr(nl.market, role)())
    if current.lower() == new.lower():
        raise Refusal(f"{new} is the {role} already: nothing to change")
    _require_owner(s)
    plan = _plan(
        f"admin set-{role}",
        f"make {new} the market's {role}",
        f"set_{role}",
        getattr(nl.market, f"set_{role}"),
        new,
    )
    plan.changes.append(settings.change(role, current, new))
    return s.execute(plan, **{role: new, f"previous_{role}": current})


def set_guardian(s: Session, address: str) -> Report:
    """Replaces the guardian (who may pause all but liquidation, and freeze)."""
    return _set_role(s, "guardian", address)


def set_treasury(s: Session, address: str) -> Report:
    """Replaces the treasury (which receives the reserves withdrawn)."""
    return _set_role(s, "treasury", address)


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
    plan.command = "faucet"
    for key, token in tokens.items():
        if units[key]:
            plan.amounts[key] = Quantity(units[key], token)
    minted = {k: amount_json(units[k], t) for k, t in tokens.items()}
    report = s.execute(plan, receiver=receiver, minted=minted)
    report.after.extend(f"{key}: +{fmt(units[key], t)}" for key, t in tokens.items() if units[key])
    return report
