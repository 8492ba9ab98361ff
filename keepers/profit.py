"""The keeper's profit model: what a liquidation really costs in gas, in
ETH and in stablecoin, and what it may pay to win. Pure: every input is a
value (a feed round read elsewhere, an L1 fee quoted elsewhere); no I/O.

- ETH/USD (:func:`eth_usd`): from a Chainlink ``AggregatorV3`` round, bounded
  in age; the configured value only as a fallback, flagged, with the
  reason (no round, a non-positive answer, an incomplete or stale round).
- Gas (:class:`GasModel`): a transaction's gas as ``fixed + per_position x
  n`` per route, so a position's share comes from the batch it goes in.
  The default coefficients are the benchmark's (keepers/README.md, "side by
  side"): a ``liquidate_many`` of 10 used 70,309 gas per position, a lone
  ``liquidate`` 229,843, hence 52,583 per extra position over 177,260
  fixed; the config's flat 450,000 overstated a batched position 6x.
- The L1 data fee of OP-stack chains: the ``GasPriceOracle`` predeploy's
  ``getL1Fee(bytes)`` (:func:`l1_fee_call` builds the call,
  :func:`decode_l1_fee` reads the answer); the pricing functions take the
  fee in wei as an input (0 elsewhere).
- The tip (:func:`tip_per_gas`): a configured share of the expected profit,
  spread over the gas, capped.
- Fee bumps (:func:`bump_verdict`): a replacement is sent only if the plan
  still nets at least the minimum at the bumped fees.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from navlend.constants import BPS
from navlend.rules.arith import ceil_div

from keepers.config import GWEI, MAX_LIQUIDATION_BATCH, KeeperConfig
from keepers.decide import ProfitPolicy
from keepers.types import Plan, Route, to_address

WEI_PER_ETH = 10**18

# ---------------------------------------------------------------- #
#                             ETH / USD                             #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class FeedRound:
    """``AggregatorV3Interface.latestRoundData()`` with the feed's
    ``decimals()``."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int
    decimals: int

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= 36:
            raise ValueError(f"feed decimals must be 0-36, got {self.decimals}")


class PriceSource(enum.Enum):
    FEED = "feed"
    FALLBACK = "fallback"


class FallbackReason(enum.Enum):
    """Why the configured ETH/USD stands in for the feed (log field)."""

    NO_ROUND = "no_round"  # no feed configured, or the read failed
    NON_POSITIVE = "non_positive_answer"
    INCOMPLETE = "incomplete_round"  # updated_at 0, or answered in an older round
    STALE = "stale"
    FROM_FUTURE = "from_future"  # updated_at ahead of the block's time


@dataclass(frozen=True)
class EthPrice:
    """Stablecoin base units per whole ETH, and where it came from.
    ``fallback`` is the warning flag: the keeper logs it and exports it."""

    base_per_eth: int
    source: PriceSource
    reason: FallbackReason | None = None
    age_seconds: int | None = None

    @property
    def fallback(self) -> bool:
        return self.source is PriceSource.FALLBACK


@dataclass(frozen=True)
class PriceFeedPolicy:
    """``max_age_seconds``: a round older than this is stale (Chainlink's
    ETH/USD heartbeat is 3,600 s on mainnet; an L2 feed's may differ).
    ``fallback_base_per_eth``: the configured value, base units per ETH.
    ``future_tolerance_seconds``: how far ahead of ``now`` a round may be
    stamped (node clocks differ)."""

    max_age_seconds: int
    fallback_base_per_eth: int
    base_decimals: int
    future_tolerance_seconds: int = 60

    def __post_init__(self) -> None:
        if self.max_age_seconds <= 0:
            raise ValueError(f"max_age_seconds must be > 0, got {self.max_age_seconds}")
        if self.fallback_base_per_eth <= 0:
            raise ValueError(f"fallback_base_per_eth must be > 0, got {self.fallback_base_per_eth}")
        if not 0 <= self.base_decimals <= 36:
            raise ValueError(f"base_decimals must be 0-36, got {self.base_decimals}")
        if self.future_tolerance_seconds < 0:
            raise ValueError("future_tolerance_seconds must be >= 0")


# AggregatorV3Interface: the two reads an ETH/USD price needs.
LATEST_ROUND_DATA_SELECTOR = keccak(text="latestRoundData()")[:4]
DECIMALS_SELECTOR = keccak(text="decimals()")[:4]


