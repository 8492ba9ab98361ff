"""The pause matrix: each guarded action stops alone when its bit is set,
repayment never stops, the ERC-4626 and ERC-3156 max views follow the
bits, and only the owner touches liquidation (with a grace period on the
way back).

One module-scoped scene has every action ready to run at once: a lender
with shares and spare cash, a healthy borrower on fund C, an unhealthy
borrower on fund A, a funded liquidator and a flash borrower.
"""

from dataclasses import dataclass
from typing import Any, Callable

import ape
import pytest

from navlend.constants import (
    PAUSE_ALL,
    PAUSE_BORROW,
    PAUSE_DEPOSIT_COLLATERAL,
    PAUSE_FLASH_LOAN,
    PAUSE_LIQUIDATION,
    PAUSE_SUPPLY,
    PAUSE_WITHDRAW,
    PAUSE_WITHDRAW_COLLATERAL,
)
from navlend.market import PAUSE_BITS

NOT_OWNER = "ownable: caller is not the owner"
NOT_GUARDIAN = "market: not guardian"
USD = 10**6
MAX_UINT = 2**256 - 1
MAX_GRACE = 4 * 3_600
ORACLE_UNIT = 10**8
GUARDIAN_BITS = PAUSE_ALL & ~PAUSE_LIQUIDATION


@dataclass(frozen=True)
class Action:
    """One guarded action: its pause bit, how to run it, its paused reason."""

    bit: int
    run: Callable[[], Any]
    reason: str = "market: paused"


@pytest.fixture(scope="module")
def scene(
    market,
    stablecoin,
    collaterals,
    lend,
    mint_stable,
    give_collateral,
    open_position,
    set_price,
    project,
    owner,
    lender,
    borrower,
    borrower2,
    liquidator,
    outsider,
) -> dict[str, Action]:
    """Every guarded action, each ready to succeed while unpaused."""
    fund_a, fund_c = collaterals["fund_a"], collaterals["fund_c"]
    lend(100_000 * USD)
    mint_stable(lender, 1_000 * USD)
    stablecoin.approve(market, MAX_UINT, sender=lender)

    # Healthy borrower on fund C (~$1.05), with spare shares to post.
    open_position(fund_c, borrower, 10_000 * fund_c.unit, 2_000 * USD)
    give_collateral(fund_c, borrower, 10 * fund_c.unit)
    stablecoin.approve(market, MAX_UINT, sender=borrower)

    # Unhealthy borrower on fund A: 200 shares at $10.50, then at $9.00.
    set_price(fund_a, 10_50_000_000)
    open_position(fund_a, borrower2, 200 * fund_a.unit, 1_700 * USD)
    set_price(fund_a, 9 * ORACLE_UNIT)
    assert market.position(borrower2).health_factor < 10**18

    mint_stable(liquidator, 1_000 * USD)
    stablecoin.approve(market, MAX_UINT, sender=liquidator)
    flash_borrower = owner.deploy(project.FlashBorrowerMock)
    mint_stable(flash_borrower, 10 * USD)

    return {
        "deposit": Action(PAUSE_SUPPLY, lambda: market.deposit(100 * USD, lender, sender=lender)),
        "mint": Action(PAUSE_SUPPLY, lambda: market.mint(10**12, lender, sender=lender)),
        "withdraw": Action(
            PAUSE_WITHDRAW, lambda: market.withdraw(100 * USD, lender, lender, sender=lender)
        ),
        "redeem": Action(
            PAUSE_WITHDRAW, lambda: market.redeem(10**12, lender, lender, sender=lender)
        ),
        "borrow": Action(
            PAUSE_BORROW, lambda: market.borrow(100 * USD, borrower, borrower, sender=borrower)
        ),
        "supply_collateral": Action(
            PAUSE_DEPOSIT_COLLATERAL,
            lambda: market.supply_collateral(fund_c.token, fund_c.unit, borrower, sender=borrower),
        ),
        "withdraw_collateral": Action(
            PAUSE_WITHDRAW_COLLATERAL,
            lambda: market.withdraw_collateral(
                fund_c.token, fund_c.unit, borrower, borrower, sender=borrower
            ),
        ),
        "flashLoan": Action(
            PAUSE_FLASH_LOAN,
            lambda: flash_borrower.borrow(market, stablecoin, 1_000 * USD, b"", sender=outsider),
            "market: flash loans paused",
        ),
        "liquidate": Action(
            PAUSE_LIQUIDATION,
            lambda: market.liquidate(
                borrower2, fund_a.token, 500 * USD, 0, False, liquidator, sender=liquidator
            ),
            "market: liquidation paused",
        ),
    }


