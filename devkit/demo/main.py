"""The demo (``make demo``, ``ape run demo``): a local navlend market over
tokenized money-market funds, a few hundred borrowers, the live keeper and
NAV reporter, and a fund shock played in simulated days.

1. **Deploy** the world (facilities sized by the calibration), the market,
   the Lens, the Leverage helper and the keeper's FlashLiquidator; list
   fund A and the wrapper with the demo's tighter risk parameters
   (:mod:`devkit.demo.calibration`); write the deployments file the bots read.
2. **Seed** lenders and borrowers (:func:`devkit.seeding.seed_book`):
   plain borrowers and carry trades opened through ``Leverage.open``.
3. **Start the bots** (:mod:`devkit.demo.bots`): the liquidation keeper and the
   NAV reporter, as Silverback subprocesses on this anvil, which from now
   on mines a block every ``block_time`` seconds like a live chain.
4. **Play the days** (:mod:`devkit.demo.scenarios`): the reporter publishes each
   business day's NAV; on the shock day the issuer's crisis desk takes the
   feed over, publishes the mark-down, and the guardian confirms it (the
   move is beyond the oracle's 1 % bound). The keeper liquidates on its
   own; the demo only waits, watches and samples.
5. **Report**: the terminal table and ``reports/demo/`` (:mod:`devkit.demo.report`).

Accounts: test accounts 0 (issuer and market owner), 1 (NAV updater: the
reporter), 2 (guardian), 3 (the issuer's crisis desk), 5 (the keeper), 8
(treasury); lenders and borrowers are synthetic addresses anvil
impersonates.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from devkit.demo import calibration, observe
from devkit.demo.bots import keeper_bot, reporter_bot
from devkit.demo.calibration import BookPlan, DemoRisk
from devkit.demo.report import ReportFiles, summary_table, write_report
from devkit.demo.results import DemoResults, FacilitySample, MarketSample, Probe, RiskSample, risk_samples
from devkit.demo.scenarios import (
    START_OFFSET,
    DayPlan,
    Event,
    Scenario,
    build_calendar,
    scenario_start,
    shocked_nav,
    stale_window,
)
from devkit.devchain import ChainError, DevChain, as_int
from devkit.devnet import keeper_deployment
from devkit.processes import BotProcess
from devkit.seeding import USD, SeededBook, seed_book
from devkit.world import FacilityConfig, WorldConfig, deploy_world
from navlend.constants import MAX_UINT256
from navlend.deployments import save
from navlend.market import deploy_local_market, deploy_periphery
from navlend.timeutil import DAY

log = structlog.get_logger("devkit.demo.main")

# Test-account roles (anvil's unlocked accounts; see the module doc).
ROLES = {"issuer": 0, "updater": 1, "guardian": 2, "crisis_desk": 3, "keeper": 5, "treasury": 8}
# Fund A's yield the NAV reporter accrues (bps a year).
NAV_APY_BPS = 500
# Blocks without a new liquidation after which the keeper counts as done.
QUIET_BLOCKS = 5
# Blocks waited on an ordinary day, so the keeper sees the new NAV.
DAY_BLOCKS = 2
# Most seconds the demo waits for the keeper after a NAV or a refill.
SETTLE_TIMEOUT = 120.0
# Most seconds the demo waits for the reporter's daily NAV.
PUBLISH_TIMEOUT = 60.0
# Seconds a bot gets to shut down gracefully at the end before it is killed.
BOT_STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class DemoOptions:
    """What one run plays."""

    scenario: Scenario
    borrowers: int = 200
    block_time: int = 1
    out_dir: Path = Path("reports/demo")
    seed: int = 2008

    def __post_init__(self) -> None:
        if not 1 <= self.borrowers <= 2_000:
            raise ValueError(f"borrowers must be between 1 and 2,000, got {self.borrowers}")
        if not 1 <= self.block_time <= 12:
            raise ValueError(f"block_time must be between 1 and 12 seconds, got {self.block_time}")


@dataclass
class Deployed:
    """What the deploy phase made."""

    world: Any
    market: Any
    lens: Any
    leverage: Any
    flash: Any
    deployments_file: Path
    # Each listed token's value divisor (observe.value_scales).
    scales: dict[str, int] = field(default_factory=dict)

    @property
    def oracles(self) -> dict[str, Any]:
        return {"fund_a": self.world.oracle_a, "fund_b": self.world.oracle_b}

    @property
    def facilities(self) -> dict[str, Any]:
        """The issuers' redemption facilities, by fund (the wrapper redeems
        through fund B's)."""
        return {"fund_a": self.world.facility_a, "fund_b": self.world.facility_b}

    def max_oracle_ages(self) -> dict[str, int]:
        """The market's maximum NAV age for each feed's listed asset."""
        listed = {"fund_a": self.world.fund_a, "fund_b": self.world.wrapper}
        return {name: int(self.market.asset_config(token).max_oracle_age) for name, token in listed.items()}

    @property
    def asset_names(self) -> dict[str, str]:
        return {str(self.world.fund_a.address): "fund_a", str(self.world.wrapper.address): "wrapper"}


