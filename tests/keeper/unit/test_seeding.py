"""``devkit.seeding.open_seeded`` with stand-in contracts (no chain): the
wrapper branch posts the wrapper shares its deposit minted (it used to call
``previewDeposit`` on an undefined name)."""

from __future__ import annotations

from types import SimpleNamespace

from devkit.seeding import Seed, open_seeded


class _Token:
    def __init__(self, name, log, balances=None):
        self.name, self.log, self.balances = name, log, balances if balances is not None else {}

    def mint(self, who, amount, sender):
        self.balances[who] = self.balances.get(who, 0) + amount

    def approve(self, spender, amount, sender):
        self.log.append((self.name, "approve", getattr(spender, "name", spender), amount))

    def balanceOf(self, who):
        return self.balances.get(who, 0)


class _Wrapper(_Token):
    """Mints 0.9 wrapper shares per fund share (an accumulated rate)."""

    def __init__(self, fund, log):
        super().__init__("wrapper", log)
        self.fund = fund

    def deposit(self, assets, receiver, sender):
        self.fund.balances[sender] -= assets
        self.mint(receiver, assets * 9 // 10, sender)


class _Market:
    name = "market"

    def __init__(self, log):
        self.log = log

    def supply_collateral(self, token, amount, who, sender):
        self.log.append(("market", "supply", token.name, amount))

    def borrow(self, amount, on_behalf, receiver, sender):
        self.log.append(("market", "borrow", amount))


def test_open_seeded__wrapper_seed__posts_the_minted_wrapper_shares():
    log: list = []
    fund_b = _Token("fund_b", log)
    wrapper = _Wrapper(fund_b, log)
    wrapper.balances["alice"] = 5  # shares held before: not posted
    world = SimpleNamespace(fund_b=fund_b, wrapper=wrapper)
    market = _Market(log)
    seed = Seed(asset="wrapper", collateral_usd=10_000, ltv_bps=5_000)
    open_seeded(world, market, "issuer", "alice", seed)
    minted = 10_000 * 10**18 * 9 // 10
    assert ("wrapper", "approve", "market", minted) in log
    assert ("market", "supply", "wrapper", minted) in log
    assert ("market", "borrow", 5_000 * 10**6) in log

