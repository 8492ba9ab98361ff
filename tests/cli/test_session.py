"""The session rules on anvil: ask before sending on a live network,
simulate before sending, and the console's verbs."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fake_network

from navlend.cli import actions
from navlend.cli.contracts import Navlend
from navlend.cli.errors import Refusal
from navlend.cli.session import Session

USD = 10**6
ROOT = Path(__file__).resolve().parents[2]


def test_live_network_asks_first(seeded, market, borrower, nonce_kept):
    nl = Navlend.load("local")
    isolation = CliRunner(mix_stderr=False).isolation(input="n\n")
    with nonce_kept(borrower), isolation as (_out, err), pytest.raises(Refusal, match="not confirmed"):
        actions.lend(Session(nl, borrower, fake_network("sepolia")), "10")
    prompt = err.getvalue().decode()
    assert (
        "send from" in prompt
        and "on sepolia" in prompt
        and "- approve market" in prompt
        and "- deposit" in prompt
    )
    before = borrower.nonce
    actions.lend(Session(nl, borrower, fake_network("sepolia"), yes=True), "10")
    assert borrower.nonce == before + 2
    assert market.balanceOf(borrower) > 0


def test_a_revert_the_checks_miss_is_refused_by_the_simulation(
    refused, seeded, market, deployer, borrower
):
    # The fund freezes the market itself: the pre-flight checks look at the
    # account, the simulation catches the transfer into the market.
    seeded.fund_a.approve(market, 10**12, sender=borrower)
    seeded.fund_a.freeze(market, sender=deployer)
    message = refused(borrower, "deposit", "fund_a", "1", "--account", "TEST::4")
    assert "supply_collateral would revert: fund: receiver frozen: nothing sent" in message


def test_console_extras(seeded, networks, market, fund_a, borrower, nonce_kept, capsys):
    from ape_console._cli import import_extras_file

    names = import_extras_file(ROOT / "ape_console_extras.py").ape_init_extras(networks)
    for name in (
        "market",
        "lens",
        "leverage",
        "usdc",
        "fund_a",
        "fund_b",
        "fund_c",
        "wrapper",
        "position",
        "lend",
        "borrow",
        "repay",
        "deposit",
        "withdraw_collateral",
        "leverage",
        "unwind",
        "market_state",
    ):
        assert name in names, name
    assert names["market"].address == market.address
    assert names["deposit"](borrower, "fund_a", "1000") is not None
    with nonce_kept(borrower):
        assert names["borrow"](borrower, "9000") is None
        assert names["deposit"](borrower, "fund_a", 0.5) is None
    assert "refused: borrow of 9,000.00 USDC refused: the most" in capsys.readouterr().out
    assert names["borrow"](borrower, "5000")["transactions"][0]["step"] == "borrow"
    shown = repr(names["position"](borrower))
    assert "health factor" in shown and "1.89" in shown
    assert names["repay"](borrower, "max") is not None
    assert names["withdraw_collateral"](borrower, "fund_a", "max") is not None
    assert market.collateral_of(borrower, fund_a) == 0


def test_console__banner_lists_every_verb_and_position_defaults_to_the_last_account(
    seeded, networks, borrower, capsys
):
    from ape_console._cli import import_extras_file

    names = import_extras_file(ROOT / "ape_console_extras.py").ape_init_extras(networks)
    shown = capsys.readouterr().out
    assert "navlend on local: market" in shown
    for signature in ("lend(who, amount)", "leverage(who, asset, equity", "unwind(who, asset)", "position(who=None)"):
        assert signature in shown, signature
    assert names["position"]() is None
    assert "position(who): name an account" in capsys.readouterr().out
    assert names["deposit"](borrower, "fund_a", "100") is not None
    assert names["position"]()["account"] == borrower.address


def test_console__leverage_dry_run_then_unwind(seeded, networks, market, wrapper, borrower, nonce_kept):
    from ape_console._cli import import_extras_file

    names = import_extras_file(ROOT / "ape_console_extras.py").ape_init_extras(networks)
    with nonce_kept(borrower):
        report = names["leverage"](borrower, "wrapper", "10000", dry_run=True)
    assert report["dry_run"] is True and report["transactions"] == []
    assert names["leverage"](borrower, "wrapper", "10000") is not None
    assert market.collateral_of(borrower, wrapper) > 0
    report = names["unwind"](borrower, "wrapper")
    assert int(report["result"]["received"]["raw"]) > 0
    assert market.collateral_of(borrower, wrapper) == 0 and market.debt_of(borrower) == 0


def test_console__stale_nav__refreshed_from_the_console(seeded, networks, chain, market, fund_a):
    """Users found no way out of a stale local NAV in the console."""
    from ape_console._cli import import_extras_file

    names = import_extras_file(ROOT / "ape_console_extras.py").ape_init_extras(networks)
    assert names["nav"]("fund_a", advance="5d") is not None
    assert market.asset_price(fund_a)[1] is True
    assert names["nav"]("fund_a", refresh=True) is not None
    assert market.asset_price(fund_a)[1] is False
    report = names["positions"](at_risk=True)
    assert report["count"] == 0
