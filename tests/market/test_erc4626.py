"""The lender side as an ERC-4626 vault (EIP-4626 MUSTs).

Shares are worth ``(cash + borrows - reserves + 1) / (supply + 10**6)``:
internal cash (donations do not count), one virtual asset and 10**6 virtual
shares (shares carry 12 decimals over the stablecoin's 6). Every view
accrues interest to the block it is read in, so a test that compares a
view with a transaction pins the transaction to the head's timestamp
(``pin_time``): the two then see the same accrued books.
"""

import ape
import pytest
from eth_account.messages import encode_typed_data

from navlend.constants import PAUSE_SUPPLY, PAUSE_WITHDRAW

USD = 10**6
DAY = 86_400
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1
UNLIMITED = 2**128 - 1
ZERO = ape.utils.ZERO_ADDRESS
# Odd amounts, so that every conversion has a remainder to round.
ODD_ASSETS = [1, 7, 1_000_003, 1_234_567_891]
ODD_SHARES = [1, 999_999, 10**6 + 1, 1_234_567_891_234]


# ---- helpers ----


def pin_time(chain):
    """Makes the next transaction land at the head's timestamp, so that the
    views read now see the books that transaction will see."""
    chain.pending_timestamp = chain.blocks.head.timestamp


def logged(tx, event) -> list[dict]:
    """The arguments of every ``event`` the transaction emitted."""
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


