import ape
from navlend.market import PAUSE_SUPPLY

def test_scratch(market, stablecoin, lend, lender, borrower, owner, chain, collaterals, open_position, advance, accounts):
    import time
    t0 = time.time()
    lend(10_000 * 10**6)
    print("lend", time.time() - t0)
    t0 = time.time()
    open_position(collaterals["fund_a"], borrower, 2_000 * 10**6, 5_000 * 10**6)
    print("open", time.time() - t0)
    advance(86400)
    h = chain.blocks.head.timestamp
    print("head", h, market.totalAssets())
    chain.pending_timestamp = h
    try:
        tx = stablecoin.approve(market, 5, sender=lender)
        print("same ts ok", chain.blocks.head.timestamp, market.totalAssets())
    except Exception as e:
        print("same ts fail", repr(e))
    with chain.isolate():
        chain.mine(1, timestamp=h + 100)
        ta = market.totalAssets()
    chain.pending_timestamp = h + 100
    stablecoin.approve(market, 6, sender=lender)
    print("isolate", ta, market.totalAssets(), chain.blocks.head.timestamp)
    with ape.reverts("market: rate too high"):
        market.set_rates(11 * 10**18, 0, 0, 9000, 1000, sender=owner)
    try:
        market.withdraw(1, ape.utils.ZERO_ADDRESS, lender, sender=borrower)
    except Exception as e:
        print("withdraw", repr(e))
    mock = owner.deploy(ape.project.FlashBorrowerMock)
    try:
        mock.set_mode(2, ape.utils.ZERO_ADDRESS, b"", sender=owner)
        stablecoin.mint(mock, 10**6, sender=owner)
        mock.borrow(market, stablecoin, 10**6, b"", sender=owner)
    except Exception as e:
        print("noapprove", repr(e))
    try:
        market.flashLoan(lender, stablecoin, 10**6, b"", sender=owner)
    except Exception as e:
        print("eoa", repr(e))
    stablecoin.approve(market, 10**12, sender=lender); mint = stablecoin.mint(lender, 10**9, sender=owner)
    tx = market.deposit(100, lender, sender=lender)
    print(tx.events, tx.timestamp if hasattr(tx, "timestamp") else None, tx.block_number)
    print(market.Deposit)
    print(type(tx.return_value), tx.return_value)
