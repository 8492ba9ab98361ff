"""Seeding a local market with a lender and borrowers at chosen LTVs, for
the demo and for ``ape run deploy --seed``.

Borrowers must be allowlisted on the funds already (``World.allowlist``);
the issuer mints their fund shares, and wrapper positions are made by
wrapping fund B shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USD = 10**6


@dataclass(frozen=True)
class Seed:
    """One seeded borrower: which collateral, how much value, what LTV."""

    asset: str
    collateral_usd: int
    ltv_bps: int


# A small book: some prudent, some close to the limit (LTV 85 %,
# liquidation threshold 90 %).
SEEDS = (
    Seed("fund_a", 250_000, 6_000),
    Seed("fund_a", 400_000, 8_000),
    Seed("fund_a", 150_000, 8_490),
    Seed("fund_a", 90_000, 8_490),
    Seed("fund_a", 1_500, 8_000),
    Seed("wrapper", 300_000, 7_500),
    Seed("wrapper", 120_000, 8_300),
)


def lend(world: Any, market: Any, issuer: Any, lender: Any, amount_usd: int) -> None:
    """Mints ``amount_usd`` of the stablecoin to ``lender`` and deposits it."""
    amount = amount_usd * USD
    world.stablecoin.mint(lender, amount, sender=issuer)
    world.stablecoin.approve(market, amount, sender=lender)
    market.deposit(amount, lender, sender=lender)


def seed_positions(world: Any, market: Any, issuer: Any, borrowers: list[Any], seeds: tuple[Seed, ...] = SEEDS) -> None:
    """Opens one position per (borrower, seed) pair."""
    for who, seed in zip(borrowers, seeds):
        open_seeded(world, market, issuer, who, seed)


def open_seeded(world, market, issuer, who, seed: Seed) -> None:
    """Mints the seed's collateral to ``who``, posts it and borrows at its LTV."""
    if seed.asset == "fund_a":
        nav = world.oracle_a.latestRoundData()[1]
        shares = seed.collateral_usd * 10**6 * 10**8 // nav
        world.fund_a.mint(who, shares, sender=issuer)
        token = world.fund_a
    else:
        shares = seed.collateral_usd * 10**18
        world.fund_b.mint(who, shares, sender=issuer)
        world.fund_b.approve(world.wrapper, shares, sender=who)
        world.wrapper.deposit(shares, who, sender=who)
        shares = world.wrapper.balanceOf(who)
        token = world.wrapper
    token.approve(market, shares, sender=who)
    market.supply_collateral(token, shares, who, sender=who)
    market.borrow(seed.collateral_usd * seed.ltv_bps // 10_000 * USD, who, who, sender=who)
