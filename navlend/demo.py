"""The demo's scenario: a local navlend market under a NAV shock.

``scripts/demo.py`` (``ape run demo``, ``make demo``) is the command; the
steps live here so they can be tested and grown:

1. deploy the fund world and a market over it;
2. seed a lender and a handful of borrowers at different LTVs, against fund
   A (NAV-accruing, 6 decimals) and the accumulating wrapper over the $1
   fund (18 decimals);
3. let days pass with interest accruing and the NAV published on business
   days;
4. break the buck: fund A's NAV falls by ``shock``. The move exceeds the
   oracle's 1 % bound, so the guardian confirms it;
5. liquidate every unhealthy position through the redeem route, with a
   liquidator the fund does NOT allowlist;
6. print the positions before and after, and a summary.

Step 5 stands in for the keeper until the Silverback keeper takes its place.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from navlend.market import deploy_local_market
from navlend.seeding import SEEDS, lend, seed_positions
from navlend.timeutil import next_business_day_strike
from navlend.world import deploy_world

USD = 10**6
WAD = 10**18
DAY = 86_400


def run(test_accounts: Any, chain: Any, *, shock: float, days: int, console: Console | None = None) -> dict[str, Any]:
    """Plays the scenario on the connected local chain and returns a summary."""
    console = console or Console()
    test = test_accounts
    issuer, updater, guardian, lender, treasury, outsider = test[0], test[1], test[2], test[3], test[8], test[7]
    borrowers = [test[i] for i in range(9, 9 + len(SEEDS))]

    console.rule("[bold]1. the world and the market")
    world = deploy_world(issuer, updater=updater, guardian=guardian, treasury=treasury, allowlisted=borrowers)
    market = deploy_local_market(world, issuer, guardian=guardian, treasury=treasury)
    console.print(f"market at {market.address}; fund A NAV ${world.oracle_a.latestRoundData()[1] / 1e8:.4f}")

    console.rule("[bold]2. lenders and borrowers")
    lend(world, market, issuer, lender, 5_000_000)
    seed_positions(world, market, issuer, borrowers)
    share_price_before = market.convertToAssets(10**12)
    _positions_table(console, market, borrowers, "positions before the shock")

    console.rule(f"[bold]3. {days} days of normal accrual")
    for _ in range(days):
        chain.mine(1, timestamp=chain.blocks.head.timestamp + DAY)
        nav = world.oracle_a.latestRoundData()[1]
        _publish(chain, world.oracle_a, updater, guardian, int(nav * (1 + 0.05 / 365)))
    console.print(
        f"borrow rate {market.borrow_rate() * 365 * DAY / WAD:.2%} a year, "
        f"utilisation {market.utilization() / WAD:.2%}"
    )

    console.rule(f"[bold]4. fund A breaks the buck: NAV -{shock:.1%}")
    nav = world.oracle_a.latestRoundData()[1]
    confirmed = _publish(chain, world.oracle_a, updater, guardian, int(nav * (1 - shock)))
    console.print(
        f"NAV ${nav / 1e8:.4f} -> ${world.oracle_a.latestRoundData()[1] / 1e8:.4f}"
        + (" (beyond the 1 % bound: confirmed by the guardian)" if confirmed else "")
    )
    _positions_table(console, market, borrowers, "positions after the shock")

    console.rule("[bold]5. liquidation through the redeem route")
    assert not world.fund_a.is_allowlisted(outsider), "the demo liquidator must not be allowlisted"
    world.stablecoin.mint(outsider, 10_000_000 * USD, sender=issuer)
    world.stablecoin.approve(market, 2**256 - 1, sender=outsider)
    liquidations = []
    for who, seed in zip(borrowers, SEEDS):
        position = market.position(who)
        if position.debt == 0 or position.health_factor >= WAD:
            continue
        token = world.fund_a if seed.asset == "fund_a" else world.wrapper
        tx = market.liquidate(who, token, 2**256 - 1, 0, True, outsider, sender=outsider)
        event = [log for log in tx.events if log.event_name == "Liquidate"][0]
        liquidations.append((who, event.repaid, event.seized, event.payout, tx.gas_used))
    _positions_table(console, market, borrowers, "positions after liquidation")

    summary = Table(title="liquidations (liquidator not allowlisted: paid in stablecoin)")
    for column in ("borrower", "repaid", "seized shares", "payout", "gas"):
        summary.add_column(column, justify="right")
    for who, repaid, seized, payout, gas in liquidations:
        summary.add_row(who.address[:10], f"${repaid / USD:,.2f}", f"{seized:,}", f"${payout / USD:,.2f}", f"{gas:,}")
    console.print(summary)
    share_price_after = market.convertToAssets(10**12)
    profit = sum(payout - repaid for _, repaid, _, payout, _ in liquidations)
    console.print(
        f"lender share price {share_price_before / USD:.6f} -> {share_price_after / USD:.6f}; "
        f"liquidator profit ${profit / USD:,.2f}"
    )
    return {
        "liquidations": len(liquidations),
        "share_price_before": share_price_before,
        "share_price_after": share_price_after,
        "liquidator_profit": profit,
    }


def _publish(chain, oracle, updater, guardian, nav: int) -> bool:
    """Publishes ``nav`` at the next business-day strike; the guardian
    confirms a move beyond the oracle's bound. Returns True if it had to."""
    as_of = next_business_day_strike(oracle.latestRoundData()[3])
    if chain.blocks.head.timestamp < as_of + 60:
        chain.mine(1, timestamp=as_of + 60)
    tx = oracle.publish(nav, as_of, sender=updater)
    pending = any(log.event_name == "NavPending" for log in tx.events)
    if pending:
        oracle.confirm_pending(sender=guardian)
    return pending


def _positions_table(console: Console, market, borrowers, title: str) -> None:
    table = Table(title=title)
    for column in ("borrower", "debt", "value at threshold", "health factor"):
        table.add_column(column, justify="right")
    for who in borrowers:
        p = market.position(who)
        hf = "-" if p.debt == 0 else f"{p.health_factor / WAD:.4f}"
        style = "red" if p.debt and p.health_factor < WAD else ""
        table.add_row(who.address[:10], f"${p.debt / USD:,.2f}", f"${p.liquidation_value / USD:,.2f}", hf, style=style)
    console.print(table)
