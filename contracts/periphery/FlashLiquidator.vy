# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title navlend Flash Liquidator
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Lets a liquidator with no capital and no allowlisting liquidate a
        navlend position in one transaction:
        1. flash-borrow the repayment from the market (ERC-3156);
        2. liquidate through the redeem route, so the seized fund shares
           are redeemed by the issuer's facility and paid to this contract
           in the stablecoin;
        3. repay the flash loan and its fee;
        4. send the profit to the owner, reverting below `min_profit`.
        `liquidate_many` does the same for up to `MAX_BATCH` positions
        under one flash loan: one transaction, one loan, one approval
        pair and one sweep for all of them (a keeper facing a NAV drop
        sends a handful of transactions, not one per position). A position
        that can no longer be liquidated (someone else got there first) is
        skipped with its reason and the rest go on; the batch reverts only
        as a whole: below `min_profit`, payout below cost, nothing
        liquidated, or a liquidation that reverts without a reason (out
        of gas).
        `liquidate_gathered` is the batch for an issuer with a redemption
        minimum (Ondo's $50,000): each position goes through the seize
        route with the collateral's facility (the market's own listing)
        as the receiver of the shares, and the facility then redeems all
        it received in one redemption (`IGatheredRedemption`), paying
        this contract. Shares seized from positions each too small for
        the minimum are redeemed together. This contract never holds the
        shares: the market sends them to the facility, which the issuer
        admits.
        Only the owner can use it, and it holds no funds between calls:
        every call ends by sweeping its whole stablecoin balance to the
        owner.
@custom:security `onFlashLoan` accepts only a loan this contract started
        itself (the market as caller, this contract as initiator, the
        base asset), and only while one of the owner's calls is under way
        (a transient flag), so no one else can make it liquidate or spend.
        `onFlashLoan` is `@reentrant` because it is called back from
        inside `liquidate`, which holds this contract's lock.
