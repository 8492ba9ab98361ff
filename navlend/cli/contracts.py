"""The deployment's contracts on the connected chain, and readers that turn
their views into the plain dataclasses of :mod:`navlend.cli.records`.

:meth:`Navlend.load` reads ``deployments/<network>.json`` (see
:mod:`navlend.deployments`) and refuses when the file is missing or names a
different chain, or when no market is deployed at its address on this one
(a fresh anvil after ``ape run deploy`` ended, for instance).

The contracts are Ape instances (Ape builds them from the compiled ABI),
whose structs are read by name. What the ABI leaves unnamed, the outputs
of a view returning a bare tuple (``control``, ``market_state``,
``latestRoundData``), is bound to a dataclass in the ABI's order through
:mod:`navlend.abi`, and the debt events' topics come from there too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from ape import accounts, chain
from ape import project as ape_project
from ape.contracts import ContractInstance
from ape.exceptions import ContractLogicError
from eth_utils import encode_hex, is_checksum_address, is_hex_address, to_checksum_address
from ethpm_types import ContractType

from navlend import abi, deployments
from navlend.cli.errors import BadInput, Refusal
from navlend.constants import WAD, ZERO_ADDRESS
from navlend.cli.records import (
    AssetListing,
    AssetView,
    Compliance,
    Control,
    Holding,
    MarketView,
    Position,
    Token,
)
from navlend.cli.lending import LenderView, ShareEvent, cost_basis
from navlend.cli.risk import DebtEvent, principal_from_events
from navlend.deployments import Deployment
from navlend.market import market_at

# Contract types of the deployment's collateral tokens.
FUND_TYPE = "FundToken"
WRAPPER_TYPE = "AccumulatingWrapper"
FACILITY_TYPE = "RedemptionFacility"
# Interfaces bound by their compiled ABI (navlend/abi), whatever contract
# implements them: a compliance source (a fund token, or an issuer's
# adapter such as SuperstateCompliance / OndoCompliance) and a subscription
# facility (a RedemptionFacility, or SuperstateSubscription /
# OndoSubscription over an issuer's own subscribe path).
COMPLIANCE_ABI = "IFundToken"
SUBSCRIPTION_ABI = "ISubscriptionFacility"


# Integer figures copied by name from the structs the views return (Ape
# builds the struct values from the same ABI; tests/lib holds each name to
# navlend/abi and to the model dataclass it lands in): the lens's
# AssetSnapshot and MarketSnapshot, the market's AssetConfig and Position.
_ASSET_FIGURES = (
    "price",
    "price_age",
    "ltv_bps",
    "threshold_bps",
    "bonus_bps",
    "supply_cap",
    "total_supplied",
    "price_cap",
)
_BOOK_FIGURES = (
    "cash",
    "total_borrows",
    "reserves",
    "utilization",
    "borrow_rate_apr",
    "supply_rate_apr",
    "total_assets",
    "total_shares",
)
_LISTING_FIGURES = ("supply_cap", "total_supplied")
_HOLDING_FIGURES = ("ltv_bps", "threshold_bps", "max_oracle_age")
_POSITION_FIGURES = ("debt", "scaled_debt", "borrow_value", "liquidation_value", "health_factor")

# Views that return a bare tuple, whose outputs Vyper leaves unnamed: the
# dataclasses below (and model.Control) name them in the ABI's order, and
# Function.outputs_as checks the arity (tests/lib the types).
_CONTROL = abi.function("IMarketViews", "control")
_MARKET_STATE = abi.function("IMarketViews", "market_state")
_LATEST_ROUND = abi.function("IAggregatorV3", "latestRoundData")

# The market's debt events: (event, its debtor argument, its amount argument).
_MARKET_EVENTS = abi.contract("MarketEvents")
_DEBT_EVENTS = (
    (_MARKET_EVENTS.event("Borrow"), "on_behalf", "amount"),
    (_MARKET_EVENTS.event("Repay"), "on_behalf", "amount"),
    (_MARKET_EVENTS.event("Liquidate"), "borrower", "repaid"),
)
# One eth_getLogs filters all three on the debtor: its topic must sit at
# the same place in each.
_DEBTOR_TOPICS = {event.topic_position(debtor) for event, debtor, _ in _DEBT_EVENTS}
if len(_DEBTOR_TOPICS) != 1:
    raise abi.AbiError(
        f"the debt events index their debtor at different topics: {sorted(_DEBTOR_TOPICS)}"
    )
_DEBTOR_TOPIC = _DEBTOR_TOPICS.pop()
# Blocks per eth_getLogs call: public nodes refuse wider ranges.
LOG_WINDOW = 10_000
# The lender shares' events: (event, the account's argument, share kind).
_SHARE_EVENTS = (
    (_MARKET_EVENTS.event("Deposit"), "owner", "deposit"),
    (_MARKET_EVENTS.event("Withdraw"), "owner", "withdraw"),
    (_MARKET_EVENTS.event("Transfer"), "receiver", "transfer_in"),
    (_MARKET_EVENTS.event("Transfer"), "sender", "transfer_out"),
)


@dataclass(frozen=True)
class RoundData:
    """``latestRoundData()``'s outputs, in the ABI's order, named as the
    AggregatorV3 NatSpec (and ``WrapperNavOracle``'s locals) name them."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int


@dataclass(frozen=True)
class BookState:
    """``market_state()``'s outputs, the books accrued to now, in the ABI's
    order, named as its NatSpec (views.vy) describes them."""

    cash: int
    total_borrows: int
    reserves: int
    borrow_index: int
    total_scaled_debt: int


def _ints(struct: Any, names: tuple[str, ...]) -> dict[str, int]:
    return {name: int(getattr(struct, name)) for name in names}


@dataclass
class Asset:
    """A collateral asset listed on the market, as the tools use it."""

    name: str
    token: Any
    symbol: str
    decimals: int
    # The fund whose allowlist governs the asset (itself, or a wrapper's fund).
    fund: Any
    # The fund token the issuer subscribes (for a wrapper: its fund).
    share_token: str

    @property
    def address(self) -> str:
        return str(self.token.address)

    @property
    def is_wrapper(self) -> bool:
        return self.share_token.lower() != self.address.lower()

    def as_token(self) -> Token:
        return Token(self.name, self.symbol, self.decimals, self.address)


def checked_address(value: str) -> str | None:
    """``value`` checksummed when it is a 0x address (None when it is not
    one). EIP-55 is enforced on mixed case: a typo in a checksummed address
    is refused, naming the checksummed form of what was typed. One case
    throughout carries no checksum and is accepted. (eth-utils'
    ``is_address`` accepts a wrong checksum: it cannot be the check.)"""
    if not (value[:2] in ("0x", "0X") and is_hex_address(value)):
        return None
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(value):
        raise BadInput(f"'{value}' fails its EIP-55 checksum (a mistyped character?); these digits checksummed "
                      f"read {to_checksum_address(value)}")
    return to_checksum_address(value)


def resolve_address(text: str | Any) -> str:
    """An address from an account object, a 0x address (EIP-55 enforced
    on mixed case: :func:`checked_address`), an Ape account alias or
    "TEST::n" (a local test account)."""
    if hasattr(text, "address"):
        return str(text.address)
    value = str(text).strip()
    checked = checked_address(value)
    if checked is not None:
        return checked
    if value.upper().startswith("TEST::") and value[6:].isdigit():
        index = int(value[6:])
        if index < len(accounts.test_accounts):
            return str(accounts.test_accounts[index].address)
    elif value in accounts.aliases:
        return str(accounts.load(value).address)
    raise BadInput(f"'{value}' is not an address, an account alias or TEST::n")


@lru_cache(maxsize=None)
def _interface_type(name: str) -> ContractType:
    """An Ape contract type carrying only the compiled ABI ``name``
    (``navlend/abi/<name>.json``)."""
    entries = json.loads((abi.ABI_DIR / f"{name}.json").read_text())
    return ContractType(contractName=name, abi=entries)


def _function_names(contract_type: Any) -> set[str]:
    return {entry.name for entry in contract_type.abi if entry.type == "function"}


class Navlend:
    """The contracts of one deployment, on the connected chain."""

    def __init__(self, deployment: Deployment, project: Any = None):
        self.deployment = deployment
        self.project = project or ape_project
        self.chain = chain
        self._assets: dict[str, Asset] = {}

    @classmethod
    def load(cls, network_name: str | None = None, project: Any = None) -> Navlend:
        """The deployment of the connected network (or ``network_name``),
        checked against the chain."""
        provider = chain.provider
        name = network_name or provider.network.name
        try:
            deployment = deployments.load(name)
        except FileNotFoundError:
            path = deployments.deployments_path(name)
            raise Refusal(
                f"no deployment for network '{name}' ({path} not found): run `ape run deploy` first"
            ) from None
        if deployment.chain_id != provider.chain_id:
            raise Refusal(
                f"{deployments.deployments_path(name)} is for chain {deployment.chain_id}; "
                f"this node is chain {provider.chain_id}"
            )
        market = deployment.get("market")
        if market is None:
            raise Refusal(
                f"the deployment of '{name}' has no market: run `ape run deploy` without --world-only"
            )
        if not provider.get_code(market.address):
            raise Refusal(
                f"no market at {market.address} on this chain: the deployments file is from another "
                "node (a local anvil forgets everything when it stops); run `ape run deploy` against "
                "this node (e.g. `anvil &` and APE_FOUNDRY_HOST=http://127.0.0.1:8545)"
            )
        return cls(deployment, project)

    # ---- contracts ----

    def _contract(self, name: str, default_type: str | None = None) -> Any:
        record = self.deployment.get(name)
        if record is None:
            raise Refusal(f"the deployment has no '{name}'")
        return self._at(record.address, record.contract_type or default_type)

    def _at(self, address: str, contract_type: str) -> Any:
        return ContractInstance(
            to_checksum_address(address), getattr(self.project, contract_type).contract_type
        )

    def _as(self, address: str, interface: str) -> Any:
        """The contract at ``address`` bound by the compiled interface
        ``interface`` (navlend/abi), whatever implements it."""
        return ContractInstance(to_checksum_address(address), _interface_type(interface))

    def _speaks(self, contract_type: str | None, interface: str) -> bool:
        """Whether the project's ``contract_type`` has every function of
        the compiled ``interface``."""
        try:
            compiled = getattr(self.project, contract_type or "").contract_type
        except Exception:  # noqa: BLE001 - not a contract of this project
            return False
        return _function_names(_interface_type(interface)) <= _function_names(compiled)

    @cached_property
    def market(self) -> Any:
        return market_at(self.deployment.address("market"), self.project)

    @cached_property
    def lens(self) -> Any:
        return self._contract("lens")

    @cached_property
    def leverage(self) -> Any:
        return self._contract("leverage")

    @cached_property
    def stablecoin(self) -> Any:
        return self._contract("stablecoin")

    @cached_property
    def base(self) -> Token:
        coin = self.stablecoin
        return Token("stablecoin", coin.symbol(), int(coin.decimals()), str(coin.address))

    def contract(self, name: str) -> Any:
        """Any contract of the deployment by its record name."""
        return self._contract(name)

    def name_of(self, address: str) -> str | None:
        """The deployment's name for ``address``, if any."""
        for record in self.deployment.contracts.values():
            if record.address.lower() == str(address).lower():
                return record.name
        return None

    def erc20(self, address: str) -> Any:
        """A token at ``address`` with an ERC-20 (fund share) ABI."""
        return self._at(address, FUND_TYPE)

    def aggregator(self, address: str) -> Any:
        """An AggregatorV3 feed at ``address``."""
        return self._at(address, "MockAggregator")

    def facility(self, address: str) -> Any:
        """A redemption facility (or the wrapped one) at ``address``."""
        return self._at(address, FACILITY_TYPE)

    # ---- assets ----

    def listed_tokens(self) -> list[str]:
        """The market's collateral tokens, by asset id."""
        m = self.market
        return [str(m.asset_at(i)) for i in range(int(m.asset_count()))]

    def asset(self, name_or_address: str) -> Asset:
        """A listed asset by deployment name (fund_a, fund_c, wrapper) or
        address; refuses anything the market does not list."""
        key = str(name_or_address).strip()
        record = self.deployment.get(key)
        if record is not None:
            address = record.address
        elif (checked := checked_address(key)) is not None:
            address = checked
        else:
            names = [self.name_of(t) or t for t in self.listed_tokens()]
            raise BadInput(f"unknown asset '{key}': one of {', '.join(names)} or a token address")
        listed = self.listed_tokens()
        if address.lower() not in (t.lower() for t in listed):
            names = [self.name_of(t) or t for t in listed]
            raise Refusal(f"'{key}' is not listed on the market (listed: {', '.join(names)})")
        return self._asset(to_checksum_address(address))

    def _asset(self, address: str) -> Asset:
        if address in self._assets:
            return self._assets[address]
        name = self.name_of(address)
        record = self.deployment.get(name) if name else None
        is_wrapper = record is not None and record.contract_type == WRAPPER_TYPE
        if record is None:
            is_wrapper = self._looks_like_wrapper(address)
        token = self._at(address, WRAPPER_TYPE if is_wrapper else FUND_TYPE)
        share = str(token.asset()) if is_wrapper else address
        asset = Asset(
            name=name or str(token.symbol()),
            token=token,
            symbol=str(token.symbol()),
            decimals=int(token.decimals()),
            fund=self.erc20(share),
            share_token=share,
        )
        self._assets[address] = asset
        return asset

    def _looks_like_wrapper(self, address: str) -> bool:
        try:
            self._at(address, WRAPPER_TYPE).asset()
        except Exception:  # noqa: BLE001 - not an ERC-4626: a fund share
            return False
        return True

    def listing(self, asset: Asset) -> AssetListing:
        cfg = self.market.asset_config(asset.address)
        return AssetListing(
            name=asset.name,
            symbol=asset.symbol,
            decimals=asset.decimals,
            frozen=bool(cfg.frozen),
            facility=str(cfg.facility),
            **_ints(cfg, _LISTING_FIGURES),
        )

    def holding(self, asset: Asset, balance: int) -> Holding:
        """``balance`` of ``asset``, priced and parameterised as the market does."""
        m = self.market
        cfg = m.asset_config(asset.address)
        price, stale = m.asset_price(asset.address)
        feed = self.aggregator(str(cfg.oracle))
        updated_at = int(_LATEST_ROUND.outputs_as(RoundData, feed.latestRoundData()).updated_at)
        now = int(self.chain.blocks.head.timestamp)
        return Holding(
            name=asset.name,
            symbol=asset.symbol,
            token=asset.address,
            balance=int(balance),
            decimals=asset.decimals,
            price=int(price),
            price_decimals=int(feed.decimals()),
            base_decimals=self.base.decimals,
            stale=bool(stale),
            frozen=bool(cfg.frozen),
            price_age=max(now - updated_at, 0),
            pending_price=self.pending_price(str(cfg.oracle)),
            # Only a frozen asset can be short (the sync freezes it).
            ratio=self.asset_ratio(asset.address) if cfg.frozen else WAD,
            **_ints(cfg, _HOLDING_FIGURES),
        )

    def asset_ratio(self, token: str) -> int:
        """Real units per booked unit of a listed asset (WAD; whole unless
        the market synced an issuer's seizure or burn of its shares). A
        market without the view predates the sync: whole."""
        try:
            return int(self.market.asset_ratio(token))
        except Exception:  # an older market: no such view
            return WAD

    def pending_price(self, oracle: str) -> int | None:
        """The answer ``oracle`` announces as pending for its guardian
        (``IPendingNav.pending_answer``), or None: nothing pending, or a
        plain AggregatorV3 feed without the view (its call reverts)."""
        try:
            answer, _as_of = self._at(oracle, "NavOracle").pending_answer()
        except ContractLogicError:
            return None
        return int(answer) if int(answer) > 0 else None

    def compliance_source(self, asset: Asset) -> str | None:
        """The market's compliance source for ``asset``: the fund token,
        a wrapper's fund, or an issuer's adapter (SuperstateCompliance,
        OndoCompliance) for a token without the compliance views; None
        when the market checks nobody for it."""
        source = to_checksum_address(str(self.market.asset_compliance(asset.address)))
        return None if source == to_checksum_address(ZERO_ADDRESS) else source

    def compliance(self, asset: Asset, account: str) -> Compliance:
        """What the market's compliance source for ``asset`` says of
        ``account`` (the market's own check); without a source, what the
        fund token says, if it answers the compliance views at all: a
        token that does not (USTB, OUSG with no adapter set) refuses
        nothing here, and the transaction's simulation shows the token's
        own refusal."""
        fund_name = self.name_of(asset.share_token) or asset.symbol
        source = self.compliance_source(asset)
        views = self._as(source or asset.share_token, COMPLIANCE_ABI)
        try:
            allowlisted, frozen = bool(views.is_allowlisted(account)), bool(views.is_frozen(account))
        except ContractLogicError:
            if source is not None:
                raise
            return Compliance(fund=fund_name, account=account, allowlisted=True)
        return Compliance(
            fund=fund_name,
            account=account,
            allowlisted=allowlisted,
            frozen=frozen,
            fund_paused=self._paused(views),
        )

    @staticmethod
    def _paused(views: Any) -> bool:
        """The source's ``paused()``: a source without one (a registry that
        answers only the two views the market needs) pauses nothing."""
        try:
            return bool(views.paused())
        except ContractLogicError:
            return False

    # ---- market state ----

    def control(self) -> Control:
        """The market's pause bits and limits (``control()``), field by field
        in the ABI's order."""
        return _CONTROL.outputs_as(Control, [int(v) for v in self.market.control()])

    def book_state(self) -> BookState:
        """The books accrued to now (``market_state()``), by name."""
        return _MARKET_STATE.outputs_as(BookState, [int(v) for v in self.market.market_state()])

    def cash(self) -> int:
        """The market's cash (``market_state()``'s ``cash``)."""
        return self.book_state().cash

    def position(self, account: str, with_principal: bool = True) -> Position:
        """``account``'s position with its holdings (and principal)."""
        p = self.market.position(account)
        holdings = []
        bitmap = int(p.assets_bitmap)
        for asset_id, token in enumerate(self.listed_tokens()):
            if bitmap >> asset_id & 1:
                asset = self._asset(to_checksum_address(token))
                holdings.append(self.holding(asset, int(self.market.collateral_of(account, token))))
        return Position(
            account=account,
            holdings=tuple(holdings),
            principal=self._principal(account, int(p.scaled_debt)) if with_principal else None,
            **_ints(p, _POSITION_FIGURES),
        )

    def market_logs(self, topics: list[Any], start_block: int | None = None) -> list[Any]:
        """The market's logs matching ``topics``, from ``start_block``
        (default: the deployment's first block) to the head, in order.
        Written here rather than taken from Ape's event queries, which read
        every log of an event: public nodes cap ``eth_getLogs`` at a few
        thousand to ten thousand blocks a call, so the range is asked in
        windows of :data:`LOG_WINDOW` blocks."""
        first = self.deployment.block if start_block is None else start_block
        head = int(self.chain.blocks.head.number)
        logs: list[Any] = []
        for lo in range(first, head + 1, LOG_WINDOW):
            logs += self.chain.provider.web3.eth.get_logs(
                {
                    "address": str(self.market.address),
                    "fromBlock": lo,
                    "toBlock": min(lo + LOG_WINDOW - 1, head),
                    "topics": topics,
                }
            )
        return sorted(logs, key=lambda log: (log["blockNumber"], log["logIndex"]))

    def debt_events(self, account: str, start_block: int | None = None) -> list[DebtEvent]:
        """``account``'s Borrow, Repay and Liquidate events, in order (one
        ``eth_getLogs``: the debtor is the same indexed topic of all three),
        decoded by name with the market's ABI."""
        by_topic = {event.topic: (event, amount) for event, _, amount in _DEBT_EVENTS}
        first, debtor, _ = _DEBT_EVENTS[0]
        # An indexed address: the same topic in all three events.
        who = first.encode_topic(debtor, to_checksum_address(account))
        filter_topics: list[Any] = [list(by_topic), *[None] * (_DEBTOR_TOPIC - 1), who]
        events = []
        for log in self.market_logs(filter_topics, start_block):
            event, amount = by_topic[encode_hex(log["topics"][0])]
            args = event.decode(log["topics"], log["data"])
            kind, repaid = event.name.lower(), int(getattr(args, amount))
            events.append(DebtEvent(kind, repaid, int(args.scaled_debt)))
        return events

    def share_events(self, account: str, start_block: int | None = None) -> list[ShareEvent]:
        """``account``'s lender-share events: deposits and withdrawals as
        owner, share transfers in and out (mints and burns, which Deposit
        and Withdraw already count, left out). One ``eth_getLogs`` each."""
        who = to_checksum_address(account)
        events = []
        for event, arg, kind in _SHARE_EVENTS:
            topics: list[Any] = [event.topic] + [None] * (event.topic_position(arg) - 1)
            topics.append(event.encode_topic(arg, who))
            for log in self.market_logs(topics, start_block):
                args = event.decode(log["topics"], log["data"])
                if kind.startswith("transfer"):
                    if ZERO_ADDRESS in (str(args.sender), str(args.receiver)):
                        continue
                    assets, shares = 0, int(args.value)
                else:
                    assets, shares = int(args.assets), int(args.shares)
                events.append(ShareEvent(kind, assets, shares, (log["blockNumber"], log["logIndex"])))
        return events

    def lender(self, account: str) -> LenderView:
        """``account``'s lent side: shares, their worth, cost and yield."""
        shares = int(self.market.balanceOf(account))
        basis = cost_basis(self.share_events(account))
        # The basis holds only when the events account for every share.
        known = basis.basis if basis.shares == shares else None
        snapshot = self.lens.snapshot(self.market.address)
        return LenderView(
            shares=shares,
            balance=int(self.market.convertToAssets(shares)),
            basis=known if shares else 0,
            supply_apr=int(snapshot.supply_rate_apr),
        )

    def _principal(self, account: str, scaled_debt: int) -> int:
        return principal_from_events(self.debt_events(account)) if scaled_debt else 0

    def market_view(self) -> MarketView:
        """The market's state, through the lens."""
        snap = self.lens.snapshot(self.market.address)
        assets = []
        for a in snap.assets:
            asset = self._asset(to_checksum_address(str(a.token)))
            assets.append(
                AssetView(
                    name=asset.name,
                    symbol=asset.symbol,
                    token=asset.address,
                    decimals=asset.decimals,
                    price_decimals=int(self.aggregator(str(a.oracle)).decimals()),
                    stale=bool(a.stale),
                    frozen=bool(a.frozen),
                    max_oracle_age=int(self.market.asset_config(asset.address).max_oracle_age),
                    **_ints(a, _ASSET_FIGURES),
                )
            )
        return MarketView(
            base=self.base,
            control=self.control(),
            assets=tuple(assets),
            **_ints(snap, _BOOK_FIGURES),
        )

    def subscription_facility(self, asset: Asset) -> Any:
        """The deployment's facility that subscribes ``asset``'s fund
        shares: any contract speaking ``ISubscriptionFacility`` (the local
        issuer's RedemptionFacility, SuperstateSubscription,
        OndoSubscription), bound by that interface's ABI."""
        for record in self.deployment.contracts.values():
            if not self._speaks(record.contract_type, SUBSCRIPTION_ABI):
                continue
            facility = self._as(record.address, SUBSCRIPTION_ABI)
            if str(facility.share_token()).lower() == asset.share_token.lower():
                return facility
        raise Refusal(
            f"the deployment has no subscription facility for {asset.name}'s fund: Leverage cannot "
            "open a position in it (unwind needs only the market's redemption facility)"
        )

    def min_subscription(self, facility: Any) -> int:
        """The smallest subscription ``facility`` takes, in the stablecoin
        (an issuer adapter's ``min_subscribe``; 0 for a facility without
        one, as the local issuer's)."""
        # Both issuer adapters declare the same `min_subscribe()`: either
        # compiled type binds it.
        try:
            return int(self._at(str(facility.address), "OndoSubscription").min_subscribe())
        except ContractLogicError:
            return 0
