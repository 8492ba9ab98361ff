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

from interfaces import IERC3156FlashBorrower

implements: IERC3156FlashBorrower

from snekmate.auth import ownable

initializes: ownable

exports: (ownable.owner, ownable.transfer_ownership)


interface IMarket:
    def asset() -> address: view
    def flashLoan(receiver: address, token: address, amount: uint256, data: Bytes[2_048]) -> bool: nonpayable
    def flashFee(token: address, amount: uint256) -> uint256: view
    def liquidate(
        borrower: address,
        token: address,
        max_repay: uint256,
        min_out: uint256,
        redeem_shares: bool,
        receiver: address,
    ) -> (uint256, uint256, uint256): nonpayable
    def preview_liquidation(borrower: address, token: address, max_repay: uint256) -> (uint256, uint256): view


# @dev What an ERC-3156 borrower's callback returns.
CALLBACK_SUCCESS: constant(bytes32) = keccak256("ERC3156FlashBorrower.onFlashLoan")

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


@deploy
def __init__(market: address):
    """
    @notice Deploys a liquidator for `market`, owned by the deployer.
    @param market The navlend market.
    """
    ownable.__init__()
    MARKET = IMarket(market)
    BASE = IERC20(staticcall IMarket(market).asset())


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
    repay, seize = staticcall MARKET.preview_liquidation(borrower, token, max_repay)
    assert repay != 0, "flash liquidator: nothing to liquidate"

    self._active = True
    extcall MARKET.flashLoan(self, BASE.address, repay, abi_encode(borrower, token, repay))
    self._active = False

    profit: uint256 = staticcall BASE.balanceOf(self)
    assert profit >= min_profit, "flash liquidator: profit below minimum"
    owner: address = ownable.owner
    if profit != 0:
        assert extcall BASE.transfer(owner, profit, default_return_value=True), "flash liquidator: transfer failed"
    return profit


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
    @param data The borrower, the collateral and the repayment.
    @return bytes32 The ERC-3156 success value.
    """
    assert msg.sender == MARKET.address, "flash liquidator: not the market"
    assert initiator == self and self._active, "flash liquidator: not initiated here"
    assert token == BASE.address, "flash liquidator: wrong token"
    borrower: address = empty(address)
    collateral: address = empty(address)
    repay: uint256 = 0
    borrower, collateral, repay = abi_decode(data, (address, address, uint256))

    # One approval per pull, so that no allowance outlives the call: the
    # liquidation pulls `repaid` (<= amount), the loan `amount + fee`.
    self._approve(amount)
    repaid: uint256 = 0
    seized: uint256 = 0
    payout: uint256 = 0
    repaid, seized, payout = extcall MARKET.liquidate(borrower, collateral, repay, 0, True, self)
    assert payout >= repaid + fee, "flash liquidator: payout below cost"
    self._approve(amount + fee)
    log Liquidated(
        borrower=borrower,
        token=collateral,
        repaid=repaid,
        seized=seized,
        payout=payout,
        flash_fee=fee,
        profit=payout - repaid - fee,
    )
    return CALLBACK_SUCCESS


@internal
def _approve(amount: uint256):
    """
    @dev Sets the market's allowance on the stablecoin to `amount`.
    @param amount The allowance.
    """
    assert extcall BASE.approve(MARKET.address, amount, default_return_value=True), "flash liquidator: approve failed"
