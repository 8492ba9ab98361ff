"""Runs a plan's steps with Ape, recording each in the deployments file as
it goes, so that a rerun resumes instead of deploying twice.

Each step is recorded twice: ``sent`` with the deployer's nonce before it
is sent, ``mined`` with its transaction, block and address once its
receipt is in, and the file is written each time. On a rerun:

- a ``mined`` step is skipped;
- a ``sent`` step whose nonce the deployer has since used was sent but its
  receipt never recorded (the process died in between): a deploy is
  adopted when its predicted address has code, a listing when the market
  lists the token; the other calls are plain setters, sent again;
- anything else is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ape
import structlog

from navlend.deploy.plan import Plan, Step, create_address, resolve
from navlend.deployments import ContractRecord, Deployment, StepRecord
from navlend.market import market_at

log = structlog.get_logger(__name__)


@dataclass
class Executor:
    """Sends the steps of one plan from ``account``, recording them in
    ``deployment`` and writing it with ``save`` after every change.
    ``after_step`` is called with each step once it is recorded mined."""

    account: Any
    deployment: Deployment
    save: Callable[[Deployment], Any]
    project: Any = None
    after_step: Callable[[Step, StepRecord], None] | None = None

    def __post_init__(self) -> None:
        self.project = ape.project if self.project is None else self.project
        self.log = log.bind(deployer=str(self.account.address), network=self.deployment.network)

    def addresses(self) -> dict[str, str]:
        """The record name -> address of every contract recorded."""
        return {name: record.address for name, record in self.deployment.contracts.items()}

    def run(self, plan: Plan) -> Deployment:
        """Every step not yet mined, in order."""
        for step in plan.steps:
            record = self.deployment.steps.get(step.key)
            if record is not None and record.mined:
                continue
            if (
                record is not None
                and record.nonce < self.account.nonce
                and self._adopt(step, record)
            ):
                continue
            self._send(step)
        return self.deployment

    # ---- one step ----

    def _send(self, step: Step) -> None:
        nonce = self.account.nonce
        predicted = create_address(self.account.address, nonce) if step.is_deploy else ""
        self._record(StepRecord(step.key, "sent", nonce, address=predicted))
        args = resolve(step.args, self.addresses())
        self.log.info("deploy.send", step=step.key, nonce=nonce)
        if step.is_deploy:
            contract = self.account.deploy(getattr(self.project, step.contract_type), *args)
            receipt = ape.chain.provider.get_receipt(contract.txn_hash)
            address = str(contract.address)
        else:
            market = market_at(self.deployment.address("market"), self.project)
            receipt = getattr(market, step.method)(*args, sender=self.account)
            address = ""
        mined = StepRecord(
            step.key, "mined", nonce, address, str(receipt.txn_hash), int(receipt.block_number)
        )
        self._mined(step, mined, args)

    def _adopt(self, step: Step, record: StepRecord) -> bool:
        """A step sent before an interruption, whose receipt was never
        recorded: True (and recorded mined) when the chain shows it done."""
        provider = ape.chain.provider
        if step.is_deploy:
            done = bool(record.address) and bool(provider.get_code(record.address))
        elif step.method == "list_asset":
            market = market_at(self.deployment.address("market"), self.project)
            token = str(step.args[0]).lower()
            done = any(
                str(market.asset_at(i)).lower() == token for i in range(int(market.asset_count()))
            )
        else:
            return False  # a setter: sending it again is harmless
        if done:
            self.log.info("deploy.adopt", step=step.key, address=record.address)
            adopted = StepRecord(step.key, "mined", record.nonce, record.address)
            self._mined(step, adopted, resolve(step.args, self.addresses()))
        return done

    def _mined(self, step: Step, record: StepRecord, args: tuple[Any, ...]) -> None:
        if step.is_deploy:
            self.deployment.add(
                ContractRecord(
                    step.record,
                    step.contract_type,
                    record.address,
                    {"args": [str(a) for a in args]},
                )
            )
        self._record(record)
        self.log.info(
            "deploy.mined",
            step=step.key,
            tx=record.tx_hash,
            block=record.block,
            address=record.address,
        )
        if self.after_step is not None:
            self.after_step(step, record)

    def _record(self, record: StepRecord) -> None:
        self.deployment.record_step(record)
        self.save(self.deployment)
