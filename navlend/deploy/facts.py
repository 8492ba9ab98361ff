"""What the chain says about a config's addresses, read before anything
is sent: code, decimals, each feed's round, each facility's tokens, the
compliance sources' answers, and the issuers' admission of the addresses
the deployment needs admitted.

Reads go through a :class:`Probe` (``eth_call`` with the ABIs of
``navlend.abi``): a call that reverts, or an address with no code,
answers None, so that one bad address becomes one problem, not a crash.
The facts are plain frozen dataclasses, so the checks over them
(:mod:`navlend.deploy.checks`) are pure and tested without a chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from eth_utils import to_checksum_address

from navlend import abi
from navlend.constants import ZERO_ADDRESS
from navlend.deploy.config import ROLES, Collateral, DeployConfig, Existing, NewAdapter

log = structlog.get_logger(__name__)

# OndoNavFeed answers in the Ondo oracle's 18 decimals.
ONDO_FEED_DECIMALS = 18
# Most announced (not yet effective) Superstate checkpoints stepped over.
MAX_CHECKPOINT_PROBES = 64


class Probe:
    """Read-only calls over an ``eth_call`` function and a code reader."""

    def __init__(self, eth_call: Callable[[str, bytes], bytes], get_code: Callable[[str], bytes]):
        self._eth_call = eth_call
        self._get_code = get_code

    def has_code(self, address: str) -> bool:
        return bool(self._get_code(to_checksum_address(address)))

    def call(
        self, address: str, contract: str, function: str, *args: Any
    ) -> tuple[Any, ...] | None:
        """The decoded outputs, or None when the call reverts, there is no
        code, or the answer does not decode."""
        fn = abi.function(contract, function, len(args))
        if not self.has_code(address):
            return None
        try:
            return fn.decode(self._eth_call(to_checksum_address(address), fn.encode(*args)))
        except Exception:  # noqa: BLE001 - any failed read is "no answer"
            return None

    def one(self, address: str, contract: str, function: str, *args: Any) -> Any:
        """The sole output, or None."""
        out = self.call(address, contract, function, *args)
        return None if out is None else out[0]


@dataclass(frozen=True)
class CodeFact:
    """Whether the address at a config key path has code."""

    path: str
    address: str
    has_code: bool


@dataclass(frozen=True)
class FeedFacts:
    """The price the feed answers (or, for an adapter still to deploy, the
    issuer's price it will answer): decimals, answer, strike time. None
    where it could not be read."""

    decimals: int | None
    answer: int | None
    updated_at: int | None
    # SuperstateNavFeed's constructor hint: the latest checkpoint in effect.
    hint: int | None = None


@dataclass(frozen=True)
class FacilityFacts:
    """The share and payout tokens of a redemption or subscription facility
    (or of the adapter still to deploy, from the issuer's contract)."""

    share_token: str | None
    payout_token: str | None


@dataclass(frozen=True)
class Admission:
    """Whether the issuer admits ``address`` (``who``: the market, the
    redemption adapter), and what the issuer must do if not."""

    who: str
    address: str
    admitted: bool
    action: str


@dataclass(frozen=True)
class CollateralFacts:
    token_decimals: int | None
    symbol: str | None
    feed: FeedFacts
    facility: FacilityFacts | None
    # An existing compliance source answers is_allowlisted and is_frozen
    # (None: no existing source configured).
    compliance_answers: bool | None
    # The token answers them itself (the market then uses it as its source).
    token_answers_compliance: bool
    admissions: tuple[Admission, ...] = ()
    # The subscription facility's tokens (None: no subscription configured).
    subscription: FacilityFacts | None = None


@dataclass(frozen=True)
class ChainFacts:
    chain_id: int
    now: int
    deployer: str
    nonce: int
    stablecoin_decimals: int | None
    codes: tuple[CodeFact, ...]
    collateral: tuple[CollateralFacts, ...]


# ---------------------------------------------------------------- #
#                             reading                               #
# ---------------------------------------------------------------- #


def config_addresses(config: DeployConfig) -> list[tuple[str, str]]:
    """Every (key path, address) of the config that must have code: the
    stablecoin, the tokens, the existing sources and the issuers'
    contracts the adapters wrap (the owner, guardian and treasury may be
    plain accounts)."""
    out = [("stablecoin", config.stablecoin)]
    for index, item in enumerate(config.collateral):
        path = f"collateral[{index}]"
        out.append((f"{path}.token", item.token))
        for role in ROLES:
            source = item.source(role)
            if isinstance(source, Existing):
                out.append((f"{path}.{role}", source.address))
            elif isinstance(source, NewAdapter) and source.target:
                out.append((f"{path}.{role}.target", source.target))
    return out


def read_facts(
    config: DeployConfig, probe: Probe, *, chain_id: int, now: int, deployer: str, nonce: int
) -> ChainFacts:
    """Everything the checks and the plan need, read from the chain."""
    codes = tuple(
        CodeFact(path, address, probe.has_code(address))
        for path, address in config_addresses(config)
    )
    facts = ChainFacts(
        chain_id=chain_id,
        now=now,
        deployer=to_checksum_address(deployer),
        nonce=nonce,
        stablecoin_decimals=probe.one(config.stablecoin, "ERC20", "decimals"),
        codes=codes,
        collateral=tuple(_collateral_facts(item, config, probe, now) for item in config.collateral),
    )
    log.info(
        "deploy.facts",
        chain_id=chain_id,
        nonce=nonce,
        missing_code=[c.path for c in codes if not c.has_code],
    )
    return facts


def _collateral_facts(
    item: Collateral, config: DeployConfig, probe: Probe, now: int
) -> CollateralFacts:
    existing_compliance = item.compliance.address if isinstance(item.compliance, Existing) else None
    return CollateralFacts(
        token_decimals=probe.one(item.token, "ERC20", "decimals"),
        symbol=probe.one(item.token, "ERC20", "symbol"),
        feed=_feed_facts(item, probe, now),
        facility=_facility_facts(item, config, probe),
        subscription=_subscription_facts(item, config, probe),
        compliance_answers=None
        if existing_compliance is None
        else answers_compliance(probe, existing_compliance),
        token_answers_compliance=answers_compliance(probe, item.token),
    )


def answers_compliance(probe: Probe, address: str) -> bool:
    """The market's test of a compliance source: both views answer."""
    return (
        probe.call(address, "IFundToken", "is_allowlisted", ZERO_ADDRESS) is not None
        and probe.call(address, "IFundToken", "is_frozen", ZERO_ADDRESS) is not None
    )


def _feed_facts(item: Collateral, probe: Probe, now: int) -> FeedFacts:
    feed = item.feed
    if isinstance(feed, Existing):
        decimals = probe.one(feed.address, "IAggregatorV3", "decimals")
        round_ = probe.call(feed.address, "IAggregatorV3", "latestRoundData")
        if round_ is None:
            return FeedFacts(decimals, None, None)
        return FeedFacts(decimals, int(round_[1]), int(round_[3]))
    if feed.kind == "OndoNavFeed":
        data = probe.call(feed.target, "IOndoOracle", "getPriceData")
        if data is None:
            return FeedFacts(ONDO_FEED_DECIMALS, None, None)
        return FeedFacts(ONDO_FEED_DECIMALS, int(data[0]), int(data[1]))
    # SuperstateNavFeed: the latest checkpoint in effect (what it answers).
    decimals = probe.one(feed.target, "ISuperstateOracle", "decimals")
    index, checkpoint = latest_checkpoint(
        lambda i: probe.one(feed.target, "ISuperstateOracle", "checkpoints", i), now
    )
    if checkpoint is None:
        return FeedFacts(decimals, None, None)
    timestamp, _effective_at, nav = checkpoint
    return FeedFacts(decimals, int(nav), int(timestamp), hint=index)


def latest_checkpoint(read: Callable[[int], Any], now: int) -> tuple[int | None, Any]:
    """The index and value of the last checkpoint in effect at ``now``
    (``(timestamp, effective_at, nav)``), with ``read(i)`` answering None
    past the last one (there is no length getter): the last index is
    found by doubling then halving (a few dozen reads for years of daily
    checkpoints), then the announced ones at the end are stepped over.
    ``(None, None)`` when none is in effect."""
    if read(0) is None:
        return None, None
    low, high = 0, 1
    while read(high) is not None:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if read(middle) is None:
            high = middle
        else:
            low = middle
    for index in range(low, max(-1, low - MAX_CHECKPOINT_PROBES), -1):
        checkpoint = read(index)
        if int(checkpoint[1]) <= now:
            return index, checkpoint
    return None, None


def _facility_facts(item: Collateral, config: DeployConfig, probe: Probe) -> FacilityFacts | None:
    facility = item.facility
    if facility is None:
        return None
    if isinstance(facility, Existing):
        share = probe.one(facility.address, "IRedemptionFacility", "share_token")
        payout = probe.one(facility.address, "IRedemptionFacility", "payout_token")
    elif facility.kind == "OndoRedemption":
        share = probe.one(facility.target, "IOusgInstantManager", "ousg")
        payout = probe.one(facility.target, "IOusgInstantManager", "usdc")
    else:
        # SuperstateRedemption takes both in its constructor: the config's.
        share, payout = item.token, config.stablecoin
    return _tokens(share, payout)


def _tokens(share: Any, payout: Any) -> FacilityFacts:
    return FacilityFacts(
        None if share is None else to_checksum_address(share),
        None if payout is None else to_checksum_address(payout),
    )


def _subscription_facts(
    item: Collateral, config: DeployConfig, probe: Probe
) -> FacilityFacts | None:
    """The tokens the subscription facility sells and takes: an existing
    one's own ``share_token``/``payout_token``, OndoSubscription's from the
    instant manager (``ousg()``, ``usdc()``), SuperstateSubscription's
    from the config (its constructor takes the token and the stablecoin)."""
    source = item.subscription
    if source is None:
        return None
    if isinstance(source, Existing):
        return _tokens(
            probe.one(source.address, "ISubscriptionFacility", "share_token"),
            probe.one(source.address, "ISubscriptionFacility", "payout_token"),
        )
    if source.kind == "OndoSubscription":
        return _tokens(
            probe.one(source.target, "IOusgInstantManager", "ousg"),
            probe.one(source.target, "IOusgInstantManager", "usdc"),
        )
    return _tokens(item.token, config.stablecoin)


def read_admissions(
    item: Collateral, probe: Probe, addresses: dict[str, str], symbol: str | None
) -> tuple[Admission, ...]:
    """The issuer's admission of each of ``addresses`` (who -> address),
    asked of the token's own registry: Ondo's KYC registry (the token
    names it and the group), Superstate's AllowList (through the token's
    ``isAllowed``), or a navlend fund token's allowlist. Empty for a token
    with none of them (a permissionless token)."""
    token = item.token
    registry = probe.one(token, "IOusg", "kycRegistry")
    group = probe.one(token, "IOusg", "kycRequirementGroup")
    out = []
    for who, address in addresses.items():
        if registry is not None and group is not None:
            admitted = bool(probe.one(registry, "IKycRegistry", "getKYCStatus", group, address))
            action = (
                f"Ondo must add {address} ({who}) to KYC requirement group {group} of the registry "
                f"{to_checksum_address(registry)} (OUSG checks the sender, the receiver and the spender)"
            )
        elif probe.call(token, "ISuperstateToken", "isAllowed", address) is not None:
            admitted = bool(probe.one(token, "ISuperstateToken", "isAllowed", address))
            action = (
                f"Superstate must grant {address} ({who}) a protocol permission for the fund symbol "
                f"{symbol or '?'} on the token's AllowList (setProtocolAddressPermission), once it is deployed "
                "(a permission needs code)"
            )
        elif probe.call(token, "IFundToken", "is_allowlisted", address) is not None:
            admitted = bool(probe.one(token, "IFundToken", "is_allowlisted", address))
            action = f"the issuer of {symbol or token} must allowlist {address} ({who})"
        else:
            continue
        out.append(Admission(who, address, admitted, action))
    return tuple(out)
