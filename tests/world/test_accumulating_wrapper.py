"""AccumulatingWrapper: ERC-4626 surface, dividend accrual through
harvest + linear unlock, donation resistance (no atomic move of
convertToAssets), losses, the inflation attack, and compliance of wrapper
shares with the fund's allowlist."""

import ape
import pytest

from navlend.timeutil import HOUR

ONE = 10**18
DAY = 86_400


@pytest.fixture(scope="session")
def deposited(wrapper, fund_b, mint_fund):
    """``deposited(account, amount)``: issuer-mints fund B to ``account``,
    which deposits it into the wrapper for itself. Returns the shares."""

    def make(account, amount: int) -> int:
        mint_fund(fund_b, account, amount)
        fund_b.approve(wrapper, amount, sender=account)
        before = wrapper.balanceOf(account)
        wrapper.deposit(amount, account, sender=account)
        return wrapper.balanceOf(account) - before

    return make


def _rate(wrapper) -> int:
    return wrapper.convertToAssets(ONE)


# ---- metadata ----


def test_metadata__asset_decimals_and_defaults(wrapper, fund_b):
    assert wrapper.asset() == fund_b.address
    assert wrapper.decimals() == 18
    assert wrapper.symbol() == "aDLFB"
    assert wrapper.unlock_period() == DAY
    assert wrapper.totalAssets() == 0
    assert _rate(wrapper) == ONE


# ---- deposit / mint ----


def test_deposit__first_deposit__mints_one_to_one(wrapper, fund_b, lender, borrower, mint_fund):
    mint_fund(fund_b, lender, 100 * ONE)
    fund_b.approve(wrapper, 100 * ONE, sender=lender)
    assert wrapper.previewDeposit(100 * ONE) == 100 * ONE
    tx = wrapper.deposit(100 * ONE, borrower, sender=lender)
    assert wrapper.balanceOf(borrower) == 100 * ONE
    assert wrapper.totalAssets() == wrapper.tracked_assets() == 100 * ONE
    assert (
        wrapper.Deposit(sender=lender, owner=borrower, assets=100 * ONE, shares=100 * ONE)
        in tx.events
    )


def test_deposit__receiver_not_allowlisted__reverts(wrapper, fund_b, lender, outsider, mint_fund):
    mint_fund(fund_b, lender, ONE)
    fund_b.approve(wrapper, ONE, sender=lender)
    assert wrapper.maxDeposit(outsider) == 0
    with ape.reverts("wrapper: receiver not allowlisted"):
        wrapper.deposit(ONE, outsider, sender=lender)


def test_deposit__caller_frozen__reverts(wrapper, fund_b, deployer, lender, mint_fund):
    mint_fund(fund_b, lender, ONE)
    fund_b.approve(wrapper, ONE, sender=lender)
    fund_b.freeze(lender, sender=deployer)
    with ape.reverts("wrapper: sender frozen"):
        wrapper.deposit(ONE, lender, sender=lender)


def test_deposit__fund_paused__reverts(wrapper, fund_b, deployer, lender, mint_fund):
    mint_fund(fund_b, lender, ONE)
    fund_b.approve(wrapper, ONE, sender=lender)
    fund_b.pause(sender=deployer)
    assert wrapper.maxDeposit(lender) == 0
    assert wrapper.maxMint(lender) == 0
    with ape.reverts("wrapper: fund paused"):
        wrapper.deposit(ONE, lender, sender=lender)


def test_deposit__zero__reverts(wrapper, lender):
    with ape.reverts("wrapper: zero amount"):
        wrapper.deposit(0, lender, sender=lender)


def test_max_deposit__compliant__unlimited(wrapper, lender):
    assert wrapper.maxDeposit(lender) == 2**256 - 1
    assert wrapper.maxMint(lender) == 2**256 - 1


def test_mint__after_accrual__pulls_assets_rounded_up(
    wrapper, fund_b, deployer, lender, borrower, deposited, advance
):
    deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [7 * ONE], sender=deployer)
    wrapper.harvest(sender=borrower)
    advance(DAY)
    assets = wrapper.previewMint(ONE)
    assert assets == wrapper.convertToAssets(ONE) + 1  # rounded up, the vault's favour
    fund_b.mint(borrower, assets, sender=deployer)
    fund_b.approve(wrapper, assets, sender=borrower)
    tx = wrapper.mint(ONE, borrower, sender=borrower)
    assert wrapper.balanceOf(borrower) == ONE
    assert fund_b.balanceOf(borrower) == 0
    assert wrapper.Deposit(sender=borrower, owner=borrower, assets=assets, shares=ONE) in tx.events


def test_mint__receiver_not_allowlisted__reverts(wrapper, lender, outsider):
    with ape.reverts("wrapper: receiver not allowlisted"):
        wrapper.mint(ONE, outsider, sender=lender)


