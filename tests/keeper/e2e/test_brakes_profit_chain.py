"""The brakes' and the profit model's readings against a node (anvil via
ape-foundry): a receipt's cost is exactly what the sender's balance lost,
and an AggregatorV3's raw answers decode into the ETH/USD the keeper uses
(fresh from the feed, stale to the fallback)."""

from __future__ import annotations

from keepers.brakes import receipt_cost_wei
from keepers.profit import (
    DECIMALS_SELECTOR,
    LATEST_ROUND_DATA_SELECTOR,
    FallbackReason,
    PriceFeedPolicy,
    PriceSource,
    decode_round,
    eth_usd,
)

USD = 10**6
FEED = PriceFeedPolicy(max_age_seconds=3_600, fallback_base_per_eth=3_000 * USD, base_decimals=6)


def _call(provider, to: str, selector: bytes) -> bytes:
    result = provider.make_request("eth_call", [{"to": to, "data": "0x" + selector.hex()}, "latest"])
    return bytes.fromhex(result[2:] if isinstance(result, str) else result.hex().removeprefix("0x"))


def test_receipt_cost__equals_the_senders_balance_drop(outsider, treasury, chain):
    sender, other = outsider, treasury
    before = sender.balance
    tx = sender.transfer(other, 0)
    receipt = chain.provider.make_request("eth_getTransactionReceipt", [tx.txn_hash])
    assert receipt_cost_wei(receipt) == before - sender.balance > 0


def test_eth_price__aggregator_on_chain__fresh_then_stale(deployer, chain, project):
    feed = deployer.deploy(project.MockAggregator, 8, 2_487_12345678)
    provider = chain.provider
    now = chain.blocks.head.timestamp

    def read():
        raw = decode_round(_call(provider, feed.address, LATEST_ROUND_DATA_SELECTOR),
                           _call(provider, feed.address, DECIMALS_SELECTOR))
        return eth_usd(raw, chain.blocks.head.timestamp, FEED)

    fresh = read()
    assert (fresh.source, fresh.base_per_eth) == (PriceSource.FEED, 2_487_123_456)

    feed.set_answer(2_487_12345678, now - 3_700, sender=deployer)
    stale = read()
    assert stale.fallback and stale.reason is FallbackReason.STALE and stale.base_per_eth == 3_000 * USD
