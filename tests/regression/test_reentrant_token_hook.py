"""Regression: re-entrancy through a collateral token's transfer hook, and
read-only re-entrancy.

Historical exploits: Lendf.me (April 2020, about $25M) and Cream Finance
(August 2021, AMP) were drained by tokens whose transfer hooks (ERC-777)
called back into the lending pool mid-operation; dForce (February 2023)
lost about $3.6M to read-only re-entrancy, a view (Curve's
``get_virtual_price``) read while a pool was mid-operation; Curve's pools
(July 2023) lost their locks to the Vyper 0.2.15-0.3.0 compiler bug.

The market holds one global lock (``pragma nonreentrancy on``) that its
views check, shared with the admin extension it reaches by delegatecall.
Here a HookedERC20 is listed as a fourth collateral; its hook calls the
market in the middle of a collateral deposit (pull), a withdrawal (push)
and a share-route liquidation (push before the repayment is pulled). Every
call must revert with the lock's bare revert (no data), while the same call
made outside a transfer (``poke``) gets past the lock, and the operation
around the hook completes. ``flashLoan`` is outside the lock by design:
taken from a hook it works, but its callback cannot reach a locked
function either."""

import pytest

USD = 10**6
ONE = 10**18
MAX = 2**256 - 1
MAX_AGE = 100 * 3_600

# Locked entry points, called as the token (the hook's msg.sender).
MUTATING = [
    "deposit",
    "mint",
    "withdraw",
    "redeem",
    "set_authorization",
    "supply_collateral",
    "withdraw_collateral",
    "borrow",
    "repay",
    "liquidate",
    "pause",
]
# Views that must not answer mid-operation.
VIEWS = [
    "totalAssets",
    "convertToAssets",
    "previewRedeem",
    "maxWithdraw",
    "maxFlashLoan",
    "position",
    "debt_of",
    "collateral_of",
    "asset_price",
    "market_state",
    "preview_liquidation",
]


def calldata(name: str, market, token, stablecoin, borrower, operator) -> bytes:
    """The calldata of a call to ``name`` that gets past the lock when made
    outside a transfer."""
    args = {
        "deposit": (USD, token),
        "mint": (10**12, token),
        "withdraw": (1, token, token),
        "redeem": (1, token, token),
        "set_authorization": (operator, True),
        "supply_collateral": (token, 1, borrower),
        "withdraw_collateral": (token, 1, borrower, borrower),
        "borrow": (100 * USD, borrower, borrower),
        "repay": (1, borrower),
        "liquidate": (borrower, token, MAX, 0, False, token),
        "pause": (1,),
        "totalAssets": (),
        "convertToAssets": (10**12,),
        "previewRedeem": (10**12,),
        "maxWithdraw": (borrower,),
        "maxFlashLoan": (stablecoin,),
        "position": (borrower,),
        "debt_of": (borrower,),
        "collateral_of": (borrower, token),
        "asset_price": (token,),
        "market_state": (),
        "preview_liquidation": (borrower, token, MAX),
    }[name]
    return bytes(getattr(market, name).encode_input(*args))


