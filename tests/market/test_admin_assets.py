"""Owner (and guardian) control of the collateral assets: listing, risk
parameters, limits, oracle, redemption facility and freezing.

Every setter is owner-only (freezing: guardian or owner; unfreezing: owner
only), validates each bound at its edge and emits an event carrying the new
values. Bounds are those of ``contracts/market/modules/market_core.vy``.
"""

import ape
import pytest

from navlend.constants import BPS, PAUSE_DEPOSIT_COLLATERAL

NOT_OWNER = "ownable: caller is not the owner"
MAX_UINT = 2**256 - 1
ZERO = ape.utils.ZERO_ADDRESS
HOUR = 3_600
WEEK = 7 * 86_400
ORACLE_UNIT = 10**8


# ---- fixtures ----


@pytest.fixture(scope="module")
def new_token(owner, project):
    """An unlisted 18-decimal token."""
    return owner.deploy(project.MockERC20, "New collateral", "NEW", 18)


@pytest.fixture(scope="module")
def new_oracle(owner, project):
    """An 8-decimal feed answering $2.00."""
    return owner.deploy(project.MockAggregator, 8, 2 * ORACLE_UNIT)


@pytest.fixture(scope="module")
def fund_a_facility2(owner, project, world, stablecoin, oracle_a, treasury):
    """A second RedemptionFacility for fund A, allowlisted by the fund."""
    facility = owner.deploy(
        project.RedemptionFacility,
        world.fund_a,
        stablecoin,
        oracle_a,
        5,
        10**6,
        10**12,
        0,
        treasury,
    )
    world.allowlist(facility)
    return facility


@pytest.fixture(scope="module", autouse=True)
def _setup_first(
    market,
    collaterals,
    give_collateral,
    open_position,
    price_of,
    stablecoin,
    fund_a,
    fund_b,
    fund_c,
    oracle_a,
    facility_a,
    facility_c,
    wrapper,
    guardian,
    outsider,
    borrower,
    new_token,
    new_oracle,
    fund_a_facility2,
):
    """Sets up every higher-scoped fixture this module uses before its first
    test, so that Ape never rebases its snapshots mid-module."""


def _list(
    market,
    owner,
    token,
    oracle,
    ltv=5_000,
    threshold=6_000,
    bonus=500,
    cap=10**24,
    price_cap=0,
    age=HOUR,
    sender=None,
):
    return market.list_asset(
        token, oracle, ltv, threshold, bonus, cap, price_cap, age, sender=sender or owner
    )


# ---- list_asset ----


def test_list_asset__by_owner__stores_config_and_emits_every_event(
    market, owner, new_token, new_oracle
):
    tx = _list(
        market, owner, new_token, new_oracle, 5_000, 6_000, 500, 10**24, 3 * ORACLE_UNIT, 2 * HOUR
    )

    assert market.asset_count() == 4
    assert market.asset_at(3) == new_token.address
    cfg = market.asset_config(new_token)
    assert cfg.token == new_token.address
    assert cfg.oracle == new_oracle.address
    assert cfg.facility == ZERO
    assert (cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps) == (5_000, 6_000, 500)
    assert (cfg.supply_cap, cfg.price_cap, cfg.max_oracle_age) == (
        10**24,
        3 * ORACLE_UNIT,
        2 * HOUR,
    )
    assert not cfg.frozen
    assert cfg.total_supplied == 0
    assert tx.events == [
        market.AssetListed(token=new_token, asset_id=3, oracle=new_oracle),
        market.AssetRiskSet(token=new_token, ltv_bps=5_000, threshold_bps=6_000, bonus_bps=500),
        market.AssetLimitsSet(
            token=new_token, supply_cap=10**24, price_cap=3 * ORACLE_UNIT, max_oracle_age=2 * HOUR
        ),
        market.AssetOracleSet(token=new_token, oracle=new_oracle),
    ]
    # A plain ERC-20 answers no compliance view: no source, no checks.
    assert market.asset_compliance(new_token) == ZERO