def decode_round(latest_round_data: bytes, decimals_data: bytes) -> FeedRound:
    """A :class:`FeedRound` from the raw answers of ``latestRoundData()``
    (five words: uint80, int256, uint256, uint256, uint80) and
    ``decimals()`` (one word); ValueError on anything else."""
    if len(latest_round_data) != 5 * 32 or len(decimals_data) != 32:
        raise ValueError(
            f"latestRoundData returns 160 bytes and decimals 32, got {len(latest_round_data)} and {len(decimals_data)}"
        )
    round_id, answer, started, updated, answered_in = abi_decode(
        ["uint80", "int256", "uint256", "uint256", "uint80"], bytes(latest_round_data)
    )
    (decimals,) = abi_decode(["uint8"], bytes(decimals_data))
    return FeedRound(round_id, answer, started, updated, answered_in, decimals)


def eth_usd(latest: FeedRound | None, now: int, policy: PriceFeedPolicy) -> EthPrice:
    """ETH/USD in base units per ETH from the feed's latest round at time
    ``now`` (the block's timestamp), or the configured fallback with the
    reason. The feed's answer is rescaled to the stablecoin's decimals,
    rounded down."""

    def fallback(reason: FallbackReason, age: int | None = None) -> EthPrice:
        return EthPrice(policy.fallback_base_per_eth, PriceSource.FALLBACK, reason, age)

    if latest is None:
        return fallback(FallbackReason.NO_ROUND)
    if latest.answer <= 0:
        return fallback(FallbackReason.NON_POSITIVE)
    if latest.updated_at == 0 or latest.answered_in_round < latest.round_id:
        return fallback(FallbackReason.INCOMPLETE)
    age = now - latest.updated_at
    if age < -policy.future_tolerance_seconds:
        return fallback(FallbackReason.FROM_FUTURE, age)
    if age > policy.max_age_seconds:
        return fallback(FallbackReason.STALE, age)
    scaled = latest.answer * 10**policy.base_decimals // 10**latest.decimals
    if scaled <= 0:
        return fallback(FallbackReason.NON_POSITIVE, age)
    return EthPrice(scaled, PriceSource.FEED, None, max(age, 0))


# ---------------------------------------------------------------- #
#                                GAS                                #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class GasCoefficients:
    """A transaction's gas on one route: ``fixed + per_position x n``."""

    fixed: int
    per_position: int

    def __post_init__(self) -> None:
        if self.fixed < 0 or self.per_position < 0:
            raise ValueError(f"gas coefficients must be >= 0, got {self.fixed}, {self.per_position}")
        if self.fixed + self.per_position == 0:
            raise ValueError("a transaction of one position must cost some gas")


# Measured (keepers/README.md, benchmark "side by side"): batch of 10,
# 70,309 gas per position; batch of 1, 229,843.
MEASURED_REDEEM = GasCoefficients(fixed=177_260, per_position=52_583)


@dataclass(frozen=True)
class GasModel:
    """Gas per route as a function of the batch size. ``margin_bps``
    scales the whole (gas used varies with cold slots and the facility)."""

    coefficients: Mapping[Route, GasCoefficients]
    max_batch: int
    margin_bps: int = BPS

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")
        if self.margin_bps < BPS:
            raise ValueError(f"margin_bps must be >= {BPS} (no discount on measured gas), got {self.margin_bps}")

    @classmethod
    def default(cls, gas_limit_redeem: int, gas_limit_seize: int, max_batch: int, margin_bps: int = BPS) -> GasModel:
        """The measured redeem route; the seize route one position a
        transaction (``gas_limit_seize``); a gathered batch (not measured
        yet) as decide.py prices it: ``gas_limit_redeem`` for the first
        position plus ``gas_limit_seize`` for each other."""
        if gas_limit_redeem < gas_limit_seize:
            raise ValueError(f"gas_limit_redeem {gas_limit_redeem} is below gas_limit_seize {gas_limit_seize}")
        return cls(
            {
                Route.REDEEM: MEASURED_REDEEM,
                Route.SEIZE: GasCoefficients(0, gas_limit_seize),
                Route.GATHERED: GasCoefficients(gas_limit_redeem - gas_limit_seize, gas_limit_seize),
            },
            max_batch,
            margin_bps,
        )

    def batch_gas(self, route: Route, positions: int) -> int:
        """The gas of one transaction of ``positions`` on ``route``."""
        if not 1 <= positions <= self.max_batch:
            raise ValueError(f"a batch holds 1-{self.max_batch} positions, got {positions}")
        c = self.coefficients.get(route)
        if c is None:
            raise ValueError(f"no gas coefficients for route {route.value}")
        return ceil_div((c.fixed + c.per_position * positions) * self.margin_bps, BPS)

    def per_position(self, route: Route, positions: int) -> int:
        """One position's share of its batch's gas, rounded up."""
        return ceil_div(self.batch_gas(route, positions), positions)


# ---------------------------------------------------------------- #
#                          L1 DATA FEE (OP)                         #
# ---------------------------------------------------------------- #

