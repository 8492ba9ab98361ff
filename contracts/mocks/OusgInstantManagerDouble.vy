# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo OUSG Instant Manager Double (2024 redeem path)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Ondo's 2024 instant manager, written from its
        documented behaviour (docs/issuers.md), not from its code, quirks
        included:
        - `redeem(amount)` pulls `amount` OUSG from the caller (so the
          caller, and this manager as the spender, must be KYC'd), burns
          it, and pays the caller in USDC; it returns the USDC paid and
          takes no minimum output;
        - the price (`getOUSGPrice`) must be STRICTLY above $105: at or
          below the floor the view and `redeem` revert;
        - gross = amount x price / 1e18 / 1e12, rounded down (USDC has 6
          decimals), and must be at least `minimumRedemptionAmount`
          ($50,000);
        - a fixed-window limit on the gross, shared by every holder:
          `currentInstantRedemptionAmount` grows by each redemption and
          goes back to zero on the first redemption once
          `resetInstantRedemptionDuration` has passed since
          `lastResetInstantRedemptionTime` (not a rolling window: a full
          limit can pass just before and just after a reset);
        - a fee of `redeemFee` bps of the gross (rounded down, default 0)
          goes to the fee receiver, the rest to the caller;
        - from `minBUIDLRedeemAmount` ($250,000) of gross, the manager
          redeems exactly the gross in BUIDL through the BUIDL redeemer
          (1:1); below it, it pays from its USDC buffer and, when the
          buffer is short, first redeems a `minBUIDLRedeemAmount` chunk of
          BUIDL, keeping what is left over as the new buffer;
        - redemptions have their own pause (`redeemPaused`), and
          subscriptions theirs (`mintPaused`);
        - `mint(usdc)` takes at least `minimumDepositAmount` ($100,000) of
          USDC from the caller to Ondo's receiver (the fee receiver here)
          and mints the caller OUSG at the same floored price, less a fee
          of `mintFee` bps of the USDC (rounded down, default 0):
          ousg = (usdc - fee) x 1e12 x 1e18 / price, rounded down. The
          real manager's mint limit is not doubled.
        Never deployed on a live network.
"""


from ethereum.ercs import IERC20

from ..interfaces import IBuidlRedeemer
from ..interfaces import IOndoOracle
from ..interfaces import IOusg
from ..interfaces import IOusgInstantManager
implements: IOusgInstantManager


# ---- CONSTANTS ----

# The price floor: a redemption needs a price strictly above $105.
MINIMUM_OUSG_PRICE: public(constant(uint256)) = 105 * 10**18
# Highest settable fee (redemption or subscription), in bps (a double's cap).
MAX_FEE: public(constant(uint256)) = 200
# Basis points in one.
_BPS: constant(uint256) = 10_000
# OUSG's 18 decimals of price times 18 of amount down to USDC's 6: 1e18 x 1e12.
_PRICE_SCALE: constant(uint256) = 10**18
_DECIMALS_GAP: constant(uint256) = 10**12


# ---- IMMUTABLES ----

ousg: public(immutable(address))
usdc: public(immutable(address))
buidl: public(immutable(address))
oracle: public(immutable(address))


# ---- STORAGE ----

# Ondo: sets limits, fees and pauses.
owner: public(address)
# The BUIDL redeemer (Ondo may replace it).
buidlRedeemer: public(address)
# Receives the redemption fee.
fee_receiver: public(address)
# True while redemptions are paused.
redeemPaused: public(bool)
# The redemption fee in bps of the gross.
redeemFee: public(uint256)
# True while subscriptions are paused.
mintPaused: public(bool)
# The subscription fee in bps of the USDC.
mintFee: public(uint256)
# The smallest subscription, in USDC units ($100,000).
minimumDepositAmount: public(uint256)
# The smallest gross redemption, in USDC units ($50,000).
minimumRedemptionAmount: public(uint256)
# From this gross on, BUIDL is redeemed for the whole amount ($250,000).
minBUIDLRedeemAmount: public(uint256)
# The gross that may be redeemed per window, shared by all holders.
instantRedemptionLimit: public(uint256)
# The gross redeemed in the current window.
currentInstantRedemptionAmount: public(uint256)
# When the current window started.
lastResetInstantRedemptionTime: public(uint256)
# The window's length in seconds.
resetInstantRedemptionDuration: public(uint256)


# ---- EVENTS ----

event InstantRedemption:
    caller: indexed(address)
    ousg_amount: uint256
    gross: uint256
    paid: uint256
    fee: uint256
    price: uint256


event InstantMint:
    caller: indexed(address)
    usdc_amount: uint256
    ousg_amount: uint256
    fee: uint256
    price: uint256


event BuidlRedemption:
    amount: uint256


event RedeemPausedSet:
    paused: bool


event MintPausedSet:
    paused: bool


# ---- CONSTRUCTOR ----

@deploy
def __init__(
    ousg_: address,
    usdc_: address,
    buidl_: address,
    redeemer_: address,
    oracle_: address,
    limit_: uint256,
    duration_: uint256,
):
    """
    @notice Deploys the manager owned by the deployer (Ondo), with the
            $100,000 subscription and $50,000 redemption minimums, the
            $250,000 BUIDL threshold and no fees. Ondo must KYC it and make
            it an OUSG minter.
    @param ousg_ OUSG (this manager must be KYC'd on it).
    @param usdc_ USDC.
    @param buidl_ BUIDL.
    @param redeemer_ The BUIDL redeemer.
    @param oracle_ The OUSG price oracle.
    @param limit_ The shared limit per window (USDC units).
    @param duration_ The window's length (seconds).
    """
    ousg = ousg_
    usdc = usdc_
    buidl = buidl_
    oracle = oracle_
    self.owner = msg.sender
    self.buidlRedeemer = redeemer_
    self.fee_receiver = msg.sender
    self.minimumDepositAmount = 100_000 * 10**6
    self.minimumRedemptionAmount = 50_000 * 10**6
    self.minBUIDLRedeemAmount = 250_000 * 10**6
    self.instantRedemptionLimit = limit_
    self.resetInstantRedemptionDuration = duration_
    self.lastResetInstantRedemptionTime = block.timestamp


# ---- REDEMPTION ----

@external
def redeem(amount: uint256) -> uint256:
    """
    @notice Redeems `amount` OUSG of the caller for USDC paid to the caller.
    @param amount The OUSG (18 decimals).
    @return uint256 The USDC paid (gross less the fee).
    """
    assert not self.redeemPaused, "manager: redeem paused"
    assert amount != 0, "manager: zero amount"
    price: uint256 = self._price()
    gross: uint256 = amount * price // _PRICE_SCALE // _DECIMALS_GAP
    assert gross >= self.minimumRedemptionAmount, "manager: below minimum"
    self._spend_limit(gross)
    fee: uint256 = gross * self.redeemFee // _BPS
    # Cannot wrap: the fee is at most 2 % of the gross.
    paid: uint256 = unsafe_sub(gross, fee)

    assert extcall IERC20(ousg).transferFrom(msg.sender, self, amount, default_return_value=True)
    extcall IOusg(ousg).burn(amount)
    threshold: uint256 = self.minBUIDLRedeemAmount
    if gross >= threshold:
        self._redeem_buidl(gross)
    elif gross > staticcall IERC20(usdc).balanceOf(self):
        self._redeem_buidl(threshold)
    if fee != 0:
        assert extcall IERC20(usdc).transfer(self.fee_receiver, fee, default_return_value=True)
    assert extcall IERC20(usdc).transfer(msg.sender, paid, default_return_value=True)
    log InstantRedemption(caller=msg.sender, ousg_amount=amount, gross=gross, paid=paid, fee=fee, price=price)
    return paid


@external
def mint(usdc_amount: uint256) -> uint256:
    """
    @notice Sells the caller new OUSG for `usdc_amount` USDC.
    @param usdc_amount The USDC (6 decimals), at least $100,000.
    @return uint256 The OUSG minted (18 decimals), rounded down.
    """
    assert not self.mintPaused, "manager: mint paused"
    assert usdc_amount >= self.minimumDepositAmount, "manager: below minimum deposit"
    price: uint256 = self._price()
    fee: uint256 = usdc_amount * self.mintFee // _BPS
    # Cannot wrap: the fee is at most 2 % of the amount.
    ousg_amount: uint256 = unsafe_sub(usdc_amount, fee) * _DECIMALS_GAP * _PRICE_SCALE // price
    assert ousg_amount != 0, "manager: zero amount"
    assert extcall IERC20(usdc).transferFrom(msg.sender, self.fee_receiver, usdc_amount, default_return_value=True)
    extcall IOusg(ousg).mint(msg.sender, ousg_amount)
    log InstantMint(caller=msg.sender, usdc_amount=usdc_amount, ousg_amount=ousg_amount, fee=fee, price=price)
    return ousg_amount


@external
@view
def getOUSGPrice() -> uint256:
    """
    @notice The oracle's price; reverts at or below the $105 floor.
    @return uint256 The price (18 decimals).
    """
    return self._price()


# ---- ONDO ----

@external
def set_redeem_paused(paused: bool):
    """
    @notice Pauses or resumes redemptions (owner).
    @param paused The new status.
    """
    self._only_owner()
    self.redeemPaused = paused
    log RedeemPausedSet(paused=paused)


@external
def set_mint_paused(paused: bool):
    """
    @notice Pauses or resumes subscriptions (owner).
    @param paused The new status.
    """
    self._only_owner()
    self.mintPaused = paused
    log MintPausedSet(paused=paused)


@external
def set_mint_fee(fee_bps: uint256):
    """
    @notice Sets the subscription fee (owner, at most 200 bps).
    @param fee_bps The fee in bps of the USDC.
    """
    self._only_owner()
    assert fee_bps <= MAX_FEE, "manager: fee too high"
    self.mintFee = fee_bps


@external
def set_redeem_fee(fee_bps: uint256):
    """
    @notice Sets the redemption fee (owner, at most 200 bps).
    @param fee_bps The fee in bps of the gross.
    """
    self._only_owner()
    assert fee_bps <= MAX_FEE, "manager: fee too high"
    self.redeemFee = fee_bps


@external
def set_redemption_limit(limit: uint256, duration: uint256):
    """
    @notice Sets the shared limit and its window (owner).
    @param limit The gross per window (USDC units).
    @param duration The window's length (seconds).
    """
    self._only_owner()
    self.instantRedemptionLimit = limit
    self.resetInstantRedemptionDuration = duration


@external
def set_minimum_redemption(amount: uint256):
    """
    @notice Sets the smallest gross redemption (owner).
    @param amount USDC units.
    """
    self._only_owner()
    self.minimumRedemptionAmount = amount


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _only_owner():
    """
    @dev Reverts unless the caller is the owner.
    """
    assert msg.sender == self.owner, "manager: not owner"


@internal
@view
def _price() -> uint256:
    """
    @dev The oracle's price, strictly above the floor or a revert.
    @return uint256 The price (18 decimals).
    """
    price: uint256 = 0
    posted_at: uint256 = 0
    price, posted_at = staticcall IOndoOracle(oracle).getPriceData()
    assert price > MINIMUM_OUSG_PRICE, "manager: price below floor"
    return price


@internal
def _spend_limit(gross: uint256):
    """
    @dev Resets the window on the first redemption after it ended, then
         adds `gross`, reverting past the limit.
    @param gross The USDC gross.
    """
    if block.timestamp >= self.lastResetInstantRedemptionTime + self.resetInstantRedemptionDuration:
        self.currentInstantRedemptionAmount = 0
        self.lastResetInstantRedemptionTime = block.timestamp
    spent: uint256 = self.currentInstantRedemptionAmount + gross
    assert spent <= self.instantRedemptionLimit, "manager: limit exceeded"
    self.currentInstantRedemptionAmount = spent


@internal
def _redeem_buidl(amount: uint256):
    """
    @dev Redeems `amount` BUIDL for as much USDC, 1:1, checking the USDC.
    @param amount The BUIDL (6 decimals).
    """
    assert staticcall IERC20(buidl).balanceOf(self) >= amount, "manager: BUIDL short"
    before: uint256 = staticcall IERC20(usdc).balanceOf(self)
    redeemer: address = self.buidlRedeemer
    assert extcall IERC20(buidl).approve(redeemer, amount, default_return_value=True)
    extcall IBuidlRedeemer(redeemer).redeem(amount)
    assert staticcall IERC20(usdc).balanceOf(self) == before + amount, "manager: BUIDL redemption short"
    log BuidlRedemption(amount=amount)
