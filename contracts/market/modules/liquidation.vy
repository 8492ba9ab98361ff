# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title navlend Market: Liquidation
@custom:contract-name liquidation
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Liquidation of unhealthy positions, by the share route or the
        redeem route through the issuer's facility. `Market` exports it; its
        preconditions are `market_core._liquidation_check`, which
        `MarketViews.preview_liquidation` shares.
"""

from ...interfaces import IRedemptionFacility

from . import market_core as core
from . import market_storage as store

uses: store
uses: core


# ---- EXTERNAL FUNCTIONS ----

@external
def liquidate(
    borrower: address,
    token: address,
    max_repay: uint256,
    min_out: uint256,
    redeem_shares: bool,
    receiver: address,
) -> (uint256, uint256, uint256):
    """
    @notice Repays up to `max_repay` of an unhealthy borrower's debt and
            takes collateral worth the repayment plus the asset's bonus, at
            min(last price, cap) even if the price is stale.
            - Close factor: 50 % of the debt; 100 % below a health factor
              of 0.95 or when the debt or the collateral is small.
            - A partial liquidation must leave at least the dust floor of
              both the debt and this collateral, or clear one of them.
            - A liquidation that leaves no collateral value writes the
              remaining debt off: reserves first, then lenders.
            - `redeem_shares`: the seized shares are redeemed through the
              asset's facility and `receiver` is paid in the base asset, so
              no allowlisting is needed; otherwise `receiver` gets the
              shares and must be allowlisted by the fund.
            The repayment is pulled from the caller after `receiver` is
            paid, so a redeem-route liquidation can fund itself.
    @param borrower The position to liquidate.
    @param token The collateral asset to seize.
    @param max_repay The most the caller will repay ("up to").
    @param min_out The least collateral (share route) or base asset
           (redeem route) that `receiver` must get.
    @param redeem_shares True for the redeem route.
    @param receiver Who gets the seized shares or the payout.
    @return uint256 The debt repaid.
    @return uint256 The collateral seized from the borrower.
    @return uint256 What `receiver` got: shares, or base units.
    """
    assert receiver != empty(address), "market: zero address"
    word: uint256 = 0
    asset_id: uint256 = 0
    word, asset_id = core._asset(token)

    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    control: uint256 = store._control
    index: uint256 = market >> store.MARKET_INDEX_SHIFT
    position: uint256 = store._positions[borrower]
    scaled: uint256 = position & store.MASK112
    debt: uint256 = core._debt_of(scaled, index)
    v: core._Valuation = core._valuation(borrower, position, asset_id, core.VALUE_LIQUIDATION)
    # The preconditions `preview_liquidation` shares (reverting here).
    core._liquidation_check(v, debt, market, True)

    repaid: uint256 = 0
    seized: uint256 = 0
    repaid, seized = core._liquidation_amounts(asset_id, v, debt, max_repay)

    # What is left of the protocol's share of the bonus stays in the market
    # as the treasury's collateral (default share: zero).
    fee: uint256 = core._protocol_fee(asset_id, seized, (control >> store.CONTROL_LIQUIDATION_FEE_SHIFT) & store.MASK16)
    taken: uint256 = seized - fee
    left: uint256 = v.target_balance - seized
    position = core._set_collateral(borrower, asset_id, position, left)
    # The total supplied is the sum of all balances, so it covers `taken`.
    store._assets[token] = unsafe_sub(word, taken << store.TOKEN_TOTAL_SHIFT)

    removed: uint256 = core._scaled_repaid(repaid, debt, scaled, index)
    core._reduce_debt(borrower, position, removed, market, book + repaid)
    scaled_left: uint256 = scaled - removed
    # Debt left that the collateral left cannot cover, with that collateral
    # worth nothing or less than the dust floor (not worth a liquidation's
    # gas, and a redeem route may refuse it): the collateral left goes to
    # the treasury and the debt left is written off. The test is on value,
    # not balances, so a unit of collateral posted to an insolvent position
    # (here or in another asset) cannot keep its debt alive.
    if scaled_left != 0:
        remaining_value: uint256 = v.total_value - v.target_value + core._value(left, v.target_price, asset_id)
        if remaining_value < core._debt_of(scaled_left, index) and (
            remaining_value == 0 or remaining_value < ((control >> store.CONTROL_DUST_FLOOR_SHIFT) & store.MASK48) * core.BASE_UNIT
        ):
            if remaining_value != 0 and borrower != store.treasury:
                core._sweep_to_treasury(borrower)
                left = 0
            core._write_off(borrower, scaled_left, index)
            scaled_left = 0
    if fee != 0:
        core._credit_treasury(asset_id, fee)

    # `taken` leaves the books; the real units it holds leave the market.
    payout: uint256 = core._real_amount(word, asset_id, taken)
    sent: uint256 = payout
    if redeem_shares:
        facility: address = store._asset_facility[asset_id]
        assert facility != empty(address), "market: no facility"
        payout = extcall IRedemptionFacility(facility).redeem(sent, min_out, receiver)
    else:
        assert sent >= min_out, "market: slippage"
    log core.Liquidate(
        liquidator=msg.sender,
        borrower=borrower,
        token=token,
        receiver=receiver,
        repaid=repaid,
        seized=seized,
        protocol_fee=fee,
        payout=payout,
        scaled_debt=scaled_left,
        collateral=left,
    )
    if not redeem_shares:
        core._push(token, receiver, sent)
    if repaid != 0:
        core._pull(core.BASE.address, msg.sender, repaid)
    return repaid, seized, payout