def test_list_asset__while_deposits_paused__new_asset_follows_the_pause(
    market, owner, new_token, new_oracle, borrower
):
    """The deposit-collateral pause bit is copied into each listed asset's
    token word (so that a deposit reads one word): an asset listed while the
    bit is set is paused too, an unlisted token still reverts as paused, and
    unpausing opens the new asset with the others."""
    amount = 10**18
    market.pause(PAUSE_DEPOSIT_COLLATERAL, sender=owner)
    with ape.reverts("market: paused"):
        market.supply_collateral(new_token, amount, borrower, sender=borrower)
    _list(market, owner, new_token, new_oracle)
    new_token.mint(borrower, amount, sender=borrower)
    new_token.approve(market, amount, sender=borrower)
    with ape.reverts("market: paused"):
        market.supply_collateral(new_token, amount, borrower, sender=borrower)
    market.unpause(PAUSE_DEPOSIT_COLLATERAL, 0, sender=owner)
    market.supply_collateral(new_token, amount, borrower, sender=borrower)
    assert market.asset_config(new_token).total_supplied == amount


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_list_asset__by_non_owner__reverts(market, new_token, new_oracle, owner, caller, request):
    with ape.reverts(NOT_OWNER):
        _list(market, owner, new_token, new_oracle, sender=request.getfixturevalue(caller))


def test_list_asset__zero_token__reverts(market, owner, new_oracle):
    with ape.reverts("market: zero address"):
        _list(market, owner, ZERO, new_oracle)


def test_list_asset__base_asset__reverts(market, owner, stablecoin, new_oracle):
    with ape.reverts("market: base asset"):
        _list(market, owner, stablecoin, new_oracle)


def test_list_asset__already_listed__reverts(market, owner, fund_c, new_oracle):
    with ape.reverts("market: already listed"):
        _list(market, owner, fund_c, new_oracle)


def test_list_asset__sixteenth_accepted__seventeenth_reverts(market, owner, project, new_oracle):
    tokens = [owner.deploy(project.MockERC20, f"T{i}", f"T{i}", 18) for i in range(14)]
    for token in tokens[:-1]:
        _list(market, owner, token, new_oracle)
    assert market.asset_count() == 16
    assert market.asset_at(15) == tokens[-2].address

    with ape.reverts("market: too many assets"):
        _list(market, owner, tokens[-1], new_oracle)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"ltv": 0}, "market: bad ltv"),
        ({"bonus": 0}, "market: bad bonus"),
        ({"cap": 2**120}, "market: bad supply cap"),
        ({"age": HOUR - 1}, "market: bad oracle age"),
    ],
)
def test_list_asset__bad_parameter__reverts(
    market, owner, new_token, new_oracle, overrides, reason
):
    with ape.reverts(reason):
        _list(market, owner, new_token, new_oracle, **overrides)


def test_list_asset__zero_oracle__reverts(market, owner, new_token):
    with ape.reverts("market: zero oracle"):
        _list(market, owner, new_token, ZERO)


# ---- set_asset_risk ----

# threshold x (1 + bonus) < 1: 9,501 x 1.0525 < 1 <= 9,501 x 1.0526, and
# 8,334 x 1.1999 < 1 <= 8,334 x 1.2 (the bonus bound itself is 2,000).
RISK_ACCEPTED = [
    (1, 2, 1),
    (9_500, 9_501, 525),
    (8_000, 8_334, 1_999),
    (5_000, 8_333, 2_000),
]
RISK_REJECTED = [
    (0, 5_000, 100, "market: bad ltv"),
    (9_501, 9_502, 1, "market: bad ltv"),
    (8_000, 8_000, 100, "market: threshold not above ltv"),
    (8_000, 7_999, 100, "market: threshold not above ltv"),
    (5_000, 6_000, 0, "market: bad bonus"),
    (5_000, 6_000, 2_001, "market: bad bonus"),
    (9_500, 9_501, 526, "market: threshold x bonus >= 1"),
    (8_000, 8_334, 2_000, "market: threshold x bonus >= 1"),
]


