"""Regression: read-only re-entrancy into the lenders' price (views locked
mid-operation).

Historical exploit: dForce (February 2023, about $3.6M). dForce valued
Curve LP tokens with ``get_virtual_price``; the attacker called it from
the ETH callback of ``remove_liquidity``, when the pool had paid out
part of its balances but not yet burned the LP tokens, and read a price
the pool never really had. The view took no lock, and nothing was re-entered but a read.
Sentiment (April 2023, a Balancer pool's price) and Midas (January
2023, Curve) fell the same way. The class: a third party reads a protocol's price (here the
lender share's ``convertToAssets`` / ``totalAssets``, what an integrator
would use to value navlend lender shares as collateral) in the middle of
one of its operations.

navlend's defence: one global lock (``pragma nonreentrancy on``), and
every view checks it, the admin extension's too (``position``, reached by
delegatecall). This already holds on the old code: these tests PASS there.
tests/regression/test_reentrant_token_hook.py re-enters through a
COLLATERAL token's hook; here the BASE asset itself is hooked (a
HookedERC20 standing for a stablecoin with transfer callbacks, e.g. an
ERC-777 or ERC-1363 one), so the hook fires inside the lender operations
that move the share price, ``deposit`` and ``redeem``, and inside
``borrow`` and ``repay``, which move utilisation and the rate. The hook
reads a view with STATICCALL, as a price-reading integrator would.

How the tests fail on the vulnerable variant (views without the lock, as
``get_virtual_price`` was): ``..._reads_a_view_mid_operation__refused``
sees the hook's read succeed (``last_ok`` True) where it must revert with
the lock's bare revert, whatever value it read. The controls pin the
intended exceptions: the same read outside any operation answers the
value a direct call gives; ``flashLoan`` takes no lock by design, so a
read inside it answers, and must show the books as they were (a flash
loan moves neither cash nor the share price); the lender-share ERC-20
views (snekmate's, outside the lock) answer mid-``redeem`` and already
show the finished burn, because every locked function writes all its
state before its first external call."""

import pytest

from navlend.market import deploy_market

USD = 10**6
ONE = 10**18
MAX = 2**256 - 1
MAX_AGE = 100 * 3_600
# A lender share (12 decimals).
SHARE = 10**12

# Operations that move the hooked base asset, and what they call.
OPERATIONS = ["deposit", "redeem", "borrow", "repay"]
# Views a price-reading integrator might call mid-operation.
VIEWS = [
    "totalAssets",
    "convertToAssets",
    "convertToShares",
    "previewRedeem",
    "maxRedeem",
    "maxWithdraw",
    "position",
    "utilization",
]


@pytest.fixture(scope="module")
def hooked_market(owner, guardian, treasury, project, lender, borrower):
    """A market over a hooked 6-decimal base asset, with one plain
    18-decimal collateral at $1.00 (market defaults). The lender has lent
    $100,000 and holds $100,000 more, the borrower posted 20,000 and owes
    $8,000 with $1,000 in hand; both approved. Returns (market, base)."""
    base = owner.deploy(project.HookedERC20, "Hooked USD", "HUSD", 6)
    market = deploy_market(
        owner, base, guardian=guardian, treasury=treasury, name="hooked lender share", symbol="hUSD"
    )
    fund = owner.deploy(project.MockERC20, "Plain fund", "PLAIN", 18)
    feed = owner.deploy(project.MockAggregator, 8, 10**8)
    market.list_asset(fund, feed, 8_500, 9_000, 300, 2**120 - 1, 0, MAX_AGE, sender=owner)
    base.mint(lender, 200_000 * USD, sender=lender)
    base.approve(market, MAX, sender=lender)
    market.deposit(100_000 * USD, lender, sender=lender)
    fund.mint(borrower, 20_000 * ONE, sender=borrower)
    fund.approve(market, MAX, sender=borrower)
    market.supply_collateral(fund, 20_000 * ONE, borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)
    base.mint(borrower, 1_000 * USD, sender=borrower)
    base.approve(market, MAX, sender=borrower)
    return market, base


@pytest.fixture(scope="module", autouse=True)
def _setup_first(hooked_market, project):
    """Sets up every higher-scoped fixture first, so that Ape never rebases
    its snapshots mid-module."""


