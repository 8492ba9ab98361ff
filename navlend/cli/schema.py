"""The ``--json`` output's schema, per command (JSON Schema, draft 2020-12).

Scripts may rely on these: every key listed is always present (``null``
when a figure does not apply), and no other key appears. The tests
validate each command's output against its schema (tests/cli).

- An amount is ``{"raw": "1000500000", "value": "1000.5", "symbol":
  "USDC", "decimals": 6}``: ``raw`` the integer in the token's units (a
  string: JSON numbers lose digits above 2**53 in many readers), ``value``
  the exact decimal.
- A ratio or a health factor is a decimal string ("0.850000",
  "1.234500000000000000"); a missing or infinite one is ``null``.
- A command that sends (or, with ``--dry-run``, would send) prints the
  :data:`SENT` document; its own figures are under ``result``.
- A failure prints :data:`ERROR` (and exits with its status,
  :mod:`navlend.cli.errors`).
"""

from __future__ import annotations

from typing import Any

_DIGITS = {"type": "string", "pattern": r"^[0-9]+$"}
_DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
_ADDRESS = {"type": "string", "pattern": r"^0x[0-9a-fA-F]{40}$"}


def _obj(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with exactly ``properties`` (all required but ``optional``)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k in properties if k not in optional],
        "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


AMOUNT = _obj(
    {
        "raw": _DIGITS,
        "value": _DECIMAL,
        "symbol": {"type": "string"},
        "decimals": {"type": "integer", "minimum": 0},
    }
)
MAYBE_AMOUNT = _nullable(AMOUNT)
MAYBE_DECIMAL = _nullable(_DECIMAL)

ERROR = _obj(
    {
        "error": _obj(
            {
                "code": {"enum": ["internal", "usage", "refused", "reverted", "rpc"]},
                "message": {"type": "string", "minLength": 1},
                "exit_code": {"enum": [1, 2, 3, 4, 5]},
            }
        )
    }
)

_FIGURES = _obj(
    {
        "health_factor": MAYBE_DECIMAL,
        "liquidatable": {"type": "boolean"},
        "debt": AMOUNT,
        "borrow_headroom": AMOUNT,
        "liquidation": {
            "type": "array",
            "items": _obj({"asset": {"type": "string"}, "nav": MAYBE_DECIMAL, "fall": MAYBE_DECIMAL}),
        },
    }
)
PREVIEW = _obj({"account": _ADDRESS, "before": _FIGURES, "after": _FIGURES})
TRANSACTION = _obj(
    {
        "step": {"type": "string"},
        "hash": {"type": "string", "pattern": r"^0x[0-9a-fA-F]{64}$"},
        "block": {"type": "integer", "minimum": 0},
        "gas_used": {"type": "integer", "minimum": 0},
        "gas_price_gwei": _DECIMAL,
        "fee": AMOUNT,
    }
)
AFFECTED = _obj(
    {
        "account": _ADDRESS,
        "debt": AMOUNT,
        "health_factor_before": MAYBE_DECIMAL,
        "health_factor_after": MAYBE_DECIMAL,
        "liquidatable_after": {"type": "boolean"},
    }
)


def sent(result: dict[str, Any], after_send: tuple[str, ...] = ()) -> dict[str, Any]:
    """The document of a command that sends: ``result``'s keys, those in
    ``after_send`` only once sent (absent under ``--dry-run``)."""
    return _obj(
        {
            "command": {"type": "string"},
            "summary": {"type": "string"},
            "account": _ADDRESS,
            "network": {"type": "string"},
            "dry_run": {"type": "boolean"},
            "simulated": {"type": "boolean"},
            "amounts": {"type": "object", "additionalProperties": AMOUNT},
            "preview": _nullable(PREVIEW),
            "changes": {
                "type": "array",
                "items": _obj({"setting": {"type": "string"}, "before": {"type": "string"}, "after": {"type": "string"}}),
            },
            "affected": {"type": "array", "items": AFFECTED},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "array", "items": {"type": "string"}},
            "transactions": {"type": "array", "items": TRANSACTION},
            "result": _obj(result, optional=after_send),
        }
    )


_RISK_AFTER = {"debt": AMOUNT, "health_factor": MAYBE_DECIMAL}
_LENT_AFTER = {"lent_balance": AMOUNT, "shares": _DIGITS}

