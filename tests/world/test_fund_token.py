"""FundToken: allowlist x freeze x pause on every party, issuance and
redemption burns, dividends in both value models, issuer powers, decimals
6 and 18 (the ``fund`` fixture runs each test on both funds)."""

import ape
import pytest

from devkit.world import NAV_ACCRUING, STABLE_DIVIDEND

PROBLEMS = ("not_allowlisted", "frozen")
REASON = {"not_allowlisted": "not allowlisted", "frozen": "frozen"}


def _spoil(fund, account, problem, issuer):
    """Makes ``account`` fail the compliance check with ``problem``."""
    if problem == "not_allowlisted":
        fund.set_allowlisted(account, False, sender=issuer)
    else:
        fund.freeze(account, sender=issuer)


# ---- metadata ----


def test_metadata__decimals_and_value_model(world):
    assert (world.fund_a.decimals(), world.fund_a.value_model()) == (6, NAV_ACCRUING)
    assert (world.fund_b.decimals(), world.fund_b.value_model()) == (18, STABLE_DIVIDEND)
    assert world.fund_a.symbol() == "TBFA"
    assert world.fund_b.name() == "Dollar Fund B (local)"


def test_constructor__bad_value_model__reverts(project, spare):
    with ape.reverts("fund: bad value model"):
        spare.deploy(project.FundToken, "X", "X", 6, 2)


def test_constructor__deployer__is_owner_not_minter(fund, deployer):
    assert fund.owner() == deployer.address
    assert not fund.is_minter(deployer)


# ---- transfer ----


def test_transfer__compliant_parties__moves_shares(fund, one, lender, borrower, mint_fund):
    mint_fund(fund, lender, 3 * one)
    tx = fund.transfer(borrower, one, sender=lender)
    assert fund.balanceOf(lender) == 2 * one
    assert fund.balanceOf(borrower) == one
    assert fund.Transfer(sender=lender, receiver=borrower, value=one) in tx.events


@pytest.mark.parametrize("party", ["sender", "receiver"])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_transfer__party_not_compliant__reverts(
    fund, one, issuer, lender, borrower, mint_fund, party, problem
):
    mint_fund(fund, lender, one)
    _spoil(fund, lender if party == "sender" else borrower, problem, issuer)
    with ape.reverts(f"fund: {party} {REASON[problem]}"):
        fund.transfer(borrower, one, sender=lender)


def test_transfer__outsider_receiver__reverts(fund, one, lender, outsider, mint_fund):
    mint_fund(fund, lender, one)
    with ape.reverts("fund: receiver not allowlisted"):
        fund.transfer(outsider, one, sender=lender)


def test_transfer__paused__reverts(fund, one, issuer, lender, borrower, mint_fund):
    mint_fund(fund, lender, one)
    fund.pause(sender=issuer)
    with ape.reverts("fund: paused"):
        fund.transfer(borrower, one, sender=lender)


def test_transfer__after_unfreeze__works_again(fund, one, issuer, lender, borrower, mint_fund):
    mint_fund(fund, lender, one)
    fund.freeze(lender, sender=issuer)
    fund.unfreeze(lender, sender=issuer)
    fund.transfer(borrower, one, sender=lender)
    assert fund.balanceOf(borrower) == one


# ---- transferFrom ----


def test_transfer_from__compliant_spender__moves_and_spends_allowance(
    fund, one, lender, borrower, liquidator, mint_fund
):
    mint_fund(fund, lender, 2 * one)
    fund.approve(liquidator, 2 * one, sender=lender)
    tx = fund.transferFrom(lender, borrower, one, sender=liquidator)
    assert fund.balanceOf(borrower) == one
    assert fund.allowance(lender, liquidator) == one
    assert fund.Transfer(sender=lender, receiver=borrower, value=one) in tx.events


@pytest.mark.parametrize("party", ["sender", "receiver", "spender"])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_transfer_from__party_not_compliant__reverts(
    fund, one, issuer, lender, borrower, liquidator, mint_fund, party, problem
):
    mint_fund(fund, lender, one)
    fund.approve(liquidator, one, sender=lender)
    assert fund.can_transfer(lender, borrower, liquidator)
    _spoil(
        fund,
        {"sender": lender, "receiver": borrower, "spender": liquidator}[party],
        problem,
        issuer,
    )
    assert not fund.can_transfer(lender, borrower, liquidator)
    with ape.reverts(f"fund: {party} {REASON[problem]}"):
        fund.transferFrom(lender, borrower, one, sender=liquidator)