# OP-stack predeploy (Optimism, Base, ...): GasPriceOracle.
GAS_PRICE_ORACLE = to_address("0x420000000000000000000000000000000000000F")
GET_L1_FEE_SELECTOR = keccak(text="getL1Fee(bytes)")[:4]


def l1_fee_call(unsigned_tx: bytes, oracle: str = GAS_PRICE_ORACLE) -> dict[str, str]:
    """The ``eth_call`` params asking the oracle the L1 fee of a
    transaction (its RLP bytes; the signature adds a fixed ~68 bytes the
    oracle's own overhead covers)."""
    if not isinstance(unsigned_tx, (bytes, bytearray)) or not unsigned_tx:
        raise ValueError("getL1Fee needs the transaction's bytes")
    data = GET_L1_FEE_SELECTOR + abi_encode(["bytes"], [bytes(unsigned_tx)])
    return {"to": to_address(oracle), "data": "0x" + data.hex()}


def decode_l1_fee(result: bytes) -> int:
    """The oracle's answer (uint256 wei)."""
    if len(result) != 32:
        raise ValueError(f"getL1Fee returns one word, got {len(result)} bytes")
    return int(abi_decode(["uint256"], bytes(result))[0])


# ---------------------------------------------------------------- #
#                               COSTS                               #
# ---------------------------------------------------------------- #


def cost_wei(gas_units: int, gas_price_wei: int, l1_fee_wei: int = 0) -> int:
    """What a transaction costs the signer: L2 (or L1) execution gas at its
    price, plus the L1 data fee on an OP-stack chain."""
    if min(gas_units, gas_price_wei, l1_fee_wei) < 0:
        raise ValueError("gas, price and L1 fee must be >= 0")
    return gas_units * gas_price_wei + l1_fee_wei


def wei_to_base(wei: int, base_per_eth: int) -> int:
    """Wei in stablecoin base units, rounded up (a cost)."""
    return ceil_div(wei * base_per_eth, WEI_PER_ETH)


def base_to_wei(amount: int, base_per_eth: int) -> int:
    """Stablecoin base units in wei, rounded down (what profit buys)."""
    if base_per_eth <= 0:
        raise ValueError("base_per_eth must be > 0")
    return max(amount, 0) * WEI_PER_ETH // base_per_eth


def effective_gas_price(base_fee_wei: int, max_fee_wei: int, priority_fee_wei: int) -> int:
    """EIP-1559: what a gas unit costs when mined at ``base_fee_wei``."""
    return min(max_fee_wei, base_fee_wei + priority_fee_wei)


# ---------------------------------------------------------------- #
#                                TIP                                #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class TipPolicy:
    """The tip is ``share_bps`` of the expected profit (after the gas at
    the base fee), spread over the transaction's gas, between ``min_wei``
    and ``cap_wei`` per gas."""

    share_bps: int
    cap_wei: int
    min_wei: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.share_bps <= BPS:
            raise ValueError(f"share_bps must be 0-{BPS}, got {self.share_bps}")
        if self.cap_wei < 0 or self.min_wei < 0:
            raise ValueError("tip cap and floor must be >= 0")
        if self.min_wei > self.cap_wei:
            raise ValueError(f"tip floor {self.min_wei} is above its cap {self.cap_wei}")


@dataclass(frozen=True)
class Tip:
    per_gas_wei: int
    capped: bool


def tip_per_gas(expected_profit_base: int, gas_units: int, base_per_eth: int, policy: TipPolicy) -> Tip:
    """The priority fee per gas for a transaction expected to net
    ``expected_profit_base`` (stablecoin) over ``gas_units``."""
    if gas_units <= 0:
        raise ValueError(f"gas_units must be > 0, got {gas_units}")
    share = base_to_wei(expected_profit_base, base_per_eth) * policy.share_bps // BPS // gas_units
    if share > policy.cap_wei:
        return Tip(policy.cap_wei, True)
    return Tip(max(share, policy.min_wei), False)


# ---------------------------------------------------------------- #
#                             FEE BUMPS                             #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class BumpVerdict:
    allowed: bool
    net_base: int  # the plan's net profit at the bumped fees
    cost_base: int  # the gas it would pay at them


def bump_verdict(
    gross_base: int,
    gas_units: int,
    max_fee_wei: int,
    l1_fee_wei: int,
    base_per_eth: int,
    min_profit_base: int,
) -> BumpVerdict:
    """Would a replacement at ``max_fee_wei`` per gas leave the plan's net
    at or above the minimum? ``gross_base`` is the plan's profit before
    gas (proceeds - repaid - fees - buffer). The worst case is priced: the
    whole max fee, as a base-fee spike would charge."""
    cost = wei_to_base(cost_wei(gas_units, max_fee_wei, l1_fee_wei), base_per_eth)
    net = gross_base - cost
    return BumpVerdict(net >= min_profit_base, net, cost)