@pytest.fixture(scope="module", autouse=True)
def _setup_first(scene, guardian, owner, outsider, stablecoin):
    """Sets up every higher-scoped fixture this module uses before its first
    test, so that Ape never rebases its snapshots mid-module."""


def _pauser(bits: int, owner, guardian):
    """The guardian for what it may pause, else the owner."""
    return owner if bits & PAUSE_LIQUIDATION else guardian


def _run_all(chain, scene: dict[str, Action], paused: int):
    """Runs every action on its own snapshot; the paused ones must revert
    with their reason and the others succeed."""
    for name, action in scene.items():
        with chain.isolate():
            if action.bit & paused:
                with ape.reverts(action.reason):
                    action.run()
            else:
                assert not action.run().failed, name


# ---- the matrix ----


def test_scene__nothing_paused__every_action_works(chain, scene):
    _run_all(chain, scene, 0)


@pytest.mark.parametrize("bit_name", PAUSE_BITS)
def test_pause__one_action__only_that_action_reverts(
    chain, market, scene, owner, guardian, bit_name
):
    bit = PAUSE_BITS[bit_name]
    tx = market.pause(bit, sender=_pauser(bit, owner, guardian))

    assert market.control()[0] == bit
    assert tx.events == [market.Paused(caller=_pauser(bit, owner, guardian), actions=bit)]
    _run_all(chain, scene, bit)


def test_pause__every_action__repay_still_works(chain, market, scene, owner, borrower, borrower2):
    market.pause(PAUSE_ALL, sender=owner)
    _run_all(chain, scene, PAUSE_ALL)

    tx = market.repay(100 * USD, borrower, sender=borrower)
    assert tx.events.filter(market.Repay)[0].amount == 100 * USD
    # Anyone may repay for anyone, in full, while everything is paused.
    market.repay(MAX_UINT, borrower2, sender=borrower)
    assert market.debt_of(borrower2) == 0


@pytest.mark.parametrize("bit_name", PAUSE_BITS)
def test_max_views__one_action_paused__zero_only_for_that_action(
    market, scene, stablecoin, owner, guardian, lender, bit_name
):
    bit = PAUSE_BITS[bit_name]
    market.pause(bit, sender=_pauser(bit, owner, guardian))

    views = {
        PAUSE_SUPPLY: [market.maxDeposit(lender), market.maxMint(lender)],
        PAUSE_WITHDRAW: [market.maxWithdraw(lender), market.maxRedeem(lender)],
        PAUSE_FLASH_LOAN: [market.maxFlashLoan(stablecoin)],
    }
    for view_bit, values in views.items():
        for value in values:
            assert (value == 0) == (view_bit == bit), (bit_name, view_bit)


def test_unpause__after_pause__every_action_works_again(chain, market, scene, owner):
    market.pause(PAUSE_ALL, sender=owner)

    tx = market.unpause(PAUSE_ALL, 0, sender=owner)

    assert market.control()[0] == 0
    assert tx.events == [
        market.Unpaused(caller=owner, actions=PAUSE_ALL, liquidations_resume_at=tx.timestamp)
    ]
    _run_all(chain, scene, 0)


def test_pause__bits__accumulate_and_clear_one_by_one(market, scene, guardian):
    market.pause(PAUSE_SUPPLY, sender=guardian)
    market.pause(PAUSE_BORROW | PAUSE_FLASH_LOAN, sender=guardian)
    assert market.control()[0] == PAUSE_SUPPLY | PAUSE_BORROW | PAUSE_FLASH_LOAN

    market.unpause(PAUSE_BORROW, 0, sender=guardian)

    assert market.control()[0] == PAUSE_SUPPLY | PAUSE_FLASH_LOAN


# ---- permissions ----


@pytest.mark.parametrize("caller", ["guardian", "owner"])
def test_pause__guardian_or_owner__every_action_but_liquidation(market, scene, caller, request):
    who = request.getfixturevalue(caller)

    tx = market.pause(GUARDIAN_BITS, sender=who)
    assert market.control()[0] == GUARDIAN_BITS
    assert tx.events == [market.Paused(caller=who, actions=GUARDIAN_BITS)]

    tx = market.unpause(GUARDIAN_BITS, 0, sender=who)
    assert market.control()[0] == 0
    assert tx.events == [
        market.Unpaused(caller=who, actions=GUARDIAN_BITS, liquidations_resume_at=0)
    ]


