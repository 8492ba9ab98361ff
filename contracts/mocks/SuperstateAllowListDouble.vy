# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate AllowList V2 Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Superstate's AllowList V2, written from its
        documented behaviour (docs/issuers.md), never from its code:
        - a person's addresses share an entity id (0: none), and an entity
          is allowed per fund symbol ("USTB", "USCC");
        - a contract gets a protocol permission per fund symbol instead,
          which requires code at the address (it must be deployed before
          the issuer can admit it);
        - an address has either an entity id or protocol permissions,
          never both;
        - `isAddressAllowedForFund(address, symbol)` is the read every
          token of the issuer makes for its own symbol.
        Only the owner (the issuer) sets anything. Never deployed on a
        live network.
"""


# ---- CONSTANTS ----

# The longest fund symbol.
MAX_SYMBOL: constant(uint256) = 32


# ---- STORAGE ----

# The issuer: the only one who sets permissions.
owner: public(address)
# The entity id of each address (0: none).
addressEntityIds: public(HashMap[address, uint256])
# Entity id -> keccak256(symbol) -> allowed.
_entity_allowed: HashMap[uint256, HashMap[bytes32, bool]]
# Contract -> keccak256(symbol) -> protocol permission.
_protocol_allowed: HashMap[address, HashMap[bytes32, bool]]
# How many fund symbols a contract holds a protocol permission for.
protocolPermissionsForFunds: public(HashMap[address, uint256])


# ---- EVENTS ----

event EntityIdSet:
    account: indexed(address)
    entity_id: uint256


event FundPermissionSet:
    entity_id: indexed(uint256)
    symbol: String[MAX_SYMBOL]
    allowed: bool


event ProtocolAddressPermissionSet:
    account: indexed(address)
    symbol: String[MAX_SYMBOL]
    allowed: bool


# ---- CONSTRUCTOR ----

@deploy
def __init__():
    """
    @notice Deploys an empty AllowList owned by the deployer.
    """
    self.owner = msg.sender


# ---- OWNER ----

@external
def setEntityIdForAddress(entity_id: uint256, account: address):
    """
    @notice Gives `account` the entity `entity_id` (0 removes it).
    @dev Refused for an address that holds protocol permissions.
    @param entity_id The entity.
    @param account The address.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert self.protocolPermissionsForFunds[account] == 0, "AddressHasProtocolPermissions"
    self.addressEntityIds[account] = entity_id
    log EntityIdSet(account=account, entity_id=entity_id)


@external
def setEntityAllowedForFund(entity_id: uint256, symbol: String[MAX_SYMBOL], allowed: bool):
    """
    @notice Allows (or stops allowing) entity `entity_id` for fund `symbol`.
    @param entity_id The entity (not 0).
    @param symbol The fund's symbol.
    @param allowed The permission.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert entity_id != 0, "ZeroEntityId"
    self._entity_allowed[entity_id][keccak256(symbol)] = allowed
    log FundPermissionSet(entity_id=entity_id, symbol=symbol, allowed=allowed)


@external
def setProtocolAddressPermission(account: address, symbol: String[MAX_SYMBOL], allowed: bool):
    """
    @notice Gives (or takes) contract `account` a protocol permission for
            fund `symbol`.
    @dev Requires code at `account` and no entity id on it.
    @param account The contract.
    @param symbol The fund's symbol.
    @param allowed The permission.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert account.is_contract, "CodeSizeZero"
    assert self.addressEntityIds[account] == 0, "AddressHasEntityId"
    key: bytes32 = keccak256(symbol)
    if self._protocol_allowed[account][key] != allowed:
        if allowed:
            self.protocolPermissionsForFunds[account] += 1
        else:
            self.protocolPermissionsForFunds[account] -= 1
    self._protocol_allowed[account][key] = allowed
    log ProtocolAddressPermissionSet(account=account, symbol=symbol, allowed=allowed)


# ---- VIEWS ----

@external
@view
def isAddressAllowedForFund(account: address, symbol: String[MAX_SYMBOL]) -> bool:
    """
    @notice Whether `account` may hold fund `symbol`: by a protocol
            permission, or through its entity.
    @param account The address.
    @param symbol The fund's symbol.
    @return bool True when allowed.
    """
    return self._allowed(account, symbol)


@external
@view
def isEntityAllowedForFund(entity_id: uint256, symbol: String[MAX_SYMBOL]) -> bool:
    """
    @notice Whether entity `entity_id` is allowed for fund `symbol`.
    @param entity_id The entity.
    @param symbol The fund's symbol.
    @return bool True when allowed.
    """
    return self._entity_allowed[entity_id][keccak256(symbol)]


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _allowed(account: address, symbol: String[MAX_SYMBOL]) -> bool:
    """
    @dev A protocol permission, or an entity (not 0) allowed for the fund.
    @param account The address.
    @param symbol The fund's symbol.
    @return bool True when allowed.
    """
    key: bytes32 = keccak256(symbol)
    if self._protocol_allowed[account][key]:
        return True
    entity_id: uint256 = self.addressEntityIds[account]
    return entity_id != 0 and self._entity_allowed[entity_id][key]
