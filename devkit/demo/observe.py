"""Reading what happened on chain into the demo's results
(:mod:`devkit.demo.results`): the borrowers' health through the Lens, the
market's books and the redemption facilities, and the liquidation,
bad-debt, redemption and NAV events.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes

from devkit.demo.results import (
    BadDebtRecord,
    FacilitySample,
    LiquidationRecord,
    MarketSample,
    NavUpdate,
    PositionState,
    RedemptionRecord,
)
from devkit.seeding import USD
from navlend.constants import WAD

# Lens.healths takes at most this many accounts per call.
LENS_BATCH = 500
# One lender share (the market's shares have 12 decimals).
ONE_SHARE = 10**12
# Market.liquidate(borrower, token, max_repay, min_out, redeem_shares, receiver):
# ``redeem_shares`` is the fifth 32-byte argument after the selector.
_REDEEM_ARG = slice(4 + 32 * 4, 4 + 32 * 5)


def position_states(lens: Any, market: Any, accounts: list[str], book: Any) -> list[PositionState]:
    """Each account's health now, labelled with its planned kind and asset."""
    states: list[PositionState] = []
    for start in range(0, len(accounts), LENS_BATCH):
        batch = accounts[start : start + LENS_BATCH]
        for h in lens.healths(market.address, batch):
            planned = book.position_of(to_checksum_address(h.account))
            states.append(
                PositionState(
                    account=to_checksum_address(h.account),
                    kind=planned.kind.value,
                    asset=planned.asset,
                    debt=int(h.debt),
                    health_factor=None if h.debt == 0 else int(h.health_factor) / WAD,
                    liquidatable=bool(h.liquidatable),
                    liquidation_value=int(h.liquidation_value),
                )
            )
    return states


def value_scales(listed: list[tuple[Any, Any]], base: Any) -> dict[str, int]:
    """Each listed (token, oracle)'s value divisor, as the market computes
    values: amount x price / 10^(token decimals + oracle decimals - base
    decimals)."""
    base_decimals = int(base.decimals())
    return {
        to_checksum_address(str(token.address)): 10 ** (int(token.decimals()) + int(oracle.decimals()) - base_decimals)
        for token, oracle in listed
    }


def collateral_value(snap: Any, scales: dict[str, int]) -> int:
    """Every listed collateral's value in base units (a Lens snapshot)."""
    return sum(
        int(a.total_supplied) * int(a.price) // scales[to_checksum_address(a.token)]
        for a in snap.assets
        if to_checksum_address(a.token) in scales
    )


def market_sample(
    lens: Any, market: Any, world: Any, *, label: str, day: int, block: Any, scales: dict[str, int] | None = None
) -> MarketSample:
    """The market's books and rates, both NAVs and the collateral's value
    (with ``scales``, :func:`value_scales`), at ``block``."""
    snap = lens.snapshot(market.address)
    return MarketSample(
        label=label,
        day=day,
        block=int(block.number),
        timestamp=int(block.timestamp),
        utilization=int(snap.utilization) / WAD,
        borrow_apr=int(snap.borrow_rate_apr) / WAD,
        supply_apr=int(snap.supply_rate_apr) / WAD,
        share_price=int(market.convertToAssets(ONE_SHARE)) / USD,
        nav_a=int(world.oracle_a.latestRoundData()[1]),
        nav_b=int(world.oracle_b.latestRoundData()[1]),
        total_borrows=int(snap.total_borrows),
        cash=int(snap.cash),
        reserves=int(snap.reserves),
        collateral_value=collateral_value(snap, scales) if scales else 0,
    )


def facility_samples(facilities: dict[str, Any], block: Any) -> list[FacilitySample]:
    """Each redemption facility's liquidity and rolling limit at ``block``."""
    return [
        FacilitySample(
            facility=name,
            block=int(block.number),
            timestamp=int(block.timestamp),
            liquidity=int(facility.available_liquidity()),
            remaining_limit=int(facility.remaining_limit()),
            daily_limit=int(facility.daily_limit()),
        )
        for name, facility in facilities.items()
    ]


