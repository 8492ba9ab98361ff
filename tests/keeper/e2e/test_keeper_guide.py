"""docs/keeper-mainnet.md, followed on the rehearsal chain: the blocks the
guide marks ``<!-- rehearsal: NAME -->`` are run as written, in the guide's
order, with the guide's variables (``$NETWORK``, ``$KEEPER_TOML``) pointing
at an anvil that answers Sepolia's chain id (``rehearsal`` fixture), so the
guide and this test cannot drift apart. The config file is
``deploy/keeper/keeper.example.toml`` itself, with the host-specific keys (signer,
passphrase file, paths, port) overridden by ``NAVLEND_KEEPER_*`` variables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.devnet import metric_value, wait_for
from devkit.processes import KEEPER_READY, BotError, BotProcess, free_port
from devkit.paths import ROOT

GUIDE = ROOT / "docs" / "keeper-mainnet.md"
EXAMPLE = ROOT / "deploy" / "keeper" / "keeper.example.toml"
# The steps this test knows how to follow, in the guide's order.
STEPS = ("check", "dry-run", "live", "kill", "resume")
DROP_BPS = 1_200
# After the first drop, fund A at 0.88 x 0.70 of its NAV: borrower 0 (LTV 60 %) passes its threshold.
SECOND_DROP_BPS = 3_000
FUND_A_UNHEALTHY = (1, 2, 3, 4)

_STEP = re.compile(r"<!-- rehearsal: ([a-z-]+) -->\n```sh\n(.*?)```", re.DOTALL)


def guide_steps(text: str) -> list[tuple[str, str]]:
    """The marked blocks of the guide: (name, command), in order."""
    return [(name, body.strip()) for name, body in _STEP.findall(text)]


def test_guide_steps__marked_blocks__found_in_order_unmarked_ignored():
    text = (
        "<!-- rehearsal: check -->\n```sh\necho one\n```\n```sh\necho unmarked\n```\n"
        "<!-- rehearsal: live -->\n```sh\necho two \\\n  --live\n```\n"
    )
    assert guide_steps(text) == [("check", "echo one"), ("live", "echo two \\\n  --live")]


def test_guide__rehearsal_steps__the_ones_this_test_follows():
    assert [name for name, _ in guide_steps(GUIDE.read_text())] == list(STEPS)


def _environment(rehearsal, metrics_port: int) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAVLEND_KEEPER_", "SILVERBACK_"))}
    env.update({
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        "PYTHONUNBUFFERED": "1",
        "NETWORK": f"ethereum:sepolia:{rehearsal.anvil.url}",
        "KEEPER_TOML": str(EXAMPLE),
        "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5",
        "NAVLEND_KEEPER_PASSPHRASE_FILE": "",
        "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(rehearsal.lm.deployment_path),
        "NAVLEND_KEEPER_DB_PATH": str(rehearsal.workdir / "index.sqlite"),
        "NAVLEND_KEEPER_KILL_FILE": str(rehearsal.workdir / "STOP"),
        "KILL_FILE": str(rehearsal.workdir / "STOP"),
        "NAVLEND_KEEPER_METRICS_PORT": str(metrics_port),
        "NAVLEND_KEEPER_HEALTHY_SCAN_INTERVAL": "2",
        "SILVERBACK_BOT_NAME": f"guide-{rehearsal.anvil.port}",
    })
    return env


def _start(rehearsal, command: str, env: dict[str, str], name: str) -> BotProcess:
    # exec: the bot is the process the test signals (SIGINT: graceful stop).
    bot = BotProcess(["bash", "-c", "exec " + command], env, rehearsal.workdir / f"{name}.log",
                     name=name, ready_marker=KEEPER_READY).start()
    rehearsal.bots.append(bot)
    bot.wait_ready(timeout=120)
    return bot


def test_guide__followed_on_the_rehearsal_chain__check_dry_run_then_live_liquidates(rehearsal):
    steps = dict(guide_steps(GUIDE.read_text()))
    port = free_port()
    env = _environment(rehearsal, port)

    # 5. Check the configuration.
    checked = subprocess.run(["bash", "-c", steps["check"]], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert 'network = "sepolia"  # silverback --network' in checked.stdout
    assert "# sending: dry run (sepolia is not local and --live was not given)" in checked.stdout
    assert f"min_profit_usd = \"5\"  # {EXAMPLE}" in checked.stdout

    # 6. Dry run first: a NAV drop, plans logged, nothing sent.
    dry = _start(rehearsal, steps["dry-run"], env, "dry")
    assert dry.events("node checked")[0]["chain_id"] == 11155111
    assert dry.events("dry run")[0]["why"] == "sepolia is not local and --live was not given"
    assert dry.events("keeper started")[0]["dry_run"] is True
    rehearsal.drop_nav(DROP_BPS)
    wait_for(lambda: metric_value(port, "keeper_liquidations_skipped_total", reason="dry_run") >= 1, 90,
             "a dry-run liquidation")
    assert rehearsal.liquidations() == []
    dry.stop()

    # 7. Live: the positions the dry run found are liquidated.
    live = _start(rehearsal, steps["live"], env, "live")
    assert live.events("sending live")[0]["why"] == "--live on sepolia"
    assert live.events("keeper started")[0]["dry_run"] is False
    wait_for(lambda: not any(rehearsal.health(rehearsal.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY),
             120, "every unhealthy position liquidated")
    flash = str(rehearsal.lm.flash_liquidator.address)
    assert all(entry.liquidator == flash for entry in rehearsal.liquidations())
    assert live.alive

    # 8. The kill switch while it runs: a second, deeper drop sinks borrower 0; nothing is sent until resumed.
    _run(steps["kill"], env)
    wait_for(lambda: _pending(rehearsal) == 0, 30, "the live run's transactions mined")
    nonce, before = _nonce(rehearsal), len(rehearsal.liquidations())
    rehearsal.drop_nav(SECOND_DROP_BPS)
    assert rehearsal.health(rehearsal.borrowers[0]).liquidatable
    wait_for(lambda: metric_value(port, "keeper_brakes_refused_total", reason="kill_file") >= 1, 90,
             "a send refused by the kill file")
    assert _nonce(rehearsal) == nonce and len(rehearsal.liquidations()) == before
    _run(steps["resume"], env)
    wait_for(lambda: not rehearsal.health(rehearsal.borrowers[0]).liquidatable, 90, "borrower 0 liquidated on resume")
    assert live.alive


def _run(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(["bash", "-c", command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def _nonce(rehearsal) -> int:
    return int(rehearsal.anvil.rpc("eth_getTransactionCount", str(rehearsal.keeper.address), "latest"), 16)


def _pending(rehearsal) -> int:
    address = str(rehearsal.keeper.address)
    return int(rehearsal.anvil.rpc("eth_getTransactionCount", address, "pending"), 16) - _nonce(rehearsal)


def test_start__deployments_file_of_another_chain__refused_with_both_chain_ids(devnet):
    path = devnet.lm.deployment_path
    path.write_text(json.dumps({**json.loads(path.read_text()), "chain_id": 1}))
    with pytest.raises(BotError, match=r"chain id: the node answers 31337 but the deployments file \S+ was written "
                                       r"for chain 1 "):
        devnet.start_keeper()
    assert devnet.liquidations() == []
