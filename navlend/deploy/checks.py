"""The checks made before anything is sent, pure: over a parsed config and
the chain's facts (:mod:`navlend.deploy.facts`), every problem is
collected with its key path, and every warning with what someone must do.

A problem refuses the deployment; a warning does not (the issuers admit
the market and the adapters once they exist, see docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from navlend.constants import MIN_ORACLE_AGE
from navlend.deploy.config import Collateral, DeployConfig, Problem
from navlend.deploy.facts import ChainFacts, CollateralFacts
from navlend.rules import params
from navlend.rules.arith import Revert

# The market's largest scale exponent (token + feed - base decimals).
MAX_SCALE_EXPONENT = 60


@dataclass(frozen=True)
class Report:
    """What the checks found."""

    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check(config: DeployConfig, facts: ChainFacts) -> Report:
    """Every check, in the config's order."""
    problems: list[Problem] = []
    warnings: list[str] = []
    if facts.chain_id != config.chain_id:
        problems.append(
            Problem(
                "network",
                f"{config.network} is chain {config.chain_id}; the connected node is chain {facts.chain_id}",
            )
        )
    problems.extend(
        Problem(c.path, f"no contract at {c.address}") for c in facts.codes if not c.has_code
    )
    no_code = {c.path for c in facts.codes if not c.has_code}
    if facts.stablecoin_decimals is None and "stablecoin" not in no_code:
        problems.append(Problem("stablecoin", "answers no decimals(): not an ERC-20"))
    problems.extend(market_parameters(config))
    for index, (item, found) in enumerate(zip(config.collateral, facts.collateral)):
        path = f"collateral[{index}]"
        problems.extend(collateral_problems(item, found, facts, path, no_code, config.stablecoin))
        warnings.extend(collateral_warnings(item, found, path))
    return Report(tuple(problems), tuple(warnings))


def _rule(path: str, rule: Callable[[], None]) -> list[Problem]:
    """A ``navlend.rules.params`` check as a list of at most one problem."""
    try:
        rule()
    except Revert as err:
        return [Problem(path, f"{err.message} (the market would revert: {err.reason})")]
    return []


def market_parameters(config: DeployConfig) -> list[Problem]:
    """The rate curve, the fees and the borrow limits, within the market's
    bounds."""
    return (
        _rule("rates", lambda: params.check_rates(*config.rates.contract_args()))
        + _rule("fees", lambda: params.check_fees(*config.fees.contract_args()))
        + _rule("limits", lambda: params.check_borrow_limits(*config.limits.contract_args()))
    )


def collateral_problems(
    item: Collateral,
    found: CollateralFacts,
    facts: ChainFacts,
    path: str,
    no_code: set[str],
    config_stablecoin: str,
) -> list[Problem]:
    """One collateral's refusals: risk and limits within bounds, decimals,
    the feed's round, the facility's tokens, the compliance source."""
    problems = _rule(path, lambda: params.check_risk(*item.risk_bps))
    decimals = found.token_decimals
    cap_units = item.supply_cap_units(decimals or 0)
    if decimals is not None and cap_units != int(cap_units):
        problems.append(
            Problem(
                f"{path}.supply_cap",
                f"{item.supply_cap} is finer than one unit of a {decimals}-decimal token",
            )
        )
    problems += _rule(
        f"{path}.max_oracle_age", lambda: params.check_asset_limits(0, item.max_oracle_age)
    )
    # Each limit alone, so that each problem names its key.
    problems += _rule(
        f"{path}.supply_cap", lambda: params.check_asset_limits(int(cap_units), MIN_ORACLE_AGE)
    )
    if decimals is None and f"{path}.token" not in no_code:
        problems.append(Problem(f"{path}.token", "answers no decimals(): not an ERC-20"))
    problems += feed_problems(item, found, facts, path, no_code)
    problems += price_cap_problems(item, found, path)
    problems += facility_problems(item, found, path, facts, config_stablecoin)
    problems += facility_problems(item, found, path, facts, config_stablecoin, "subscription")
    if found.compliance_answers is False:
        problems.append(
            Problem(
                f"{path}.compliance",
                "does not answer is_allowlisted and is_frozen (the market refuses it)",
            )
        )
    return problems