def redemptions(provider: Any, facilities: dict[str, Any], start: int, stop: int) -> list[RedemptionRecord]:
    """Every ``Redeemed`` event of the facilities in blocks [start, stop]."""
    records = []
    times: dict[int, int] = {}
    for name, facility in facilities.items():
        for log in facility.Redeemed.range(start, stop + 1):
            block = int(log.block_number)
            records.append(
                RedemptionRecord(
                    facility=name,
                    block=block,
                    timestamp=_block_time(provider, block, times),
                    shares=int(log.shares),
                    payout=int(log.payout),
                )
            )
    return sorted(records, key=lambda r: (r.block, r.facility))


def _block_time(provider: Any, block: int, cache: dict[int, int]) -> int:
    """``block``'s timestamp, read once per ``cache``."""
    if block not in cache:
        cache[block] = int(provider.web3.eth.get_block(block)["timestamp"])
    return cache[block]


def liquidation_route(provider: Any, log: Any, flash_liquidator: str) -> str:
    """"redeem" or "seize": a FlashLiquidator call always redeems; a direct
    call says so in its ``redeem_shares`` argument."""
    if to_checksum_address(log.liquidator) == to_checksum_address(flash_liquidator):
        return "redeem"
    tx = provider.web3.eth.get_transaction(log.transaction_hash)
    data = bytes(tx["input"])
    if len(data) >= _REDEEM_ARG.stop:
        return "redeem" if int.from_bytes(data[_REDEEM_ARG], "big") else "seize"
    return "unknown"


def liquidations(
    provider: Any, market: Any, flash_liquidator: str, asset_names: dict[str, str], start: int, stop: int
) -> list[LiquidationRecord]:
    """Every ``Liquidate`` event in blocks [start, stop]."""
    timestamps: dict[int, int] = {}
    records = []
    for log in market.Liquidate.range(start, stop + 1):
        block = int(log.block_number)
        records.append(
            LiquidationRecord(
                block=block,
                timestamp=_block_time(provider, block, timestamps),
                tx_hash=HexBytes(log.transaction_hash).to_0x_hex(),
                borrower=to_checksum_address(log.borrower),
                asset=asset_names.get(to_checksum_address(log.token), str(log.token)),
                route=liquidation_route(provider, log, flash_liquidator),
                liquidator=to_checksum_address(log.liquidator),
                repaid=int(log.repaid),
                seized=int(log.seized),
                payout=int(log.payout),
                protocol_fee=int(log.protocol_fee),
            )
        )
    return records


def bad_debts(provider: Any, market: Any, start: int, stop: int) -> list[BadDebtRecord]:
    """Every ``BadDebt`` write-off in blocks [start, stop]."""
    times: dict[int, int] = {}
    return [
        BadDebtRecord(
            block=int(log.block_number),
            borrower=to_checksum_address(log.borrower),
            amount=int(log.amount),
            from_reserves=int(log.from_reserves),
            socialized=int(log.socialized),
            timestamp=_block_time(provider, int(log.block_number), times),
        )
        for log in market.BadDebt.range(start, stop + 1)
    ]


def nav_updates(provider: Any, oracles: dict[str, Any], start: int, stop: int, day_of: Any) -> list[NavUpdate]:
    """NAVs that became effective in blocks [start, stop] (every
    ``NavPublished``), marked when the guardian's confirmation applied them
    (its transaction also emits ``PendingConfirmed``). ``day_of(timestamp)``
    names the day."""
    updates = []
    times: dict[int, int] = {}
    for name, oracle in oracles.items():
        confirmations = {HexBytes(log.transaction_hash) for log in oracle.PendingConfirmed.range(start, stop + 1)}
        for log in oracle.NavPublished.range(start, stop + 1):
            ts = _block_time(provider, int(log.block_number), times)
            updates.append(
                NavUpdate(
                    day=day_of(ts),
                    block=int(log.block_number),
                    timestamp=ts,
                    oracle=name,
                    nav=int(log.answer),
                    confirmed=HexBytes(log.transaction_hash) in confirmations,
                    as_of=int(log.as_of),
                )
            )
    return sorted(updates, key=lambda u: (u.block, u.oracle))

