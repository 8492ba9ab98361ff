"""Posting and withdrawing collateral: balances, events, the supply cap,
the borrow limit on withdrawals, authorisation, the funds' allowlists,
and positions holding more than one asset (the bitmap). Pauses are in
test_pause.py.

Rules that involve amounts run at 6 decimals (fund A) and 18 (the wrapper)
through the ``collateral`` fixture."""

import ape

ZERO_ADDRESS = "0x" + "00" * 20
USD = 10**6
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}
# Bits of the position bitmap (asset ids: fund A 0, fund C 1, wrapper 2).
BIT = {"fund_a": 1, "fund_c": 2, "wrapper": 4}


def units(collateral, usd: int) -> int:
    """The amount of ``collateral`` worth ``usd`` dollars at BASE_PRICE."""
    return usd * 10 ** (collateral.decimals + 8) // BASE_PRICE[collateral.name]


def posted(collateral, who, amount, give_collateral, market):
    """Gives ``who`` ``amount`` of the collateral and posts it; returns the
    amount posted."""
    amount = give_collateral(collateral, who, amount)
    market.supply_collateral(collateral.token, amount, who, sender=who)
    return amount


# ---- supply_collateral ----


def test_supply_collateral__posts__credits_position_and_logs(
    market, collateral, borrower, give_collateral
):
    amount = give_collateral(collateral, borrower, 5 * collateral.unit)
    tx = market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    assert market.collateral_of(borrower, collateral.token) == amount
    assert market.asset_config(collateral.token).total_supplied == amount
    assert collateral.token.balanceOf(market) == amount
    assert collateral.token.balanceOf(borrower) == 0
    assert market.position(borrower).assets_bitmap == BIT[collateral.name]
    assert (
        market.SupplyCollateral(
            caller=borrower,
            on_behalf=borrower,
            token=collateral.token,
            amount=amount,
            collateral=amount,
        )
        in tx.events
    )


