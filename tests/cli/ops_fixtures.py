"""Helpers and fixtures of the operators' command tests (admin,
positions, liquidate, nav), imported by their modules."""

from __future__ import annotations

import json

import pytest

USD = 10**6
SHARE_A = 10**6


def ok(result):
    """Asserts a command exited 0; returns its result."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def doc_of(result) -> dict:
    """The JSON document a successful command printed."""
    return json.loads(ok(result).stdout)


def changes_of(doc: dict) -> dict[str, tuple[str, str]]:
    """A report's settings, ``{setting: (before, after)}``."""
    return {c["setting"]: (c["before"], c["after"]) for c in doc["changes"]}


@pytest.fixture
def fails(ape_run, nonce_kept):
    """``fails(3, account, "admin", ...)``: runs the command, asserts its
    exact exit status, a one-line error (after the question, when one was
    asked) and nothing sent from ``account``; returns the message."""

    def go(code: int, account, script: str, *args: object) -> str:
        with nonce_kept(account):
            result = ape_run(script, *args)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
        assert "Traceback" not in result.stderr + result.stdout
        line = result.stderr.strip().splitlines()[-1]
        assert "Error: " in line, result.stderr
        return line[line.index("Error: ") :]

    return go


@pytest.fixture
def in_debt(seeded, market, fund_a, borrower):
    """The borrower posts 1,000 fund A shares ($10,500) and borrows 8,900
    USDC: health factor 9,450 / 8,900 = 1.0618 at the 90 % threshold."""
    fund_a.approve(market, 1_000 * SHARE_A, sender=borrower)
    market.supply_collateral(fund_a, 1_000 * SHARE_A, borrower, sender=borrower)
    market.borrow(8_900 * USD, borrower, borrower, sender=borrower)
    return borrower