@dataclass
class Demo:
    """One run of the demo on the connected local chain."""

    options: DemoOptions
    accounts: Any
    chain: Any
    project: Any
    console: Console = field(default_factory=Console)

    def __post_init__(self) -> None:
        self.dev = DevChain(self.chain.provider)
        self.roles = {name: self.accounts[i] for name, i in ROLES.items()}
        self.risk = DemoRisk()
        self.plan: BookPlan = calibration.plan_book(
            self.options.borrowers, risk=self.risk, shock=self.options.scenario.shock_factor, seed=self.options.seed
        )
        self.bots: list[BotProcess] = []
        self.timings: dict[str, float] = {}
        self.probes: list[Probe] = []
        self.notes: list[str] = []
        self.start = 0
        self.shock_block: int | None = None
        self.shock_timestamp: int | None = None
        self.samples: list[MarketSample] = []
        self.risk_samples: list[RiskSample] = []
        self.facility_samples: list[FacilitySample] = []

    # ---------------------------------------------------------------- run

    def run(self) -> tuple[DemoResults, ReportFiles]:
        """Plays the whole demo; the bots are stopped whatever happens."""
        scenario = self.options.scenario
        self.console.rule(f"[bold]navlend demo: {scenario.title}")
        self.console.print(scenario.story)
        first_block = self.dev.head()[0]
        try:
            with self._progress() as progress:
                with self._timed("deploy"):
                    deployed = self.deploy(progress)
                with self._timed("seed"):
                    book = self.seed(deployed, progress)
                with self._timed("start bots"):
                    self.start_bots(deployed, progress)
                with self._timed("scenario"):
                    before, after = self.play(deployed, book, progress)
            results = self.collect(deployed, book, before, after, first_block)
        finally:
            self.stop_bots()
            self.dev.automine()
        results.timings = dict(self.timings)
        files = write_report(results, self.options.out_dir)
        self.console.print(summary_table(results))
        self.console.print(f"report: {files.markdown} and {files.html}  (raw results: {files.results})")
        return results, files

    @contextmanager
    def _progress(self):
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console) as progress:
            yield progress

    @contextmanager
    def _timed(self, phase: str):
        began = time.monotonic()
        yield
        self.timings[phase] = round(time.monotonic() - began, 1)
        log.info("phase done", phase=phase, seconds=self.timings[phase])

    # ---------------------------------------------------------------- deploy

    def deploy(self, progress: Progress) -> Deployed:
        """Moves the chain to the scenario's start and deploys everything."""
        task = progress.add_task("deploy world, market, periphery", total=4)
        issuer, keeper = self.roles["issuer"], self.roles["keeper"]
        self.start = scenario_start(self.dev.head()[1])
        self.dev.mine_at(self.start)
        world = deploy_world(
            issuer,
            updater=self.roles["updater"],
            guardian=self.roles["guardian"],
            treasury=self.roles["treasury"],
            allowlisted=[keeper],
            config=self._world_config(),
        )
        progress.advance(task)
        market = deploy_local_market(world, issuer, guardian=self.roles["guardian"], treasury=self.roles["treasury"])
        for token in (world.fund_a, world.wrapper):
            market.set_asset_risk(token, self.risk.ltv_bps, self.risk.threshold_bps, self.risk.bonus_bps, sender=issuer)
        progress.advance(task)
        periphery = deploy_periphery(world, market, issuer)
        flash = keeper.deploy(self.project.FlashLiquidator, market)
        progress.advance(task)
        path = self._write_deployments(world, market, periphery, flash)
        progress.advance(task)
        log.info("deployed", market=str(market.address), deployments=str(path))
        listed = [(world.fund_a, world.oracle_a), (world.fund_c, world.oracle_c), (world.wrapper, world.wrapper_oracle)]
        scales = observe.value_scales(listed, world.stablecoin)
        return Deployed(world, market, periphery["lens"], periphery["leverage"], flash, path, scales)

    def _world_config(self) -> WorldConfig:
        """Facilities funded for the scenario: plenty, or the short share."""
        cover = self.options.scenario.facility_cover

        def facility(asset: str) -> FacilityConfig:
            liquidity = calibration.facility_liquidity_usd(self.plan, asset, cover)
            return FacilityConfig(liquidity=liquidity, daily_limit=max(liquidity, 1) * 4)

        return WorldConfig(facility_a=facility("fund_a"), facility_b=facility("wrapper"))

    def _write_deployments(self, world: Any, market: Any, periphery: dict[str, Any], flash: Any) -> Path:
        deployment = keeper_deployment(
            world, market, periphery, flash, self.roles["keeper"], self.chain.provider.chain_id
        )
        return save(deployment, self.options.out_dir / "deployments")

    # ---------------------------------------------------------------- seed

    def seed(self, d: Deployed, progress: Progress) -> SeededBook:
        """Seeds the book fast (automine, impersonated sends), then readies
        the keeper's own capital for the share route."""
        task = progress.add_task(f"seed {len(self.plan.positions)} borrowers", total=len(self.plan.positions))
        self.dev.automine()
        self.dev.impersonate_all()
        book = seed_book(
            self.dev, d.world, d.market, d.leverage, self.roles["issuer"], self.plan,
            progress=lambda n: progress.advance(task, n),
        )
        keeper = self.roles["keeper"]
        capital = max(self.plan.expected_repay_usd(), 1_000) * USD
        self.dev.send(self.roles["issuer"], d.world.stablecoin.mint, keeper.address, capital)
        self.dev.send(keeper, d.world.stablecoin.approve, d.market.address, MAX_UINT256)
        log.info("seeded", borrowers=len(book.borrowers), lenders=len(book.lenders), keeper_capital=capital)
        return book

    # ---------------------------------------------------------------- bots

    def start_bots(self, d: Deployed, progress: Progress) -> None:
        """Starts the keeper and the reporter and waits until both are up."""
        task = progress.add_task("start keeper and NAV reporter", total=2)
        uri = self.chain.provider.uri
        logs = self.options.out_dir / "logs"
        (logs / "keeper-index.sqlite").unlink(missing_ok=True)
        self.bots = [
            keeper_bot(uri, d.deployments_file, logs, _alias(ROLES["keeper"])).start(),
            reporter_bot(uri, d.deployments_file, logs, _alias(ROLES["updater"]), NAV_APY_BPS).start(),
        ]
        for bot in self.bots:
            bot.wait_ready()
            progress.advance(task)
        self.dev.interval_mining(self.options.block_time)

    def stop_bots(self) -> None:
        for bot in self.bots:
            bot.stop(timeout=BOT_STOP_TIMEOUT)

    def _check_bots(self) -> None:
        for bot in self.bots:
            if not bot.alive:
                raise ChainError(f"the {bot.name} bot died:\n{bot.tail()}")

    # ---------------------------------------------------------------- days

    def play(self, d: Deployed, book: SeededBook, progress: Progress) -> tuple[list, list]:
        """Plays every day of the calendar; returns the positions just
        before the shock and at the end."""
        scenario = self.options.scenario
        calendar = build_calendar(scenario, self.start, int(d.world.oracle_a.latestRoundData()[1]))
        task = progress.add_task(f"play {len(calendar)} days", total=len(calendar))
        accounts = list(book.borrowers)
        self._sample(d, book, "start", 0)
        before: list = []
        takeover = next(day.index for day in calendar if {Event.HOLIDAY, Event.SHOCK} & set(day.events))
        for day in calendar:
            self._check_bots()
            if day.index == takeover:
                self._crisis_desk_takes_over(d)
            if Event.STALE_PROBE in day.events:
                self._probe_stale(d, book, calendar, day)
            if Event.SHOCK in day.events:
                before = observe.position_states(d.lens, d.market, accounts, book)
            self.dev.mine_at(day.time)
            settling = "keeper liquidating" if Event.SHOCK in day.events else "keeper after the top-up"
            actions = {
                "sample before the shock": lambda: self._sample(
                    d, book, f"day {day.index} ({day.weekday}), before the shock", day.index
                ),
                "shock": lambda: self._shock(d, day),
                "settle": lambda: self._settle(d, accounts, progress, f"day {day.index}: {settling}"),
                "wait for the reporter": lambda: self._wait_for_reporter(d, day),
                "refill": lambda: self._refill(d),
                "wait a day of blocks": lambda: self.dev.wait_blocks(DAY_BLOCKS),
                "wait a block": lambda: self.dev.wait_blocks(1),
            }
            for step in day.steps:
                actions[step]()
            self._sample(d, book, f"day {day.index} ({day.weekday})", day.index)
            progress.advance(task)
        after = observe.position_states(d.lens, d.market, accounts, book)
        return before, after

    def _sample(self, d: Deployed, book: SeededBook, label: str, day: int) -> None:
        """Samples the market's books, the facilities and the debt at risk
        at the head."""
        head = self.chain.blocks.head
        self.samples.append(
            observe.market_sample(d.lens, d.market, d.world, label=label, day=day, block=head, scales=d.scales)
        )
        self.facility_samples += observe.facility_samples(d.facilities, head)
        states = observe.position_states(d.lens, d.market, list(book.borrowers), book)
        self.risk_samples += risk_samples(states, label=label, block=int(head.number), timestamp=int(head.timestamp))

    def _wait_for_reporter(self, d: Deployed, day: DayPlan) -> None:
        """Waits until the reporter has published ``day``'s NAV on both feeds."""
        deadline = time.monotonic() + PUBLISH_TIMEOUT
        while any(int(o.latestRoundData()[3]) < day.strike for o in d.oracles.values()):
            self._check_bots()
            if time.monotonic() > deadline:
                raise ChainError(f"the NAV reporter did not publish day {day.index}'s NAV in {PUBLISH_TIMEOUT:.0f} s")
            time.sleep(0.2)

    def _crisis_desk_takes_over(self, d: Deployed) -> None:
        """The issuer hands both feeds to its crisis desk (the reporter's
        routine publications are refused until it hands them back)."""
        for oracle in d.oracles.values():
            self.dev.send(self.roles["issuer"], oracle.set_updater, self.roles["crisis_desk"].address)
        log.info("crisis desk took over the NAV feeds")

    def _shock(self, d: Deployed, day: DayPlan) -> None:
        """Publishes the mark-down, has the guardian confirm it, and gives
        the feeds back to the reporter."""
        scenario = self.options.scenario
        if scenario.freeze_keeper:
            for fund in d.world.funds():
                self.dev.send(self.roles["issuer"], fund.freeze, self.roles["keeper"].address)
            self.console.print("[red]the issuer froze the keeper's account on every fund")
        for name, oracle in d.oracles.items():
            nav = shocked_nav(int(oracle.latestRoundData()[1]), scenario.shock_factor)
            self.dev.send(self.roles["crisis_desk"], oracle.publish, nav, day.strike)
        blocks = []
        for oracle in d.oracles.values():
            receipt = self.dev.send(self.roles["guardian"], oracle.confirm_pending)
            blocks.append(as_int(receipt["blockNumber"]))
        self.shock_block = min(blocks)
        self.shock_timestamp = int(self.chain.provider.web3.eth.get_block(self.shock_block)["timestamp"])
        for oracle in d.oracles.values():
            self.dev.send(self.roles["issuer"], oracle.set_updater, self.roles["updater"].address)
        self.console.print(
            f"day {day.index} ({day.weekday} {day.date}): NAVs x {scenario.shock_factor} confirmed by the guardian "
            f"in block {self.shock_block}"
        )

    def _refill(self, d: Deployed) -> None:
        """The issuers top their facilities up to three times the need."""
        for asset, facility in (("fund_a", d.world.facility_a), ("wrapper", d.world.facility_b)):
            amount = calibration.facility_liquidity_usd(self.plan, asset, None) * USD
            self.dev.send(self.roles["issuer"], d.world.stablecoin.mint, facility.address, amount)
        self.console.print("the issuers topped the redemption facilities up")

    def _settle(self, d: Deployed, accounts: list[str], progress: Progress, label: str) -> None:
        """Waits while the keeper works: until nothing is liquidatable, or
        no liquidatable count has changed for QUIET_BLOCKS blocks."""
        count = self._liquidatable(d, accounts)
        task = progress.add_task(label, total=max(count, 1))
        first = count
        quiet = 0
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while count and quiet < QUIET_BLOCKS and time.monotonic() < deadline:
            self._check_bots()
            self.dev.wait_blocks(1)
            self.facility_samples += observe.facility_samples(d.facilities, self.chain.blocks.head)
            now = self._liquidatable(d, accounts)
            quiet = quiet + 1 if now == count else 0
            count = now
            progress.update(task, completed=first - count)
        progress.update(task, completed=first - count if first else 1)
        if count:
            self.notes.append(f"{label}: {count} positions still liquidatable when the demo moved on")

    def _liquidatable(self, d: Deployed, accounts: list[str]) -> int:
        total = 0
        for start in range(0, len(accounts), observe.LENS_BATCH):
            total += sum(1 for h in d.lens.healths(d.market.address, accounts[start : start + observe.LENS_BATCH]) if h.liquidatable)
        return total

    def _probe_stale(self, d: Deployed, book: SeededBook, calendar: list[DayPlan], day: DayPlan) -> None:
        """During the stale window: a borrow is refused, the price is
        flagged stale, and liquidation stays open."""
        window = stale_window(calendar, int(d.market.asset_config(d.world.fund_a).max_oracle_age), self.start)
        if window is None:
            self.notes.append("the calendar never lets the NAV go stale; no probe")
            return
        at = window[0] + 600
        self.dev.mine_at(at)
        price, stale = d.market.asset_price(d.world.fund_a)
        borrower = next(a for a in book.borrowers if book.position_of(a).asset == "fund_a")
        try:
            self.dev.send(borrower, d.market.borrow, 100 * USD, borrower, borrower)
            refused, outcome = False, "a $100 borrow went through"
        except ChainError as err:
            refused, outcome = True, _reason(err)
        self.probes.append(Probe("borrow on a stale NAV", day.index, at, refused, outcome))
        self.probes.append(
            Probe("fund A price while stale", day.index, at, False, f"${int(price) / 1e8:.6f}, stale={bool(stale)}")
        )
        self.console.print(f"stale NAV probe: borrow {'refused: ' + outcome if refused else 'accepted'}")

    # ---------------------------------------------------------------- results

    def collect(self, d: Deployed, book: SeededBook, before: list, after: list, first_block: int) -> DemoResults:
        """Reads the events of the run into a :class:`DemoResults`."""
        scenario = self.options.scenario
        head = self.dev.head()[0]
        origin = self.start - START_OFFSET

        def day_of(ts: int) -> int:
            return (ts - origin) // DAY

        predicted = [s.account for s in before if s.health_factor is not None and s.health_factor * float(scenario.shock_factor) < 1]
        self.notes.append(
            f"calibration predicted {len(self.plan.expected_liquidatable)} liquidatable positions "
            f"from the seeded LTVs; the chain's pre-shock health factors predict {len(predicted)}"
        )
        keeper_proc = next((b for b in self.bots if b.name == "keeper"), None)
        return DemoResults(
            scenario=scenario.name,
            title=scenario.title,
            story=scenario.story,
            borrowers=len(book.borrowers),
            risk={
                "ltv_bps": self.risk.ltv_bps,
                "threshold_bps": self.risk.threshold_bps,
                "bonus_bps": self.risk.bonus_bps,
                # The protocol's share of the bonus (the market's setting).
                "liquidation_fee_bps": int(d.market.control()[3]),
            },
            shock_factor=float(scenario.shock_factor),
            keeper={
                "mode": "live Silverback bot (keepers.bots.liquidator)",
                "signer": str(self.roles["keeper"].address),
                "flash_liquidator": str(d.flash.address),
                "log": str(keeper_proc.log_path) if keeper_proc else "",
                "skips logged": str(keeper_proc.count('"skip"')) if keeper_proc else "0",
            },
            expected_liquidatable=predicted,
            before=before,
            after=after,
            liquidations=observe.liquidations(self.chain.provider, d.market, str(d.flash.address), d.asset_names, first_block, head),
            bad_debt=observe.bad_debts(self.chain.provider, d.market, first_block, head),
            samples=self.samples,
            nav_updates=observe.nav_updates(self.chain.provider, d.oracles, first_block, head, day_of),
            probes=self.probes,
            shock_block=self.shock_block,
            notes=self.notes,
            shock_timestamp=self.shock_timestamp,
            risk_samples=self.risk_samples,
            facility_samples=self.facility_samples,
            redemptions=observe.redemptions(self.chain.provider, d.facilities, first_block, head),
            max_oracle_age=d.max_oracle_ages(),
        )


def check_calendar(scenario: Scenario) -> None:
    """Raises ValueError if ``scenario``'s calendar cannot be played (a
    shock day on a weekend), before anything is deployed."""
    build_calendar(scenario, scenario_start(0), 10**9)


def configure_logging(path: Path) -> None:
    """structlog to a JSON-lines file (the terminal belongs to the progress
    bars and tables)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=path.open("w")),
        cache_logger_on_first_use=True,
    )


def _alias(index: int) -> str:
    return f"TEST::{index}"


def _reason(err: Exception) -> str:
    text = str(err)
    for marker in ("market: ", "facility: ", "fund: "):
        if marker in text:
            return marker + text.split(marker, 1)[1].split("'")[0].split('"')[0].strip()
    return text[:160]
