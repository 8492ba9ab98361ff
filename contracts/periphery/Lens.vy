# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title navlend Lens
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Read-only batch views over a navlend market, for keepers and
        scripts: one `eth_call` returns the health of up to 500 accounts
        (debt, values at LTV and at the liquidation threshold, health factor,
        whether it is liquidatable now and the most a liquidator may repay),
        or a snapshot of the market and its assets. Every figure comes from
        the market's own views (`position`, `preview_liquidation`,
        `asset_price`, ...), so the lens restates no rule of the market.
        `max_repay` is exact for the block it was read in; interest moves
        it by the next one, so a liquidator asking for a full close should
        pass `max_value(uint256)` (the market's amounts are "up to").
@custom:security Holds nothing and changes nothing. The market's views
        check its lock, so a lens call made from inside a market operation
        reverts rather than report mid-operation state.
@custom:kill Nothing to disable: a stateless view contract.
"""

from ethereum.ercs import IERC20

from ..interfaces import IAggregatorV3
from ..interfaces import IMarketViews


# @dev Most accounts one `healths` call takes (500 fit one eth_call).
MAX_ACCOUNTS: constant(uint256) = 500
# @dev Most assets a market lists (the market's bitmap width).
MAX_ASSETS: constant(uint256) = 16
# @dev Fixed-point one.
WAD: constant(uint256) = 10**18
# @dev Basis points in one.
BPS: constant(uint256) = 10_000
# @dev Seconds in the year rates are quoted in.
YEAR: constant(uint256) = 365 * 86_400


struct AccountHealth:
    account: address
    debt: uint256
    borrow_value: uint256
    liquidation_value: uint256
    health_factor: uint256
    liquidatable: bool
    # The collateral whose liquidation repays the most now, and how much.
    best_token: address
    max_repay: uint256
    max_seize: uint256
    assets_bitmap: uint256
    # The market's `position` view reverted for this account: every other
    # field is zero. One such account never fails the whole batch.
    failed: bool

struct AssetSnapshot:
    token: address
    oracle: address
    facility: address
    price: uint256
    price_age: uint256
    stale: bool
    ltv_bps: uint256
    threshold_bps: uint256
    bonus_bps: uint256
    supply_cap: uint256
    total_supplied: uint256
    price_cap: uint256
    frozen: bool

struct MarketSnapshot:
    cash: uint256
    total_borrows: uint256
    reserves: uint256
    borrow_index: uint256
    utilization: uint256
    borrow_rate_apr: uint256
    supply_rate_apr: uint256
    total_assets: uint256
    total_shares: uint256
    paused: uint256
    liquidations_resume_at: uint256
    assets: DynArray[AssetSnapshot, MAX_ASSETS]


@external
@view
def healths(market: address, accounts: DynArray[address, MAX_ACCOUNTS]) -> DynArray[AccountHealth, MAX_ACCOUNTS]:
    """
    @notice The health of each account, accrued to now. For a liquidatable
            account it names the collateral whose liquidation repays the
            most now (close factor and dust rules applied) and that amount.
    @param market The market.
    @param accounts Up to 500 accounts.
    @return DynArray[AccountHealth, MAX_ACCOUNTS] One entry per account, in order.
    """
    tokens: DynArray[address, MAX_ASSETS] = self._tokens(market)
    out: DynArray[AccountHealth, MAX_ACCOUNTS] = []
    for account: address in accounts:
        out.append(self._health(market, account, tokens))
    return out


@external
@view
def health(market: address, account: address) -> AccountHealth:
    """
    @notice One account's health (see `healths`).
    @param market The market.
    @param account The account.
    @return AccountHealth Its health.
    """
    return self._health(market, account, self._tokens(market))


@external
@view
def snapshot(market: address) -> MarketSnapshot:
    """
    @notice The market's books, rates and pause state, and every listed
            asset's price (oracle decimals), its age, staleness and caps.
    @param market The market.
    @return MarketSnapshot The snapshot.
    """
    views: IMarketViews = IMarketViews(market)
    cash: uint256 = 0
    borrows: uint256 = 0
    reserves: uint256 = 0
    index: uint256 = 0
    scaled: uint256 = 0
    cash, borrows, reserves, index, scaled = staticcall views.market_state()
    control: (uint256, uint256, uint256, uint256, uint256, uint256, uint256) = staticcall views.control()
    utilization: uint256 = staticcall views.utilization()
    borrow_apr: uint256 = (staticcall views.borrow_rate()) * YEAR
    reserve_factor: uint256 = (staticcall views.rate_config()).reserve_factor_bps
    snap: MarketSnapshot = MarketSnapshot(
        cash=cash,
        total_borrows=borrows,
        reserves=reserves,
        borrow_index=index,
        utilization=utilization,
        borrow_rate_apr=borrow_apr,
        # Lenders earn the borrow rate on the utilised part, less reserves.
        supply_rate_apr=borrow_apr * utilization // WAD * (BPS - reserve_factor) // BPS,
        total_assets=staticcall views.totalAssets(),
        total_shares=staticcall IERC20(market).totalSupply(),
        paused=control[0],
        liquidations_resume_at=control[1],
        assets=[],
    )
    tokens: DynArray[address, MAX_ASSETS] = self._tokens(market)
    for token: address in tokens:
        snap.assets.append(self._asset_snapshot(views, token))
    return snap


@internal
@view
def _tokens(market: address) -> DynArray[address, MAX_ASSETS]:
    """
    @dev Every token the market lists, by asset id.
    @param market The market.
    @return DynArray[address, MAX_ASSETS] The tokens.
    """
    count: uint256 = staticcall IMarketViews(market).asset_count()
    tokens: DynArray[address, MAX_ASSETS] = []
    for asset_id: uint256 in range(MAX_ASSETS):
        if asset_id == count:
            break
        tokens.append(staticcall IMarketViews(market).asset_at(asset_id))
    return tokens


@internal
@view
def _health(market: address, account: address, tokens: DynArray[address, MAX_ASSETS]) -> AccountHealth:
    """
    @dev One account's health and, if liquidatable, its best liquidation.
         A `position` call that reverts marks the entry `failed` instead of
         failing the batch, so one bad account cannot blind a keeper's scan.
    @param market The market.
    @param account The account.
    @param tokens The market's tokens by asset id.
    @return AccountHealth The health.
    """
    ok: bool = False
    response: Bytes[192] = b""
    ok, response = raw_call(
        market,
        abi_encode(account, method_id=method_id("position(address)")),
        max_outsize=192,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(response) != 192:
        return AccountHealth(
            account=account,
            debt=0,
            borrow_value=0,
            liquidation_value=0,
            health_factor=0,
            liquidatable=False,
            best_token=empty(address),
            max_repay=0,
            max_seize=0,
            assets_bitmap=0,
            failed=True,
        )
    p: IMarketViews.Position = abi_decode(response, IMarketViews.Position)
    h: AccountHealth = AccountHealth(
        account=account,
        debt=p.debt,
        borrow_value=p.borrow_value,
        liquidation_value=p.liquidation_value,
        health_factor=p.health_factor,
        liquidatable=False,
        best_token=empty(address),
        max_repay=0,
        max_seize=0,
        assets_bitmap=p.assets_bitmap,
        failed=False,
    )
    if p.debt == 0 or p.health_factor >= WAD:
        return h
    bitmap: uint256 = p.assets_bitmap
    for asset_id: uint256 in range(MAX_ASSETS):
        if bitmap == 0:
            break
        if bitmap & 1 != 0:
            repay: uint256 = 0
            seize: uint256 = 0
            repay, seize = self._preview(market, account, tokens[asset_id])
            if repay > h.max_repay or (h.best_token == empty(address) and seize != 0):
                h.best_token = tokens[asset_id]
                h.max_repay = repay
                h.max_seize = seize
        bitmap = bitmap >> 1
    h.liquidatable = h.best_token != empty(address)
    return h


@internal
@view
def _preview(market: address, account: address, token: address) -> (uint256, uint256):
    """
    @dev The market's `preview_liquidation` for the most a liquidator may
         repay, or (0, 0) when the preview reverts. It reverts "market:
         nothing to liquidate" when the rules leave nothing to take (a dust
         position whose seizure rounds to zero); one such account must not
         fail the whole batch, so the call may fail without reverting here.
    @param market The market.
    @param account The position.
    @param token The collateral to seize.
    @return uint256 The debt a liquidation would repay.
    @return uint256 The collateral it would seize.
    """
    ok: bool = False
    response: Bytes[64] = b""
    ok, response = raw_call(
        market,
        abi_encode(
            account, token, max_value(uint256), method_id=method_id("preview_liquidation(address,address,uint256)")
        ),
        max_outsize=64,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(response) != 64:
        return 0, 0
    return abi_decode(response, (uint256, uint256))


@internal
@view
def _asset_snapshot(views: IMarketViews, token: address) -> AssetSnapshot:
    """
    @dev One asset's price, age and limits.
    @param views The market.
    @param token The asset.
    @return AssetSnapshot The snapshot.
    """
    cfg: IMarketViews.AssetConfig = staticcall views.asset_config(token)
    price: uint256 = 0
    stale: bool = False
    price, stale = staticcall views.asset_price(token)
    updated_at: uint256 = (staticcall IAggregatorV3(cfg.oracle).latestRoundData())[3]
    return AssetSnapshot(
        token=token,
        oracle=cfg.oracle,
        facility=cfg.facility,
        price=price,
        price_age=block.timestamp - min(updated_at, block.timestamp),
        stale=stale,
        ltv_bps=cfg.ltv_bps,
        threshold_bps=cfg.threshold_bps,
        bonus_bps=cfg.bonus_bps,
        supply_cap=cfg.supply_cap,
        total_supplied=cfg.total_supplied,
        price_cap=cfg.price_cap,
        frozen=cfg.frozen,
    )
