"""Liquidation by route and by issuer: the gas of one liquidation through
the seize route and one through the redeem route, on three markets that
differ only in the collateral's issuer side:

- ``native``: the project's own fund (``FundToken`` fund A, its
  ``NavOracle`` and ``RedemptionFacility``, from :func:`devkit.world.deploy_world`);
- ``superstate``: USTB as Superstate doubles behind navlend's
  ``SuperstateNavFeed``, ``SuperstateRedemption`` (over RedemptionIdle) and
  ``SuperstateCompliance`` (:func:`devkit.issuers.deploy_superstate_world`);
- ``ondo``: OUSG as Ondo doubles behind ``OndoNavFeed``, ``OndoRedemption``
  (over the OUSG instant manager) and ``OndoCompliance``
  (:func:`devkit.issuers.deploy_ondo_world`).

Every market is listed like the scenario's collateral (LTV 85 %, threshold
86 %, bonus 5 %, default rates) and gets the same position: collateral
worth ``POSITION_VALUE`` and a debt just under its borrowing limit. After
a day the issuer's price falls 2 % (Ondo's largest move per update), the
position is liquidatable, and the liquidator (admitted by every issuer)
repays ``SEIZE_REPAY`` through the seize route, then, 12 seconds later,
``REDEEM_REPAY`` through the redeem route. The redeem rows repay 50,000
rather than the scenario's 1,000 because Ondo's manager refuses anything
under $50,000; the amounts barely move the gas, the path taken does.

Each row is the receipt's ``gasUsed``. Traces split what the transaction
spent before its refund into the issuer's side (what the market spent
inside its calls to the collateral's feed, token and facility) and
navlend's side (the rest); the issuer's side splits again into navlend's
adapters' own code and the issuer's contracts behind them. The refund
comes off the sum. The issuer's contracts here are the doubles, whose gas
is not the real issuers' (``docs/gas-scenario.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from devkit.gasbench.navlend_adapter import NavlendParams
from devkit.gasbench.scenario import (
    BLOCK_SECONDS,
    LIQUIDATE_REPAY,
    REPAY_TOLERANCE,
    Actors,
    ScenarioError,
)
from devkit.issuers import deploy_ondo_adapters, deploy_ondo_world, deploy_superstate_world
from devkit.world import deploy_world
from navlend.constants import MAX_UINT256
from navlend.market import AssetListing, deploy_market, list_asset
from navlend.timeutil import DAY, HOUR

ROUTES = ("seize", "redeem")
# The markets, by key; every row is compared with the native market's.
NATIVE = "native"
SUPERSTATE = "superstate"
ONDO = "ondo"
MARKETS = (NATIVE, SUPERSTATE, ONDO)

# The scenario's listing of its collateral.
LISTING = AssetListing(
    ltv_bps=NavlendParams.ltv_bps,
    threshold_bps=NavlendParams.threshold_bps,
    bonus_bps=NavlendParams.bonus_bps,
)
# In whole loan tokens: the market's supply, the collateral's value, the
# liquidator's cash per market, and each route's repayment.
LEND = 1_000_000
POSITION_VALUE = 120_000
LIQUIDATOR_CASH = 100_000
SEIZE_REPAY = LIQUIDATE_REPAY
REDEEM_REPAY = 50_000
REPAYS = {"seize": SEIZE_REPAY, "redeem": REDEEM_REPAY}
# The debt, as a share of the borrowing limit (LTV 85 %: 84.9 % of value).
BORROW_SHARE = Fraction(999, 1_000)
# The issuer's price after the fall.
DROPPED = Fraction(98, 100)
# Where the strike of a new price lies before its block (seconds).
STRIKE_AGO = 600
# How many loan-token decimals the markets' stablecoins have.
LOAN_DECIMALS = 6
# The message calls a call trace counts (not delegate calls: the market's
# own extensions run as the market).
_COUNTED_CALLS = ("CALL", "STATICCALL")
# The opcode tracer's options: the steps' gas only.
_STEPS_ONLY = {"disableStack": True, "disableMemory": True, "disableStorage": True}


@dataclass(frozen=True)
class RouteMarket:
    """A market over one issuer's collateral, ready for the positions."""

    key: str
    name: str
    market: Any
    loan: Any
    collateral: Any
    feed: Any
    facility: Any
    #: ``mint_shares(to, amount)``: the issuer mints collateral to ``to``.
    mint_shares: Callable[[Any, int], Any]
    #: ``mint_loan(to, amount)``: loan tokens to ``to``.
    mint_loan: Callable[[Any, int], Any]
    #: ``drop_price(fraction)``: the issuer moves its price to ``fraction``
    #: of the current one, struck now.
    drop_price: Callable[[Fraction], Any]
    #: The navlend adapters deployed for this market.
    adapters: tuple[Any, ...] = ()

    def issuer_side(self) -> frozenset[str]:
        """The addresses whose calls count as the issuer's side: the
        collateral, its feed, its facility and any other adapter."""
        contracts = (self.collateral, self.feed, self.facility, *self.adapters)
        return frozenset(str(c.address).lower() for c in contracts)

    def adapter_addresses(self) -> frozenset[str]:
        return frozenset(str(c.address).lower() for c in self.adapters)