@pytest.mark.parametrize(
    "actions", [PAUSE_LIQUIDATION, PAUSE_ALL, PAUSE_SUPPLY | PAUSE_LIQUIDATION]
)
def test_pause__liquidation_by_guardian__reverts(market, scene, guardian, actions):
    with ape.reverts(NOT_OWNER):
        market.pause(actions, sender=guardian)


def test_unpause__liquidation_by_guardian__reverts(market, scene, owner, guardian):
    market.pause(PAUSE_LIQUIDATION, sender=owner)
    with ape.reverts(NOT_OWNER):
        market.unpause(PAUSE_LIQUIDATION, 0, sender=guardian)


@pytest.mark.parametrize(
    "actions, reason", [(PAUSE_SUPPLY, NOT_GUARDIAN), (PAUSE_LIQUIDATION, NOT_OWNER)]
)
def test_pause__by_outsider__reverts(market, scene, outsider, actions, reason):
    with ape.reverts(reason):
        market.pause(actions, sender=outsider)


@pytest.mark.parametrize(
    "actions, reason", [(PAUSE_WITHDRAW, NOT_GUARDIAN), (PAUSE_LIQUIDATION, NOT_OWNER)]
)
def test_unpause__by_outsider__reverts(market, scene, owner, outsider, actions, reason):
    market.pause(actions, sender=owner)
    with ape.reverts(reason):
        market.unpause(actions, 0, sender=outsider)


@pytest.mark.parametrize("actions", [0, PAUSE_ALL + 1, PAUSE_ALL + 1 + PAUSE_SUPPLY])
def test_pause_and_unpause__bad_actions__revert(market, scene, owner, actions):
    with ape.reverts("market: bad actions"):
        market.pause(actions, sender=owner)
    with ape.reverts("market: bad actions"):
        market.unpause(actions, 0, sender=owner)


# ---- liquidation grace period ----


def test_unpause__liquidation_with_grace__blocks_liquidations_until_it_ends(
    chain, market, scene, owner
):
    market.pause(PAUSE_LIQUIDATION, sender=owner)

    tx = market.unpause(PAUSE_LIQUIDATION, MAX_GRACE, sender=owner)

    resume_at = tx.timestamp + MAX_GRACE
    assert tuple(market.control()[:2]) == (0, resume_at)
    assert tx.events == [
        market.Unpaused(caller=owner, actions=PAUSE_LIQUIDATION, liquidations_resume_at=resume_at)
    ]
    chain.pending_timestamp = resume_at - 1
    with ape.reverts("market: liquidation grace period"):
        scene["liquidate"].run()
    chain.pending_timestamp = resume_at
    assert scene["liquidate"].run().timestamp == resume_at


def test_unpause__liquidation_without_grace__liquidations_resume_at_once(market, scene, owner):
    market.pause(PAUSE_LIQUIDATION, sender=owner)

    tx = market.unpause(PAUSE_LIQUIDATION, 0, sender=owner)

    assert market.control()[1] == tx.timestamp
    scene["liquidate"].run()


def test_unpause__grace_too_long__reverts(market, scene, owner):
    market.pause(PAUSE_LIQUIDATION, sender=owner)
    with ape.reverts("market: grace too long"):
        market.unpause(PAUSE_LIQUIDATION, MAX_GRACE + 1, sender=owner)


@pytest.mark.parametrize("caller", ["guardian", "owner"])
def test_unpause__grace_without_liquidation__reverts(market, scene, caller, request):
    who = request.getfixturevalue(caller)
    market.pause(PAUSE_WITHDRAW, sender=who)
    with ape.reverts("market: grace without liquidation"):
        market.unpause(PAUSE_WITHDRAW, 1, sender=who)


def test_unpause__other_actions_during_grace__keep_the_resume_time(market, scene, owner, guardian):
    market.pause(PAUSE_LIQUIDATION | PAUSE_SUPPLY, sender=owner)
    resume_at = market.unpause(PAUSE_LIQUIDATION, MAX_GRACE, sender=owner).timestamp + MAX_GRACE

    tx = market.unpause(PAUSE_SUPPLY, 0, sender=guardian)

    assert market.control()[1] == resume_at
    assert tx.events == [
        market.Unpaused(caller=guardian, actions=PAUSE_SUPPLY, liquidations_resume_at=resume_at)
    ]


def test_unpause__liquidation_with_others__clears_all_and_starts_grace(market, scene, owner):
    market.pause(PAUSE_ALL, sender=owner)

    tx = market.unpause(PAUSE_LIQUIDATION | PAUSE_BORROW, 60, sender=owner)

    assert tuple(market.control()[:2]) == (
        PAUSE_ALL & ~PAUSE_LIQUIDATION & ~PAUSE_BORROW,
        tx.timestamp + 60,
    )