LENDER = _obj(
    {
        "balance": AMOUNT,
        "shares": _DIGITS,
        "cost_basis": MAYBE_AMOUNT,
        "interest_earned": MAYBE_AMOUNT,
        "supply_apr": MAYBE_DECIMAL,
        "supply_apy": MAYBE_DECIMAL,
    }
)
BORROWER = _obj(
    {
        "account": _ADDRESS,
        "health_factor": MAYBE_DECIMAL,
        "liquidatable": {"type": "boolean"},
        "debt": AMOUNT,
        "principal": MAYBE_AMOUNT,
        "interest_accrued": MAYBE_AMOUNT,
        "collateral_value": AMOUNT,
        "borrow_limit": AMOUNT,
        "borrow_headroom": AMOUNT,
        "liquidation_value": AMOUNT,
        "ltv_used": MAYBE_DECIMAL,
        "borrow_limit_used": MAYBE_DECIMAL,
        "collateral": {
            "type": "array",
            "items": _obj(
                {
                    "asset": {"type": "string"},
                    "symbol": {"type": "string"},
                    "token": _ADDRESS,
                    "balance": AMOUNT,
                    "price": AMOUNT,
                    "price_age": _nullable({"type": "integer"}),
                    "stale": {"type": "boolean"},
                    "value": AMOUNT,
                    "ltv": _DECIMAL,
                    "liquidation_threshold": _DECIMAL,
                    "liquidation_price": MAYBE_DECIMAL,
                }
            ),
        },
    }
)
POSITION = _obj({"account": _ADDRESS, "lent": LENDER, "borrowed": BORROWER})

MARKET = _obj(
    {
        "base": _obj({"symbol": {"type": "string"}, "decimals": {"type": "integer"}, "address": {"type": "string"}}),
        "cash": AMOUNT,
        "total_borrows": AMOUNT,
        "reserves": AMOUNT,
        "total_assets": AMOUNT,
        "utilization": _DECIMAL,
        "borrow_apr": _DECIMAL,
        "supply_apr": _DECIMAL,
        "paused": {"type": "array", "items": {"type": "string"}},
        "liquidations_resume_at": {"type": "integer"},
        "min_borrow": AMOUNT,
        "flash_fee_bps": {"type": "integer"},
        "assets": {
            "type": "array",
            "items": _obj(
                {
                    "asset": {"type": "string"},
                    "symbol": {"type": "string"},
                    "token": _ADDRESS,
                    "price": AMOUNT,
                    "price_age": {"type": "integer"},
                    "stale": {"type": "boolean"},
                    "max_oracle_age": {"type": "integer"},
                    "ltv": _DECIMAL,
                    "liquidation_threshold": _DECIMAL,
                    "liquidation_bonus": _DECIMAL,
                    "total_supplied": AMOUNT,
                    "supply_cap": MAYBE_AMOUNT,
                    "price_cap": MAYBE_AMOUNT,
                    "frozen": {"type": "boolean"},
                }
            ),
        },
    }
)

# Each command's document on success, by the name ``ape run`` gives it
# (admin subcommands as "admin <name>").
COMMANDS: dict[str, dict[str, Any]] = {
    "lend": sent(_LENT_AFTER, after_send=tuple(_LENT_AFTER)),
    "withdraw": sent(_LENT_AFTER, after_send=tuple(_LENT_AFTER)),
    "deposit": sent({"asset": {"type": "string"}, **_RISK_AFTER}, after_send=tuple(_RISK_AFTER)),
    "withdraw_collateral": sent(
        {"asset": {"type": "string"}, "receiver": _ADDRESS, **_RISK_AFTER}, after_send=tuple(_RISK_AFTER)
    ),
    "borrow": sent({"receiver": _ADDRESS, **_RISK_AFTER}, after_send=tuple(_RISK_AFTER)),
    "repay": sent(dict(_RISK_AFTER), after_send=tuple(_RISK_AFTER)),
    "leverage": sent(
        {"asset": {"type": "string"}, "collateral": AMOUNT, **_RISK_AFTER},
        after_send=("collateral", *_RISK_AFTER),
    ),
    "unwind": sent(
        {"asset": {"type": "string"}, "received": AMOUNT, **_RISK_AFTER},
        after_send=("received", *_RISK_AFTER),
    ),
    "position": POSITION,
    "market": MARKET,
}

_ANY: dict[str, Any] = {}
_NAME = {"type": "string"}
_BPS = {"type": "integer", "minimum": 0}
_SECONDS = {"type": "integer", "minimum": 0}
_NAMES = {"type": "array", "items": _NAME}