@pytest.mark.parametrize("ltv, threshold, bonus", RISK_ACCEPTED)
def test_set_asset_risk__at_bound__stored_and_emitted(market, owner, fund_a, ltv, threshold, bonus):
    assert threshold * (BPS + bonus) < BPS * BPS

    tx = market.set_asset_risk(fund_a, ltv, threshold, bonus, sender=owner)

    cfg = market.asset_config(fund_a)
    assert (cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps) == (ltv, threshold, bonus)
    assert tx.events == [
        market.AssetRiskSet(token=fund_a, ltv_bps=ltv, threshold_bps=threshold, bonus_bps=bonus)
    ]


@pytest.mark.parametrize("ltv, threshold, bonus, reason", RISK_REJECTED)
def test_set_asset_risk__past_bound__reverts(market, owner, fund_a, ltv, threshold, bonus, reason):
    with ape.reverts(reason):
        market.set_asset_risk(fund_a, ltv, threshold, bonus, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_asset_risk__by_non_owner__reverts(market, fund_a, caller, request):
    with ape.reverts(NOT_OWNER):
        market.set_asset_risk(fund_a, 5_000, 6_000, 500, sender=request.getfixturevalue(caller))


def test_set_asset_risk__unlisted_token__reverts(market, owner, new_token):
    with ape.reverts("market: asset not listed"):
        market.set_asset_risk(new_token, 5_000, 6_000, 500, sender=owner)


def test_set_asset_risk__lower_ltv__lowers_borrow_value(
    market, owner, collaterals, open_position, borrower
):
    fund_a = collaterals["fund_a"]
    open_position(fund_a, borrower, 100 * fund_a.unit, 0)
    before = market.position(borrower)

    market.set_asset_risk(fund_a.token, 4_250, 9_000, 300, sender=owner)

    after = market.position(borrower)
    # Each value rounds down on its own: halving the LTV halves it within a unit.
    assert abs(after.borrow_value * 2 - before.borrow_value) <= 1
    assert after.liquidation_value == before.liquidation_value


# ---- set_asset_limits ----


@pytest.mark.parametrize(
    "supply_cap, price_cap, age",
    [(2**120 - 1, 0, HOUR), (0, 1, WEEK), (10**24, 2 * ORACLE_UNIT, 100 * HOUR)],
)
def test_set_asset_limits__at_bound__stored_and_emitted(
    market, owner, fund_c, supply_cap, price_cap, age
):
    tx = market.set_asset_limits(fund_c, supply_cap, price_cap, age, sender=owner)

    cfg = market.asset_config(fund_c)
    assert (cfg.supply_cap, cfg.price_cap, cfg.max_oracle_age) == (supply_cap, price_cap, age)
    assert tx.events == [
        market.AssetLimitsSet(
            token=fund_c, supply_cap=supply_cap, price_cap=price_cap, max_oracle_age=age
        )
    ]


@pytest.mark.parametrize(
    "supply_cap, age, reason",
    [
        (2**120, HOUR, "market: bad supply cap"),
        (10**24, HOUR - 1, "market: bad oracle age"),
        (10**24, WEEK + 1, "market: bad oracle age"),
    ],
)
def test_set_asset_limits__past_bound__reverts(market, owner, fund_c, supply_cap, age, reason):
    with ape.reverts(reason):
        market.set_asset_limits(fund_c, supply_cap, 0, age, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_asset_limits__by_non_owner__reverts(market, fund_c, caller, request):
    with ape.reverts(NOT_OWNER):
        market.set_asset_limits(fund_c, 10**24, 0, HOUR, sender=request.getfixturevalue(caller))


def test_set_asset_limits__unlisted_token__reverts(market, owner, new_token):
    with ape.reverts("market: asset not listed"):
        market.set_asset_limits(new_token, 10**24, 0, HOUR, sender=owner)


def test_set_asset_limits__price_cap__caps_the_price_and_zero_lifts_it(
    market, owner, fund_a, oracle_a
):
    answer = oracle_a.latestRoundData()[1]
    cap = answer - 1

    market.set_asset_limits(fund_a, 2**120 - 1, cap, 100 * HOUR, sender=owner)
    assert market.asset_price(fund_a)[0] == cap

    market.set_asset_limits(fund_a, 2**120 - 1, 0, 100 * HOUR, sender=owner)
    assert market.asset_price(fund_a)[0] == answer
    assert market.asset_config(fund_a).price_cap == 0


# ---- set_asset_oracle ----


def test_set_asset_oracle__by_owner__stored_and_emitted(market, owner, fund_a, new_oracle):
    tx = market.set_asset_oracle(fund_a, new_oracle, sender=owner)

    assert market.asset_config(fund_a).oracle == new_oracle.address
    assert market.asset_price(fund_a)[0] == 2 * ORACLE_UNIT
    assert tx.events == [market.AssetOracleSet(token=fund_a, oracle=new_oracle)]


def test_set_asset_oracle__other_decimals__same_position_values(
    market, owner, project, collaterals, open_position, borrower, price_of
):
    fund_a = collaterals["fund_a"]
    open_position(fund_a, borrower, 100 * fund_a.unit, 0)
    before = market.position(borrower)
    feed18 = owner.deploy(project.MockAggregator, 18, price_of(fund_a) * 10**10)

    market.set_asset_oracle(fund_a.token, feed18, sender=owner)

    after = market.position(borrower)
    assert (after.borrow_value, after.liquidation_value) == (
        before.borrow_value,
        before.liquidation_value,
    )


@pytest.mark.parametrize(
    "token_decimals, oracle_decimals, accepted",
    [
        (0, 6, True),  # 0 + 6 = base decimals: scale 10**0
        (0, 5, False),  # below the base decimals
        (18, 48, True),  # scale exponent 60
        (18, 49, False),  # exponent 61
    ],
)
def test_set_asset_oracle__decimals_bounds(
    market, owner, project, new_oracle, token_decimals, oracle_decimals, accepted
):
    token = owner.deploy(project.MockERC20, "D", "D", token_decimals)
    _list(market, owner, token, new_oracle)
    feed = owner.deploy(project.MockAggregator, oracle_decimals, 1)

    if accepted:
        market.set_asset_oracle(token, feed, sender=owner)
        assert market.asset_config(token).oracle == feed.address
    else:
        with ape.reverts("market: bad decimals"):
            market.set_asset_oracle(token, feed, sender=owner)


def test_set_asset_oracle__zero_oracle__reverts(market, owner, fund_a):
    with ape.reverts("market: zero oracle"):
        market.set_asset_oracle(fund_a, ZERO, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_asset_oracle__by_non_owner__reverts(market, fund_a, new_oracle, caller, request):
    with ape.reverts(NOT_OWNER):
        market.set_asset_oracle(fund_a, new_oracle, sender=request.getfixturevalue(caller))


def test_set_asset_oracle__unlisted_token__reverts(market, owner, new_token, new_oracle):
    with ape.reverts("market: asset not listed"):
        market.set_asset_oracle(new_token, new_oracle, sender=owner)


# ---- set_asset_facility ----


def test_set_asset_facility__new_facility__approved_and_old_revoked(
    market, owner, fund_a, facility_a, fund_a_facility2
):
    assert fund_a.allowance(market, facility_a) == MAX_UINT

    tx = market.set_asset_facility(fund_a, fund_a_facility2, sender=owner)

    assert market.asset_config(fund_a).facility == fund_a_facility2.address
    assert fund_a.allowance(market, fund_a_facility2) == MAX_UINT
    assert fund_a.allowance(market, facility_a) == 0
    assert tx.events.filter(market.AssetFacilitySet) == [
        market.AssetFacilitySet(token=fund_a, facility=fund_a_facility2)
    ]


def test_set_asset_facility__zero__removes_route_and_revokes(market, owner, fund_a, facility_a):
    tx = market.set_asset_facility(fund_a, ZERO, sender=owner)

    assert market.asset_config(fund_a).facility == ZERO
    assert fund_a.allowance(market, facility_a) == 0
    assert tx.events.filter(market.AssetFacilitySet) == [
        market.AssetFacilitySet(token=fund_a, facility=ZERO)
    ]


def test_set_asset_facility__same_facility_again__stays_approved(market, owner, fund_a, facility_a):
    """The old approval is revoked before the new one is granted, so
    setting the current facility again leaves it approved."""
    market.set_asset_facility(fund_a, facility_a, sender=owner)

    assert fund_a.allowance(market, facility_a) == MAX_UINT


def test_set_asset_facility__facility_of_another_token__reverts(market, owner, fund_a, facility_c):
    with ape.reverts("market: facility token"):
        market.set_asset_facility(fund_a, facility_c, sender=owner)


def test_set_asset_facility__other_payout_token__reverts(
    market, owner, project, world, oracle_a, treasury
):
    other_stable = owner.deploy(project.MockERC20, "Other USD", "OUSD", 6)
    facility = owner.deploy(
        project.RedemptionFacility,
        world.fund_a,
        other_stable,
        oracle_a,
        5,
        10**6,
        10**12,
        0,
        treasury,
    )
    with ape.reverts("market: facility payout"):
        market.set_asset_facility(world.fund_a, facility, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "outsider"])
def test_set_asset_facility__by_non_owner__reverts(
    market, fund_a, fund_a_facility2, caller, request
):
    with ape.reverts(NOT_OWNER):
        market.set_asset_facility(fund_a, fund_a_facility2, sender=request.getfixturevalue(caller))


def test_set_asset_facility__unlisted_token__reverts(market, owner, new_token):
    with ape.reverts("market: asset not listed"):
        market.set_asset_facility(new_token, ZERO, sender=owner)


# ---- set_asset_frozen ----


@pytest.mark.parametrize("caller", ["guardian", "owner"])
def test_set_asset_frozen__freeze_by_guardian_or_owner__blocks_new_collateral(
    market, collaterals, give_collateral, borrower, caller, request
):
    fund_a = collaterals["fund_a"]
    give_collateral(fund_a, borrower, fund_a.unit)

    tx = market.set_asset_frozen(fund_a.token, True, sender=request.getfixturevalue(caller))

    assert market.asset_config(fund_a.token).frozen
    assert tx.events == [market.AssetFrozen(token=fund_a.token, frozen=True)]
    with ape.reverts("market: asset frozen"):
        market.supply_collateral(fund_a.token, fund_a.unit, borrower, sender=borrower)


def test_set_asset_frozen__unfreeze_by_owner__stored_and_emitted(market, owner, guardian, fund_a):
    market.set_asset_frozen(fund_a, True, sender=guardian)

    tx = market.set_asset_frozen(fund_a, False, sender=owner)

    assert not market.asset_config(fund_a).frozen
    assert tx.events == [market.AssetFrozen(token=fund_a, frozen=False)]


def test_set_asset_frozen__unfreeze_by_guardian__reverts(market, guardian, fund_a):
    market.set_asset_frozen(fund_a, True, sender=guardian)
    with ape.reverts(NOT_OWNER):
        market.set_asset_frozen(fund_a, False, sender=guardian)


@pytest.mark.parametrize("frozen, reason", [(True, "market: not guardian"), (False, NOT_OWNER)])
def test_set_asset_frozen__by_outsider__reverts(market, outsider, fund_a, frozen, reason):
    with ape.reverts(reason):
        market.set_asset_frozen(fund_a, frozen, sender=outsider)


def test_set_asset_frozen__unlisted_token__reverts(market, guardian, new_token):
    with ape.reverts("market: asset not listed"):
        market.set_asset_frozen(new_token, True, sender=guardian)


# ---- the feed's round at listing, and the compliance source ----


@pytest.mark.parametrize("answer", [0, -5], ids=["zero", "negative"])
def test_list_asset__feed_without_a_valid_round__reverts(market, owner, project, new_token, answer):
    feed = owner.deploy(project.MockAggregator, 8, answer)
    with ape.reverts("market: bad oracle round"):
        _list(market, owner, new_token, feed)
    assert market.asset_count() == 3


def test_list_asset__stale_round__reverts_fresh_one_lists(market, chain, owner, project, new_token, new_oracle):
    stale = owner.deploy(project.MockAggregator, 8, ORACLE_UNIT)
    stale.set_answer(ORACLE_UNIT, chain.blocks.head.timestamp - 2 * HOUR, sender=owner)
    with ape.reverts("market: oracle stale"):
        _list(market, owner, new_token, stale, age=HOUR)
    tx = _list(market, owner, new_token, new_oracle, age=HOUR)
    assert market.AssetOracleSet(token=new_token, oracle=new_oracle) in tx.events


def test_set_asset_oracle__feed_that_reverts__refused_old_feed_kept(market, owner, project, fund_a, oracle_a):
    """A NavOracle with no round yet reverts ``latestRoundData``."""
    empty_feed = owner.deploy(project.NavOracle, "empty", owner, owner, 0, 0)
    with ape.reverts("market: bad oracle round"):
        market.set_asset_oracle(fund_a, empty_feed, sender=owner)
    assert market.asset_config(fund_a).oracle == oracle_a.address


def test_list_asset__fund_token__is_its_own_compliance_source(market, fund_a, fund_c, fund_b, wrapper):
    assert market.asset_compliance(fund_a) == fund_a.address
    assert market.asset_compliance(fund_c) == fund_c.address
    # The wrapper answers no compliance view; the local market names fund B.
    assert market.asset_compliance(wrapper) == fund_b.address


def test_set_asset_compliance__by_owner__stored_and_emitted(market, owner, fund_a, new_token, new_oracle):
    _list(market, owner, new_token, new_oracle)
    tx = market.set_asset_compliance(new_token, fund_a, sender=owner)
    assert market.asset_compliance(new_token) == fund_a.address
    assert tx.events == [market.AssetComplianceSet(token=new_token, source=fund_a)]
    tx = market.set_asset_compliance(new_token, ZERO, sender=owner)
    assert market.asset_compliance(new_token) == ZERO
    assert tx.events == [market.AssetComplianceSet(token=new_token, source=ZERO)]


def test_set_asset_compliance__not_owner__reverts(market, guardian, fund_a):
    with ape.reverts("ownable: caller is not the owner"):
        market.set_asset_compliance(fund_a, ZERO, sender=guardian)
    assert market.asset_compliance(fund_a) == fund_a.address


def test_set_asset_compliance__source_without_the_views__reverts(market, owner, fund_a, new_oracle):
    # A short reason (it used to revert with none, from the failed call).
    with ape.reverts("market: bad compliance source"):
        market.set_asset_compliance(fund_a, new_oracle, sender=owner)
    assert market.asset_compliance(fund_a) == fund_a.address


def test_set_asset_compliance__source_with_half_the_views__reverts(market, owner, project, fund_a):
    half = owner.deploy(project.AllowlistOnlyToken, "Half", "HALF", 18)
    with ape.reverts("market: bad compliance source"):
        market.set_asset_compliance(fund_a, half, sender=owner)
    assert market.asset_compliance(fund_a) == fund_a.address


def test_list_asset__token_with_half_the_compliance_views__not_its_own_source(
    market, owner, project, new_oracle, stablecoin, mint_stable, lender, borrower
):
    """A token answering `is_allowlisted` but not `is_frozen` used to be
    taken as its own source, and then every borrow against it reverted on
    the missing view. It is now listed without a source."""
    half = owner.deploy(project.AllowlistOnlyToken, "Half", "HALF", 18)
    market.list_asset(half, new_oracle, 8_000, 8_500, 300, 2**120 - 1, 0, 100 * 3_600, sender=owner)
    assert market.asset_compliance(half) == ZERO
    mint_stable(lender, 1_000 * 10**6)
    stablecoin.approve(market, 1_000 * 10**6, sender=lender)
    market.deposit(1_000 * 10**6, lender, sender=lender)
    half.mint(borrower, 100 * 10**18, sender=borrower)
    half.approve(market, 100 * 10**18, sender=borrower)
    market.supply_collateral(half, 100 * 10**18, borrower, sender=borrower)
    tx = market.borrow(100 * 10**6, borrower, borrower, sender=borrower)
    assert market.Borrow(on_behalf=borrower, amount=100 * 10**6) in tx.events


def test_set_asset_compliance__unlisted_token__reverts(market, owner, fund_a, new_token):
    with ape.reverts("market: asset not listed"):
        market.set_asset_compliance(new_token, fund_a, sender=owner)
