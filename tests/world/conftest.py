"""Fixtures of the world-contract tests (tokens, oracles, facilities,
wrapper). Built on the session world of ``tests/conftest.py``."""

import pytest

# Fund A: NAV accrues, 6 decimals. Fund B: $1 dividends, 18 decimals.
FUND_KEYS = ("a", "b")


@pytest.fixture(scope="session", params=FUND_KEYS, ids=["fund_a_6dec", "fund_b_18dec"])
def fund(request, world):
    """Each fund in turn: decimals 6 (NAV accrues) and 18 ($1 dividends)."""
    return getattr(world, f"fund_{request.param}")


@pytest.fixture(scope="session")
def one(fund):
    """One whole share of ``fund``."""
    return 10 ** fund.decimals()


@pytest.fixture(scope="session", params=FUND_KEYS, ids=["facility_a_6dec", "facility_b_18dec"])
def market_of(request, world):
    """(fund, oracle, facility) for each fund in turn."""
    key = request.param
    return (
        getattr(world, f"fund_{key}"),
        getattr(world, f"oracle_{key}"),
        getattr(world, f"facility_{key}"),
    )


@pytest.fixture(scope="session")
def holder_with_shares(world, lender, mint_fund):
    """``holder_with_shares(fund, whole_shares)``: issuer-mints whole shares
    to ``lender`` and returns the raw amount."""

    def mint(fund, whole: int) -> int:
        amount = whole * 10 ** fund.decimals()
        mint_fund(fund, lender, amount)
        return amount

    return mint
