"""Every role-gated function of the world rejects the wrong caller, and
every bounded setter rejects a bad value, with its own reason and without
changing anything. One table per concern instead of one copy-pasted test
per function; the positive cases live in each contract's test file."""

import ape
import pytest

HOUR = 3_600
DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"
NOT_OWNER = "ownable: caller is not the owner"

# (contract, function, arguments, expected reason), called by `attacker`:
# an allowlisted investor holding no role at all. Arguments name actors
# ("attacker", "lender") or literals.
WRONG_CALLER = [
    ("fund_a", "mint", ("lender", 1), "fund: caller not minter"),
    ("fund_a", "burn_redeemed", (1,), "fund: caller not minter"),
    ("fund_a", "set_minter", ("attacker", True), NOT_OWNER),
    ("fund_b", "distribute", (["lender"], [1]), NOT_OWNER),
    ("fund_a", "set_allowlisted", ("attacker", True), "fund: caller not allowlist admin"),
    ("fund_a", "set_allowlisted_batch", (["attacker"], True), "fund: caller not allowlist admin"),
    ("fund_a", "set_allowlist_manager", ("attacker",), NOT_OWNER),
    ("fund_a", "freeze", ("lender",), NOT_OWNER),
    ("fund_a", "unfreeze", ("lender",), NOT_OWNER),
    ("fund_a", "pause", (), NOT_OWNER),
    ("fund_a", "unpause", (), NOT_OWNER),
    ("fund_a", "seize", ("lender", "attacker", 1), NOT_OWNER),
    ("fund_a", "burn", ("lender", 1), NOT_OWNER),
    ("oracle_a", "publish", (10_50_000_000, "now"), "oracle: caller not updater"),
    ("oracle_a", "confirm_pending", (), "oracle: caller not guardian"),
    ("oracle_a", "reject_pending", (), "oracle: caller not guardian"),
    ("oracle_a", "set_updater", ("attacker",), NOT_OWNER),
    ("oracle_a", "set_guardian", ("attacker",), NOT_OWNER),
    ("oracle_a", "set_min_interval", (HOUR,), NOT_OWNER),
    ("oracle_a", "set_max_move_bps", (200,), NOT_OWNER),
    ("facility_a", "withdraw_liquidity", (1, "attacker"), NOT_OWNER),
    ("facility_a", "pause", (), NOT_OWNER),
    ("facility_a", "unpause", (), NOT_OWNER),
    ("facility_a", "set_fee_bps", (1,), NOT_OWNER),
    ("facility_a", "set_min_redeem", (1,), NOT_OWNER),
    ("facility_a", "set_daily_limit", (1,), NOT_OWNER),
    ("facility_a", "set_max_oracle_age", (7_200,), NOT_OWNER),
    ("facility_a", "set_treasury", ("attacker",), NOT_OWNER),
    ("wrapper", "set_unlock_period", (HOUR,), NOT_OWNER),
    ("stablecoin", "mint", ("attacker", 1), "stablecoin: caller not minter"),
]

# (contract, function, arguments, caller, expected reason): the right
# caller with a value outside the bounds.
BAD_INPUT = [
    ("fund_a", "set_minter", (ZERO, True), "deployer", "fund: zero address"),
    ("fund_a", "set_allowlisted", (ZERO, True), "deployer", "fund: zero address"),
    ("fund_a", "freeze", (ZERO,), "deployer", "fund: zero address"),
    ("oracle_a", "confirm_pending", (), "guardian", "oracle: no pending round"),
    ("oracle_a", "reject_pending", (), "guardian", "oracle: no pending round"),
    ("oracle_a", "set_min_interval", (HOUR - 1,), "deployer", "oracle: bad interval"),
    ("oracle_a", "set_min_interval", (7 * DAY + 1,), "deployer", "oracle: bad interval"),
    ("oracle_a", "set_max_move_bps", (0,), "deployer", "oracle: bad max move"),
    ("oracle_a", "set_max_move_bps", (5_001,), "deployer", "oracle: bad max move"),
    ("facility_a", "withdraw_liquidity", (0, "deployer"), "deployer", "facility: zero amount"),
    ("facility_a", "withdraw_liquidity", (1, ZERO), "deployer", "facility: zero address"),
    ("facility_a", "set_fee_bps", (101,), "deployer", "facility: fee too high"),
    ("facility_a", "set_daily_limit", (0,), "deployer", "facility: zero limit"),
    ("facility_a", "set_max_oracle_age", (HOUR - 1,), "deployer", "facility: bad oracle age"),
    ("facility_a", "set_max_oracle_age", (30 * DAY + 1,), "deployer", "facility: bad oracle age"),
    ("facility_a", "set_treasury", (ZERO,), "deployer", "facility: zero address"),
    ("facility_a", "redeem", (10**6, 0, ZERO), "lender", "facility: zero address"),
    ("wrapper", "set_unlock_period", (HOUR - 1,), "deployer", "wrapper: bad unlock period"),
    ("wrapper", "set_unlock_period", (30 * DAY + 1,), "deployer", "wrapper: bad unlock period"),
]


def _ids(cases):
    return [f"{case[0]}.{case[1]}({','.join(map(str, case[2]))})"[:60] for case in cases]


@pytest.fixture(scope="session")
def resolve(request, chain):
    """Turns actor names in an argument tuple into accounts."""

    def go(args):
        def one(arg):
            if isinstance(arg, list):
                return [one(a) for a in arg]
            if arg == "now":
                return chain.blocks.head.timestamp
            if isinstance(arg, str) and not arg.startswith("0x"):
                return request.getfixturevalue(arg)
            return arg

        return [one(a) for a in args]

    return go


@pytest.mark.parametrize("target,method,args,reason", WRONG_CALLER, ids=_ids(WRONG_CALLER))
def test_role_gated__wrong_caller__reverts(world, attacker, resolve, target, method, args, reason):
    with ape.reverts(reason):
        getattr(getattr(world, target), method)(*resolve(args), sender=attacker)


@pytest.mark.parametrize("target,method,args,caller,reason", BAD_INPUT, ids=_ids(BAD_INPUT))
def test_bounded_input__bad_value__reverts(
    world, request, resolve, target, method, args, caller, reason
):
    with ape.reverts(reason):
        getattr(getattr(world, target), method)(
            *resolve(args), sender=request.getfixturevalue(caller)
        )