def test_transfer_from__paused__reverts(fund, one, issuer, lender, borrower, liquidator, mint_fund):
    mint_fund(fund, lender, one)
    fund.approve(liquidator, one, sender=lender)
    fund.pause(sender=issuer)
    with ape.reverts("fund: paused"):
        fund.transferFrom(lender, borrower, one, sender=liquidator)


def test_transfer_from__no_allowance__reverts(fund, one, lender, borrower, liquidator, mint_fund):
    mint_fund(fund, lender, one)
    with ape.reverts("erc20: insufficient allowance"):
        fund.transferFrom(lender, borrower, one, sender=liquidator)


# ---- approve ----


def test_approve__compliant__sets_allowance(fund, lender, liquidator):
    tx = fund.approve(liquidator, 123, sender=lender)
    assert fund.allowance(lender, liquidator) == 123
    assert fund.Approval(owner=lender, spender=liquidator, value=123) in tx.events


def test_approve__outsider_spender__reverts(fund, lender, outsider):
    with ape.reverts("fund: spender not allowlisted"):
        fund.approve(outsider, 1, sender=lender)


def test_approve__frozen_caller__reverts(fund, issuer, lender, liquidator):
    fund.freeze(lender, sender=issuer)
    with ape.reverts("fund: sender frozen"):
        fund.approve(liquidator, 1, sender=lender)


def test_approve__zero_while_frozen_and_paused__revokes(fund, issuer, lender, liquidator):
    fund.approve(liquidator, 5, sender=lender)
    fund.freeze(liquidator, sender=issuer)
    fund.pause(sender=issuer)
    fund.approve(liquidator, 0, sender=lender)
    assert fund.allowance(lender, liquidator) == 0


# ---- can_transfer ----


def test_can_transfer__paused__false(fund_a, issuer, lender, borrower):
    fund_a.pause(sender=issuer)
    assert not fund_a.can_transfer(lender, borrower, lender)


def test_can_transfer__direct_transfer__ignores_spender_role(fund, lender, borrower, outsider):
    assert fund.can_transfer(lender, borrower, lender)
    assert fund.can_transfer(lender, borrower, "0x0000000000000000000000000000000000000000")
    assert not fund.can_transfer(lender, borrower, outsider)


def test_compliance_views__flags_are_independent(fund, issuer, lender, outsider):
    fund.freeze(lender, sender=issuer)
    assert fund.is_allowlisted(lender) and fund.is_frozen(lender)
    fund.set_allowlisted(lender, False, sender=issuer)
    assert not fund.is_allowlisted(lender) and fund.is_frozen(lender)
    assert not fund.is_allowlisted(outsider) and not fund.is_frozen(outsider)


# ---- mint / burn_redeemed ----


def test_mint__by_minter__issues_shares(fund, one, issuer, liquidator, lender):
    fund.set_minter(liquidator, True, sender=issuer)
    tx = fund.mint(lender, one, sender=liquidator)
    assert fund.balanceOf(lender) == one
    assert fund.totalSupply() == one
    assert fund.Transfer(receiver=lender, value=one) in tx.events


def test_mint__by_issuer__issues_shares(fund, one, issuer, lender):
    fund.mint(lender, one, sender=issuer)
    assert fund.balanceOf(lender) == one


@pytest.mark.parametrize("problem", PROBLEMS)
def test_mint__receiver_not_compliant__reverts(fund, issuer, lender, problem):
    _spoil(fund, lender, problem, issuer)
    with ape.reverts(f"fund: receiver {REASON[problem]}"):
        fund.mint(lender, 1, sender=issuer)


def test_mint__paused__reverts(fund, issuer, lender):
    fund.pause(sender=issuer)
    with ape.reverts("fund: paused"):
        fund.mint(lender, 1, sender=issuer)


def test_mint__zero__reverts(fund, issuer, lender):
    with ape.reverts("fund: zero amount"):
        fund.mint(lender, 0, sender=issuer)


def test_burn_redeemed__minter__burns_own_shares(fund, one, issuer, liquidator, mint_fund):
    fund.set_minter(liquidator, True, sender=issuer)
    mint_fund(fund, liquidator, 2 * one)
    tx = fund.burn_redeemed(one, sender=liquidator)
    assert fund.balanceOf(liquidator) == one
    assert fund.totalSupply() == one
    assert fund.Transfer(sender=liquidator, receiver=ape.utils.ZERO_ADDRESS, value=one) in tx.events


