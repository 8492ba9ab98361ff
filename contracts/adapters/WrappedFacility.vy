# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Redemption Adapter for Wrapper Shares
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Makes an ERC-4626 wrapper over a fund share redeemable like the
        fund itself: `redeem(shares, min_out, receiver)` pulls wrapper
        shares from the caller, redeems them in the wrapper for fund shares
        and redeems those through the fund's RedemptionFacility, paying the
        stablecoin to `receiver`. The lending market's redeem route calls
        this the same way it calls a fund's facility.
        - The caller must be allowlisted by the fund (checked first), and
          this adapter must be allowlisted too: it holds fund shares for a
          moment and is the spender the facility pulls from.
        - Rounding: the wrapper pays fund shares rounded down, the facility
          pays stablecoin rounded down; the previews compose the same two
          steps, so `preview_redeem` is exactly what `redeem` pays.
        - Limits, minimum, fee, pause and staleness are the facility's;
          `max_redeem` converts the facility's bound into wrapper shares,
          rounded down.
@custom:security Ownerless and holds nothing between calls. It approves the
                 facility for exactly the fund shares of each redemption.
@custom:kill Nothing to kill here: the issuer pauses the underlying
             facility or de-allowlists this adapter in the fund.
"""


from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626


from ..interfaces import IFundToken
from ..interfaces import IRedemptionFacility
implements: IRedemptionFacility


# ---- IMMUTABLES ----

# The ERC-4626 wrapper whose shares are redeemed (the "share token").
share_token: public(immutable(address))
# The stablecoin paid out (the underlying facility's payout token).
payout_token: public(immutable(address))
# The fund share inside the wrapper.
fund: public(immutable(address))
# The fund's redemption facility.
facility: public(immutable(address))


# ---- EVENTS ----

# Wrapper shares were redeemed down to stablecoin.
event Redeemed:
    caller: indexed(address)
    receiver: indexed(address)
    shares: uint256
    fund_shares: uint256
    payout: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(wrapper_: address, facility_: address):
    """
    @notice Deploys the adapter for one wrapper and its fund's facility.
    @param wrapper_ The ERC-4626 wrapper.
    @param facility_ The fund's RedemptionFacility.
    """
    assert wrapper_ != empty(address) and facility_ != empty(address), "facility: zero address"
    fund_: address = staticcall IERC4626(wrapper_).asset()
    assert staticcall IRedemptionFacility(facility_).share_token() == fund_, "facility: fund mismatch"
    share_token = wrapper_
    facility = facility_
    fund = fund_
    payout_token = staticcall IRedemptionFacility(facility_).payout_token()


# ---- REDEMPTION ----

@external
def redeem(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @notice Redeems `shares` wrapper shares of the caller down to stablecoin
            for `receiver`.
    @param shares The wrapper shares (pulled with transferFrom).
    @param min_out The least stablecoin accepted (checked by the facility).
    @param receiver The stablecoin receiver.
    @return uint256 The stablecoin paid.
    """
    assert shares != 0, "facility: zero amount"
    assert staticcall IFundToken(fund).is_allowlisted(msg.sender), "facility: caller not allowlisted"
    assert extcall IERC20(share_token).transferFrom(msg.sender, self, shares, default_return_value=True)
    fund_shares: uint256 = extcall IERC4626(share_token).redeem(shares, self, self)
    assert extcall IERC20(fund).approve(facility, fund_shares, default_return_value=True)
    payout: uint256 = extcall IRedemptionFacility(facility).redeem(fund_shares, min_out, receiver)
    log Redeemed(caller=msg.sender, receiver=receiver, shares=shares, fund_shares=fund_shares, payout=payout)
    return payout


@external
@view
def preview_redeem(shares: uint256) -> uint256:
    """
    @notice The stablecoin `redeem(shares)` would pay now, ignoring limits.
    @param shares The wrapper shares.
    @return uint256 The stablecoin (0 while the NAV is stale or bad).
    """
    return staticcall IRedemptionFacility(facility).preview_redeem(
        staticcall IERC4626(share_token).previewRedeem(shares)
    )


@external
@view
def max_redeem() -> uint256:
    """
    @notice The most wrapper shares one `redeem` can take now.
    @dev The facility's bound in fund shares, converted to wrapper shares
         rounded down (so their redemption stays within it); 0 when the
         facility reports 0.
    @return uint256 The wrapper shares.
    """
    fund_shares: uint256 = staticcall IRedemptionFacility(facility).max_redeem()
    if fund_shares == 0:
        return 0
    return staticcall IERC4626(share_token).convertToShares(fund_shares)


@external
@view
def fee_bps() -> uint256:
    """
    @notice The underlying facility's redemption fee.
    @return uint256 The fee in basis points.
    """
    return staticcall IRedemptionFacility(facility).fee_bps()