POSITIONS = _obj(
    {
        "borrowers_with_debt": {"type": "integer"},
        "below": MAYBE_DECIMAL,
        "limit": _nullable({"type": "integer"}),
        "count": {"type": "integer"},
        "positions": {
            "type": "array",
            "items": _obj(
                {
                    "account": _ADDRESS,
                    "debt": AMOUNT,
                    "collateral_value": AMOUNT,
                    "health_factor": MAYBE_DECIMAL,
                    "liquidatable": {"type": "boolean"},
                    "max_repay": AMOUNT,
                    "collateral": {
                        "type": "array",
                        "items": _obj({"asset": _NAME, "balance": AMOUNT, "value": AMOUNT}),
                    },
                }
            ),
        },
    }
)
_QUOTE = _obj(
    {
        "route": {"enum": ["seize", "redeem"]},
        "asset": _NAME,
        "repaid": AMOUNT,
        "seized": AMOUNT,
        "seized_value": AMOUNT,
        "bonus_value": AMOUNT,
        "protocol_fee": AMOUNT,
        "protocol_fee_value": AMOUNT,
        "shares_out": AMOUNT,
        "proceeds": AMOUNT,
        "profit": AMOUNT,
        "write_off": {"type": "boolean"},
    }
)
# The liquidator's stablecoin balance moves either way: paid on the seize
# route, received on the redeem route.
SIGNED_AMOUNT = {**AMOUNT, "properties": {**AMOUNT["properties"], "raw": {"type": "string", "pattern": r"^-?[0-9]+$"}}}
_LIQUIDATED = {"stablecoin_change": SIGNED_AMOUNT, "shares_received": AMOUNT, "health_factor_after": MAYBE_DECIMAL}
_NAV = {
    "asset": _NAME,
    "oracle": _ADDRESS,
    "nav_before": AMOUNT,
    "nav_after": AMOUNT,
    "as_of": {"type": "integer"},
    "price_after": AMOUNT,
    "stale_after": {"type": "boolean"},
    "advanced_seconds": _SECONDS,
}

COMMANDS.update(
    {
        "positions": POSITIONS,
        "liquidate": sent(
            {"borrower": _ADDRESS, "health_factor": MAYBE_DECIMAL, "quote": _ANY, **_LIQUIDATED},
            after_send=tuple(_LIQUIDATED),
        ),
        "nav": sent(_NAV),
        "faucet": sent(
            {"receiver": _ADDRESS, "minted": {"type": "object", "additionalProperties": AMOUNT}}
        ),
        "admin set-risk": sent({"asset": _NAME, "ltv_bps": _BPS, "threshold_bps": _BPS, "bonus_bps": _BPS}),
        "admin set-limits": sent(
            {"asset": _NAME, "supply_cap": MAYBE_AMOUNT, "price_cap": MAYBE_AMOUNT, "max_oracle_age": _SECONDS}
        ),
        "admin set-rates": sent(
            {
                "base_rate_apr": _ANY,
                "slope1_apr": _ANY,
                "slope2_apr": _ANY,
                "kink_bps": _BPS,
                "reserve_factor_bps": _BPS,
            }
        ),
        "admin set-fees": sent({"flash_fee_bps": _BPS, "liquidation_fee_bps": _BPS}),
        "admin set-borrow-limits": sent({"min_borrow": AMOUNT, "small_position": AMOUNT, "dust_floor": AMOUNT}),
        "admin pause": sent({"paused": _NAMES}),
        "admin unpause": sent({"unpaused": _NAMES, "grace_seconds": _SECONDS}),
        "admin list-collateral": sent({"token": _ADDRESS, "oracle": _ADDRESS}),
        "admin withdraw-reserves": sent({"amount": AMOUNT, "treasury": _ADDRESS}),
        "admin book-surplus": sent({"amount": AMOUNT}),
        "admin freeze": sent({"asset": _NAME, "frozen": {"const": True}}),
        "admin unfreeze": sent({"asset": _NAME, "frozen": {"const": False}}),
        "admin set-oracle": sent(
            {"asset": _NAME, "oracle": _ADDRESS, "price_before": AMOUNT, "price_after": AMOUNT}
        ),
        "admin set-guardian": sent({"guardian": _ADDRESS, "previous_guardian": _ADDRESS}),
        "admin set-treasury": sent({"treasury": _ADDRESS, "previous_treasury": _ADDRESS}),
    }
)
_QUOTED = COMMANDS["liquidate"]["properties"]["result"]["properties"]
_QUOTED["quote"] = _QUOTE
