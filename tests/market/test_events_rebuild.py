"""Positions can be rebuilt from the market's logs alone.

Every event that changes a position carries the new absolute value
(``SupplyCollateral.collateral``, ``WithdrawCollateral.collateral``,
``Borrow.scaled_debt``, ``Repay.scaled_debt``, ``Liquidate.scaled_debt`` and
``.collateral``); ``BadDebt`` marks a write-off and ``Liquidate.protocol_fee``
is the collateral credited to the treasury (named by ``TreasurySet``). A
history with two borrowers, an operator acting for one of them, interest,
a redeem-route partial liquidation and a share-route liquidation that
writes off bad debt is replayed from the logs and compared with the views.
"""

from collections import defaultdict

from navlend.constants import WAD

USD = 10**6
MAX_UINT = 2**256 - 1
ORACLE_UNIT = 10**8
DAY = 86_400

# Every event that touches a position or names the treasury.
EVENTS = (
    "TreasurySet",
    "SupplyCollateral",
    "WithdrawCollateral",
    "Borrow",
    "Repay",
    "Liquidate",
    "BadDebt",
)


def _logs(market, chain) -> list:
    """Every position event of the market since its deployment, in order."""
    logs = [
        log for name in EVENTS for log in getattr(market, name).range(0, chain.blocks.height + 1)
    ]
    return sorted(logs, key=lambda log: (log.block_number, log.log_index))


def _rebuild(logs) -> tuple[dict, dict, list]:
    """Scaled debt per account, collateral per (account, token), and the
    write-offs, from the logs alone."""
    scaled: dict[str, int] = defaultdict(int)
    collateral: dict[tuple[str, str], int] = defaultdict(int)
    bad_debts = []
    treasury = None
    for log in logs:
        name = log.event_name
        if name == "TreasurySet":
            treasury = log.treasury
        elif name in ("SupplyCollateral", "WithdrawCollateral"):
            collateral[(log.on_behalf, log.token)] = log.collateral
        elif name in ("Borrow", "Repay"):
            scaled[log.on_behalf] = log.scaled_debt
        elif name == "BadDebt":
            bad_debts.append(log)
        elif name == "Liquidate":
            scaled[log.borrower] = log.scaled_debt
            collateral[(log.borrower, log.token)] = log.collateral
            collateral[(treasury, log.token)] += log.protocol_fee
    return scaled, collateral, bad_debts


def test_logs__two_borrowers_liquidated__rebuild_every_position(
    market,
    chain,
    collaterals,
    stablecoin,
    lend,
    mint_stable,
    give_collateral,
    set_price,
    advance,
    owner,
    borrower,
    borrower2,
    operator,
    liquidator,
    treasury,
):
    fund_a, fund_c, wrapper = collaterals["fund_a"], collaterals["fund_c"], collaterals["wrapper"]
    market.set_fees(5, 1_000, sender=owner)  # the treasury takes 10 % of each bonus
    feed_a = set_price(fund_a, 10_50_000_000)
    lend(100_000 * USD)
    for who in (borrower, borrower2, liquidator):
        mint_stable(who, 20_000 * USD)
        stablecoin.approve(market, MAX_UINT, sender=who)

    # Borrower: fund A and fund C, borrows, repays part, takes some back.
    for c, amount in ((fund_a, 1_000), (fund_c, 2_000)):
        posted = give_collateral(c, borrower, amount * c.unit)
        market.supply_collateral(c.token, posted, borrower, sender=borrower)
    market.borrow(8_000 * USD, borrower, borrower, sender=borrower)

    # Borrower 2: fund A, plus wrapper shares its operator posts for it.
    posted = give_collateral(fund_a, borrower2, 500 * fund_a.unit)
    market.supply_collateral(fund_a.token, posted, borrower2, sender=borrower2)
    wrapped = give_collateral(wrapper, operator, 50 * wrapper.unit)
    market.supply_collateral(wrapper.token, wrapped, borrower2, sender=operator)
    market.set_authorization(operator, True, sender=borrower2)
    market.borrow(4_000 * USD, borrower2, borrower2, sender=borrower2)

    advance(DAY)
    market.repay(1_000 * USD, borrower, sender=borrower)
    market.withdraw_collateral(fund_c.token, 500 * fund_c.unit, borrower, borrower, sender=borrower)
    market.withdraw_collateral(wrapper.token, wrapped, borrower2, operator, sender=operator)
    market.borrow(200 * USD, borrower2, operator, sender=operator)
    advance(3_600)

    # Fund A falls to $6: borrower is just unhealthy (50 % close factor),
    # borrower 2 is underwater and loses all its collateral.
    feed_a.set_answer(6 * ORACLE_UNIT, 0, sender=owner)
    assert 95 * WAD // 100 <= market.position(borrower).health_factor < WAD
    market.liquidate(borrower, fund_a.token, 1_000 * USD, 0, True, liquidator, sender=liquidator)
    tx = market.liquidate(
        borrower2, fund_a.token, MAX_UINT, 0, False, liquidator, sender=liquidator
    )
    assert tx.events.filter(market.BadDebt)

    # The liquidator repays some of the borrower's debt, the borrower takes
    # collateral out; the treasury withdraws half of its share of the bonuses.
    market.repay(2_000 * USD, borrower, sender=liquidator)
    market.withdraw_collateral(fund_a.token, 100 * fund_a.unit, borrower, borrower, sender=borrower)
    fee_shares = market.collateral_of(treasury, fund_a.token)
    assert fee_shares > 0
    market.withdraw_collateral(fund_a.token, fee_shares // 2, treasury, treasury, sender=treasury)

    scaled, collateral, bad_debts = _rebuild(_logs(market, chain))

    assert [log.borrower for log in bad_debts] == [borrower2.address]
    assert bad_debts[0].amount == bad_debts[0].from_reserves + bad_debts[0].socialized > 0
    for account in (borrower, borrower2, treasury):
        position = market.position(account)
        assert position.scaled_debt == scaled[account.address], account
        bitmap = 0
        for c in (fund_a, fund_c, wrapper):
            rebuilt = collateral[(account.address, c.token.address)]
            assert market.collateral_of(account, c.token) == rebuilt, (account, c.name)
            bitmap |= (rebuilt != 0) << c.asset_id
        assert position.assets_bitmap == bitmap, account
    assert market.market_state()[4] == sum(scaled.values())
    for c in (fund_a, fund_c, wrapper):
        total = sum(v for (_, token), v in collateral.items() if token == c.token.address)
        assert market.asset_config(c.token).total_supplied == total, c.name