@pytest.fixture
def operate(hooked_market, lender, borrower):
    """``operate(kind)``: runs an operation that moves the base asset
    (pulled in ``deposit`` and ``repay``, pushed in ``redeem`` and
    ``borrow``). Returns the receipt."""
    market, _ = hooked_market

    def go(kind: str):
        if kind == "deposit":
            return market.deposit(1_000 * USD, lender, sender=lender)
        if kind == "redeem":
            return market.redeem(1_000 * USD * 10**6, lender, lender, sender=lender)
        if kind == "borrow":
            return market.borrow(500 * USD, borrower, borrower, sender=borrower)
        return market.repay(500 * USD, borrower, sender=borrower)

    return go


def view_calldata(market, name: str, lender, borrower) -> bytes:
    """The calldata of a read of ``name``."""
    args = {
        "totalAssets": (),
        "convertToAssets": (SHARE,),
        "convertToShares": (USD,),
        "previewRedeem": (SHARE,),
        "maxRedeem": (lender,),
        "maxWithdraw": (lender,),
        "position": (borrower,),
        "utilization": (),
    }[name]
    return bytes(getattr(market, name).encode_input(*args))


def read(base) -> int:
    """The first word the hook's last call returned, as an integer."""
    return int.from_bytes(bytes(base.last_return())[:32], "big")


@pytest.mark.parametrize("kind", OPERATIONS)
@pytest.mark.parametrize("name", VIEWS)
def test_base_hook__reads_a_view_mid_operation__refused(
    hooked_market, lender, borrower, operate, kind, name
):
    market, base = hooked_market
    base.arm(market, view_calldata(market, name, lender, borrower), True, sender=lender)
    calls = base.calls()

    operate(kind)

    assert base.calls() == calls + 1  # the hook fired once, mid-operation
    assert not base.last_ok(), f"{name} answered in the middle of {kind}"
    assert bytes(base.last_return()) == b""  # the lock's bare revert


@pytest.mark.parametrize("name", VIEWS)
def test_base_hook__same_read_outside_an_operation__answers_the_direct_value(
    hooked_market, lender, borrower, name
):
    """The control: the read itself is valid, only its timing is refused."""
    market, base = hooked_market
    base.arm(market, view_calldata(market, name, lender, borrower), True, sender=lender)

    base.poke(sender=lender)

    assert base.last_ok()
    direct = {
        "totalAssets": market.totalAssets,
        "convertToAssets": lambda: market.convertToAssets(SHARE),
        "convertToShares": lambda: market.convertToShares(USD),
        "previewRedeem": lambda: market.previewRedeem(SHARE),
        "maxRedeem": lambda: market.maxRedeem(lender),
        "maxWithdraw": lambda: market.maxWithdraw(lender),
        # The admin extension's view, through the fallback: its first field.
        "position": lambda: market.position(borrower).debt,
        "utilization": market.utilization,
    }[name]()
    assert read(base) == direct


def test_base_hook__inside_a_flash_loan__price_reads_answer_unchanged(
    hooked_market, owner, project, lender, borrower
):
    """``flashLoan`` is outside the lock by design. Its transfers fire the
    hook (out to the borrower, back to the market); the reads answer, and
    the share price they see is the one before the loan."""
    market, base = hooked_market
    flash = owner.deploy(project.FlashBorrowerMock)
    amount = 50_000 * USD
    base.mint(flash, market.flashFee(base, amount), sender=owner)
    price = market.convertToAssets(SHARE)
    payload = view_calldata(market, "convertToAssets", lender, borrower)
    base.arm(market, payload, True, sender=lender)
    calls = base.calls()

    tx = flash.borrow(market, base, amount, b"", sender=owner)

    assert market.FlashLoan(receiver=flash, amount=amount) in tx.events
    assert base.calls() == calls + 2  # the loan out and the repayment back
    assert base.last_ok()
    assert read(base) == price == market.convertToAssets(SHARE)


def test_base_hook__share_supply_read_mid_redeem__already_final(hooked_market, lender, operate):
    """The lender-share ERC-20 views are snekmate's, outside the lock: read
    mid-``redeem`` (during the payout), ``totalSupply`` already shows the
    burn, because the market writes all its state before paying out."""
    market, base = hooked_market
    base.arm(market, bytes(market.totalSupply.encode_input()), True, sender=lender)

    tx = operate("redeem")

    assert base.last_ok()
    assert read(base) == market.totalSupply()
    assert market.Withdraw(owner=lender, shares=1_000 * USD * 10**6) in tx.events