# ---- withdraw / redeem ----


def test_withdraw__owner__burns_shares_rounded_up(
    wrapper, fund_b, deployer, lender, borrower, deposited, advance
):
    deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [3 * ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    advance(DAY)
    shares = wrapper.previewWithdraw(100 * ONE)
    assert shares == wrapper.convertToShares(100 * ONE) + 1
    tx = wrapper.withdraw(100 * ONE, borrower, lender, sender=lender)
    assert fund_b.balanceOf(borrower) == 100 * ONE
    assert (
        wrapper.Withdraw(
            sender=lender, receiver=borrower, owner=lender, assets=100 * ONE, shares=shares
        )
        in tx.events
    )


def test_withdraw__third_party__spends_allowance(wrapper, fund_b, lender, liquidator, deposited):
    deposited(lender, 10 * ONE)
    wrapper.approve(liquidator, 10 * ONE, sender=lender)
    wrapper.withdraw(4 * ONE, liquidator, lender, sender=liquidator)
    assert fund_b.balanceOf(liquidator) == 4 * ONE
    assert wrapper.allowance(lender, liquidator) == 6 * ONE


def test_withdraw__third_party_without_allowance__reverts(wrapper, lender, liquidator, deposited):
    deposited(lender, 10 * ONE)
    with ape.reverts("erc20: insufficient allowance"):
        wrapper.withdraw(ONE, liquidator, lender, sender=liquidator)


def test_withdraw__spender_frozen__reverts(
    wrapper, fund_b, deployer, lender, liquidator, deposited
):
    deposited(lender, 10 * ONE)
    wrapper.approve(liquidator, 10 * ONE, sender=lender)
    fund_b.freeze(liquidator, sender=deployer)
    with ape.reverts("wrapper: spender frozen"):
        wrapper.withdraw(ONE, lender, lender, sender=liquidator)


def test_withdraw__receiver_not_allowlisted__reverts(wrapper, lender, outsider, deposited):
    deposited(lender, 10 * ONE)
    with ape.reverts("wrapper: receiver not allowlisted"):
        wrapper.withdraw(ONE, outsider, lender, sender=lender)


def test_withdraw__more_than_owned__reverts(wrapper, lender, deposited):
    deposited(lender, 10 * ONE)
    with ape.reverts("wrapper: insufficient shares"):
        wrapper.withdraw(11 * ONE, lender, lender, sender=lender)


def test_redeem__owner__pays_assets_rounded_down(
    wrapper, fund_b, deployer, lender, deposited, advance
):
    shares = deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    advance(DAY)
    assets = wrapper.previewRedeem(shares)
    assert assets == wrapper.maxWithdraw(lender)
    tx = wrapper.redeem(shares, lender, lender, sender=lender)
    assert fund_b.balanceOf(lender) == assets
    assert 1_009 * ONE < assets <= 1_010 * ONE
    assert (
        wrapper.Withdraw(sender=lender, receiver=lender, owner=lender, assets=assets, shares=shares)
        in tx.events
    )


def test_redeem__dust_worth_nothing__reverts(wrapper, fund_b, deployer, lender, deposited, advance):
    deposited(lender, ONE)
    fund_b.distribute([wrapper], [ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    advance(DAY)
    with ape.reverts("wrapper: zero amount"):
        wrapper.redeem(0, lender, lender, sender=lender)


def test_redeem__fund_paused__reverts_and_max_zero(wrapper, fund_b, deployer, lender, deposited):
    deposited(lender, ONE)
    fund_b.pause(sender=deployer)
    assert wrapper.maxRedeem(lender) == 0
    assert wrapper.maxWithdraw(lender) == 0
    with ape.reverts("wrapper: fund paused"):
        wrapper.redeem(ONE, lender, lender, sender=lender)


def test_max_redeem__compliant_holder__whole_balance(wrapper, lender, outsider, deposited):
    shares = deposited(lender, 5 * ONE)
    assert wrapper.maxRedeem(lender) == shares
    assert wrapper.maxRedeem(outsider) == 0


# ---- accrual ----


def test_harvest__dividend__released_linearly_over_a_day(
    wrapper, fund_b, deployer, lender, attacker, deposited, advance
):
    deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    assert wrapper.pending_harvest() == 10 * ONE
    assert _rate(wrapper) == ONE  # not counted before harvest

    tx = wrapper.harvest(sender=attacker)  # permissionless
    assert (
        wrapper.Harvested(
            profit=10 * ONE, loss=0, locked_profit=10 * ONE, unlock_end=tx.timestamp + DAY
        )
        in tx.events
    )
    assert _rate(wrapper) == ONE  # same block: no jump
    assert wrapper.locked_profit() == 10 * ONE
    assert wrapper.unlock_end() == tx.timestamp + DAY

    rates = []
    for _ in range(4):
        advance(DAY // 4)
        rates.append(_rate(wrapper))
    assert rates == sorted(rates) and len(set(rates)) == 4  # strictly rising
    assert wrapper.totalAssets() == 1_010 * ONE
    assert wrapper.locked_profit() == 0
    assert abs(wrapper.convertToAssets(1_000 * ONE) - 1_010 * ONE) <= 1


def test_harvest__half_way__half_released(wrapper, fund_b, deployer, lender, deposited, chain):
    deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    tx = wrapper.harvest(sender=lender)
    chain.mine(1, timestamp=tx.timestamp + DAY // 2)
    assert wrapper.totalAssets() == 1_005 * ONE
    assert wrapper.locked_profit() == 5 * ONE


def test_harvest__second_profit__blends_unlock_end(
    wrapper, fund_b, deployer, lender, deposited, chain
):
    deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    first = wrapper.harvest(sender=lender)
    chain.pending_timestamp = first.timestamp + 12 * HOUR - 1
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    chain.pending_timestamp = first.timestamp + 12 * HOUR
    second = wrapper.harvest(sender=lender)
    assert second.timestamp == first.timestamp + 12 * HOUR
    # 5 left for 12 h and 10 new for 24 h: weighted end = (5*12 + 10*24) / 15 = 20 h.
    assert wrapper.unlock_end() == second.timestamp + 20 * HOUR
    assert wrapper.locked_profit() == 15 * ONE
    assert wrapper.totalAssets() == 1_005 * ONE


def test_harvest__nothing_new__keeps_schedule(wrapper, lender, deposited):
    deposited(lender, ONE)
    tx = wrapper.harvest(sender=lender)
    assert wrapper.Harvested(profit=0, loss=0, locked_profit=0) in tx.events
    assert wrapper.totalAssets() == ONE


# ---- donations ----


def test_donation__without_harvest__never_counts(
    wrapper, fund_b, lender, attacker, deposited, mint_fund, advance
):
    deposited(lender, 1_000 * ONE)
    before = _rate(wrapper)
    mint_fund(fund_b, attacker, 1_000_000 * ONE)
    fund_b.transfer(wrapper, 1_000_000 * ONE, sender=attacker)
    assert _rate(wrapper) == before
    advance(7 * DAY)
    assert _rate(wrapper) == before
    assert wrapper.pending_harvest() == 1_000_000 * ONE


def test_donation__with_harvest__moves_convert_to_assets_by_zero_in_the_block(
    wrapper, wrapper_oracle, fund_b, lender, attacker, deposited, mint_fund, advance
):
    """sDOLA / LlamaLend (March 2026): a donation must not raise the
    wrapper's price atomically."""
    deposited(lender, 1_000 * ONE)
    rate_before = _rate(wrapper)
    price_before = wrapper_oracle.latestRoundData()[1]
    mint_fund(fund_b, attacker, 1_000_000 * ONE)
    fund_b.transfer(wrapper, 1_000_000 * ONE, sender=attacker)
    wrapper.harvest(sender=attacker)
    assert _rate(wrapper) == rate_before
    assert wrapper_oracle.latestRoundData()[1] == price_before
    # Thereafter the price can only drift: at most 1/86_400 of the
    # donation per second (here, one block of about a minute).
    advance(60)
    drift = _rate(wrapper) - rate_before
    assert 0 < drift <= 1_000 * ONE * 60 // DAY


# ---- losses ----


def test_harvest__issuer_burn__loss_hits_price(wrapper, fund_b, deployer, lender, deposited):
    deposited(lender, 1_000 * ONE)
    fund_b.burn(wrapper, 100 * ONE, sender=deployer)
    tx = wrapper.harvest(sender=lender)
    assert wrapper.Harvested(profit=0, loss=100 * ONE) in tx.events
    assert wrapper.totalAssets() == 900 * ONE
    assert _rate(wrapper) < ONE


def test_harvest__loss__absorbed_by_locked_profit_first(
    wrapper, fund_b, deployer, lender, deposited
):
    deposited(lender, 1_000 * ONE)
    fund_b.distribute([wrapper], [10 * ONE], sender=deployer)
    wrapper.harvest(sender=lender)
    fund_b.burn(wrapper, 4 * ONE, sender=deployer)
    tx = wrapper.harvest(sender=lender)
    assert wrapper.Harvested(profit=0, loss=4 * ONE) in tx.events
    # Unchanged but for the seconds of unlocking since the first harvest.
    assert 1_000 * ONE <= wrapper.totalAssets() < 1_000 * ONE + ONE // 1_000
    assert 5 * ONE < wrapper.locked_profit() <= 6 * ONE


# ---- inflation attack ----


def test_inflation_attack__first_depositor_donation__unprofitable(
    wrapper, fund_b, lender, attacker, mint_fund, deposited, advance
):
    attacker_shares = deposited(attacker, 1)
    mint_fund(fund_b, attacker, 10_000 * ONE)
    fund_b.transfer(wrapper, 10_000 * ONE, sender=attacker)
    wrapper.harvest(sender=attacker)
    advance(DAY)
    # A victim deposit worth less than one share now reverts instead of
    # minting nothing.
    mint_fund(fund_b, lender, 4_000 * ONE)
    fund_b.approve(wrapper, 4_000 * ONE, sender=lender)
    with ape.reverts("wrapper: zero amount"):
        wrapper.deposit(4_000 * ONE, lender, sender=lender)
    # A larger one loses to rounding, but the attacker loses more.
    victim_shares = deposited(lender, 20_000 * ONE)
    assert victim_shares > 0
    attacker_value = wrapper.previewRedeem(attacker_shares)
    victim_loss = 20_000 * ONE - wrapper.previewRedeem(victim_shares)
    attacker_loss = 10_000 * ONE + 1 - attacker_value
    assert attacker_loss > victim_loss


# ---- compliance of wrapper shares ----


def test_transfer__compliant_parties__moves_shares(wrapper, lender, borrower, deposited):
    deposited(lender, 10 * ONE)
    tx = wrapper.transfer(borrower, 3 * ONE, sender=lender)
    assert wrapper.balanceOf(borrower) == 3 * ONE
    assert wrapper.Transfer(sender=lender, receiver=borrower, value=3 * ONE) in tx.events


def test_transfer__outsider_receiver__reverts(wrapper, lender, outsider, deposited):
    deposited(lender, 10 * ONE)
    with ape.reverts("wrapper: receiver not allowlisted"):
        wrapper.transfer(outsider, ONE, sender=lender)


@pytest.mark.parametrize("party", ["sender", "receiver"])
def test_transfer__party_frozen__reverts(
    wrapper, fund_b, deployer, lender, borrower, deposited, party
):
    deposited(lender, 10 * ONE)
    fund_b.freeze(lender if party == "sender" else borrower, sender=deployer)
    with ape.reverts(f"wrapper: {party} frozen"):
        wrapper.transfer(borrower, ONE, sender=lender)


def test_transfer__delisted_sender__reverts(wrapper, fund_b, deployer, lender, borrower, deposited):
    deposited(lender, 10 * ONE)
    fund_b.set_allowlisted(lender, False, sender=deployer)
    with ape.reverts("wrapper: sender not allowlisted"):
        wrapper.transfer(borrower, ONE, sender=lender)


def test_transfer__fund_paused__reverts(wrapper, fund_b, deployer, lender, borrower, deposited):
    deposited(lender, 10 * ONE)
    fund_b.pause(sender=deployer)
    with ape.reverts("wrapper: fund paused"):
        wrapper.transfer(borrower, ONE, sender=lender)


def test_transfer_from__compliant_spender__moves_shares(
    wrapper, lender, borrower, liquidator, deposited
):
    deposited(lender, 10 * ONE)
    wrapper.approve(liquidator, 5 * ONE, sender=lender)
    wrapper.transferFrom(lender, borrower, 5 * ONE, sender=liquidator)
    assert wrapper.balanceOf(borrower) == 5 * ONE
    assert wrapper.allowance(lender, liquidator) == 0


@pytest.mark.parametrize("problem", ["not allowlisted", "frozen"])
def test_transfer_from__spender_not_compliant__reverts(
    wrapper, fund_b, deployer, lender, borrower, liquidator, deposited, problem
):
    deposited(lender, 10 * ONE)
    wrapper.approve(liquidator, 5 * ONE, sender=lender)
    if problem == "frozen":
        fund_b.freeze(liquidator, sender=deployer)
    else:
        fund_b.set_allowlisted(liquidator, False, sender=deployer)
    with ape.reverts(f"wrapper: spender {problem}"):
        wrapper.transferFrom(lender, borrower, ONE, sender=liquidator)


# ---- admin ----


def test_set_unlock_period__owner__changes_future_unlocks(
    wrapper, fund_b, deployer, lender, deposited
):
    tx = wrapper.set_unlock_period(HOUR, sender=deployer)
    assert wrapper.UnlockPeriodChanged(previous_period=DAY, new_period=HOUR) in tx.events
    deposited(lender, ONE)
    fund_b.distribute([wrapper], [ONE], sender=deployer)
    harvest = wrapper.harvest(sender=lender)
    assert wrapper.unlock_end() == harvest.timestamp + HOUR
