"""The production deployment command, as ``ape run deploy-market`` and the
tests call it: :func:`deploy_market`.

1. Read the config (every problem listed).
2. Read the chain's facts, build the plan, predict the addresses, ask the
   issuers about them, check everything: any problem refuses the
   deployment before anything is sent.
3. Print the plan and the warnings.
4. ``dry_run``: simulate the plan and stop (:func:`simulate`).
5. Ask for confirmation on a network that is not local (``yes`` skips).
6. Run the steps, recording each in ``deployments/<network>.json``, and
   resume from that record on a rerun.
7. Read every setting back; a mismatch fails the command.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ape
import structlog
from rich.console import Console

from navlend import deployments
from navlend.deploy import (
    checks,
    verify,
)
from navlend.deploy import (
    config as config_module,
)
from navlend.deploy import (
    facts as facts_module,
)
from navlend.deploy import (
    plan as plan_module,
)
from navlend.deploy.config import ROLES, ConfigError, DeployConfig, Existing, NewAdapter, Problem
from navlend.deploy.execute import Executor
from navlend.deploy.facts import ChainFacts, Probe
from navlend.deploy.plan import Plan
from navlend.deployments import ContractRecord, Deployment

log = structlog.get_logger(__name__)

# The project's contract type whose ABI the tools bind an external ERC-20
# with (the CLI looks a record's type up in the project, which has no
# plain ERC-20): MockERC20's ABI is the standard one plus `mint`, which
# nothing calls on an external token. The records say ``external``.
EXTERNAL_ERC20_TYPE = "MockERC20"


class DeployRefused(Exception):
    """The deployment was refused before anything was sent."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()):
        self.problems = problems
        lines = "".join(f"\n  - {p}" for p in problems)
        super().__init__(f"{message}{lines}")


class VerifyFailed(Exception):
    """The deployed market's settings differ from the config."""

    def __init__(self, mismatches: tuple[verify.Setting, ...]):
        self.mismatches = mismatches
        lines = "".join(f"\n  - {m}" for m in mismatches)
        super().__init__(f"{len(mismatches)} setting(s) differ from the config:{lines}")


@dataclass(frozen=True)
class Outcome:
    """What a run did: the plan, the checks' report, the deployment (None
    for a dry run), the settings read back, what the simulation covered,
    and the issuers' admissions still missing once deployed."""

    plan: Plan
    report: checks.Report
    deployment: Deployment | None
    settings: tuple[verify.Setting, ...]
    simulated: str
    warnings_after: tuple[str, ...] = ()


def chain_probe() -> Probe:
    """A probe over the connected Ape provider."""
    provider = ape.chain.provider

    def eth_call(address: str, data: bytes) -> bytes:
        return bytes(provider.web3.eth.call({"to": address, "data": "0x" + data.hex()}))

    return Probe(eth_call, lambda address: bytes(provider.get_code(address) or b""))


def resolve_account(alias: str) -> Any:
    """The Ape account of the config's ``deployer``: an alias of
    ``ape accounts``, or ``TEST::n`` (a local test account)."""
    if alias.upper().startswith("TEST::") and alias[6:].isdigit():
        return ape.accounts.test_accounts[int(alias[6:])]
    try:
        return ape.accounts.load(alias)
    except Exception as err:  # noqa: BLE001 - Ape raises several kinds for an unknown alias
        raise DeployRefused(f"deployer: no Ape account named {alias!r} ({err})") from None


def prepare(
    config: DeployConfig, account: Any, probe: Probe, record: Deployment | None
) -> tuple[Plan, ChainFacts, dict[str, str], checks.Report]:
    """The facts, the plan, the addresses it creates, and the checks."""
    chain = ape.chain
    found = facts_module.read_facts(
        config, probe, chain_id=chain.provider.chain_id, now=chain.blocks.head.timestamp,
        deployer=str(account.address), nonce=account.nonce,
    )  # fmt: skip
    plan = plan_module.build_plan(config, found)
    done = {
        key: step.address for key, step in (record.steps if record else {}).items() if step.mined
    }
    addresses = plan_module.predict(plan, found.deployer, found.nonce, done)
    found = with_admissions(config, found, plan, addresses, probe)
    return plan, found, addresses, checks.check(config, found)


