"""MockStablecoin: a plain 6-decimal ERC-20 whose mint works only for
minters and only on local chains."""

import ape


def test_metadata__usdc_like(stablecoin, deployer):
    assert stablecoin.name() == "USD Coin (local)"
    assert stablecoin.symbol() == "USDC"
    assert stablecoin.decimals() == 6
    assert stablecoin.owner() == deployer.address


def test_mint__minter_on_local_chain__mints(stablecoin, deployer, outsider):
    supply = stablecoin.totalSupply()
    tx = stablecoin.mint(outsider, 10**6, sender=deployer)
    assert stablecoin.balanceOf(outsider) == 10**6
    assert stablecoin.totalSupply() == supply + 10**6
    assert stablecoin.Transfer(receiver=outsider, value=10**6) in tx.events


def test_set_minter__owner__grants_mint(stablecoin, deployer, updater, outsider):
    tx = stablecoin.set_minter(updater, True, sender=deployer)
    assert stablecoin.RoleMinterChanged(minter=updater, status=True) in tx.events
    stablecoin.mint(outsider, 5, sender=updater)
    assert stablecoin.balanceOf(outsider) == 5


def test_mint__live_chain_id__reverts(stablecoin, deployer, chain):
    provider = chain.provider
    provider.make_request("anvil_setChainId", [1])
    try:
        with ape.reverts("stablecoin: local chains only"):
            stablecoin.mint.call(deployer, 1, sender=deployer)
    finally:
        provider.make_request("anvil_setChainId", [31_337])


def test_transfer__no_allowlist__anyone_can_hold(stablecoin, outsider, attacker, mint_stable):
    mint_stable(outsider, 100)
    tx = stablecoin.transfer(attacker, 40, sender=outsider)
    assert stablecoin.balanceOf(attacker) == 40
    assert stablecoin.Transfer(sender=outsider, receiver=attacker, value=40) in tx.events


def test_transfer__more_than_balance__reverts(stablecoin, outsider, attacker):
    with ape.reverts("erc20: transfer amount exceeds balance"):
        stablecoin.transfer(attacker, 1, sender=outsider)