def test_burn_redeemed__paused__reverts(fund, one, issuer, liquidator, mint_fund):
    fund.set_minter(liquidator, True, sender=issuer)
    mint_fund(fund, liquidator, one)
    fund.pause(sender=issuer)
    with ape.reverts("fund: paused"):
        fund.burn_redeemed(one, sender=liquidator)


def test_burn_redeemed__zero__reverts(fund, issuer, liquidator):
    fund.set_minter(liquidator, True, sender=issuer)
    with ape.reverts("fund: zero amount"):
        fund.burn_redeemed(0, sender=liquidator)


# ---- set_minter ----


def test_set_minter__owner__grants_and_revokes(fund_a, issuer, liquidator):
    tx = fund_a.set_minter(liquidator, True, sender=issuer)
    assert fund_a.is_minter(liquidator)
    assert fund_a.RoleMinterChanged(minter=liquidator, status=True) in tx.events
    fund_a.set_minter(liquidator, False, sender=issuer)
    assert not fund_a.is_minter(liquidator)


# ---- distribute ----


def test_distribute__dividend_fund__mints_to_holders(fund_b, issuer, lender, borrower, mint_fund):
    mint_fund(fund_b, lender, 100 * 10**18)
    tx = fund_b.distribute([lender, borrower], [3 * 10**17, 10**17], sender=issuer)
    assert fund_b.balanceOf(lender) == 100 * 10**18 + 3 * 10**17
    assert fund_b.balanceOf(borrower) == 10**17
    assert fund_b.DividendsDistributed(holders=2, total=4 * 10**17) in tx.events
    assert fund_b.Transfer(receiver=borrower, value=10**17) in tx.events


def test_distribute__nav_fund__reverts(fund_a, issuer, lender):
    with ape.reverts("fund: not a dividend fund"):
        fund_a.distribute([lender], [1], sender=issuer)


def test_distribute__length_mismatch__reverts(fund_b, issuer, lender, borrower):
    with ape.reverts("fund: length mismatch"):
        fund_b.distribute([lender, borrower], [1], sender=issuer)


def test_distribute__empty__reverts(fund_b, issuer):
    with ape.reverts("fund: empty distribution"):
        fund_b.distribute([], [], sender=issuer)


def test_distribute__frozen_holder__reverts_whole_batch(fund_b, issuer, lender, borrower):
    fund_b.freeze(borrower, sender=issuer)
    with ape.reverts("fund: receiver frozen"):
        fund_b.distribute([lender, borrower], [1, 1], sender=issuer)
    assert fund_b.balanceOf(lender) == 0


def test_distribute__zero_amount__reverts(fund_b, issuer, lender):
    with ape.reverts("fund: zero amount"):
        fund_b.distribute([lender], [0], sender=issuer)


def test_distribute__paused__reverts(fund_b, issuer, lender):
    fund_b.pause(sender=issuer)
    with ape.reverts("fund: paused"):
        fund_b.distribute([lender], [1], sender=issuer)


# ---- allowlist administration ----


def test_set_allowlisted__owner__admits_account(fund_a, issuer, outsider):
    tx = fund_a.set_allowlisted(outsider, True, sender=issuer)
    assert fund_a.is_allowlisted(outsider)
    assert fund_a.AllowlistUpdated(account=outsider, allowed=True) in tx.events


def test_set_allowlisted__manager__admits_account(fund_a, issuer, guardian, outsider):
    tx = fund_a.set_allowlist_manager(guardian, sender=issuer)
    assert fund_a.AllowlistManagerChanged(new_manager=guardian) in tx.events
    assert fund_a.allowlist_manager() == guardian.address
    fund_a.set_allowlisted(outsider, True, sender=guardian)
    assert fund_a.is_allowlisted(outsider)


def test_set_allowlisted__delist__keeps_freeze(fund_a, issuer, lender):
    fund_a.freeze(lender, sender=issuer)
    fund_a.set_allowlisted(lender, False, sender=issuer)
    fund_a.set_allowlisted(lender, True, sender=issuer)
    assert fund_a.is_frozen(lender)


def test_set_allowlisted_batch__owner__admits_all(fund_a, issuer, outsider, treasury):
    tx = fund_a.set_allowlisted_batch([outsider, treasury], True, sender=issuer)
    assert fund_a.is_allowlisted(outsider) and fund_a.is_allowlisted(treasury)
    assert len(tx.decode_logs(fund_a.AllowlistUpdated)) == 2