# ---------------------------------------------------------------- #
#                    BATCHES AND THE DECISION POLICY                #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class BatchPrice:
    """A batch priced at its real size: its gas, its cost and its net."""

    positions: int
    gas_units: int
    cost_base: int
    net_base: int
    pays: bool


def gross_of(plans: Sequence[Plan]) -> int:
    """What ``plans`` net before gas (each plan's net with its gas given
    back): the ``gross_base`` of :func:`bump_verdict` for their
    transaction."""
    return sum(p.net_profit + p.gas_cost for p in plans)


def price_batch(
    plans: Sequence[Plan],
    model: GasModel,
    gas_price_wei: int,
    base_per_eth: int,
    min_profit_base: int,
    l1_fee_wei: int = 0,
) -> BatchPrice:
    """``plans`` (one route) as one transaction: each plan's gas as
    decided is given back and the batch's real gas charged; it pays when
    the net reaches ``min_profit_base`` per position. A lone position of a
    route decided at a batch's per-position gas is where this bites."""
    if not plans:
        raise ValueError("a batch has at least one plan")
    routes = {p.route for p in plans}
    if len(routes) != 1:
        raise ValueError(f"a batch is on one route, got {sorted(r.value for r in routes)}")
    gas = model.batch_gas(routes.pop(), len(plans))
    cost = wei_to_base(cost_wei(gas, gas_price_wei, l1_fee_wei), base_per_eth)
    net = gross_of(plans) - cost
    return BatchPrice(len(plans), gas, cost, net, net >= min_profit_base * len(plans))


def decision_policy(
    policy: ProfitPolicy,
    price: EthPrice,
    model: GasModel,
    batch_size: int,
    gas_price_wei: int,
    l1_fee_per_tx_wei: int = 0,
) -> ProfitPolicy:
    """``decide``'s policy with the live figures and no edit to it: ETH at
    ``price``; a redeem position charged its share of a full batch of
    ``batch_size`` (:func:`price_batch` re-checks the real batch); a seize
    transaction its own gas. The L1 fee, which ``decide`` does not know,
    is folded into the gas limits as gas at ``gas_price_wei`` (rounded
    up; a redeem position carries its batch's share)."""
    if gas_price_wei <= 0:
        raise ValueError(f"gas_price_wei must be > 0, got {gas_price_wei}")
    size = min(batch_size, model.max_batch)
    l1_redeem = ceil_div(ceil_div(l1_fee_per_tx_wei, size), gas_price_wei)
    l1_seize = ceil_div(l1_fee_per_tx_wei, gas_price_wei)
    return replace(
        policy,
        eth_usd_base=price.base_per_eth,
        gas_limit_redeem=model.per_position(Route.REDEEM, size) + l1_redeem,
        gas_limit_seize=model.per_position(Route.SEIZE, 1) + l1_seize,
    )


# ---------------------------------------------------------------- #
#                            FROM CONFIG                            #
# ---------------------------------------------------------------- #


def feed_policy_from_config(config: KeeperConfig) -> PriceFeedPolicy:
    return PriceFeedPolicy(
        max_age_seconds=config.eth_usd_max_age_seconds,
        fallback_base_per_eth=config.eth_usd_base,
        base_decimals=config.base_decimals,
    )


def gas_model_from_config(config: KeeperConfig) -> GasModel:
    """The redeem route from ``gas_redeem_fixed`` / ``_per_position``; the
    seize and gathered routes from ``gas_limit_seize`` / ``_redeem``."""
    if config.gas_limit_redeem < config.gas_limit_seize:
        raise ValueError(f"gas_limit_redeem {config.gas_limit_redeem} is below gas_limit_seize {config.gas_limit_seize}")
    return GasModel(
        {
            Route.REDEEM: GasCoefficients(config.gas_redeem_fixed, config.gas_redeem_per_position),
            Route.SEIZE: GasCoefficients(0, config.gas_limit_seize),
            Route.GATHERED: GasCoefficients(config.gas_limit_redeem - config.gas_limit_seize, config.gas_limit_seize),
        },
        MAX_LIQUIDATION_BATCH,
        config.gas_margin_bps,
    )


def tip_policy_from_config(config: KeeperConfig) -> TipPolicy:
    """``tip_share_bps`` of the profit, at most ``tip_cap_gwei``, at least
    ``priority_fee_gwei`` (share 0: the fixed priority fee, as before)."""
    cap = int(config.tip_cap_gwei * GWEI)
    return TipPolicy(share_bps=config.tip_share_bps, cap_wei=max(cap, config.priority_fee_wei),
                     min_wei=config.priority_fee_wei)