def with_admissions(
    config: DeployConfig, found: ChainFacts, plan: Plan, addresses: dict[str, str], probe: Probe
) -> ChainFacts:
    """``found`` with each collateral's issuer admissions of the market, its
    redemption facility, and (with Leverage) Leverage and the
    subscription facility (at ``addresses``, predicted or real): the
    contracts the fund's shares pass through."""
    collateral = []
    for name, item, facts in zip(plan.names, config.collateral, found.collateral):
        who = {"the market": addresses["market"]}
        for role, label in (("facility", "redemption"), ("subscription", "subscription")):
            source = item.source(role)
            if isinstance(source, NewAdapter):
                who[f"the {label} adapter"] = addresses[f"{name}_{role}"]
            elif isinstance(source, Existing):
                who[f"the {label} facility"] = source.address
        if config.leverage:
            who["Leverage"] = addresses["leverage"]
        admissions = facts_module.read_admissions(item, probe, who, facts.symbol)
        collateral.append(replace(facts, admissions=admissions))
    return replace(found, collateral=tuple(collateral))


def existing_records(
    config: DeployConfig, plan: Plan, code_type: Callable[[str], str] = lambda _a: "external"
) -> list[ContractRecord]:
    """Records of the contracts the deployment uses as they are: the
    stablecoin, the collateral tokens, the existing sources. An existing
    subscription facility is recorded under the project's contract type
    whose code it runs (``code_type``: :func:`project_type_of`), since the
    CLI finds the subscription facility by its record's type."""
    out = [ContractRecord("stablecoin", EXTERNAL_ERC20_TYPE, config.stablecoin, {"external": True})]
    for name, item in zip(plan.names, config.collateral):
        out.append(ContractRecord(name, EXTERNAL_ERC20_TYPE, item.token, {"external": True}))
        for role in ROLES:
            source = item.source(role)
            if isinstance(source, Existing):
                kind = code_type(source.address) if role == "subscription" else "external"
                out.append(
                    ContractRecord(f"{name}_{role}", kind, source.address, {"external": True})
                )
    return out


# The project's contracts that speak ISubscriptionFacility, which an
# existing subscription facility may run.
SUBSCRIPTION_TYPES = ("SuperstateSubscription", "OndoSubscription", "RedemptionFacility")


def project_type_of(address: str, project: Any = None) -> str:
    """The project's subscription contract type whose runtime code the
    contract at ``address`` runs (Vyper appends the immutables after it),
    else ``external``."""
    project = ape.project if project is None else project
    code = bytes(ape.chain.provider.get_code(address) or b"")
    for name in SUBSCRIPTION_TYPES:
        runtime = getattr(project, name).contract_type.runtime_bytecode
        compiled = (runtime.bytecode or "").removeprefix("0x") if runtime else ""
        if compiled and code.startswith(bytes.fromhex(compiled)):
            return name
    return "external"


def load_record(
    config: DeployConfig,
    network: str,
    chain_id: int,
    deployer: str,
    digest: str,
    directory: Path | None,
) -> Deployment | None:
    """The recorded deployment to resume, None if there is none; refuses a
    file that records another deployment."""
    path = deployments.deployments_path(network, directory)
    if not path.exists():
        return None
    try:
        record = deployments.Deployment.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError) as err:
        raise DeployRefused(f"{path} cannot be read ({err}): move it away") from None
    if (
        record.plan != digest
        or record.chain_id != chain_id
        or record.deployer.lower() != deployer.lower()
    ):
        raise DeployRefused(
            f"{path} records another deployment (another config, chain or deployer): "
            "move it away to deploy this config, or rerun with the config it was made from"
        )
    return record


def simulate(
    plan: Plan,
    config: DeployConfig,
    found: ChainFacts,
    account: Any,
    record: Deployment | None,
    network: str,
) -> tuple[str, tuple[verify.Setting, ...]]:
    """Runs the plan (from ``record``'s steps, as a resumed run would) on a
    snapshot of the connected chain and reverts it,
    when the node can (anvil: a local chain, or a fork of a live one with
    ``--network ethereum:mainnet-fork:foundry``), and checks the settings
    it produced. A live node cannot: nothing is simulated there beyond the
    checks (said in the answer)."""
    chain = ape.chain
    try:
        snapshot = chain.snapshot()
    except Exception:  # noqa: BLE001 - a live provider has no snapshots
        return (
            "not simulated: the node cannot snapshot; run the dry run on a fork "
            "(e.g. --network ethereum:mainnet-fork:foundry)",
            (),
        )
    scratch = copy.deepcopy(record) or Deployment(
        network=network, chain_id=found.chain_id, deployer=found.deployer, plan=plan.digest
    )
    to_send = sum(
        1
        for step in plan.steps
        if not (step.key in scratch.steps and scratch.steps[step.key].mined)
    )
    try:
        Executor(account, scratch, save=lambda _d: None).run(plan)
        addresses = {name: rec.address for name, rec in scratch.contracts.items()}
        settings = verify.compare(
            verify.expected_settings(config, found, plan, addresses),
            verify.read_settings(config, plan, addresses, found.deployer),
        )
    finally:
        chain.restore(snapshot)
    return (
        f"simulated the {to_send} steps to send on a snapshot, verified, then reverted it",
        settings,
    )


