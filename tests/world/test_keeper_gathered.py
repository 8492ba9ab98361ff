"""End to end: the keeper's gathered batches over Ondo's $50,000 minimum.

The real keeper engine (``operations_keeper.KeeperUnderTest``: chain
reader, index, decisions, transaction manager), signing as ``outsider``,
whom Ondo never KYC'd and who holds no USDC, sends what passes its
simulation on the OUSG market of ``test_ondo_market`` (the fixtures and
position shapes of ``test_ondo_gathered``). Each position alone seizes
less than the minimum: the keeper used to skip every one of them as
``facility_below_minimum``; now it gathers them into one
``FlashLiquidator.liquidate_gathered`` when their seizures together reach
the facility's ``min_redeem``, and still skips them, with that reason,
when they do not."""

import pytest
from test_ondo_gathered import (  # noqa: F401 (fixtures)
    DROPPED,
    MINIMUM,
    SMALL,
    SMALLER,
    _value,
    open_positions,
    small_borrowers,
)
from test_ondo_market import MAX_UINT, ousg_market, price_drop  # noqa: F401 (fixtures)

from keepers.types import Route, SkipReason
from operations_keeper import KeeperUnderTest, events_named, the_event


@pytest.fixture
def keeper(project, chain, ousg_market, outsider, tmp_path):  # noqa: F811
    """The keeper over the OUSG market signing as ``outsider``, sending."""
    return lambda: KeeperUnderTest.build(project, chain, ousg_market[0], outsider, tmp_path, dry_run=False)


def _previews(market, ondo, borrowers) -> list[tuple[int, int]]:
    return [market.preview_liquidation(who, ondo.ousg, MAX_UINT) for who in borrowers]


def test_keeper__three_positions_each_under_the_minimum__one_gathered_batch_sent_and_mined(
    chain, ondo, ousg_market, open_positions, keeper, outsider  # noqa: F811
):
    market, feed, adapter, compliance = ousg_market
    borrowers = open_positions(SMALL, SMALL, SMALL)
    previews = _previews(market, ondo, borrowers)
    shares = sum(seize for _, seize in previews)
    assert all(seize < adapter.min_redeem() for _, seize in previews) and shares >= adapter.min_redeem()
    assert _value(shares, DROPPED) >= MINIMUM
    assert not compliance.is_allowlisted(outsider) and ondo.usdc.balanceOf(outsider) == 0
    k = keeper()
    (asset,) = k.keeper.reader.market_terms().assets
    assert asset.facility_gathers and k.keeper.flash_gathers
    debts = [market.debt_of(who) for who in borrowers]

    events = k.block()

    sent = [the_event(events, "liquidation sent", who) for who in borrowers]
    assert {e["route"] for e in sent} == {Route.GATHERED.value}
    assert {e["batch"] for e in sent} == {3} and len({e["tx"] for e in sent}) == 1
    # Anvil's automine mines a sent transaction in its own task, after the
    # send has answered: wait for the receipt before reading the state.
    chain.provider.web3.eth.wait_for_transaction_receipt(sent[0]["tx"], timeout=30)
    assert [(e["repaid"], e["seized"]) for e in sent] == previews
    assert not [e for e in events if e.get("event") == "skip"]
    assert [market.debt_of(who) for who in borrowers] == [d - r for d, (r, _) in zip(debts, previews)]
    assert [market.collateral_of(who, ondo.ousg) for who in borrowers] == [SMALL[0] - s for _, s in previews]
    assert ondo.ousg.balanceOf(adapter) == 0 and ondo.ousg.balanceOf(outsider) == 0
    profit = ondo.usdc.balanceOf(outsider)
    assert profit > 0

    mined = [e for e in k.block() if e.get("event") == "liquidation mined"]
    assert [(e["route"], e["liquidated"], e["profit"]) for e in mined] == [(Route.GATHERED.value, 3, profit)]
    assert k.keeper.metrics.registry.get_sample_value(
        "keeper_liquidations_succeeded_total", {"route": Route.GATHERED.value}) == 3


def test_keeper__three_positions_together_under_the_minimum__each_skipped_facility_below_minimum(
    ondo, ousg_market, open_positions, keeper, outsider  # noqa: F811
):
    market, feed, adapter, compliance = ousg_market
    borrowers = open_positions(SMALLER, SMALLER, SMALLER)
    shares = sum(seize for _, seize in _previews(market, ondo, borrowers))
    assert shares < adapter.min_redeem() and adapter.preview_redeem(shares) == 0
    k = keeper()
    debts = [market.debt_of(who) for who in borrowers]

    events = k.block()

    for who in borrowers:
        assert the_event(events, "skip", who)["reason"] == SkipReason.FACILITY_BELOW_MINIMUM.value
        assert events_named(events, "liquidation sent", who) == []
    assert k.skipped(SkipReason.FACILITY_BELOW_MINIMUM.value) == 3
    assert [market.debt_of(who) for who in borrowers] == debts
    assert ondo.usdc.balanceOf(outsider) == 0


def test_keeper__one_position_under_the_minimum_alone__skipped_facility_below_minimum(
    ondo, ousg_market, open_positions, keeper  # noqa: F811
):
    (alone,) = open_positions(SMALL)
    k = keeper()

    assert the_event(k.block(), "skip", alone)["reason"] == SkipReason.FACILITY_BELOW_MINIMUM.value


def test_reader__gathering_probes__the_adapters_and_the_flash_liquidator_yes_contracts_without_no(
    project, ousg_market, ustb, keeper, outsider  # noqa: F811
):
    """``redeem_received(0, 0x0)`` and an empty ``liquidate_gathered``,
    both by ``eth_call``: a reason means the function is there, a revert
    without data that it is not."""
    market, feed, adapter, compliance = ousg_market
    reader = keeper().keeper.reader
    lens = outsider.deploy(project.Lens)
    assert reader.facility_gathers(adapter) and reader.facility_gathers(ustb.adapter)
    assert not reader.facility_gathers(compliance) and not reader.facility_gathers(feed)
    assert reader.has_liquidate_gathered(outsider.deploy(project.FlashLiquidator, market))
    assert not reader.has_liquidate_gathered(lens)