def div(numerator: int, denominator: int, up: bool) -> int:
    return -(-numerator // denominator) if up else numerator // denominator


def expected_shares(market, assets: int, up: bool = False) -> int:
    """Assets to shares, from the ERC-4626 views, independently of the code."""
    return div(assets * (market.totalSupply() + VIRTUAL_SHARES), market.totalAssets() + VIRTUAL_ASSETS, up)


def expected_assets(market, shares: int, up: bool = False) -> int:
    return div(shares * (market.totalAssets() + VIRTUAL_ASSETS), market.totalSupply() + VIRTUAL_SHARES, up)


@pytest.fixture(scope="session")
def fund(market, stablecoin, mint_stable):
    """``fund(who, amount)``: mints the stablecoin to ``who`` and approves
    the market for it (without depositing)."""

    def go(who, amount: int):
        mint_stable(who, amount)
        stablecoin.approve(market, amount, sender=who)

    return go


@pytest.fixture
def busy(market, lend, open_position, collaterals, borrower, advance):
    """10,000 lent by ``lender``, 5,000 borrowed, 30 days of interest: the
    share price is no longer a round 10**-6 and reserves are non-zero."""
    lend(10_000 * USD)
    open_position(collaterals["fund_a"], borrower, 2_000 * USD, 5_000 * USD)
    advance(30 * DAY)
    return market


# ---- asset, totalAssets, convert ----


def test_asset__always__is_the_stablecoin(market, stablecoin):
    assert market.asset() == stablecoin.address


def test_total_assets__empty_market__is_zero_at_the_virtual_rate(market):
    assert market.totalAssets() == 0
    assert market.totalSupply() == 0
    assert market.convertToShares(1) == VIRTUAL_SHARES
    assert market.convertToAssets(VIRTUAL_SHARES) == 1
    assert market.convertToAssets(VIRTUAL_SHARES - 1) == 0


def test_total_assets__borrows_outstanding__is_cash_plus_borrows_minus_reserves(busy):
    cash, borrows, reserves, _, _ = busy.market_state()
    assert borrows > 5_000 * USD and reserves > 0
    assert busy.totalAssets() == cash + borrows - reserves


def test_convert__after_interest__rounds_down(busy):
    for assets in ODD_ASSETS:
        assert busy.convertToShares(assets) == expected_shares(busy, assets)
    for shares in ODD_SHARES:
        assert busy.convertToAssets(shares) == expected_assets(busy, shares)


def test_convert__after_interest__lenders_earn(busy, advance):
    before = busy.convertToAssets(10**12)
    advance(DAY)
    assert busy.convertToAssets(10**12) > before > 10**6


# ---- previews ----


def test_preview__after_interest__round_in_the_vaults_favour(busy):
    for assets in ODD_ASSETS:
        assert busy.previewDeposit(assets) == expected_shares(busy, assets, up=False)
        assert busy.previewWithdraw(assets) == expected_shares(busy, assets, up=True)
        assert busy.previewWithdraw(assets) > busy.previewDeposit(assets)
    for shares in ODD_SHARES:
        assert busy.previewMint(shares) == expected_assets(busy, shares, up=True)
        assert busy.previewRedeem(shares) == expected_assets(busy, shares, up=False)
        assert busy.previewMint(shares) > busy.previewRedeem(shares)
    # One share costs a wei to mint and redeems for nothing.
    assert (busy.previewMint(1), busy.previewRedeem(1)) == (1, 0)


@pytest.mark.parametrize(
    "action, preview, event, field",
    [
        ("deposit", "previewDeposit", "Deposit", "shares"),
        ("mint", "previewMint", "Deposit", "assets"),
        ("withdraw", "previewWithdraw", "Withdraw", "shares"),
        ("redeem", "previewRedeem", "Withdraw", "assets"),
    ],
)
def test_preview__after_interest__equals_the_action_in_the_same_block(
    busy, fund, chain, lender, action, preview, event, field
):
    amount = 1_234_567_891
    fund(lender, 10_000 * USD)
    pin_time(chain)
    expected = getattr(busy, preview)(amount)
    owner = [lender] if event == "Withdraw" else []
    tx = getattr(busy, action)(amount, lender, *owner, sender=lender)
    assert logged(tx, busy.AccrueInterest)  # the action itself accrued the interest
    assert logged(tx, getattr(busy, event))[0][field] == expected


# ---- deposit ----


def test_deposit__fresh_market__mints_at_the_virtual_rate_to_receiver(market, stablecoin, fund, lender, lender2):
    amount = 1_000 * USD
    fund(lender, amount)
    tx = market.deposit(amount, lender2, sender=lender)
    shares = amount * VIRTUAL_SHARES
    assert logged(tx, market.Deposit) == [
        {"sender": lender.address, "owner": lender2.address, "assets": amount, "shares": shares}
    ]
    assert market.balanceOf(lender2) == shares and market.balanceOf(lender) == 0
    assert market.totalAssets() == amount
    assert market.market_state()[0] == amount
    assert stablecoin.balanceOf(market) == amount and stablecoin.balanceOf(lender) == 0


def test_deposit__receiver_zero__reverts(market, fund, lender):
    fund(lender, USD)
    with ape.reverts("erc20: mint to the zero address"):
        market.deposit(USD, ZERO, sender=lender)


def test_deposit__no_approval__reverts(market, mint_stable, lender):
    mint_stable(lender, USD)
    with ape.reverts("erc20: insufficient allowance"):
        market.deposit(USD, lender, sender=lender)


# ---- mint ----


def test_mint__fresh_market__pulls_assets_rounded_up(market, stablecoin, fund, lender):
    shares = 500 * USD * VIRTUAL_SHARES + 1  # a hair over 500 USD worth
    fund(lender, 1_000 * USD)
    tx = market.mint(shares, lender, sender=lender)
    assert logged(tx, market.Deposit) == [
        {"sender": lender.address, "owner": lender.address, "assets": 500 * USD + 1, "shares": shares}
    ]
    assert market.balanceOf(lender) == shares
    assert stablecoin.balanceOf(lender) == 500 * USD - 1


# ---- deposit and mint alike ----


@pytest.mark.parametrize("action", ["deposit", "mint"])
def test_deposit_and_mint__zero__reverts_zero_shares(market, lender, action):
    with ape.reverts("market: zero shares"):
        getattr(market, action)(0, lender, sender=lender)


@pytest.mark.parametrize("action", ["deposit", "mint"])
def test_deposit_and_mint__supply_paused__reverts(market, fund, guardian, lender, action):
    fund(lender, USD)
    market.pause(PAUSE_SUPPLY, sender=guardian)
    with ape.reverts("market: paused"):
        getattr(market, action)(VIRTUAL_SHARES, lender, sender=lender)


# ---- withdraw ----


def test_withdraw__own_shares__pays_receiver_and_burns_shares(market, stablecoin, lend, lender, lender2):
    lend(1_000 * USD)
    tx = market.withdraw(400 * USD, lender2, lender, sender=lender)
    burned = 400 * USD * VIRTUAL_SHARES
    assert logged(tx, market.Withdraw) == [
        {"sender": lender.address, "receiver": lender2.address, "owner": lender.address,
         "assets": 400 * USD, "shares": burned}
    ]
    assert market.balanceOf(lender) == 600 * USD * VIRTUAL_SHARES
    assert stablecoin.balanceOf(lender2) == 400 * USD
    assert market.market_state()[0] == 600 * USD


def test_withdraw__third_party_with_allowance__spends_the_allowance(market, stablecoin, lend, lender, operator):
    lend(1_000 * USD)
    market.approve(operator, 10**18, sender=lender)
    tx = market.withdraw(100 * USD, operator, lender, sender=operator)
    assert logged(tx, market.Withdraw)[0]["sender"] == operator.address
    assert market.allowance(lender, operator) == 10**18 - 100 * USD * VIRTUAL_SHARES
    assert stablecoin.balanceOf(operator) == 100 * USD


def test_withdraw__receiver_zero__reverts(market, lend, lender):
    lend(USD)
    with ape.reverts("market: zero address"):
        market.withdraw(USD, ZERO, lender, sender=lender)


def test_withdraw__more_than_cash__reverts_insufficient_cash(busy, lender):
    cash = busy.market_state()[0]
    assert busy.convertToAssets(busy.balanceOf(lender)) > cash + 1
    with ape.reverts("market: insufficient cash"):
        busy.withdraw(cash + 1, lender, lender, sender=lender)


# ---- redeem ----


def test_redeem__own_shares__pays_their_worth(market, stablecoin, lend, lender):
    lend(1_000 * USD)
    shares = 250 * USD * VIRTUAL_SHARES
    tx = market.redeem(shares, lender, lender, sender=lender)
    assert logged(tx, market.Withdraw) == [
        {"sender": lender.address, "receiver": lender.address, "owner": lender.address,
         "assets": 250 * USD, "shares": shares}
    ]
    assert stablecoin.balanceOf(lender) == 250 * USD


def test_redeem__third_party_with_allowance__spends_the_allowance(market, stablecoin, lend, lender, operator):
    lend(1_000 * USD)
    shares = 10 * USD * VIRTUAL_SHARES
    market.approve(operator, shares, sender=lender)
    market.redeem(shares, operator, lender, sender=operator)
    assert market.allowance(lender, operator) == 0
    assert stablecoin.balanceOf(operator) == 10 * USD


def test_redeem__worth_more_than_cash__reverts_insufficient_cash(busy, lender):
    with ape.reverts("market: insufficient cash"):
        busy.redeem(busy.balanceOf(lender), lender, lender, sender=lender)


def test_redeem__more_than_balance__reverts(market, lend, lender):
    lend(USD)
    with ape.reverts("erc20: burn amount exceeds balance"):
        market.redeem(market.balanceOf(lender) + 1, lender, lender, sender=lender)


# ---- withdraw and redeem alike ----


@pytest.mark.parametrize("action", ["withdraw", "redeem"])
def test_withdraw_and_redeem__third_party_without_allowance__reverts(market, lend, lender, attacker, action):
    lend(1_000 * USD)
    with ape.reverts("erc20: insufficient allowance"):
        getattr(market, action)(VIRTUAL_SHARES, attacker, lender, sender=attacker)


@pytest.mark.parametrize("action", ["withdraw", "redeem"])
def test_withdraw_and_redeem__zero__reverts_zero_assets(market, lend, lender, action):
    lend(USD)
    with ape.reverts("market: zero assets"):
        getattr(market, action)(0, lender, lender, sender=lender)


@pytest.mark.parametrize("action", ["withdraw", "redeem"])
def test_withdraw_and_redeem__withdraw_paused__reverts(market, lend, guardian, lender, action):
    lend(USD)
    market.pause(PAUSE_WITHDRAW, sender=guardian)
    with ape.reverts("market: paused"):
        getattr(market, action)(VIRTUAL_SHARES, lender, lender, sender=lender)


# ---- max* ----


def test_max_deposit_and_mint__open__unlimited(market, lender, outsider):
    """Open to everyone, bounded only by the 128-bit cash book; maxMint is
    what that deposit would mint."""
    for who in (lender, outsider, ZERO):
        assert market.maxDeposit(who) == UNLIMITED
        assert market.maxMint(who) == market.previewDeposit(UNLIMITED)


def test_max_deposit__cash_present__is_accepted_in_full(market, lend, fund, lender2):
    """EIP-4626: maxDeposit MUST NOT be higher than what deposit accepts
    (the depositor's own balance aside). Cash is capped at 2**128 - 1."""
    lend(USD)
    max_deposit = market.maxDeposit(lender2)
    fund(lender2, max_deposit)
    market.deposit(max_deposit, lender2, sender=lender2)
    assert market.market_state()[0] == USD + max_deposit


def test_max_deposit_and_mint__supply_paused__zero(market, guardian, lender):
    market.pause(PAUSE_SUPPLY, sender=guardian)
    assert market.maxDeposit(lender) == 0
    assert market.maxMint(lender) == 0


def test_max_withdraw_and_redeem__idle_market__whole_claim(market, lend, lender, outsider):
    lend(1_000 * USD)
    assert market.maxWithdraw(lender) == 1_000 * USD
    assert market.maxRedeem(lender) == market.balanceOf(lender)
    assert (market.maxWithdraw(outsider), market.maxRedeem(outsider)) == (0, 0)


def test_max_withdraw_and_redeem__withdraw_paused__zero(market, lend, guardian, lender):
    lend(1_000 * USD)
    market.pause(PAUSE_WITHDRAW, sender=guardian)
    assert market.maxWithdraw(lender) == 0
    assert market.maxRedeem(lender) == 0
    # Supply stays open: pausing one action leaves the other's max alone
    # (the room left in the 128-bit cash book).
    assert market.maxDeposit(lender) == UNLIMITED - market.market_state()[0]


def test_max_withdraw__borrowed_out__bounded_by_cash_and_withdrawable(busy, chain, stablecoin, lender):
    cash = busy.market_state()[0]
    assert busy.maxWithdraw(lender) == cash < busy.convertToAssets(busy.balanceOf(lender))
    pin_time(chain)
    busy.withdraw(busy.maxWithdraw(lender), lender, lender, sender=lender)
    assert stablecoin.balanceOf(lender) == cash
    assert busy.maxWithdraw(lender) == 0


def test_max_redeem__borrowed_out__bounded_by_cash_and_redeemable(busy, chain, lender):
    cash = busy.market_state()[0]
    pin_time(chain)
    max_redeem = busy.maxRedeem(lender)
    assert max_redeem == busy.convertToShares(cash) < busy.balanceOf(lender)
    tx = busy.redeem(max_redeem, lender, lender, sender=lender)
    assert logged(tx, busy.Withdraw)[0]["assets"] <= cash


# ---- share price and donations ----


def test_share_price__any_time__is_lenders_assets_over_shares(busy, lend, lender2, advance):
    lend(3_333 * USD + 7, lender2)
    advance(7 * DAY)
    cash, borrows, reserves, _, _ = busy.market_state()
    supply = busy.totalSupply()
    shares = 10**12
    assert busy.convertToAssets(shares) == shares * (cash + borrows - reserves + 1) // (supply + VIRTUAL_SHARES)


def test_donation__direct_transfer__moves_neither_assets_nor_price_nor_utilization(
    busy, chain, stablecoin, mint_stable, attacker
):
    donation = 1_000_000 * USD
    mint_stable(attacker, donation)
    balance = stablecoin.balanceOf(busy)
    pin_time(chain)
    before = (busy.totalAssets(), busy.convertToAssets(10**12), busy.utilization(), busy.market_state())
    stablecoin.transfer(busy, donation, sender=attacker)
    assert (busy.totalAssets(), busy.convertToAssets(10**12), busy.utilization(), busy.market_state()) == before
    assert stablecoin.balanceOf(busy) == balance + donation


# ---- the lender share token ----


def test_share_token__transfer__moves_the_claim(market, stablecoin, lend, lender, lender2):
    lend(1_000 * USD)
    shares = market.balanceOf(lender) // 4
    tx = market.transfer(lender2, shares, sender=lender)
    assert logged(tx, market.Transfer) == [{"sender": lender.address, "receiver": lender2.address, "value": shares}]
    assert market.balanceOf(lender2) == shares
    market.redeem(shares, lender2, lender2, sender=lender2)
    assert stablecoin.balanceOf(lender2) == 250 * USD


def test_share_token__transfer_from__needs_and_spends_allowance(market, lend, lender, lender2, operator):
    lend(1_000 * USD)
    tx = market.approve(operator, 5 * 10**12, sender=lender)
    assert logged(tx, market.Approval) == [{"owner": lender.address, "spender": operator.address, "value": 5 * 10**12}]
    market.transferFrom(lender, lender2, 3 * 10**12, sender=operator)
    assert market.allowance(lender, operator) == 2 * 10**12
    assert market.balanceOf(lender2) == 3 * 10**12
    with ape.reverts("erc20: insufficient allowance"):
        market.transferFrom(lender, lender2, 3 * 10**12, sender=operator)


def test_share_token__permit__sets_allowance_once(market, chain, lend, lender, operator):
    lend(USD)
    value, nonce, deadline = 7 * 10**12, market.nonces(lender), chain.blocks.head.timestamp + DAY
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": market.name(), "version": "1", "chainId": chain.chain_id, "verifyingContract": market.address},
        "message": {"owner": lender.address, "spender": operator.address, "value": value, "nonce": nonce,
                    "deadline": deadline},
    }
    signable = encode_typed_data(full_message=typed)
    assert market.DOMAIN_SEPARATOR() == signable.header
    sig = lender.sign_message(signable)
    market.permit(lender, operator, value, deadline, sig.v, sig.r, sig.s, sender=operator)
    assert market.allowance(lender, operator) == value
    assert market.nonces(lender) == nonce + 1
    with ape.reverts("erc20: invalid signature"):
        market.permit(lender, operator, value, deadline, sig.v, sig.r, sig.s, sender=operator)
