"""The risk preview before every change, on anvil: its "after" figures
equal the chain's once sent (within the market's rounding), a change that
takes the health factor under the warning level is refused unless
confirmed or ``--yes``, ``--dry-run`` sends nothing, and every amount is
echoed in exact units."""

import json
from decimal import Decimal

import pytest
from conftest import SHARE_A, USD, ok

from navlend.cli.errors import EXIT_REFUSED
from navlend.constants import WAD

ME = ("--account", "TEST::4")


def sent_doc(ape_run, *args) -> dict:
    return json.loads(ok(ape_run(*args, *ME, "--json", "--yes")).stdout)


@pytest.fixture
def posted(seeded, market, borrower):
    """The borrower: 1,000 fund A shares posted ($10,500 at $10.50), no debt."""
    seeded.fund_a.approve(market, 1_000 * SHARE_A, sender=borrower)
    market.supply_collateral(seeded.fund_a, 1_000 * SHARE_A, borrower, sender=borrower)
    return borrower


def assert_after_is_the_chain(doc, market, account, debt_slack: int = 0) -> None:
    """The preview's "after" figures equal the chain's, within one unit
    (plus ``debt_slack``: a new borrow's rounding and its block's interest)."""
    after = doc["preview"]["after"]
    p = market.position(account)
    assert abs(int(after["debt"]["raw"]) - p.debt) <= 1 + debt_slack
    assert abs(int(after["borrow_headroom"]["raw"]) - max(p.borrow_value - p.debt, 0)) <= 1 + debt_slack
    if p.debt:
        hf = Decimal(after["health_factor"]) * WAD
        # The same valuation over a debt a few units apart.
        assert abs(hf - p.health_factor) <= Decimal(p.health_factor) * (2 + debt_slack) / p.debt + 1
    else:
        assert after["health_factor"] is None


def test_borrow__preview_after__equals_the_chain(ape_run, market, posted):
    doc = sent_doc(ape_run, "borrow", "5000")
    before = doc["preview"]["before"]
    assert before["debt"]["raw"] == "0" and before["health_factor"] is None
    assert doc["amounts"]["amount"] == {"raw": str(5_000 * USD), "value": "5000.00", "symbol": "USDC", "decimals": 6}
    (fund_a,) = doc["preview"]["after"]["liquidation"]
    assert fund_a["asset"] == "fund_a" and Decimal(fund_a["fall"]) > 0
    assert_after_is_the_chain(doc, market, posted, debt_slack=2)
    assert int(doc["result"]["debt"]["raw"]) == market.debt_of(posted)


def test_repay_and_withdraw_collateral__preview_after__equals_the_chain(ape_run, market, posted):
    ok(ape_run("borrow", "5000", *ME))
    doc = sent_doc(ape_run, "repay", "1000")
    assert_after_is_the_chain(doc, market, posted, debt_slack=2)
    doc = sent_doc(ape_run, "withdraw_collateral", "fund_a", "100")
    assert_after_is_the_chain(doc, market, posted, debt_slack=2)
    assert [r["asset"] for r in doc["preview"]["after"]["liquidation"]] == ["fund_a"]


def test_deposit__preview_after__equals_the_chain(ape_run, market, posted):
    ok(ape_run("borrow", "5000", *ME))
    doc = sent_doc(ape_run, "deposit", "fund_a", "250")
    assert_after_is_the_chain(doc, market, posted, debt_slack=2)
    assert Decimal(doc["preview"]["after"]["health_factor"]) > Decimal(doc["preview"]["before"]["health_factor"])


def test_borrow__preview_shown_to_people(ape_run, posted):
    out = ok(ape_run("borrow", "5000", *ME)).stdout
    for part in (
        "amount: 5,000.00 USDC = 5000000000 units (6 decimals)",
        "risk preview, before → after",
        "health factor",
        "borrow headroom",
        "fund_a liquidates at NAV",
        "below)",
        "✓ borrow",
        "in block",
        "gwei)",
    ):
        assert part in out, part
    assert "INFO" not in out and "total fees paid" not in out


def test_withdraw_collateral_max__under_the_warning_level__refused_without_yes(
    ape_run, market, fund_a, posted, nonce_kept
):
    ok(ape_run("borrow", "8000", *ME))
    with nonce_kept(posted):
        result = ape_run("withdraw_collateral", "fund_a", "max", *ME)
    assert result.exit_code == EXIT_REFUSED, result.stderr
    assert "under the warning level 1.10:" in result.stderr and "pass --yes" in result.stderr
    assert market.collateral_of(posted, fund_a) == 1_000 * SHARE_A


def test_withdraw_collateral_max__under_the_warning_level__sent_once_confirmed(
    ape_run, market, fund_a, posted
):
    ok(ape_run("borrow", "8000", *ME))
    result = ape_run("withdraw_collateral", "fund_a", "max", *ME, input="y\n")
    ok(result)
    assert "warning: the health factor would fall to" in result.stderr
    assert market.collateral_of(posted, fund_a) < 1_000 * SHARE_A


def test_borrow__warn_below_lowered__not_asked(ape_run, market, posted):
    # HF after 8,900 on $9,555 at the threshold: about 1.07, under 1.10, over 1.05.
    ok(ape_run("borrow", "8900", *ME, "--warn-below", "1.05"))
    assert market.debt_of(posted) >= 8_900 * USD


def test_borrow__warn_below_under_one__usage_error(ape_run, posted, nonce_kept):
    with nonce_kept(posted):
        result = ape_run("borrow", "10", *ME, "--warn-below", "0.9")
    assert result.exit_code == 2 and "under 1" in result.stderr


def test_borrow__dry_run__nothing_sent(ape_run, market, posted, nonce_kept):
    with nonce_kept(posted):
        doc = json.loads(ok(ape_run("borrow", "5000", *ME, "--dry-run", "--json")).stdout)
    assert doc["dry_run"] is True and doc["simulated"] is True and doc["transactions"] == []
    assert doc["result"] == {"receiver": posted.address}
    assert int(doc["preview"]["after"]["debt"]["raw"]) == 5_000 * USD
    assert market.debt_of(posted) == 0


def test_lend__dry_run_with_an_approval__says_the_main_step_is_not_simulated(ape_run, borrower, nonce_kept):
    with nonce_kept(borrower):
        result = ok(ape_run("lend", "10", *ME, "--dry-run"))
    assert "not simulated" in result.stdout and "dry run, nothing sent" in result.stdout


def test_leverage_then_unwind__previews_and_what_was_received(ape_run, market, stablecoin, wrapper, borrower):
    doc = sent_doc(ape_run, "leverage", "wrapper", "10000", "--ltv", "0.80")
    assert doc["preview"]["before"]["debt"]["raw"] == "0"
    assert_after_is_the_chain(doc, market, borrower, debt_slack=10)
    assert int(doc["result"]["collateral"]["raw"]) == market.collateral_of(borrower, wrapper)
    before = stablecoin.balanceOf(borrower)
    doc = sent_doc(ape_run, "unwind", "wrapper")
    received = stablecoin.balanceOf(borrower) - before
    assert int(doc["result"]["received"]["raw"]) == received > 0
    assert doc["preview"]["after"]["debt"]["raw"] == "0" and market.debt_of(borrower) == 0
    out = ok(ape_run("position", *ME)).stdout
    assert "lent by" in out and "debt" in out