@pytest.fixture(scope="module")
def hooked(market, owner, project, stablecoin, lend, mint_stable, borrower, liquidator):
    """The hooked token listed at $1.00 (18 decimals, market defaults);
    ``borrower`` has posted 10,000 and owes $8,000 (HF 1.125) with 10,000
    more to post; the liquidator holds $10,000, approved. Returns (token,
    feed)."""
    token = owner.deploy(project.HookedERC20, "Hooked token", "HOOK", 18)
    feed = owner.deploy(project.MockAggregator, 8, 10**8)
    market.list_asset(token, feed, 8_500, 9_000, 300, 2**120 - 1, 0, MAX_AGE, sender=owner)
    lend(100_000 * USD)
    token.mint(borrower, 20_000 * ONE, sender=borrower)
    token.approve(market, MAX, sender=borrower)
    market.supply_collateral(token, 10_000 * ONE, borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    mint_stable(liquidator, 10_000 * USD)
    stablecoin.approve(market, MAX, sender=liquidator)
    return token, feed


@pytest.fixture(scope="module", autouse=True)
def _setup_first(hooked, chain, operator, attacker):
    """Sets up every higher-scoped fixture first, so that Ape never rebases
    its snapshots mid-module."""


@pytest.fixture
def trigger(market, owner, borrower, liquidator, hooked):
    """``trigger(kind)``: runs an operation that moves the hooked token:
    a deposit (transferFrom), a withdrawal (transfer) or a share-route
    liquidation after a drop to $0.85 (transfer to the liquidator).
    Returns the receipt."""
    token, feed = hooked

    def go(kind: str):
        if kind == "supply":
            return market.supply_collateral(token, ONE, borrower, sender=borrower)
        if kind == "withdraw":
            return market.withdraw_collateral(token, ONE, borrower, borrower, sender=borrower)
        feed.set_answer(85_000_000, 0, sender=owner)
        return market.liquidate(borrower, token, 100 * USD, 0, False, liquidator, sender=liquidator)

    return go


def assert_locked_out(token, calls_before: int):
    """The hook made its call once, and the market refused it with the
    lock's bare revert."""
    assert token.calls() == calls_before + 1
    assert not token.last_ok()
    assert token.last_return() == b""


def assert_past_the_lock(token):
    """The control call either succeeded or failed for a stated reason."""
    assert token.last_ok() or len(token.last_return()) > 0


@pytest.mark.parametrize("kind", ["supply", "withdraw", "liquidate"])
@pytest.mark.parametrize("name", MUTATING)
def test_hook__re_enters_a_locked_function__refused_and_the_operation_completes(
    market, stablecoin, borrower, operator, hooked, trigger, kind, name
):
    token, _ = hooked
    token.arm(
        market,
        calldata(name, market, token, stablecoin, borrower, operator),
        False,
        sender=borrower,
    )
    before = market.collateral_of(borrower, token)
    calls = token.calls()

    tx = trigger(kind)

    assert_locked_out(token, calls)
    moved = {"supply": ONE, "withdraw": -ONE}.get(kind)
    if moved is None:
        moved = -tx.return_value[1]
    assert market.collateral_of(borrower, token) == before + moved
    token.poke(sender=borrower)
    assert_past_the_lock(token)


@pytest.mark.parametrize("kind", ["supply", "withdraw", "liquidate"])
@pytest.mark.parametrize("name", VIEWS)
def test_hook__reads_a_view_mid_operation__refused(
    market, stablecoin, borrower, operator, hooked, trigger, kind, name
):
    """Read-only re-entrancy: mid-liquidation the books already count the
    repayment the market has not pulled yet, and no view may show that."""
    token, _ = hooked
    token.arm(
        market, calldata(name, market, token, stablecoin, borrower, operator), True, sender=borrower
    )
    calls = token.calls()
    trigger(kind)
    assert_locked_out(token, calls)
    token.poke(sender=borrower)
    assert token.last_ok()


def test_hook__flash_loan_inside__works_by_design_but_its_callback_is_locked_out(
    market, owner, project, stablecoin, mint_stable, borrower, operator, hooked, trigger
):
    """``flashLoan`` takes no lock (a flash borrower must reach the market
    from its callback), so a hook may take one; the loan is repaid with its
    fee. A callback that calls a locked function from inside the hook is
    refused, which fails the loan."""
    token, _ = hooked
    flash = owner.deploy(project.FlashBorrowerMock)
    mint_stable(flash, 10 * USD)
    loan = bytes(market.flashLoan.encode_input(flash, stablecoin, 10_000 * USD, b""))
    token.arm(market, loan, False, sender=borrower)
    surplus = market.surplus()

    trigger("supply")

    assert token.last_ok()
    assert market.surplus() == surplus + market.flashFee(stablecoin, 10_000 * USD)
    borrow = calldata("borrow", market, token, stablecoin, borrower, operator)
    flash.set_mode(3, market, borrow, sender=owner)
    calls = token.calls()
    trigger("supply")
    assert_locked_out(token, calls)
