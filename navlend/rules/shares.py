"""The lenders' shares: ERC-4626 conversions with virtual shares and assets.

10^6 virtual shares and one virtual asset make a first deposit's share
price hard to inflate; deposit and redeem round down, mint and withdraw
round up (the vault's favour)."""

from __future__ import annotations

from navlend.constants import VIRTUAL_ASSETS, VIRTUAL_SHARES
from navlend.rules.arith import mul_div
from navlend.rules.interest import borrows_of


def total_assets(cash: int, total_scaled: int, index: int, reserves: int) -> int:
    """What the lenders own: cash plus borrows (rounded down) less reserves."""
    return cash + borrows_of(total_scaled, index) - reserves


def to_shares(assets: int, total_supply: int, total: int, roundup: bool) -> int:
    """``assets`` in shares at the vault's price."""
    return mul_div(assets, total_supply + VIRTUAL_SHARES, total + VIRTUAL_ASSETS, roundup)


def to_assets(shares: int, total_supply: int, total: int, roundup: bool) -> int:
    """``shares`` in assets at the vault's price."""
    return mul_div(shares, total + VIRTUAL_ASSETS, total_supply + VIRTUAL_SHARES, roundup)


def max_withdraw(shares: int, total_supply: int, total: int, cash: int) -> int:
    """The most a lender holding ``shares`` can withdraw: its claim
    (rounded down), within the market's cash."""
    return min(to_assets(shares, total_supply, total, False), cash)


def max_redeem(shares: int, total_supply: int, total: int, cash: int) -> int:
    """The most shares a lender can redeem: its shares, within what the
    cash buys back; zero when they would be worth no assets (``redeem``
    refuses those)."""
    most = min(shares, to_shares(cash, total_supply, total, False))
    if to_assets(most, total_supply, total, False) == 0:
        return 0
    return most