def feed_problems(
    item: Collateral, found: CollateralFacts, facts: ChainFacts, path: str, no_code: set[str]
) -> list[Problem]:
    """The feed's decimals agree with the token's and the stablecoin's, and
    it answers a positive price struck within ``max_oracle_age``."""
    where = f"{path}.feed"
    if where in no_code or f"{where}.target" in no_code:
        return []
    feed = found.feed
    problems = []
    if feed.decimals is None:
        problems.append(Problem(where, "answers no decimals()"))
    elif found.token_decimals is not None and facts.stablecoin_decimals is not None:
        exponent = found.token_decimals + feed.decimals - facts.stablecoin_decimals
        if not 0 <= exponent <= MAX_SCALE_EXPONENT:
            problems.append(
                Problem(
                    where,
                    f"decimals do not agree: token {found.token_decimals} + feed {feed.decimals} - "
                    f"stablecoin {facts.stablecoin_decimals} = {exponent} (must be 0 to {MAX_SCALE_EXPONENT})",
                )
            )
    if feed.answer is None or feed.updated_at is None:
        problems.append(Problem(where, "answers no price (no round, or the call reverts)"))
    elif feed.answer <= 0:
        problems.append(Problem(where, f"answers a price that is not positive ({feed.answer})"))
    elif feed.updated_at > facts.now:
        problems.append(
            Problem(
                where, f"its price is struck in the future ({feed.updated_at} > now {facts.now})"
            )
        )
    elif facts.now - feed.updated_at > item.max_oracle_age:
        age = facts.now - feed.updated_at
        problems.append(
            Problem(
                where,
                f"its price was struck {age // 3_600}h{age % 3_600 // 60:02d}m ago, older than "
                f"max_oracle_age ({item.max_oracle_age / 3_600:g}h): the market refuses a stale feed",
            )
        )
    return problems


def facility_problems(
    item: Collateral,
    found: CollateralFacts,
    path: str,
    facts: ChainFacts,
    stablecoin: str,
    role: str = "facility",
) -> list[Problem]:
    """The redemption facility (``role`` facility) or the subscription
    facility (``role`` subscription) trades the collateral for the
    stablecoin: its share token is the collateral, its payout token the
    stablecoin."""
    facility = found.facility if role == "facility" else found.subscription
    where = f"{path}.{role}"
    if facility is None or any(c.path.startswith(where) and not c.has_code for c in facts.codes):
        return []
    problems = []
    if facility.share_token is None or facility.payout_token is None:
        return [Problem(where, "answers no share or payout token")]
    verb = "redeems" if role == "facility" else "sells"
    if facility.share_token != item.token:
        problems.append(
            Problem(where, f"{verb} {facility.share_token}, not the collateral {item.token}")
        )
    if facility.payout_token != stablecoin:
        verb = "pays" if role == "facility" else "takes"
        problems.append(Problem(where, f"{verb} {facility.payout_token}, not the stablecoin"))
    return problems


def price_cap_problems(item: Collateral, found: CollateralFacts, path: str) -> list[Problem]:
    """A price cap exact to the feed's decimals."""
    decimals = found.feed.decimals
    if not item.price_cap or decimals is None:
        return []
    units = item.price_cap_units(decimals)
    if units != int(units):
        return [
            Problem(
                f"{path}.price_cap",
                f"{item.price_cap} is finer than the feed's {decimals} decimals",
            )
        ]
    return []


def collateral_warnings(item: Collateral, found: CollateralFacts, path: str) -> list[str]:
    """What someone must still do: the issuer's admissions, a missing
    compliance source; and a price cap already below the price."""
    warnings = [f"{path}: {a.action}" for a in found.admissions if not a.admitted]
    decimals, answer = found.feed.decimals, found.feed.answer
    if (
        item.price_cap
        and decimals is not None
        and answer
        and item.price_cap_units(decimals) < answer
    ):
        warnings.append(
            f"{path}.price_cap: {item.price_cap} is below the feed's price ({answer / 10**decimals:g}): "
            "the market will value the asset at the cap"
        )
    if item.compliance is None and not found.token_answers_compliance:
        warnings.append(
            f"{path}: no compliance source, and the token answers no is_allowlisted/is_frozen: "
            "the market will lend against it to anyone (set compliance)"
        )
    return warnings
