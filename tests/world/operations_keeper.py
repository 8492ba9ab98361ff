"""The keeper's engine against a market on the test chain, for the
issuer-action runbook (``docs/operations.md``) and its tests.

``KeeperUnderTest`` is the real :class:`keepers.keeper.Keeper` (its chain
reader, position index, decisions and transaction manager) built the way
``keepers.wiring`` builds it, in dry run (by default): a block's work simulates every
plan and sends nothing. ``block()`` runs one block and returns the
structlog events it logged, which is what an operator reads.

``decide_as_allowlisted`` answers what the same engine decides for a
signer the fund's compliance source admits: the terms and healths are
read from the chain by the keeper's reader, the execution context is the
one the keeper builds once it reads allowlisting through the asset's
compliance adapter (USTB and OUSG answer no ``is_allowlisted`` of their
own)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from keepers.chain import encode_market_liquidate
from keepers.config import KeeperConfig
from keepers.decide import decide_block
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics
from keepers.txmanager import Simulation, TxManager
from keepers.types import Decision, ExecutionContext, Plan, to_address
from keepers.wiring import fee_policy, make_reader


@dataclass
class KeeperUnderTest:
    """One keeper over ``market`` signing as ``signer`` (dry run unless built otherwise)."""

    keeper: Keeper
    signer: Any

    @classmethod
    def build(
        cls, project: Any, chain: Any, market: Any, signer: Any, workdir: Path, *, dry_run: bool = True
    ) -> KeeperUnderTest:
        """Deploys the signer's Lens and FlashLiquidator, checks the setup
        and backfills the index from block 0. ``dry_run=False``: a block's
        work sends what passes its simulation (the chain mines it)."""
        lens = signer.deploy(project.Lens)
        flash = signer.deploy(project.FlashLiquidator, market)
        config = KeeperConfig(
            market=market.address,
            lens=lens.address,
            flash_liquidator=flash.address,
            db_path=workdir / "index.sqlite",
            dry_run=dry_run,
            liquidation_batch_size=1,
        )
        provider = chain.provider
        tx = TxManager(
            provider.web3, signer, provider.network.ecosystem, provider.chain_id, fee_policy(config), dry_run=dry_run
        )
        keeper = Keeper(
            config=config,
            reader=make_reader(config, provider),
            index=PositionIndex(config.db_path, config.market),
            tx=tx,
            metrics=KeeperMetrics(),
            health=HealthState(dry_run=dry_run),
            signer=signer.address,
        )
        keeper.check_setup()
        keeper.backfill()
        return cls(keeper, signer)

    def block(self) -> list[dict[str, Any]]:
        """One block's work at the head: the events logged."""
        with capture_logs() as events:
            report = self.keeper.on_block()
        assert report.error == "", report.error
        return events

    def decide_as_allowlisted(self, *borrowers: Any) -> list[Decision]:
        """The engine's decisions for ``borrowers`` at the head, the signer
        admitted by every listed fund (its stablecoin balance as read)."""
        reader = self.keeper.reader
        head = reader.head()
        terms = reader.market_terms(head.number)
        accounts = [to_address(b) for b in borrowers]
        ctx = ExecutionContext(
            gas_price_wei=head.base_fee + self.keeper.tx.policy.priority_fee,
            stable_balance=reader.erc20_balance(self.keeper.base_token, self.keeper.signer, head.number),
            allowlisted_tokens=frozenset(a.token for a in terms.assets),
            flash_liquidator_ready=self.keeper.flash_ready,
        )
        healths = reader.healths(accounts, head.number)
        return decide_block(healths, self.keeper.index.balances_many(accounts), terms, ctx, self.keeper.profit_policy)

    def simulate_seize(self, plan: Plan) -> Simulation:
        """The keeper's simulation of ``plan``'s seize-route transaction."""
        data = encode_market_liquidate(plan, receiver=self.keeper.signer)
        return self.keeper.tx.simulate(self.keeper.reader.market, data)


    def skipped(self, reason: str) -> float:
        """``keeper_liquidations_skipped_total{reason=...}`` so far."""
        return self.keeper.metrics.registry.get_sample_value("keeper_liquidations_skipped_total", {"reason": reason}) or 0


def events_named(events: list[dict[str, Any]], name: str, borrower: Any) -> list[dict[str, Any]]:
    """The events called ``name`` about ``borrower``."""
    who = to_address(borrower)
    return [e for e in events if e.get("event") == name and e.get("borrower") == who]


def the_event(events: list[dict[str, Any]], name: str, borrower: Any) -> dict[str, Any]:
    """The one event called ``name`` about ``borrower`` (asserted single)."""
    found = events_named(events, name, borrower)
    assert len(found) == 1, (name, [e for e in events if e.get("log_level") != "debug"])
    return found[0]
