"""``ape run nav``: strike a NAV on the local world's oracle, refresh a
stale one, or move the local chain's time. Local networks only: the
oracles are the simulated issuer's (contracts/issuer/NavOracle.vy, or a
MockAggregator a test points the market at).

The strike is signed by the oracle's updater (the deployer on a world of
``ape run deploy``; TEST::1 in the test suite): without ``--account`` the
command signs as the updater when it is a local test account, and refuses
any other signer, naming the updater. A move beyond the oracle's bound
(1 %) is confirmed in the same run by its guardian, a local test account
too. The rules are :mod:`navlend.cli.navstrike`'s.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ape import accounts
from eth_utils import encode_hex

from navlend.cli.amounts import format_bps, format_duration, parse_duration
from navlend.cli.contracts import RoundData
from navlend.cli.errors import Refusal
from navlend.cli.impact import AssetTerms
from navlend.cli.book import list_affected
from navlend.cli import navstrike, settings
from navlend.cli.records import Plan, TxStep
from navlend.cli.render import usd
from navlend.cli.render_preview import amount_json
from navlend.cli.session import Report, Session
from navlend.constants import WAD
from navlend.rules import valuation
from navlend import abi

_LATEST_ROUND = abi.function("IAggregatorV3", "latestRoundData")
NAV_ORACLE = "NavOracle"
WRAPPER_ORACLE = "WrapperNavOracle"
MOCK_FEED = "MockAggregator"


class _AdvanceTime:
    """A set-up "step" that moves the local chain's time: one block mined
    ``seconds`` after the head (no transaction; simulated as nothing)."""

    def __init__(self, chain: Any, seconds: int):
        self.chain = chain
        self.seconds = seconds

    def call(self, *_args: Any, sender: Any = None) -> None:
        return None

    def __call__(self, *_args: Any, sender: Any = None) -> Any:
        head = int(self.chain.blocks.head.timestamp)
        self.chain.mine(1, timestamp=head + self.seconds)
        block = self.chain.blocks.head
        return SimpleNamespace(txn_hash=_hex(block.hash), block_number=int(block.number), gas_used=0, gas_price=0)


class _SignedBy:
    """A contract method sent by ``account`` whatever the session's signer
    (the oracle's guardian, a local test account)."""

    def __init__(self, method: Any, account: Any):
        self.method = method
        self.account = account

    def call(self, *args: Any, sender: Any = None) -> Any:
        return self.method.call(*args, sender=self.account)

    def __call__(self, *args: Any, sender: Any = None) -> Any:
        return self.method(*args, sender=self.account)


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else encode_hex(bytes(value))


def _test_account(address: str) -> tuple[int, Any] | None:
    for i, account in enumerate(accounts.test_accounts):
        if str(account.address).lower() == address.lower():
            return i, account
        if i >= 20:
            break
    return None


def _kind(s: Session, address: str) -> str:
    name = s.nl.name_of(address)
    record = s.nl.deployment.get(name) if name else None
    if record is not None and record.contract_type:
        return record.contract_type
    for kind, probe in ((NAV_ORACLE, "updater"), (WRAPPER_ORACLE, "fund_oracle")):
        try:
            getattr(s.nl._at(address, kind), probe)()
            return kind
        except Exception:  # noqa: BLE001 - not that kind of feed
            continue
    return MOCK_FEED


def _round(feed: Any) -> RoundData:
    return _LATEST_ROUND.outputs_as(RoundData, feed.latestRoundData())


def _signer_for(s: Session, role: str, address: str, explicit: bool) -> None:
    """Makes the session sign as ``address`` (the oracle's ``role``): the
    signer already, or the local test account it is when no --account was
    given; refuses otherwise, naming it."""
    if s.address.lower() == address.lower():
        return
    found = _test_account(address)
    name = f" (TEST::{found[0]})" if found else ""
    if explicit or found is None:
        raise Refusal(
            f"{s.address} may not strike this NAV: the oracle's {role} is {address}{name}; "
            f"pass --account {f'TEST::{found[0]}' if found else 'with that account'}"
        )
    s.account = found[1]
    s.out.note(f"signing as the oracle's {role} {address}{name}")


def nav(
    s: Session,
    asset: str,
    set_price: str | None = None,
    move: str | None = None,
    advance: str | None = None,
    refresh: bool = False,
    explicit_account: bool = True,
) -> Report:
    """Strikes ``asset``'s NAV (``set_price`` in USD, or ``move`` from the
    current one, or the current one again: a refresh), after moving the
    chain's time by ``advance`` when given. ``advance`` alone strikes
    nothing."""
    if not s.local:
        raise Refusal(
            f"ape run nav strikes the local world's simulated NAVs: local networks only, not '{s.network.name}'"
        )
    nl = s.nl
    a = nl.asset(asset)
    cfg = nl.market.asset_config(a.address)
    feed_address = str(cfg.oracle)
    kind = _kind(s, feed_address)
    wrapper_feed = None
    nav_address = feed_address
    if kind == WRAPPER_ORACLE:
        wrapper_feed = nl._at(feed_address, WRAPPER_ORACLE)
        nav_address = str(wrapper_feed.fund_oracle())
        kind = _kind(s, nav_address)
    if kind not in (NAV_ORACLE, MOCK_FEED):
        raise Refusal(
            f"{a.name}'s feed {nav_address} is a {kind}: ape run nav strikes the local world's "
            f"{NAV_ORACLE} (or a {MOCK_FEED} a test set)"
        )
    feed = nl._at(nav_address, kind)
    decimals = int(feed.decimals())
    latest = _round(feed)
    head = int(nl.chain.blocks.head.timestamp)
    seconds = parse_duration(advance) if advance else 0
    now = head + seconds
    strikes = refresh or set_price is not None or move is not None or not advance
    nav_new = navstrike.new_nav(latest.answer, decimals, set_price, move) if strikes else latest.answer
    as_of = now if strikes else latest.updated_at
    strike = navstrike.Strike(nav_new, as_of, latest.answer, latest.updated_at)

    what = "refresh" if strikes and nav_new == latest.answer else "strike"
    summary = (
        f"{what} {a.name}'s NAV at {settings.usd_text(nav_new, decimals)}" if strikes else f"age {a.name}'s NAV"
    ) + (f" after moving the chain's time by {settings.duration_text(seconds)}" if seconds else "")
    plan = Plan(summary, command="nav")
    if seconds:
        plan.steps.append(
            TxStep(
                f"advance the chain's time by {settings.duration_text(seconds)} (a block mined, no transaction)",
                _AdvanceTime(nl.chain, seconds),
                (),
                "setup",
            )
        )
    if strikes and kind == NAV_ORACLE:
        if bool(feed.has_pending()):
            pending = feed.pending_round()
            raise Refusal(
                f"a NAV of {settings.usd_text(int(pending.answer), decimals)} waits for the oracle's guardian "
                f"{feed.guardian()}: it confirms or rejects it (confirm_pending / reject_pending) before a new strike"
            )
        _signer_for(s, "updater", str(feed.updater()), explicit_account)
        navstrike.check_strike(strike, int(feed.min_interval()))
        plan.steps.append(TxStep("publish NAV", feed.publish, (nav_new, as_of)))
        if navstrike.needs_guardian(strike, int(feed.max_move_bps())):
            guardian = str(feed.guardian())
            found = _test_account(guardian)
            if guardian.lower() == s.address.lower():
                plan.steps.append(TxStep("confirm_pending (guardian)", feed.confirm_pending))
            elif found is not None:
                plan.steps.append(
                    TxStep(f"confirm_pending (as the guardian TEST::{found[0]})", _SignedBy(feed.confirm_pending, found[1]))
                )
            else:
                raise Refusal(
                    f"a move of {format_bps(strike.move_bps)} is beyond the oracle's bound "
                    f"{format_bps(int(feed.max_move_bps()))}: its guardian {guardian} must confirm it, and it is "
                    "not a local test account"
                )
            plan.notes.append(
                f"a move of {format_bps(strike.move_bps)} is beyond the oracle's bound "
                f"{format_bps(int(feed.max_move_bps()))}: its guardian confirms it in the same run"
            )
    elif strikes:
        plan.steps.append(TxStep("set_answer", feed.set_answer, (nav_new, as_of)))

    # What the market will read.
    market_before, _ = nl.market.asset_price(a.address)
    answer_after = nav_new
    price_decimals = decimals
    if wrapper_feed is not None:
        fund = nl.erc20(str(a.token.asset()))
        answer_after = navstrike.wrapper_price(
            nav_new, int(wrapper_feed.assets_per_share()), int(fund.decimals()), decimals
        )
        price_decimals = int(wrapper_feed.decimals())
    ratio = nl.asset_ratio(a.address) if cfg.frozen else WAD
    price_after, stale_after = valuation.market_price(
        answer_after, as_of, now, int(cfg.price_cap), ratio, int(cfg.max_oracle_age)
    )
    age_before = head - latest.updated_at
    max_age = int(cfg.max_oracle_age)
    plan.changes.append(
        settings.change(f"{a.name} NAV" + (" (its fund's)" if wrapper_feed else ""),
                        settings.usd_text(latest.answer, decimals), settings.usd_text(nav_new, decimals))
    )
    plan.changes.append(
        settings.change(
            f"{a.name} NAV age (max {settings.duration_text(max_age)})",
            _age_text(age_before, max_age),
            _age_text(now - as_of, max_age),
        )
    )
    plan.changes.append(
        settings.change(
            f"{a.name} price the market uses",
            settings.usd_text(int(market_before), price_decimals),
            settings.usd_text(price_after, price_decimals),
        )
    )
    if seconds:
        plan.changes.append(settings.change("chain time", "now", f"+{settings.duration_text(seconds)}"))
    list_affected(nl, plan, AssetTerms(a.name, price=price_after, stale=stale_after), s.warn_below)
    token = usd(price_decimals)
    report = s.execute(
        plan,
        asset=a.name,
        oracle=nav_address,
        nav_before=amount_json(latest.answer, usd(decimals)),
        nav_after=amount_json(nav_new, usd(decimals)),
        as_of=as_of,
        price_after=amount_json(price_after, token),
        stale_after=stale_after,
        advanced_seconds=seconds,
    )
    if not report.data["dry_run"]:
        price, stale = nl.market.asset_price(a.address)
        report.after.append(
            f"{a.name}: the market now prices it at {settings.usd_text(int(price), price_decimals)}"
            + (" (stale)" if stale else " (fresh)")
        )
    return report


def _age_text(seconds: int, max_age: int) -> str:
    text = format_duration(seconds)
    return f"{text} (stale)" if seconds > max_age else text