def confirmed(
    is_local: bool, is_fork: bool, yes: bool, confirm: Callable[[str], bool] | None, question: str
) -> bool:
    """Whether to send: at once on a local chain or a fork, or with
    ``yes``; else only when ``confirm(question)`` answers yes (no
    ``confirm``, no deployment)."""
    if is_local or is_fork or yes:
        return True
    return confirm is not None and bool(confirm(question))


def deploy_market(
    config_path: Path | str,
    *,
    account: Any = None,
    dry_run: bool = False,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    console: Console | None = None,
    directory: Path | None = None,
    after_step: Callable[..., None] | None = None,
) -> Outcome:
    """The whole command (see the module's docstring). ``account``
    overrides the config's deployer alias; ``confirm`` asks a question
    on a network that is not local (refused when absent); ``after_step``
    is the executor's hook. Raises ConfigError or DeployRefused before
    anything is sent, VerifyFailed after."""
    console = console or Console()
    config = config_module.load(config_path)
    account = account or resolve_account(config.deployer)
    provider = ape.chain.provider
    network = provider.network.name
    probe = chain_probe()
    digest = plan_module.config_digest(config)
    record = load_record(
        config, network, provider.chain_id, str(account.address), digest, directory
    )
    plan, found, addresses, report = prepare(config, account, probe, record)
    done = {k: s.address for k, s in (record.steps if record else {}).items() if s.mined}
    console.print(
        plan_module.render(
            plan, addresses, done, f"navlend market on {config.network} from {found.deployer}", found
        )
    )
    if not report.ok:
        raise DeployRefused(
            f"{config_path}: refused, nothing sent ({len(report.problems)} problem(s))",
            report.problems,
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}")
    if dry_run:
        simulated, settings = simulate(plan, config, found, account, record, network)
        console.print(f"dry run: {simulated}")
        bad = tuple(s for s in settings if not s.ok)
        if bad:
            raise VerifyFailed(bad)
        return Outcome(plan, report, None, settings, simulated)
    question = f"deploy to {config.network} (chain {provider.chain_id}) from {found.deployer}?"
    if not confirmed(provider.network.is_local, provider.network.is_fork, yes, confirm, question):
        raise DeployRefused("not confirmed: nothing sent")
    deployment = record or Deployment(
        network=network, chain_id=provider.chain_id, deployer=found.deployer, plan=digest
    )
    for existing in existing_records(config, plan, project_type_of):
        deployment.add(existing)
    path = deployments.save(deployment, directory)
    Executor(
        account, deployment, lambda d: deployments.save(d, directory), after_step=after_step
    ).run(plan)
    real = {name: rec.address for name, rec in deployment.contracts.items()}
    settings = verify.compare(
        verify.expected_settings(config, found, plan, real),
        verify.read_settings(config, plan, real, found.deployer),
    )
    bad = tuple(s for s in settings if not s.ok)
    if bad:
        raise VerifyFailed(bad)
    after = with_admissions(config, found, plan, real, probe)
    missing = tuple(a.action for c in after.collateral for a in c.admissions if not a.admitted)
    for line in missing:
        console.print(f"[yellow]the issuer must still act[/yellow] {line}")
    console.print(
        f"deployed and verified ({len(settings)} settings); wrote {path} (deployment block {deployment.block})"
    )
    log.info("deploy.done", network=network, market=real.get("market"), block=deployment.block)
    return Outcome(plan, report, deployment, settings, "", missing)


__all__ = ["ConfigError", "DeployRefused", "VerifyFailed", "Outcome", "deploy_market"]
