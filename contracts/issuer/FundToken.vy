# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Tokenized Money-Market-Fund Share
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A local stand-in for an issuer's permissioned fund share (BlackRock
        BUIDL, Superstate USTB, Circle USYC, Ondo OUSG). It behaves the way
        the real tokens do where a lender can feel it:
        - Allowlist: every transfer checks the sender, the receiver and, for
          `transferFrom`, a third-party spender (Ondo USDY pattern). Contracts
          can be allowlisted like any account (Superstate's protocol
          permission), which is how a lending market, a redemption facility
          or a wrapper vault gets to hold shares.
        - Freeze: a frozen account can neither send, receive nor spend.
        - Pause: stops transfers, mints, dividends and facility burns. The
          issuer's `seize` and `burn` keep working while paused, as they do
          for Securitize's DS token.
        - Two value models, fixed at deployment:
          0 = NAV accrues (USTB, USYC, OUSG): balances are fixed and the
              price in the NAV oracle rises;
          1 = stable $1 (BUIDL, BENJI): the price stays at 1 and the issuer
              pays dividends as newly minted shares with `distribute`.
        - Redemption: holders cannot burn their own shares. They redeem
          through the issuer's facility, which receives the shares and burns
          them with `burn_redeemed` (a minter permission).
        Compliance status is one packed flag per account (ALLOWED | FROZEN),
        so a transfer costs one storage read per party plus the pause flag.
        Built on snekmate's erc20; the transfer, approve and mint externals
        are written here only because they must run the compliance checks
        first (snekmate's erc20 has no transfer hook we could override).
        Part of the simulated issuer (contracts/issuer/): it stands in for
        the issuer's own contract in tests, the demo and local networks and
        is never deployed on a live network.
@custom:security The issuer admin (owner) is fully trusted: it can freeze,
                 seize and burn any holder's shares, including a lending
                 market's. Integrators must read balances live and treat a
                 freeze of their own address as a protocol-wide event.
                 EIP-2612 `permit` is not exported: an off-chain signature
                 must not create an allowance that skipped the compliance
                 checks `approve` runs.
@custom:kill The owner calls `pause()`: transfers, mints, dividends and
             redemption burns stop; only `seize`/`burn` remain. Ownership can
             be renounced afterwards to freeze the token for good.
"""


from ethereum.ercs import IERC20
implements: IERC20


from ethereum.ercs import IERC20Detailed
implements: IERC20Detailed


from ..interfaces import IFundToken
implements: IFundToken


from snekmate.auth import ownable
initializes: ownable


from snekmate.auth import ownable_2step
initializes: ownable_2step[ownable := ownable]


from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]


from snekmate.utils import pausable
initializes: pausable


exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.is_minter,
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    ownable_2step.renounce_ownership,
    pausable.paused,
)


# ---- CONSTANTS ----

# Value model: NAV per share accrues, balances are fixed (USTB, USYC, OUSG).
NAV_ACCRUING: public(constant(uint8)) = 0
# Value model: $1 per share, dividends minted as new shares (BUIDL, BENJI).
STABLE_DIVIDEND: public(constant(uint8)) = 1
# Longest account list accepted by the batch allowlist and `distribute`.
MAX_BATCH: public(constant(uint256)) = 128
# Party roles, used only to pick the revert reason of a failed check.
_SENDER: constant(uint8) = 0
_RECEIVER: constant(uint8) = 1
_SPENDER: constant(uint8) = 2


# ---- IMMUTABLES ----

# The value model chosen at deployment (NAV_ACCRUING or STABLE_DIVIDEND).
value_model: public(immutable(uint8))


# ---- FLAGS ----

# Compliance status of an account, packed into one storage word.
flag Status:
    # The issuer has admitted the account (investor or protocol permission).
    ALLOWED
    # The issuer has frozen the account: no sending, receiving or spending.
    FROZEN


# ---- STORAGE ----

# Optional second key that may edit the allowlist (never freeze or seize).
allowlist_manager: public(address)
# Compliance flags per account: one SLOAD answers both checks.
_status: HashMap[address, Status]


# ---- EVENTS ----

# The allowlist status of `account` changed.
event AllowlistUpdated:
    account: indexed(address)
    allowed: bool


# `account` was frozen (True) or unfrozen (False).
event FreezeUpdated:
    account: indexed(address)
    frozen: bool


# The allowlist manager role moved.
event AllowlistManagerChanged:
    previous_manager: indexed(address)
    new_manager: indexed(address)


# The issuer force-transferred shares.
event Seized:
    source: indexed(address)
    receiver: indexed(address)
    amount: uint256


# The issuer destroyed a holder's shares (share reduction or sanctions).
event AdminBurned:
    account: indexed(address)
    amount: uint256


# A dividend of new shares was paid (one summary per `distribute` call).
event DividendsDistributed:
    holders: uint256
    total: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8, value_model_: uint8):
    """
    @notice Deploys a fund share owned by the caller (the issuer admin).
    @dev snekmate's erc20 makes the deployer a minter; that flag is cleared
         so the minter set holds only explicit grants (the facilities). The
         owner can still mint and burn through its own admin functions,
         which follow ownership through a two-step transfer.
    @param name_ The token name (at most 25 characters).
    @param symbol_ The token symbol (at most 5 characters).
    @param decimals_ The share decimals (6 and 18 are the common cases).
    @param value_model_ 0 = NAV accrues, 1 = stable $1 with dividends.
    """
    assert value_model_ <= STABLE_DIVIDEND, "fund: bad value model"
    assert decimals_ <= 36, "fund: bad decimals"
    ownable.__init__()
    ownable_2step.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")
    pausable.__init__()
    value_model = value_model_
    erc20.is_minter[msg.sender] = False
    log erc20.RoleMinterChanged(minter=msg.sender, status=False)


# ---- ERC-20 (COMPLIANT) ----

@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` shares from the caller to `to`.
    @dev Both parties must be allowlisted and not frozen, and the token not
         paused.
    @param to The receiver.
    @param amount The number of shares.
    @return bool Always True (failures revert).
    """
    self._require_not_paused()
    self._check_party(msg.sender, _SENDER)
    self._check_party(to, _RECEIVER)
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` shares from `owner` to `to` on the caller's
            allowance.
    @dev A third-party caller (spender) is checked like a party to the
         transfer (USDY pattern), so a frozen or unlisted operator cannot
         move shares even with an allowance.
    @param owner The holder whose shares move.
    @param to The receiver.
    @param amount The number of shares.
    @return bool Always True (failures revert).
    """
    self._require_not_paused()
    self._check_party(owner, _SENDER)
    self._check_party(to, _RECEIVER)
    if msg.sender != owner:
        self._check_party(msg.sender, _SPENDER)
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Sets `spender`'s allowance over the caller's shares.
    @dev Setting an allowance to zero always works (revocation must survive
         a freeze or a pause). A non-zero allowance needs an unpaused token
         and a compliant caller and spender.
    @param spender The operator.
    @param amount The allowance.
    @return bool Always True (failures revert).
    """
    if amount != 0:
        self._require_not_paused()
        self._check_party(msg.sender, _SENDER)
        self._check_party(spender, _SPENDER)
    erc20._approve(msg.sender, spender, amount)
    return True


# ---- ISSUANCE AND REDEMPTION ----

@external
def mint(to: address, amount: uint256):
    """
    @notice Issues `amount` new shares to `to` (a subscription).
    @dev Callable by the owner or a minter (the redemption facility's
         `subscribe`). The receiver must pass the allowlist.
    @param to The subscriber.
    @param amount The number of shares.
    """
    assert msg.sender == ownable.owner or erc20.is_minter[msg.sender], "fund: caller not minter"
    self._require_not_paused()
    assert amount != 0, "fund: zero amount"
    self._check_party(to, _RECEIVER)
    erc20._mint(to, amount)


@external
def burn_redeemed(amount: uint256):
    """
    @notice Burns `amount` shares held by the calling minter.
    @dev The redemption facility pulls a holder's shares with
         `transferFrom` and then burns them here; holders themselves have
         no burn. Blocked while paused, like any holder action.
    @param amount The number of shares to destroy.
    """
    assert erc20.is_minter[msg.sender], "fund: caller not minter"
    self._require_not_paused()
    assert amount != 0, "fund: zero amount"
    erc20._burn(msg.sender, amount)


@external
def distribute(holders: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]):
    """
    @notice Pays a dividend as newly minted shares (stable $1 funds only).
    @dev Each holder must still be allowlisted and not frozen: the issuer
         leaves a frozen holder out of the batch rather than minting to it.
         Emits a Transfer per holder and one summary event.
    @param holders The holders of record.
    @param amounts The shares to mint to each holder.
    """
    ownable._check_owner()
    assert value_model == STABLE_DIVIDEND, "fund: not a dividend fund"
    self._require_not_paused()
    assert len(holders) != 0, "fund: empty distribution"
    assert len(holders) == len(amounts), "fund: length mismatch"
    total: uint256 = 0
    for i: uint256 in range(len(holders), bound=MAX_BATCH):
        assert amounts[i] != 0, "fund: zero amount"
        self._check_party(holders[i], _RECEIVER)
        erc20._mint(holders[i], amounts[i])
        total += amounts[i]
    log DividendsDistributed(holders=len(holders), total=total)


@external
def set_minter(minter: address, status: bool):
    """
    @notice Grants or revokes the minter permission (mint and
            `burn_redeemed`), e.g. for a redemption facility.
    @param minter The account.
    @param status True to grant, False to revoke.
    """
    ownable._check_owner()
    assert minter != empty(address), "fund: zero address"
    erc20.is_minter[minter] = status
    log erc20.RoleMinterChanged(minter=minter, status=status)


# ---- ISSUER ADMIN ----

@external
def set_allowlisted(account: address, allowed: bool):
    """
    @notice Admits or removes `account` from the allowlist.
    @dev Owner or allowlist manager. The frozen flag is kept.
    @param account The account.
    @param allowed The new status.
    """
    self._check_allowlist_admin()
    self._set_allowlisted(account, allowed)


@external
def set_allowlisted_batch(accounts: DynArray[address, MAX_BATCH], allowed: bool):
    """
    @notice Sets the same allowlist status on several accounts.
    @param accounts The accounts.
    @param allowed The new status for all of them.
    """
    self._check_allowlist_admin()
    assert len(accounts) != 0, "fund: empty batch"
    for account: address in accounts:
        self._set_allowlisted(account, allowed)


@external
def set_allowlist_manager(manager: address):
    """
    @notice Appoints the allowlist manager (empty address to remove).
    @param manager The new manager.
    """
    ownable._check_owner()
    log AllowlistManagerChanged(previous_manager=self.allowlist_manager, new_manager=manager)
    self.allowlist_manager = manager


@external
def freeze(account: address):
    """
    @notice Freezes `account`: it can no longer send, receive or spend.
    @param account The account.
    """
    ownable._check_owner()
    assert account != empty(address), "fund: zero address"
    status: Status = self._status[account]
    assert Status.FROZEN not in status, "fund: already frozen"
    self._status[account] = status | Status.FROZEN
    log FreezeUpdated(account=account, frozen=True)


@external
def unfreeze(account: address):
    """
    @notice Lifts a freeze on `account`.
    @param account The account.
    """
    ownable._check_owner()
    status: Status = self._status[account]
    assert Status.FROZEN in status, "fund: not frozen"
    self._status[account] = status & ~Status.FROZEN
    log FreezeUpdated(account=account, frozen=False)


@external
def pause():
    """
    @notice Stops transfers, mints, dividends and redemption burns.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @notice Lifts the pause.
    """
    ownable._check_owner()
    pausable._unpause()


@external
def seize(source: address, receiver: address, amount: uint256):
    """
    @notice Issuer force-transfer of `amount` shares from `source` to
            `receiver` (lost keys, court orders, sanctions).
    @dev Works while paused and from a frozen or unlisted source; the
         receiver must be allowlisted and not frozen.
    @param source The holder to take from.
    @param receiver The account to credit.
    @param amount The number of shares.
    """
    ownable._check_owner()
    assert amount != 0, "fund: zero amount"
    self._check_party(receiver, _RECEIVER)
    erc20._transfer(source, receiver, amount)
    log Seized(source=source, receiver=receiver, amount=amount)


@external
def burn(account: address, amount: uint256):
    """
    @notice Issuer burn of `amount` of `account`'s shares (a share
            reduction under the 2023 Rule 2a-7 amendments, or sanctions).
    @dev Works while paused and on frozen accounts.
    @param account The holder.
    @param amount The number of shares to destroy.
    """
    ownable._check_owner()
    assert amount != 0, "fund: zero amount"
    erc20._burn(account, amount)
    log AdminBurned(account=account, amount=amount)


# ---- COMPLIANCE VIEWS ----

@external
@view
def is_allowlisted(account: address) -> bool:
    """
    @notice Whether the issuer has admitted `account` (ignores freezes).
    @param account The account.
    @return bool True when allowlisted.
    """
    return Status.ALLOWED in self._status[account]


@external
@view
def is_frozen(account: address) -> bool:
    """
    @notice Whether `account` is frozen.
    @param account The account.
    @return bool True when frozen.
    """
    return Status.FROZEN in self._status[account]


@external
@view
def can_transfer(sender: address, receiver: address, spender: address) -> bool:
    """
    @notice Whether a transfer by `spender` from `sender` to `receiver`
            would pass the pause, allowlist and freeze checks.
    @dev Pass `spender == sender` (or the empty address) for a direct
         transfer: the spender is then not checked separately. Balances
         and allowances are not considered.
    @param sender The holder whose shares would move.
    @param receiver The receiver.
    @param spender The caller of `transferFrom`.
    @return bool True when compliant.
    """
    if pausable.paused:
        return False
    if not (self._is_compliant(sender) and self._is_compliant(receiver)):
        return False
    if spender == sender or spender == empty(address):
        return True
    return self._is_compliant(spender)


# ---- INTERNALS ----

@internal
@view
def _require_not_paused():
    """
    @notice Reverts with the fund's own reason while paused.
    """
    assert not pausable.paused, "fund: paused"


@internal
@view
def _check_allowlist_admin():
    """
    @notice Reverts unless the caller is the owner or the allowlist manager.
    """
    assert msg.sender == ownable.owner or msg.sender == self.allowlist_manager, "fund: caller not allowlist admin"


@internal
@view
def _check_party(account: address, role: uint8):
    """
    @notice Reverts unless `account` is allowlisted and not frozen.
    @dev One storage read on the happy path; the role only picks the revert
         reason, so no strings are copied unless the check fails.
    @param account The party to check.
    @param role _SENDER, _RECEIVER or _SPENDER.
    """
    status: Status = self._status[account]
    if status == Status.ALLOWED:
        return
    if Status.ALLOWED not in status:
        if role == _SENDER:
            raise "fund: sender not allowlisted"
        if role == _RECEIVER:
            raise "fund: receiver not allowlisted"
        raise "fund: spender not allowlisted"
    if role == _SENDER:
        raise "fund: sender frozen"
    if role == _RECEIVER:
        raise "fund: receiver frozen"
    raise "fund: spender frozen"


@internal
@view
def _is_compliant(account: address) -> bool:
    """
    @notice Whether `account` is allowlisted and not frozen.
    @param account The account.
    @return bool True when compliant.
    """
    return self._status[account] == Status.ALLOWED


@internal
def _set_allowlisted(account: address, allowed: bool):
    """
    @notice Writes the allowlist bit of `account`, keeping its freeze bit.
    @param account The account.
    @param allowed The new status.
    """
    assert account != empty(address), "fund: zero address"
    status: Status = self._status[account]
    if allowed:
        status = status | Status.ALLOWED
    else:
        status = status & ~Status.ALLOWED
    self._status[account] = status
    log AllowlistUpdated(account=account, allowed=allowed)