def test_supply_collateral__twice__adds_up(market, collateral, borrower, give_collateral):
    amount = give_collateral(collateral, borrower, 3 * collateral.unit)
    market.supply_collateral(collateral.token, amount // 3, borrower, sender=borrower)
    tx = market.supply_collateral(collateral.token, amount - amount // 3, borrower, sender=borrower)
    assert market.collateral_of(borrower, collateral.token) == amount
    assert market.SupplyCollateral(amount=amount - amount // 3, collateral=amount) in tx.events


def test_supply_collateral__on_behalf__credits_the_beneficiary(
    market, collateral, borrower, borrower2, give_collateral
):
    amount = give_collateral(collateral, borrower, collateral.unit)
    tx = market.supply_collateral(collateral.token, amount, borrower2, sender=borrower)
    assert market.collateral_of(borrower2, collateral.token) == amount
    assert market.collateral_of(borrower, collateral.token) == 0
    assert market.SupplyCollateral(caller=borrower, on_behalf=borrower2, amount=amount) in tx.events


def test_supply_collateral__zero_amount__reverts(market, collateral, borrower):
    with ape.reverts("market: zero amount"):
        market.supply_collateral(collateral.token, 0, borrower, sender=borrower)


def test_supply_collateral__zero_beneficiary__reverts(
    market, collateral, borrower, give_collateral
):
    give_collateral(collateral, borrower, collateral.unit)
    with ape.reverts("market: zero address"):
        market.supply_collateral(
            collateral.token, collateral.unit, ape.utils.ZERO_ADDRESS, sender=borrower
        )


def test_supply_collateral__unlisted_token__reverts(market, stablecoin, borrower, mint_stable):
    mint_stable(borrower, USD)
    stablecoin.approve(market, USD, sender=borrower)
    with ape.reverts("market: asset not listed"):
        market.supply_collateral(stablecoin, USD, borrower, sender=borrower)


def test_supply_collateral__up_to_the_cap__accepted_one_more_reverts(
    market, owner, collateral, borrower, borrower2, give_collateral
):
    """The cap bounds the total posted by everyone, not one position."""
    cap = 10 * collateral.unit
    market.set_asset_limits(collateral.token, cap, 0, 100 * 3_600, sender=owner)
    posted(collateral, borrower2, 4 * collateral.unit, give_collateral, market)
    give_collateral(collateral, borrower, 7 * collateral.unit)
    with ape.reverts("market: supply cap exceeded"):
        market.supply_collateral(
            collateral.token, cap - 4 * collateral.unit + 1, borrower, sender=borrower
        )
    market.supply_collateral(collateral.token, cap - 4 * collateral.unit, borrower, sender=borrower)
    assert market.asset_config(collateral.token).total_supplied == cap


def test_supply_collateral__amount_of_2_pow_120__reverts_not_raising_the_cap(
    market, owner, collaterals, borrower, mint_fund
):
    """The token word packs the total (120 bits) under the cap: an amount
    of 2**120 or more must not carry into the cap and slip past it."""
    fund_a = collaterals["fund_a"].token
    market.set_asset_limits(fund_a, 10**12, 0, 100 * 3_600, sender=owner)
    amount = 2**120 + 1
    mint_fund(fund_a, borrower, amount)
    fund_a.approve(market, amount, sender=borrower)
    with ape.reverts():
        market.supply_collateral(fund_a, amount, borrower, sender=borrower)
    assert market.asset_config(fund_a).supply_cap == 10**12


def test_supply_collateral__outsider_shares__the_fund_reverts(market, collateral, outsider):
    """An account the fund does not allowlist cannot post its shares: the
    market pulls them with transferFrom, which the fund refuses."""
    prefix = "fund" if collateral.name == "fund_a" else "wrapper"
    with ape.reverts(f"{prefix}: sender not allowlisted"):
        market.supply_collateral(collateral.token, collateral.unit, outsider, sender=outsider)


# ---- withdraw_collateral ----


def test_withdraw_collateral__no_debt__pays_receiver_and_logs(
    market, collateral, borrower, borrower2, give_collateral
):
    amount = posted(collateral, borrower, 2 * collateral.unit, give_collateral, market)
    part = amount // 4
    tx = market.withdraw_collateral(collateral.token, part, borrower, borrower2, sender=borrower)
    assert collateral.token.balanceOf(borrower2) == part
    assert market.collateral_of(borrower, collateral.token) == amount - part
    assert market.asset_config(collateral.token).total_supplied == amount - part
    assert (
        market.WithdrawCollateral(
            caller=borrower,
            on_behalf=borrower,
            token=collateral.token,
            receiver=borrower2,
            amount=part,
            collateral=amount - part,
        )
        in tx.events
    )


def test_withdraw_collateral__all__clears_the_bitmap_bit(
    market, collateral, borrower, give_collateral
):
    amount = posted(collateral, borrower, collateral.unit, give_collateral, market)
    market.withdraw_collateral(collateral.token, amount, borrower, borrower, sender=borrower)
    assert market.collateral_of(borrower, collateral.token) == 0
    assert market.position(borrower).assets_bitmap == 0
    assert collateral.token.balanceOf(borrower) == amount


def test_withdraw_collateral__more_than_posted__reverts(
    market, collateral, borrower, give_collateral
):
    amount = posted(collateral, borrower, collateral.unit, give_collateral, market)
    with ape.reverts("market: insufficient collateral"):
        market.withdraw_collateral(
            collateral.token, amount + 1, borrower, borrower, sender=borrower
        )


def test_withdraw_collateral__zero_amount_or_receiver__reverts(
    market, collateral, borrower, give_collateral
):
    posted(collateral, borrower, collateral.unit, give_collateral, market)
    with ape.reverts("market: zero amount"):
        market.withdraw_collateral(collateral.token, 0, borrower, borrower, sender=borrower)
    with ape.reverts("market: zero address"):
        market.withdraw_collateral(
            collateral.token, 1, borrower, ape.utils.ZERO_ADDRESS, sender=borrower
        )


def test_withdraw_collateral__unlisted_token__reverts(market, stablecoin, borrower):
    with ape.reverts("market: asset not listed"):
        market.withdraw_collateral(stablecoin, 1, borrower, borrower, sender=borrower)


def test_withdraw_collateral__to_outsider__refused_before_the_transfer(
    market, collateral, borrower, outsider, give_collateral
):
    """The market asks the asset's compliance source before it moves
    anything (the fund itself would refuse too, with its own reason)."""
    amount = posted(collateral, borrower, collateral.unit, give_collateral, market)
    with ape.reverts("market: receiver not compliant"):
        market.withdraw_collateral(collateral.token, amount, borrower, outsider, sender=borrower)


def test_withdraw_collateral__to_outsider_checks_off__the_fund_reverts(
    market, owner, collateral, borrower, outsider, give_collateral
):
    amount = posted(collateral, borrower, collateral.unit, give_collateral, market)
    market.set_asset_compliance(collateral.token, ZERO_ADDRESS, sender=owner)
    prefix = "fund" if collateral.name == "fund_a" else "wrapper"
    with ape.reverts(f"{prefix}: receiver not allowlisted"):
        market.withdraw_collateral(collateral.token, amount, borrower, outsider, sender=borrower)


def test_withdraw_collateral__with_debt__down_to_the_limit_only(
    market, owner, collateral, borrower, give_collateral, set_price, lend
):
    """Value x LTV (rounded down) must still cover the debt: the largest
    withdrawal that keeps it passes, one unit more reverts. (A flat 0 %
    curve keeps the debt exact.)"""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(100_000 * USD)
    set_price(collateral, BASE_PRICE[collateral.name])
    amount = posted(collateral, borrower, units(collateral, 10_000), give_collateral, market)
    debt = 5_000 * USD
    market.borrow(debt, borrower, borrower, sender=borrower)
    # Smallest balance b with floor(floor(b x p / 10^(d+2)) x 0.85) >= debt.
    scale = 10 ** (collateral.decimals + 2)
    value_needed = -(-debt * 10_000 // 8_500)
    keep = -(-value_needed * scale // BASE_PRICE[collateral.name])
    with ape.reverts("market: exceeds borrow limit"):
        market.withdraw_collateral(
            collateral.token, amount - keep + 1, borrower, borrower, sender=borrower
        )
    market.withdraw_collateral(collateral.token, amount - keep, borrower, borrower, sender=borrower)
    assert market.position(borrower).borrow_value >= debt
    assert market.collateral_of(borrower, collateral.token) == keep


def test_withdraw_collateral__for_another_account__needs_authorization(
    market, collateral, borrower, operator, give_collateral
):
    amount = posted(collateral, borrower, collateral.unit, give_collateral, market)
    with ape.reverts("market: not authorized"):
        market.withdraw_collateral(collateral.token, amount, borrower, operator, sender=operator)
    market.set_authorization(operator, True, sender=borrower)
    tx = market.withdraw_collateral(collateral.token, amount, borrower, operator, sender=operator)
    assert collateral.token.balanceOf(operator) == amount
    assert (
        market.WithdrawCollateral(caller=operator, on_behalf=borrower, receiver=operator)
        in tx.events
    )


# ---- positions with more than one asset ----


def test_position__two_assets__bitmap_and_value_cover_both(
    market, collaterals, borrower, give_collateral, set_price
):
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    set_price(fund_a, BASE_PRICE["fund_a"])
    set_price(wrapper, BASE_PRICE["wrapper"])
    posted(fund_a, borrower, units(fund_a, 3_000), give_collateral, market)
    posted(wrapper, borrower, units(wrapper, 7_000), give_collateral, market)
    position = market.position(borrower)
    assert position.assets_bitmap == BIT["fund_a"] | BIT["wrapper"]
    assert position.borrow_value == 10_000 * USD * 85 // 100
    assert position.liquidation_value == 10_000 * USD * 90 // 100


def test_withdraw_collateral__other_asset_covers_the_debt__empties_one_asset(
    market, collaterals, borrower, give_collateral, set_price, lend
):
    """A withdrawal is checked against the whole position: an asset can be
    taken out entirely while the other covers the debt, but not when it
    does not."""
    fund_a, wrapper = collaterals["fund_a"], collaterals["wrapper"]
    lend(100_000 * USD)
    set_price(fund_a, BASE_PRICE["fund_a"])
    set_price(wrapper, BASE_PRICE["wrapper"])
    a = posted(fund_a, borrower, units(fund_a, 3_000), give_collateral, market)
    w = posted(wrapper, borrower, units(wrapper, 7_000), give_collateral, market)
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    with ape.reverts("market: exceeds borrow limit"):
        market.withdraw_collateral(wrapper.token, w, borrower, borrower, sender=borrower)
    market.withdraw_collateral(fund_a.token, a, borrower, borrower, sender=borrower)
    position = market.position(borrower)
    assert position.assets_bitmap == BIT["wrapper"]
    assert position.borrow_value == 7_000 * USD * 85 // 100