@dataclass(frozen=True)
class RouteGas:
    """One liquidation: its market and route, its ``gasUsed``, what it
    spent before the refund, the part of that spent inside the market's
    calls to the feed, the token and the facility (the issuer's side), and
    of that part, what navlend's adapters spent in their own code."""

    market: str
    route: str
    gas: int
    before_refund: int
    issuer_side: int
    adapters: int
    repaid: int

    @property
    def issuer_contracts(self) -> int:
        """The issuer side less the adapters' own code: the issuer's
        contracts (here the doubles, not the real issuers' code)."""
        return self.issuer_side - self.adapters

    @property
    def refund(self) -> int:
        """Storage refunds (capped at a fifth of the spend), mostly earned on
        the issuer's side: balances and allowances that go back to zero."""
        return self.before_refund - self.gas

    @property
    def navlend_side(self) -> int:
        """The rest of the spend: the market's own code, the loan token and
        the transaction's base cost (the same on every market)."""
        return self.before_refund - self.issuer_side


@dataclass(frozen=True)
class RouteComparison:
    """Both routes on every market, with each market's description."""

    rows: tuple[RouteGas, ...]
    markets: dict[str, str]
    #: Contract name -> address of every adapter deployed (for the sizes).
    adapters: dict[str, str]

    def row(self, market: str, route: str) -> RouteGas:
        for row in self.rows:
            if (row.market, row.route) == (market, route):
                return row
        raise KeyError(f"no {route} row for {market}")

    def ratio(self, market: str, route: str) -> float:
        """The row's gas over the native market's on the same route."""
        return self.row(market, route).gas / self.row(NATIVE, route).gas

    def as_json(self) -> dict:
        return {
            "markets": self.markets,
            "routes": list(ROUTES),
            "repay": REPAYS,
            "rows": [
                {
                    "market": row.market,
                    "route": row.route,
                    "gas": row.gas,
                    "before_refund": row.before_refund,
                    "issuer_side": row.issuer_side,
                    "adapters": row.adapters,
                    "issuer_contracts": row.issuer_contracts,
                    "navlend_side": row.navlend_side,
                    "refund": row.refund,
                    f"ratio_to_{NATIVE}": round(self.ratio(row.market, row.route), 4),
                }
                for row in self.rows
            ],
        }


def deploy_native(actors: Actors, project: Any, chain: Any) -> RouteMarket:
    """The project's own fund A, its NAV oracle and facility."""
    owner = actors.owner
    world = deploy_world(owner, allowlisted=_investors(actors), project=project, chain=chain)
    oracle = world.oracle_a

    def admit(market: Any) -> None:
        world.allowlist(market, sender=owner)

    market = _listed_market(
        owner, world.stablecoin, world.fund_a, oracle, world.facility_a, None, admit, project
    )

    def drop(fraction: Fraction) -> None:
        # A 2 % move is over the oracle's bound: the guardian confirms it.
        nav = oracle.latestRoundData()[1] * fraction.numerator // fraction.denominator
        oracle.publish(nav, chain.pending_timestamp - STRIKE_AGO, sender=owner)
        if oracle.has_pending():
            oracle.confirm_pending(sender=owner)

    return RouteMarket(
        key=NATIVE,
        name="FundToken + NavOracle + RedemptionFacility (the project's own issuer model)",
        market=market,
        loan=world.stablecoin,
        collateral=world.fund_a,
        feed=oracle,
        facility=world.facility_a,
        mint_shares=lambda to, amount: world.fund_a.mint(to, amount, sender=owner),
        mint_loan=lambda to, amount: world.stablecoin.mint(to, amount, sender=owner),
        drop_price=drop,
    )


