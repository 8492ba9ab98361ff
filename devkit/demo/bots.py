"""The bots the demo runs (``keepers/``), as live Silverback subprocesses
against the demo's anvil, each with its own log file
(:class:`devkit.processes.BotProcess`):

- the liquidation keeper, ``silverback run keepers.bots.liquidator:bot``, signing with
  ``NAVLEND_KEEPER_SIGNER_ALIAS``;
- the NAV reporter (a simulated fund administrator),
  ``silverback run keepers.bots.nav_reporter:bot --account <updater>``.

Both find the contracts in the deployments file the demo writes, and reach
the node through ``APE_FOUNDRY_HOST`` (ape-foundry then attaches to it
instead of starting its own). Readiness is the line each bot logs once its
start-up checks have passed.
"""

from __future__ import annotations

from pathlib import Path

from devkit.processes import KEEPER_READY, BotProcess, free_port, keeper_env, silverback_command

# What the reporter logs once it has checked it may publish on every feed.
REPORTER_READY = "nav reporter ready"


def keeper_bot(node_uri: str, deployments_file: Path, logs: Path, signer: str) -> BotProcess:
    """The liquidation keeper, configured through ``NAVLEND_KEEPER_*``, its
    index beside its log in ``logs``."""
    env = keeper_env(
        node_uri,
        deployments_file,
        logs / "keeper-index.sqlite",
        NAVLEND_KEEPER_SIGNER_ALIAS=signer,
        NAVLEND_KEEPER_METRICS_PORT=str(free_port()),
    )
    args = silverback_command("keepers.bots.liquidator:bot")
    return BotProcess(args, env, logs / "keeper.log", name="keeper", ready_marker=KEEPER_READY)


def reporter_bot(node_uri: str, deployments_file: Path, logs: Path, updater: str, apy_bps: int) -> BotProcess:
    """The NAV reporter: funds A and C accrue ``apy_bps``; fund B is a $1 fund."""
    env = {
        "APE_FOUNDRY_HOST": node_uri,
        "NAVLEND_REPORTER_DEPLOYMENTS_FILE": str(deployments_file),
        "NAVLEND_REPORTER_APY_BPS": f"oracle_a={apy_bps},oracle_b=0,oracle_c={apy_bps}",
    }
    args = silverback_command("keepers.bots.nav_reporter:bot", "--account", updater)
    return BotProcess(args, env, logs / "nav-reporter.log", name="nav-reporter", ready_marker=REPORTER_READY)
