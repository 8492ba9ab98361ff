# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate Redemption Double (Idle and Yield)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Superstate's instant redemption contracts,
        written from their documented behaviour (docs/issuers.md), never
        from their code, quirks included:
        - `redeem(to, amount)` and `redeem(amount)` return NOTHING and take
          no minimum;
        - payout: gross = amount x price / 10^(feed decimals), rounded
          down (shares and USDC both have 6 decimals); fee = gross x
          `redemptionFee` / 10,000, rounded down, kept here; the net goes
          to `to`, or, with `pays_caller` (RedemptionYield's quirk), to the
          caller, while the event still names `to`;
        - the price is the oracle's `latestRoundData` (the extrapolated
          one), refused under $7 and when older than `maximumOracleDelay`
          ("BadChainlinkData"; over SuperstateOracle, whose `updatedAt` is
          the block time, the age check never fires); a stale oracle's
          revert passes through;
        - it reverts "InsufficientBalance" without the USDC, while paused,
          and "BadArgs" for 0;
        - the shares are pulled with `transferFrom` from the caller (the
          token checks the caller, the owner of the shares, against its
          AllowList), then burned through the token's off-chain
          redemption, so this contract must be allowed by the fund too.
        Never deployed on a live network.
"""


from ethereum.ercs import IERC20

from ..interfaces import IAggregatorV3
from ..interfaces import ISuperstateRedemption
implements: ISuperstateRedemption


# ---- CONSTANTS ----

# Highest fee: 10 bps.
MAX_FEE_BPS: public(constant(uint256)) = 10
# The lowest price accepted: $7, in whole dollars.
MIN_PRICE_DOLLARS: public(constant(uint256)) = 7
# Basis points in one.
_BPS: constant(uint256) = 10_000


# ---- IMMUTABLES ----

# The fund token redeemed here.
SUPERSTATE_TOKEN: public(immutable(address))
# The USDC paid out.
USDC: public(immutable(address))
# The fund's price oracle (AggregatorV3 shape).
ORACLE: public(immutable(address))
# RedemptionYield's quirk: pay the caller, whatever `to` says.
PAYS_CALLER: public(immutable(bool))
# 10 ** the oracle's decimals.
_PRICE_SCALE: immutable(uint256)


# ---- STORAGE ----

# The issuer.
owner: public(address)
# Redemptions paused.
paused: public(bool)
# Fee in basis points, kept here.
redemptionFee: public(uint256)
# The oldest price accepted, in seconds.
maximumOracleDelay: public(uint256)


# ---- EVENTS ----

event Redeem:
    redeemer: indexed(address)
    to: indexed(address)
    superstateTokenInAmount: uint256
    usdcOutAmountAfterFee: uint256
    usdcOutAmountBeforeFee: uint256


event Withdraw:
    token: indexed(address)
    to: indexed(address)
    amount: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(token_: address, oracle_: address, usdc_: address, maximum_oracle_delay_: uint256, pays_caller_: bool):
    """
    @notice Deploys a redemption contract owned by the deployer.
    @param token_ The fund token.
    @param oracle_ The fund's oracle.
    @param usdc_ The USDC (6 decimals).
    @param maximum_oracle_delay_ The oldest price accepted (seconds).
    @param pays_caller_ True for the RedemptionYield variant.
    """
    SUPERSTATE_TOKEN = token_
    ORACLE = oracle_
    USDC = usdc_
    PAYS_CALLER = pays_caller_
    _PRICE_SCALE = 10 ** convert(staticcall IAggregatorV3(oracle_).decimals(), uint256)
    self.owner = msg.sender
    self.maximumOracleDelay = maximum_oracle_delay_


# ---- REDEMPTION ----

@external
def redeem(to: address, amount: uint256):
    """
    @notice Redeems the caller's `amount` shares for USDC paid to `to`
            (Idle) or to the caller (Yield). Returns nothing.
    @param to The receiver named (paid only by the Idle variant).
    @param amount The shares.
    """
    self._redeem(to, amount)


@external
def __default__():
    """
    @notice `redeem(uint256)`: redeems for the caller (Vyper has no
            overloading, so the one-argument form is decoded here).
    """
    assert len(msg.data) == 36 and slice(msg.data, 0, 4) == method_id("redeem(uint256)"), "BadArgs"
    self._redeem(msg.sender, convert(slice(msg.data, 4, 32), uint256))


@external
@view
def calculateUsdcOut(amount: uint256) -> (uint256, uint256):
    """
    @notice The USDC `redeem(amount)` pays after the fee, and the price.
    @param amount The shares.
    @return uint256 The net USDC.
    @return uint256 The price used.
    """
    price: uint256 = self._price()
    gross: uint256 = amount * price // _PRICE_SCALE
    return gross - gross * self.redemptionFee // _BPS, price


@external
@view
def maxUstbRedemptionAmount() -> (uint256, uint256):
    """
    @notice The most shares the USDC held can pay for, and the price.
    @dev Rounded down: the net of the answer fits the balance.
    @return uint256 The shares.
    @return uint256 The price used.
    """
    price: uint256 = self._price()
    balance: uint256 = staticcall IERC20(USDC).balanceOf(self)
    gross_cap: uint256 = balance * _BPS // (_BPS - self.redemptionFee)
    return gross_cap * _PRICE_SCALE // price, price


# ---- ISSUER ----

@external
def withdraw(token: address, to: address, amount: uint256):
    """
    @notice Takes any token out (issuer): the fees, the liquidity.
    @param token The token.
    @param to The receiver.
    @param amount The amount.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert amount != 0, "BadArgs"
    assert extcall IERC20(token).transfer(to, amount, default_return_value=True)
    log Withdraw(token=token, to=to, amount=amount)