def deploy_superstate(actors: Actors, project: Any, chain: Any, stablecoin: Any) -> RouteMarket:
    """USTB doubles and navlend's Superstate adapters, lending ``stablecoin``."""
    owner = actors.owner
    ss = deploy_superstate_world(owner, stablecoin, chain, _investors(actors), project)

    def admit(market: Any) -> None:
        ss.admit(owner, market)

    market = _listed_market(
        owner, stablecoin, ss.token, ss.feed, ss.adapter, ss.compliance, admit, project
    )

    def drop(fraction: Fraction) -> None:
        nav = ss.feed.latestRoundData()[1] * fraction.numerator // fraction.denominator
        ss.add_checkpoint(chain, owner, nav, struck_ago=STRIKE_AGO)

    return RouteMarket(
        key=SUPERSTATE,
        name="USTB doubles; SuperstateNavFeed, SuperstateRedemption over RedemptionIdle, "
        "SuperstateCompliance",
        market=market,
        loan=stablecoin,
        collateral=ss.token,
        feed=ss.feed,
        facility=ss.adapter,
        mint_shares=lambda to, amount: ss.token.mint(to, amount, sender=owner),
        mint_loan=lambda to, amount: stablecoin.mint(to, amount, sender=owner),
        drop_price=drop,
        adapters=(ss.feed, ss.adapter, ss.compliance),
    )


def deploy_ondo(actors: Actors, project: Any, chain: Any) -> RouteMarket:
    """OUSG doubles and navlend's Ondo adapters, lending the world's USDC."""
    owner = actors.owner
    ondo = deploy_ondo_world(owner, project)
    adapters = deploy_ondo_adapters(ondo, owner, project)
    ondo.kyc(*_investors(actors))

    def admit(market: Any) -> None:
        ondo.kyc(market)

    market = _listed_market(
        owner, ondo.usdc, ondo.ousg, adapters.feed, adapters.redemption, adapters.compliance,
        admit, project,
    )

    def drop(fraction: Fraction) -> None:
        price = ondo.oracle.getPriceData()[0] * fraction.numerator // fraction.denominator
        ondo.post_price(chain, price)

    return RouteMarket(
        key=ONDO,
        name="OUSG doubles; OndoNavFeed, OndoRedemption over the OUSG instant manager "
        "(USDC buffer path), OndoCompliance",
        market=market,
        loan=ondo.usdc,
        collateral=ondo.ousg,
        feed=adapters.feed,
        facility=adapters.redemption,
        mint_shares=ondo.mint_ousg,
        mint_loan=lambda to, amount: ondo.usdc.mint(to, amount, sender=owner),
        drop_price=drop,
        adapters=(adapters.feed, adapters.redemption, adapters.compliance),
    )


def run_routes(actors: Actors, chain: Any, project: Any) -> RouteComparison:
    """Deploys the three markets, opens the same position on each, drops
    every issuer's price by 2 % a day later, and liquidates each position
    through the seize route, then the redeem route. Raises
    :class:`ScenarioError` when a liquidation does not repay what it asked."""
    native = deploy_native(actors, project, chain)
    markets = (
        native,
        deploy_superstate(actors, project, chain, native.loan),
        deploy_ondo(actors, project, chain),
    )
    for route_market in markets:
        open_position(route_market, actors)
    price_falls(markets, chain)
    rows = [
        liquidate_route(route_market, actors, chain, route, REPAYS[route])
        for route_market in markets
        for route in ROUTES
    ]
    return RouteComparison(
        rows=tuple(rows),
        markets={m.key: m.name for m in markets},
        adapters={
            adapter.contract_type.name: str(adapter.address)
            for m in markets
            for adapter in m.adapters
        },
    )


def _investors(actors: Actors) -> tuple[Any, ...]:
    """Who the issuers admit: the lender, the borrower and the liquidator."""
    return (actors.lender0, actors.borrower1, actors.liquidator)


def _listed_market(
    owner: Any,
    loan: Any,
    collateral: Any,
    feed: Any,
    facility: Any,
    compliance: Any,
    admit: Callable[[Any], None],
    project: Any,
) -> Any:
    """A market over ``loan`` listing ``collateral`` as the scenario does,
    admitted by the issuer before the listing, with its facility and (when
    the token has no compliance views of its own) its compliance source."""
    market = deploy_market(owner, loan, guardian=owner, treasury=owner, project=project)
    admit(market)
    list_asset(market, owner, collateral, feed, LISTING)
    market.set_asset_facility(collateral, facility, sender=owner)
    if compliance is not None:
        market.set_asset_compliance(collateral, compliance, sender=owner)
    return market


def _units(tokens: int) -> int:
    return tokens * 10**LOAN_DECIMALS


def price_falls(markets: Iterable[RouteMarket], chain: Any) -> None:
    """An hour, then a day, passes; then every issuer's price falls to
    :data:`DROPPED` of what it was, struck a few minutes before."""
    chain.pending_timestamp += HOUR
    chain.mine()
    chain.pending_timestamp += DAY
    for route_market in markets:
        route_market.drop_price(DROPPED)


