import ape
from navlend.market import PAUSE_LIQUIDATION

def test_probe(market, owner, guardian, project, chain, fund_a, outsider):
    tok = owner.deploy(project.MockERC20, "New", "NEW", 18)
    orc = owner.deploy(project.MockAggregator, 8, 2 * 10**8)
    tx = market.list_asset(tok, orc, 5000, 6000, 500, 10**24, 0, 3600, sender=owner)
    print(tx.events)
    print(market.AssetListed.from_receipt(tx))
    ev = market.AssetListed.from_receipt(tx)[0]
    print(ev.token, ev.asset_id, ev.oracle, type(ev.token))
    print(tx.events.filter(market.AssetRiskSet))
    assert tx.events.filter(market.AssetListed) == [market.AssetListed(token=tok, asset_id=3, oracle=orc)]
    print(market.asset_config(tok))
    tx = market.transfer_ownership(outsider, sender=owner)
    print(tx.events)
    tx = market.accept_ownership(sender=outsider)
    print(tx.events)
    tx = market.pause(PAUSE_LIQUIDATION, sender=outsider)
    t0 = chain.blocks.head.timestamp
    chain.pending_timestamp = t0 + 100
    tx = market.unpause(PAUSE_LIQUIDATION, 50, sender=outsider)
    print(tx.events, tx.timestamp)
    print(market.control())
    print(market.SupplyCollateral.range(0, chain.blocks.head.number + 1))
    print([x for x in market.AssetRiskSet.range(0, chain.blocks.head.number + 1)])
