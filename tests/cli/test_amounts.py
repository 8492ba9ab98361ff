"""Amount, ratio and duration parsing and formatting (no chain)."""

from decimal import Decimal
from fractions import Fraction

import pytest

from navlend.cli import amounts
from navlend.cli.errors import Refusal, explain_revert


@pytest.mark.parametrize(
    "text, decimals, units",
    [
        ("1000.50", 6, 1_000_500_000),
        ("1,000.5", 6, 1_000_500_000),
        ("1_000", 6, 1_000_000_000),
        ("0.000001", 6, 1),
        ("1.500000000", 6, 1_500_000),  # trailing zeros are not extra precision
        ("1,000,000.25", 6, 1_000_000_250_000),
        (".5", 6, 500_000),
        ("0.000000000000000001", 18, 1),
        ("7", 0, 7),
        (12, 6, 12_000_000),
        (Decimal("2.5"), 18, 25 * 10**17),
    ],
)
def test_parse_amount(text, decimals, units):
    assert amounts.parse_amount(text, decimals, "TOK") == units


@pytest.mark.parametrize(
    "text, why",
    [
        ("1.0000001", "7 decimal places; USDC has only 6"),
        ("-1", "negative"),
        ("0", "zero"),
        ("0.000", "zero"),
        ("abc", "not a number"),
        ("", "not a number"),
        ("1.2.3", "not a number"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("1e80", "has an exponent"),
        ("1e3", "has an exponent"),
        ("1,5", r"did you mean 1\.5\?"),
        ("10,00", r"did you mean 10\.00\?"),
        ("1,0000", "three digits a group"),
        ("1,000_000", "three digits a group"),
        ("1" + "0" * 80, "too large"),
        (1.5, "not a float"),
    ],
)
def test_parse_amount_refusals(text, why):
    with pytest.raises(Refusal, match=why):
        amounts.parse_amount(text, 6, "USDC")


def test_parse_amount_zero_allowed_where_asked():
    assert amounts.parse_amount("0", 6, allow_zero=True) == 0


def test_is_all():
    assert (
        amounts.is_all("max")
        and amounts.is_all(" ALL ")
        and not amounts.is_all("100")
        and not amounts.is_all(100)
    )


@pytest.mark.parametrize(
    "text, bps", [("0.80", 8_000), ("80%", 8_000), ("0.0005", 5), ("0.05%", 5), ("1", 10_000)]
)
def test_parse_fraction(text, bps):
    assert amounts.parse_fraction(text) == bps


@pytest.mark.parametrize(
    "text, why",
    [
        ("0.00001", "finer than one basis point"),
        ("1.5", "above 100%"),
        ("-0.1", "positive"),
        ("0", "positive"),
    ],
)
def test_parse_fraction_refusals(text, why):
    with pytest.raises(Refusal, match=why):
        amounts.parse_fraction(text, "--ltv")


@pytest.mark.parametrize(
    "text, seconds",
    [("3600", 3_600), ("90m", 5_400), ("100h", 360_000), ("4d", 345_600), ("1w", 604_800)],
)
def test_parse_duration(text, seconds):
    assert amounts.parse_duration(text) == seconds


def test_parse_duration_refusal():
    with pytest.raises(Refusal, match="duration '1 year'"):
        amounts.parse_duration("1 year")


@pytest.mark.parametrize(
    "units, decimals, places, text",
    [
        (1_000_500_000, 6, None, "1,000.50"),
        (123, 6, None, "0.000123"),
        (1_234_567, 6, 2, "1.23"),
        (1_239_999, 6, 2, "1.23"),  # truncated, never rounded up
        (10**18, 18, None, "1.00"),
        (0, 6, None, "0.00"),
        (5, 0, None, "5"),
    ],
)
def test_format_units(units, decimals, places, text):
    assert amounts.format_units(units, decimals, places) == text


def test_format_units_round_trips():
    for text in ("1000.5", "0.000001", "123456789.123456"):
        assert amounts.format_units(amounts.parse_amount(text, 6), 6, group=False).rstrip(
            "0"
        ).rstrip(".") == text.rstrip("0")


def test_format_ratios_and_health():
    assert amounts.format_ratio(85 * 10**16) == "85.00%"
    assert amounts.format_ratio(Fraction(1, 3), 1) == "33.33%"
    assert amounts.format_ratio(None) == "-"
    assert amounts.format_bps(8_500) == "85.00%"
    assert amounts.format_health(amounts.MAX_UINT256) == "∞"
    assert amounts.format_health(1_234_567_890_123_456_789) == "1.2345"


@pytest.mark.parametrize(
    "seconds, text",
    [(45, "45s"), (720, "12m"), (3 * 3_600 + 300, "3h 05m"), (4 * 86_400 + 7_200, "4d 02h")],
)
def test_format_duration(seconds, text):
    assert amounts.format_duration(seconds) == text


def test_explain_revert():
    assert explain_revert("market: exceeds borrow limit") == (
        "the position would exceed its borrow limit (market: exceeds borrow limit)"
    )
    assert explain_revert("something new") == "something new"
    assert "no reason" in explain_revert(None)


@pytest.mark.parametrize("text", ["1,5", "10,00", "1e30"])
def test_parse_amount__comma_decimal_or_exponent__refused_never_read_as_another_amount(text):
    # "1,5" was read as 15 and "10,00" as 1,000 (commas stripped anywhere);
    # "1e30" crashed a borrow with InvalidOperation.
    with pytest.raises(Refusal):
        amounts.parse_amount(text, 6, "USDC")