def open_position(rm: RouteMarket, actors: Actors) -> None:
    """The lender supplies, the borrower posts ``POSITION_VALUE`` of
    collateral and borrows just under its limit, the liquidator holds cash."""
    market, lender, borrower = rm.market, actors.lender0, actors.borrower1
    rm.mint_loan(lender, _units(LEND))
    rm.loan.approve(market, MAX_UINT256, sender=lender)
    market.deposit(_units(LEND), lender, sender=lender)
    price, _stale = market.asset_price(rm.collateral)
    shares = (
        POSITION_VALUE * 10 ** rm.feed.decimals() * 10 ** rm.collateral.decimals() // price
    )
    rm.mint_shares(borrower, shares)
    rm.collateral.approve(market, MAX_UINT256, sender=borrower)
    market.supply_collateral(rm.collateral, shares, borrower, sender=borrower)
    limit = market.position(borrower).borrow_value
    debt = limit * BORROW_SHARE.numerator // BORROW_SHARE.denominator
    market.borrow(debt, borrower, borrower, sender=borrower)
    rm.mint_loan(actors.liquidator, _units(LIQUIDATOR_CASH))
    rm.loan.approve(market, MAX_UINT256, sender=actors.liquidator)


def liquidate_route(
    rm: RouteMarket, actors: Actors, chain: Any, route: str, repay: int
) -> RouteGas:
    """The liquidator repays ``repay`` whole loan tokens of the borrower's
    debt through ``route``, 12 seconds after the last block; raises
    :class:`ScenarioError` when the debt does not fall by about that."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}: choose one of {', '.join(ROUTES)}")
    chain.pending_timestamp += BLOCK_SECONDS
    before = rm.market.debt_of(actors.borrower1)
    receipt = rm.market.liquidate(
        actors.borrower1,
        rm.collateral,
        _units(repay),
        0,
        route == "redeem",
        actors.liquidator,
        sender=actors.liquidator,
    )
    repaid = before - rm.market.debt_of(actors.borrower1)
    if abs(repaid - _units(repay)) > _units(REPAY_TOLERANCE):
        raise ScenarioError(
            f"{rm.key} {route}: the debt fell by {repaid}, expected about {_units(repay)}"
        )
    trace = call_trace(chain.provider, receipt.txn_hash)
    return RouteGas(
        market=rm.key,
        route=route,
        gas=receipt.gas_used,
        before_refund=spent_before_refund(chain.provider, receipt.txn_hash),
        issuer_side=calls_gas(trace, str(rm.market.address), rm.issuer_side()),
        adapters=own_gas(trace, rm.adapter_addresses()),
        repaid=repaid,
    )


def call_trace(provider: Any, txn_hash: Any) -> dict:
    """The transaction's ``callTracer`` frame tree."""
    return provider.make_request(
        "debug_traceTransaction", [_hex(txn_hash), {"tracer": "callTracer"}]
    )


def spent_before_refund(provider: Any, txn_hash: Any) -> int:
    """The gas the transaction spent before its refund: its gas limit less
    what was left after the last step of the opcode trace."""
    limit = int(provider.make_request("eth_getTransactionByHash", [_hex(txn_hash)])["gas"], 16)
    trace = provider.make_request("debug_traceTransaction", [_hex(txn_hash), _STEPS_ONLY])
    last = trace["structLogs"][-1]
    return limit - (last["gas"] - last["gasCost"])


def _hex(txn_hash: Any) -> str:
    if isinstance(txn_hash, str):
        return txn_hash
    return "0x" + bytes(txn_hash).hex()


def calls_gas(frame: dict, caller: str, targets: frozenset[str]) -> int:
    """The gas used inside every call ``caller`` made to one of
    ``targets`` (lower-case addresses) in a ``callTracer`` frame tree; the
    frames under a counted call are not counted again."""
    total = 0
    for child in frame.get("calls", ()):
        counted = (
            child.get("type") in _COUNTED_CALLS
            and child.get("from", "").lower() == caller.lower()
            and child.get("to", "").lower() in targets
        )
        total += int(child["gasUsed"], 16) if counted else calls_gas(child, caller, targets)
    return total


def own_gas(frame: dict, contracts: frozenset[str]) -> int:
    """The gas ``contracts`` (lower-case addresses) spent in their own code
    in a ``callTracer`` frame tree: each of their calls' gas less what the
    calls they made in turn used."""
    total = 0
    for child in frame.get("calls", ()):
        if child.get("type") in _COUNTED_CALLS and child.get("to", "").lower() in contracts:
            inner = sum(int(grandchild["gasUsed"], 16) for grandchild in child.get("calls", ()))
            total += int(child["gasUsed"], 16) - inner
        total += own_gas(child, contracts)
    return total
