"""Striking a NAV on the local world's oracle (``ape run nav``): the new
NAV from ``--set`` or ``--move``, whether the oracle takes it now, and
what the market will read from it. No chain, no I/O.

The local world's ``NavOracle`` (contracts/issuer/NavOracle.vy) takes a
strike from its updater only at least ``min_interval`` (20 hours by
default) after the last strike time, never dated in the future, and parks
a move beyond ``max_move_bps`` (1 %) for its guardian to confirm. The
wrapper's feed (``WrapperNavOracle``) prices a wrapper share from its
fund's NAV, so a wrapper's NAV is struck on the fund's oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from navlend.cli.amounts import format_duration, parse_amount, to_decimal
from navlend.cli.errors import BadInput, Refusal
from navlend.cli.settings import duration_text
from navlend.constants import BPS
from navlend.rules.arith import mul_div

# WrapperNavOracle.DECIMALS: a wrapper share's price has 8 decimals.
WRAPPER_DECIMALS = 8


def parse_move(text: str) -> Decimal:
    """``--move``: a signed percentage ("-3%", "+0.5%") or fraction
    ("-0.03") as a fraction; a fall of 100 % or more is refused."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    value = to_decimal(raw[:-1] if percent else raw, "--move")
    move = value / 100 if percent else value
    if move <= -1:
        raise BadInput(f"--move '{text}' would take the NAV to zero or below")
    return move


def new_nav(current: int, decimals: int, set_price: str | None, move: str | None) -> int:
    """The NAV to strike (feed units): ``set_price`` in USD, or ``current``
    moved by ``move``, or ``current`` itself (a refresh)."""
    if set_price is not None and move is not None:
        raise BadInput("pass --set or --move, not both")
    if set_price is not None:
        return parse_amount(set_price, decimals, "USD (--set)")
    if move is not None:
        nav = int((Decimal(current) * (1 + parse_move(move))).to_integral_value(rounding=ROUND_DOWN))
        if nav <= 0:
            raise BadInput(f"--move '{move}' leaves no NAV")
        return nav
    return current


def move_bps(previous: int, nav: int) -> int:
    """The oracle's move from ``previous`` to ``nav`` in basis points,
    rounded up (``NavOracle._move_bps``)."""
    return mul_div(abs(nav - previous), BPS, previous, True)


@dataclass(frozen=True)
class Strike:
    """A strike the oracle is asked to take: the NAV and its time."""

    nav: int
    as_of: int
    previous: int
    previous_as_of: int

    @property
    def move_bps(self) -> int:
        return move_bps(self.previous, self.nav)


def check_strike(strike: Strike, min_interval: int) -> None:
    """Refuses a strike the oracle would revert on: too soon after the last
    one (saying how far to ``--advance``)."""
    since = strike.as_of - strike.previous_as_of
    if since < min_interval:
        short = min_interval - since
        hint = f"{-(-short // 3_600)}h" if short > 3_600 else f"{-(-short // 60)}m"
        raise Refusal(
            f"the oracle takes a strike at least {duration_text(min_interval)} after the last one, "
            f"struck {format_duration(since)} ago: add --advance {hint} (or more) to move the local "
            "chain's time first"
        )


def needs_guardian(strike: Strike, max_move_bps: int) -> bool:
    """Whether the oracle parks the strike for its guardian (a move
    beyond its bound)."""
    return strike.move_bps > max_move_bps


def wrapper_price(nav: int, assets_per_share: int, fund_decimals: int, feed_decimals: int) -> int:
    """A wrapper share's price (8 decimals) at the fund's ``nav``, as
    ``WrapperNavOracle._price`` computes it, rounded down."""
    scale = fund_decimals + feed_decimals
    if scale >= WRAPPER_DECIMALS:
        return nav * assets_per_share // 10 ** (scale - WRAPPER_DECIMALS)
    return nav * assets_per_share * 10 ** (WRAPPER_DECIMALS - scale)
