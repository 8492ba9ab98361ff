"""Seeding a local market with a lender and borrowers at chosen LTVs, for
the demo and for ``ape run deploy --seed``.

Borrowers must be allowlisted on the funds already (``World.allowlist``);
the issuer mints their fund shares, and wrapper positions are made by
wrapping fund B shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from navlend.constants import BPS

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
        before = world.wrapper.balanceOf(who)
        world.wrapper.deposit(shares, who, sender=who)
        # The wrapper shares the deposit minted (not the fund shares put in).
        shares = world.wrapper.balanceOf(who) - before
        token = world.wrapper
    token.approve(market, shares, sender=who)
    market.supply_collateral(token, shares, who, sender=who)
    market.borrow(seed.collateral_usd * seed.ltv_bps // BPS * USD, who, who, sender=who)


# ---- a large book, fast (the demo) ----
#
# The demo seeds a few hundred borrowers from :func:`devkit.demo.calibration.plan_book`.
# Borrowers and lenders are synthetic addresses that anvil impersonates, and
# every transaction goes through :class:`devkit.devchain.DevChain` (plain
# ``eth_sendTransaction``), about 25 times faster than Ape's signed sends.

# FundToken.set_allowlisted_batch takes at most this many accounts.
ALLOWLIST_BATCH = 128
NAV_DECIMALS = 8
# Borrowers opened per mined block (all their transactions in one block).
BORROWERS_PER_BLOCK = 20
# Room over a carry trade's target LTV that Leverage.open may end at.
CARRY_LTV_TOLERANCE_BPS = 5


def synthetic_address(role: str, index: int) -> str:
    """A deterministic address for the demo's ``index``-th ``role``."""
    return to_checksum_address(keccak(text=f"navlend demo {role} {index}")[-20:])


@dataclass(frozen=True)
class SeededBook:
    """Who holds which planned position, and the lenders."""

    borrowers: tuple[str, ...]
    lenders: tuple[str, ...]
    plan: Any

    def position_of(self, account: str) -> Any:
        return self.plan.positions[self.borrowers.index(account)]


def seed_lenders(dev: Any, world: Any, market: Any, issuer: Any, amounts_usd: tuple[int, ...]) -> tuple[str, ...]:
    """Mints and deposits each amount for a synthetic lender."""
    lenders = tuple(synthetic_address("lender", i) for i in range(len(amounts_usd)))
    dev.give_gas(*lenders)
    for who, usd in zip(lenders, amounts_usd):
        amount = usd * USD
        dev.send(issuer, world.stablecoin.mint, who, amount)
        dev.send(who, world.stablecoin.approve, market.address, amount)
        dev.send(who, market.deposit, amount, who)
    return lenders


def seed_book(dev: Any, world: Any, market: Any, leverage: Any, issuer: Any, plan: Any, progress=None) -> SeededBook:
    """Seeds ``plan`` (a :class:`devkit.demo.calibration.BookPlan`): lenders
    first, then every borrower, plain or carry. ``progress(n)`` is called
    after each borrower."""
    lenders = seed_lenders(dev, world, market, issuer, plan.lenders_usd)
    borrowers = tuple(synthetic_address("borrower", p.index) for p in plan.positions)
    dev.give_gas(*borrowers)
    for start in range(0, len(borrowers), ALLOWLIST_BATCH):
        batch = list(borrowers[start : start + ALLOWLIST_BATCH])
        for fund in world.funds():
            dev.send(issuer, fund.set_allowlisted_batch, batch, True)
    pairs = list(zip(borrowers, plan.positions))
    for start in range(0, len(pairs), BORROWERS_PER_BLOCK):
        chunk = pairs[start : start + BORROWERS_PER_BLOCK]
        with dev.batch():
            for who, position in chunk:
                if position.kind.value == "carry":
                    open_carry(dev, world, market, leverage, issuer, who, position)
                else:
                    open_plain(dev, world, market, issuer, who, position)
        if progress is not None:
            progress(len(chunk))
    return SeededBook(borrowers=borrowers, lenders=lenders, plan=plan)


def open_plain(dev: Any, world: Any, market: Any, issuer: Any, who: str, position: Any) -> None:
    """Posts the position's collateral and borrows at its LTV."""
    if position.asset == "fund_a":
        nav = world.oracle_a.latestRoundData()[1]
        shares = position.collateral_usd * USD * 10**NAV_DECIMALS // nav
        dev.send(issuer, world.fund_a.mint, who, shares)
        token = world.fund_a
        value = shares * nav // 10**NAV_DECIMALS
    else:
        amount = position.collateral_usd * 10**18
        dev.send(issuer, world.fund_b.mint, who, amount)
        dev.send(who, world.fund_b.approve, world.wrapper.address, amount)
        dev.send(who, world.wrapper.deposit, amount, who)
        shares = world.wrapper.previewDeposit(amount)
        token = world.wrapper
        value = market.asset_price(token)[0] * shares // 10**(NAV_DECIMALS + 18 - 6)
    dev.send(who, token.approve, market.address, shares)
    dev.send(who, market.supply_collateral, token.address, shares, who)
    dev.send(who, market.borrow, value * position.ltv_bps // BPS, who, who)


def open_carry(dev: Any, world: Any, market: Any, leverage: Any, issuer: Any, who: str, position: Any) -> None:
    """Opens the carry trade through ``Leverage.open``: the equity in
    stablecoin, levered to the position's LTV."""
    equity = position.equity_usd * USD
    token, facility = (
        (world.fund_a, world.facility_a) if position.asset == "fund_a" else (world.wrapper, world.facility_b)
    )
    dev.send(issuer, world.stablecoin.mint, who, equity)
    dev.send(who, world.stablecoin.approve, leverage.address, equity)
    dev.send(who, market.set_authorization, leverage.address, True)
    # Leverage targets the LTV on the stablecoin subscribed; the market's
    # debt rounds up, so accept a few bps over the target.
    most = position.ltv_bps + CARRY_LTV_TOLERANCE_BPS
    dev.send(who, leverage.open, token.address, facility.address, equity, position.ltv_bps, 0, most)