def test_set_allowlisted_batch__empty__reverts(fund_a, issuer):
    with ape.reverts("fund: empty batch"):
        fund_a.set_allowlisted_batch([], True, sender=issuer)


def test_allowlist_manager__cannot_freeze(fund_a, issuer, guardian, lender):
    fund_a.set_allowlist_manager(guardian, sender=issuer)
    with ape.reverts("ownable: caller is not the owner"):
        fund_a.freeze(lender, sender=guardian)


# ---- freeze ----


def test_freeze__owner__freezes_and_logs(fund_a, issuer, lender):
    tx = fund_a.freeze(lender, sender=issuer)
    assert fund_a.is_frozen(lender)
    assert fund_a.FreezeUpdated(account=lender, frozen=True) in tx.events


def test_freeze__already_frozen__reverts(fund_a, issuer, lender):
    fund_a.freeze(lender, sender=issuer)
    with ape.reverts("fund: already frozen"):
        fund_a.freeze(lender, sender=issuer)


def test_unfreeze__owner__unfreezes_and_logs(fund_a, issuer, lender):
    fund_a.freeze(lender, sender=issuer)
    tx = fund_a.unfreeze(lender, sender=issuer)
    assert not fund_a.is_frozen(lender)
    assert fund_a.FreezeUpdated(account=lender, frozen=False) in tx.events


def test_unfreeze__not_frozen__reverts(fund_a, issuer, lender):
    with ape.reverts("fund: not frozen"):
        fund_a.unfreeze(lender, sender=issuer)


# ---- pause ----


def test_pause__owner__pauses_and_logs(fund_a, issuer):
    tx = fund_a.pause(sender=issuer)
    assert fund_a.paused()
    assert fund_a.Paused(account=issuer) in tx.events
    tx = fund_a.unpause(sender=issuer)
    assert not fund_a.paused()
    assert fund_a.Unpaused(account=issuer) in tx.events


def test_unpause__not_paused__reverts(fund_a, issuer):
    with ape.reverts("pausable: contract is not paused"):
        fund_a.unpause(sender=issuer)


# ---- seize / burn ----


def test_seize__frozen_source_while_paused__moves_shares(
    fund, one, issuer, lender, borrower, mint_fund
):
    mint_fund(fund, lender, 2 * one)
    fund.freeze(lender, sender=issuer)
    fund.pause(sender=issuer)
    tx = fund.seize(lender, borrower, one, sender=issuer)
    assert fund.balanceOf(lender) == one
    assert fund.balanceOf(borrower) == one
    assert fund.Seized(source=lender, receiver=borrower, amount=one) in tx.events
    assert fund.Transfer(sender=lender, receiver=borrower, value=one) in tx.events


def test_seize__receiver_not_allowlisted__reverts(fund, one, issuer, lender, outsider, mint_fund):
    mint_fund(fund, lender, one)
    with ape.reverts("fund: receiver not allowlisted"):
        fund.seize(lender, outsider, one, sender=issuer)


def test_seize__zero__reverts(fund, issuer, lender, borrower):
    with ape.reverts("fund: zero amount"):
        fund.seize(lender, borrower, 0, sender=issuer)


def test_burn__issuer_while_paused__reduces_shares(fund, one, issuer, lender, mint_fund):
    mint_fund(fund, lender, 2 * one)
    fund.freeze(lender, sender=issuer)
    fund.pause(sender=issuer)
    tx = fund.burn(lender, one, sender=issuer)
    assert fund.balanceOf(lender) == one
    assert fund.totalSupply() == one
    assert fund.AdminBurned(account=lender, amount=one) in tx.events


def test_burn__more_than_balance__reverts(fund, one, issuer, lender, mint_fund):
    mint_fund(fund, lender, one)
    with ape.reverts("erc20: burn amount exceeds balance"):
        fund.burn(lender, one + 1, sender=issuer)


# ---- ownership ----


def test_transfer_ownership__two_step__new_owner_runs_admin(fund_a, issuer, guardian, lender):
    fund_a.transfer_ownership(guardian, sender=issuer)
    assert fund_a.owner() == issuer.address
    fund_a.accept_ownership(sender=guardian)
    assert fund_a.owner() == guardian.address
    fund_a.freeze(lender, sender=guardian)
    with ape.reverts("ownable: caller is not the owner"):
        fund_a.pause(sender=issuer)


def test_accept_ownership__not_pending__reverts(fund_a, attacker):
    with ape.reverts("ownable_2step: caller is not the new owner"):
        fund_a.accept_ownership(sender=attacker)