@external
def setRedemptionFee(fee_bps: uint256):
    """
    @notice Sets the fee (issuer), at most 10 bps.
    @param fee_bps The fee in basis points.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert fee_bps <= MAX_FEE_BPS, "FeeTooHigh"
    self.redemptionFee = fee_bps


@external
def setMaximumOracleDelay(delay: uint256):
    """
    @notice Sets the oldest price accepted (issuer).
    @param delay Seconds.
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.maximumOracleDelay = delay


@external
def pause():
    """
    @notice Stops redemptions (issuer).
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.paused = True


@external
def unpause():
    """
    @notice Resumes redemptions (issuer).
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.paused = False


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _price() -> uint256:
    """
    @dev The oracle's price, refused under $7 or older than the delay.
    @return uint256 The price (oracle decimals).
    """
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(ORACLE).latestRoundData()
    assert answer >= convert(MIN_PRICE_DOLLARS * _PRICE_SCALE, int256), "BadChainlinkData"
    assert updated_at + self.maximumOracleDelay >= block.timestamp, "BadChainlinkData"
    return convert(answer, uint256)


@internal
def _redeem(to: address, amount: uint256):
    """
    @dev Prices, pulls the shares, pays the net, burns the shares.
    @param to The receiver named.
    @param amount The shares.
    """
    assert not self.paused, "Pausable: paused"
    assert amount != 0, "BadArgs"
    price: uint256 = self._price()
    gross: uint256 = amount * price // _PRICE_SCALE
    net: uint256 = gross - gross * self.redemptionFee // _BPS
    assert staticcall IERC20(USDC).balanceOf(self) >= net, "InsufficientBalance"
    assert extcall IERC20(SUPERSTATE_TOKEN).transferFrom(msg.sender, self, amount)
    payee: address = msg.sender if PAYS_CALLER else to
    assert extcall IERC20(USDC).transfer(payee, net, default_return_value=True)
    # The shares are burned through the token's off-chain redemption.
    assert extcall IERC20(SUPERSTATE_TOKEN).transfer(SUPERSTATE_TOKEN, amount)
    log Redeem(
        redeemer=msg.sender, to=to, superstateTokenInAmount=amount,
        usdcOutAmountAfterFee=net, usdcOutAmountBeforeFee=gross
    )
