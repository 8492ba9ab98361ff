"""WrapperNavOracle: price = fund NAV x assets per wrapper share, with the
fund feed's round id and strike time passed through (staleness checks keep
working)."""

import ape

ONE = 10**18
NAV_B = 1_00_000_000
DAY = 86_400


def _expected(wrapper, nav: int) -> int:
    return nav * wrapper.convertToAssets(ONE) // ONE


def test_metadata__aggregator_v3_shape(wrapper_oracle, wrapper, oracle_b):
    assert wrapper_oracle.decimals() == 8
    assert wrapper_oracle.version() == 1
    assert wrapper_oracle.description() == "aDLFB / USD NAV"
    assert wrapper_oracle.wrapper() == wrapper.address
    assert wrapper_oracle.fund_oracle() == oracle_b.address


def test_latest_round_data__empty_wrapper__one_dollar_with_fund_round(wrapper_oracle, oracle_b):
    fund_round = oracle_b.latestRoundData()
    assert wrapper_oracle.latestRoundData() == (
        fund_round[0],
        NAV_B,
        fund_round[2],
        fund_round[3],
        fund_round[4],
    )
    assert wrapper_oracle.assets_per_share() == ONE


def test_latest_round_data__after_accrual__price_tracks_assets_per_share(
    wrapper_oracle, wrapper, fund_b, deployer, lender, mint_fund, advance
):
    mint_fund(fund_b, lender, 1_000 * ONE)
    fund_b.approve(wrapper, 1_000 * ONE, sender=lender)
    wrapper.deposit(1_000 * ONE, lender, sender=lender)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    advance(DAY // 2)
    half = wrapper_oracle.latestRoundData()[1]
    assert half == _expected(wrapper, NAV_B)
    advance(DAY)
    full = wrapper_oracle.latestRoundData()[1]
    assert NAV_B < half < full == _expected(wrapper, NAV_B)
    assert 100_999_000 <= full <= 101_000_000


def test_latest_round_data__new_fund_nav__passes_round_and_strike(
    wrapper_oracle, oracle_b, publish_next
):
    tx = publish_next(oracle_b, 1_00_050_000, delay=7_200)
    round_id, answer, started_at, updated_at, answered_in = wrapper_oracle.latestRoundData()
    assert (round_id, answer, answered_in) == (2, 1_00_050_000, 2)
    assert updated_at == started_at == oracle_b.latestRoundData()[3] == tx.timestamp - 7_200


def test_latest_round_data__stale_fund_nav__updated_at_not_refreshed(
    wrapper_oracle, oracle_b, advance
):
    strike = oracle_b.latestRoundData()[3]
    now = advance(5 * DAY)
    updated_at = wrapper_oracle.latestRoundData()[3]
    assert updated_at == strike
    assert now - updated_at > 100 * 3_600


def test_get_round_data__past_round__priced_at_current_rate(wrapper_oracle, oracle_b, publish_next):
    first = oracle_b.getRoundData(1)
    publish_next(oracle_b, 1_00_010_000)
    assert wrapper_oracle.getRoundData(1) == first


def test_get_round_data__unknown_round__reverts(wrapper_oracle):
    with ape.reverts("oracle: unknown round"):
        wrapper_oracle.getRoundData(42)


def test_latest_round_data__fund_feed_without_data__reverts(
    project, deployer, updater, guardian, wrapper
):
    empty = deployer.deploy(project.NavOracle, "EMPTY", updater, guardian, 0, 0)
    adapter = deployer.deploy(project.WrapperNavOracle, wrapper, empty, "X")
    with ape.reverts("oracle: no data"):
        adapter.latestRoundData()


def test_constructor__six_decimal_fund__rescales(project, deployer, fund_a, oracle_a):
    wrapper_a = deployer.deploy(project.AccumulatingWrapper, fund_a, "Acc A", "aTBFA")
    adapter = deployer.deploy(project.WrapperNavOracle, wrapper_a, oracle_a, "aTBFA / USD NAV")
    assert wrapper_a.decimals() == 6
    assert adapter.latestRoundData()[1] == oracle_a.latestRoundData()[1] == 10_50_000_000


def test_constructor__zero_address__reverts(project, spare, oracle_b):
    with ape.reverts("oracle: zero address"):
        spare.deploy(project.WrapperNavOracle, ape.utils.ZERO_ADDRESS, oracle_b, "X")