@custom:kill The owner stops calling it; it holds nothing to withdraw.
"""

from ethereum.ercs import IERC20

from ..interfaces import IERC3156FlashBorrower
from ..interfaces import IGatheredRedemption
from ..interfaces import IMarket
from ..interfaces import IMarketViews

implements: IERC3156FlashBorrower

from snekmate.auth import ownable

initializes: ownable

exports: (ownable.owner, ownable.transfer_ownership)



# @dev What an ERC-3156 borrower's callback returns.
CALLBACK_SUCCESS: constant(bytes32) = keccak256("ERC3156FlashBorrower.onFlashLoan")
# @dev Most positions one `liquidate_many` or `liquidate_gathered` takes.
#      Its flash-loan data, abi_encode(uint256, address, address[],
#      uint256[]), is 192 + 64 x MAX_BATCH bytes and must fit the market's
#      2,048.
MAX_BATCH: public(constant(uint256)) = 24
# @dev The flash-loan data's first word: what the callback does.
_ONE: constant(uint256) = 0
_MANY: constant(uint256) = 1
_GATHERED: constant(uint256) = 2
# @dev Bytes kept of a skipped liquidation's revert data: an Error(string)
#      of up to 64 characters.
MAX_REASON: constant(uint256) = 132
# @dev `Market.liquidate`, called with `raw_call` in a batch so that one
#      position's revert skips that position only.
LIQUIDATE_SELECTOR: constant(Bytes[4]) = method_id("liquidate(address,address,uint256,uint256,bool,address)")

# @dev The market this liquidator works on.
MARKET: public(immutable(IMarket))
# @dev The market's base asset (the stablecoin).
BASE: public(immutable(IERC20))

# @dev Set while one of the owner's liquidations is under way.
_active: transient(bool)


event Liquidated:
    borrower: indexed(address)
    token: indexed(address)
    repaid: uint256
    seized: uint256
    payout: uint256
    flash_fee: uint256
    profit: uint256


# @dev One `liquidate_many` or `liquidate_gathered`: the totals of the
#      positions liquidated (each also has the market's `Liquidate` event)
#      and the batch's profit. For a gathered batch `payout` is the one
#      redemption's (the facility's `Redeemed` event has the shares).
event BatchLiquidated:
    token: indexed(address)
    liquidated: uint256
    skipped: uint256
    repaid: uint256
    payout: uint256
    flash_fee: uint256
    profit: uint256


# @dev A position of a batch the market refused to liquidate, with the
#      market's revert data (truncated to `MAX_REASON` bytes).
event LiquidationSkipped:
    borrower: indexed(address)
    token: indexed(address)
    reason: Bytes[MAX_REASON]


@deploy
def __init__(market: address):
    """
    @notice Deploys a liquidator for `market`, owned by the deployer.
    @param market The navlend market.
    """
    ownable.__init__()
    MARKET = IMarket(market)
    BASE = IERC20(staticcall IMarketViews(market).asset())


@external
def liquidate(borrower: address, token: address, max_repay: uint256, min_profit: uint256) -> uint256:
    """
    @notice Liquidates up to `max_repay` of `borrower`'s debt against
            `token` through the redeem route, financed by a flash loan,
            and sends the profit to the owner.
    @param borrower The position.
    @param token The collateral to seize and redeem.
    @param max_repay The most to repay (max_value: as much as allowed).
    @param min_profit The least profit, in base units, or it reverts.
    @return uint256 The profit sent to the owner.
    """
    ownable._check_owner()
    repay: uint256 = 0
    seize: uint256 = 0
    repay, seize = staticcall IMarketViews(MARKET.address).preview_liquidation(borrower, token, max_repay)
    assert repay != 0, "flash liquidator: nothing to liquidate"
    borrowers: DynArray[address, MAX_BATCH] = [borrower]
    repays: DynArray[uint256, MAX_BATCH] = [repay]
    self._flash(repay, abi_encode(_ONE, token, borrowers, repays))
    return self._pay_owner(min_profit)


@external
def liquidate_many(
    token: address,
    borrowers: DynArray[address, MAX_BATCH],
    max_repays: DynArray[uint256, MAX_BATCH],
    loan: uint256,
    min_profit: uint256,
) -> uint256:
    """
    @notice Liquidates `borrowers` against `token` through the redeem
            route under one flash loan of `loan`, and sends the profit to
            the owner. A position the market refuses (healthy by now, no
            debt left) is skipped with `LiquidationSkipped`.
    @dev `loan` must cover every repayment (the market trims each "up to"
         amount to its close-factor and dust rules; the owner sizes the
         loan on those figures, plus a margin for interest): a position
         whose repayment no longer fits the remaining loan is refused by
         the token and skipped. The unused part of the loan is repaid with
         the rest, at the cost of its flash fee.
    @param token The collateral to seize and redeem.
    @param borrowers The positions, at most `MAX_BATCH`.
    @param max_repays The most to repay of each (max_value: as much as
           allowed).
    @param loan The stablecoin to flash-borrow for the repayments.
    @param min_profit The least profit of the whole batch, in base units,
           or it reverts.
    @return uint256 The profit sent to the owner.
    """
    return self._batch(_MANY, token, borrowers, max_repays, loan, min_profit)


@external
def liquidate_gathered(
    token: address,
    borrowers: DynArray[address, MAX_BATCH],
    max_repays: DynArray[uint256, MAX_BATCH],
    loan: uint256,
    min_profit: uint256,
) -> uint256:
    """
    @notice Liquidates `borrowers` against `token` under one flash loan of
            `loan` through the seize route, the shares going to the
            collateral's facility, then has the facility redeem them all
            at once (for an issuer's redemption minimum that no single
            seizure reaches), and sends the profit to the owner. A
            position the market refuses is skipped with
            `LiquidationSkipped`, as in `liquidate_many`.
    @dev The facility is the one the market lists for `token`; it must
         implement `IGatheredRedemption` and be admitted by the issuer
         (the seize route sends it the shares: the token checks it as the
         receiver). The redemption's `min_out` is the batch's cost (the
         repayments and the flash fee), so a redemption that would not
         repay the loan reverts with the facility's reason; the issuer's
         own refusals (a total still under its minimum, a pause, its
         limit) come through with the issuer's reasons. Loan sizing as in
         `liquidate_many`.
    @param token The collateral to seize and redeem.
    @param borrowers The positions, at most `MAX_BATCH`.
    @param max_repays The most to repay of each (max_value: as much as
           allowed).
    @param loan The stablecoin to flash-borrow for the repayments.
    @param min_profit The least profit of the whole batch, in base units,
           or it reverts.
    @return uint256 The profit sent to the owner.
    """
    return self._batch(_GATHERED, token, borrowers, max_repays, loan, min_profit)


@external
@reentrant
def onFlashLoan(initiator: address, token: address, amount: uint256, fee: uint256, data: Bytes[4_096]) -> bytes32:
    """
    @notice The ERC-3156 callback: liquidates with the lent stablecoin and
            approves the market to pull back the loan and its fee.
    @param initiator Must be this contract.
    @param token Must be the base asset.
    @param amount The amount lent.
    @param fee The fee owed.
    @param data abi_encode(mode, collateral, borrowers, repays): one
           position (`liquidate`), a batch (`liquidate_many`) or a
           gathered batch (`liquidate_gathered`).
    @return bytes32 The ERC-3156 success value.
    """
    assert msg.sender == MARKET.address, "flash liquidator: not the market"
    assert initiator == self and self._active, "flash liquidator: not initiated here"
    assert token == BASE.address, "flash liquidator: wrong token"
    mode: uint256 = _ONE
    collateral: address = empty(address)
    borrowers: DynArray[address, MAX_BATCH] = []
    repays: DynArray[uint256, MAX_BATCH] = []
    mode, collateral, borrowers, repays = abi_decode(
        data, (uint256, address, DynArray[address, MAX_BATCH], DynArray[uint256, MAX_BATCH])
    )

    # One approval per pull, so that no allowance outlives the call: the
    # liquidations pull what they repay (<= amount), the loan `amount + fee`.
    self._approve(amount)
    if mode == _ONE:
        self._liquidate_one(collateral, borrowers[0], repays[0], fee)
    else:
        self._liquidate_batch(collateral, borrowers, repays, fee, mode == _GATHERED)
    self._approve(amount + fee)
    return CALLBACK_SUCCESS


@internal
def _flash(amount: uint256, data: Bytes[2_048]):
    """
    @dev Flash-borrows `amount` of the base asset; `onFlashLoan` receives
         `data`. The transient flag admits the callback.
    @param amount The loan.
    @param data abi_encode(mode, collateral, borrowers, repays).
    """
    self._active = True
    extcall MARKET.flashLoan(IERC3156FlashBorrower(self), BASE.address, amount, data)
    self._active = False


@internal
def _batch(
    mode: uint256,
    token: address,
    borrowers: DynArray[address, MAX_BATCH],
    max_repays: DynArray[uint256, MAX_BATCH],
    loan: uint256,
    min_profit: uint256,
) -> uint256:
    """
    @dev `liquidate_many` and `liquidate_gathered`: checks the owner and
         the batch, flash-borrows `loan` and pays the owner.
    @param mode `_MANY` or `_GATHERED`.
    @param token The collateral.
    @param borrowers The positions.
    @param max_repays The most to repay of each.
    @param loan The stablecoin to flash-borrow.
    @param min_profit The least profit, or it reverts.
    @return uint256 The profit sent to the owner.
    """
    ownable._check_owner()
    assert len(borrowers) != 0 and len(borrowers) == len(max_repays), "flash liquidator: bad batch"
    assert loan != 0, "flash liquidator: nothing to liquidate"
    self._flash(loan, abi_encode(mode, token, borrowers, max_repays))
    return self._pay_owner(min_profit)


@internal
def _pay_owner(min_profit: uint256) -> uint256:
    """
    @dev Sweeps the whole stablecoin balance, the profit, to the owner.
    @param min_profit The least profit, or it reverts.
    @return uint256 The profit sent.
    """
    profit: uint256 = staticcall BASE.balanceOf(self)
    assert profit >= min_profit, "flash liquidator: profit below minimum"
    if profit != 0:
        assert extcall BASE.transfer(ownable.owner, profit, default_return_value=True), "flash liquidator: transfer failed"
    return profit


@internal
def _liquidate_one(collateral: address, borrower: address, repay: uint256, fee: uint256):
    """
    @dev One liquidation; any revert of the market's reverts the call.
    @param collateral The collateral seized and redeemed.
    @param borrower The position.
    @param repay The repayment previewed.
    @param fee The flash fee owed.
    """
    repaid: uint256 = 0
    seized: uint256 = 0
    payout: uint256 = 0
    repaid, seized, payout = extcall MARKET.liquidate(borrower, collateral, repay, 0, True, self)
    assert payout >= repaid + fee, "flash liquidator: payout below cost"
    log Liquidated(
        borrower=borrower,
        token=collateral,
        repaid=repaid,
        seized=seized,
        payout=payout,
        flash_fee=fee,
        profit=payout - repaid - fee,
    )


@internal
def _liquidate_batch(
    collateral: address,
    borrowers: DynArray[address, MAX_BATCH],
    repays: DynArray[uint256, MAX_BATCH],
    fee: uint256,
    gathered: bool,
):
    """
    @dev Liquidates each position; one the market refuses with a reason
         ("market: position healthy", a facility's "insufficient
         liquidity") is skipped. Not gathered: through the redeem route,
         each paying this contract. Gathered: through the seize route,
         each sending its shares to the collateral's facility, which then
         redeems them all in one `redeem_received` whose payout (measured
         here) must cover the cost. A revert with no data is not a refusal:
         it is what running out of gas looks like at any depth (a frame
         out of gas returns nothing, and every Vyper frame above passes
         that on), so the whole batch reverts rather than skip positions
         it could have liquidated with a higher gas limit. The gas left
         cannot tell instead: a frame two calls down that runs out leaves
         this one about 3 % of what it had, not 1/64.
    @param collateral The collateral seized and redeemed.
    @param borrowers The positions.
    @param repays The most to repay of each.
    @param fee The flash fee owed.
    @param gathered Whether the shares are gathered at the facility.
    """
    receiver: address = self
    if gathered:
        receiver = (staticcall IMarketViews(MARKET.address).asset_config(collateral)).facility
        assert receiver != empty(address), "flash liquidator: no facility"
    repaid: uint256 = 0
    payout: uint256 = 0
    liquidated: uint256 = 0
    for i: uint256 in range(len(borrowers), bound=MAX_BATCH):
        ok: bool = False
        response: Bytes[MAX_REASON] = b""
        ok, response = raw_call(
            MARKET.address,
            abi_encode(
                borrowers[i], collateral, repays[i], empty(uint256), not gathered, receiver, method_id=LIQUIDATE_SELECTOR
            ),
            max_outsize=MAX_REASON,
            revert_on_failure=False,
        )
        if not ok:
            assert len(response) != 0, "flash liquidator: revert without reason"
            log LiquidationSkipped(borrower=borrowers[i], token=collateral, reason=response)
            continue
        one_repaid: uint256 = 0
        one_seized: uint256 = 0
        one_payout: uint256 = 0
        one_repaid, one_seized, one_payout = abi_decode(response, (uint256, uint256, uint256))
        repaid += one_repaid
        payout += one_payout
        liquidated += 1
    assert liquidated != 0, "flash liquidator: nothing to liquidate"
    if gathered:
        # `payout` summed shares sent to the facility; what counts is the
        # stablecoin this contract is paid for them.
        before: uint256 = staticcall BASE.balanceOf(self)
        extcall IGatheredRedemption(receiver).redeem_received(repaid + fee, self)
        payout = staticcall BASE.balanceOf(self) - before
    assert payout >= repaid + fee, "flash liquidator: payout below cost"
    log BatchLiquidated(
        token=collateral,
        liquidated=liquidated,
        skipped=len(borrowers) - liquidated,
        repaid=repaid,
        payout=payout,
        flash_fee=fee,
        profit=payout - repaid - fee,
    )


@internal
def _approve(amount: uint256):
    """
    @dev Sets the market's allowance on the stablecoin to `amount`.
    @param amount The allowance.
    """
    assert extcall BASE.approve(MARKET.address, amount, default_return_value=True), "flash liquidator: approve failed"
