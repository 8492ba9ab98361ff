"""``python -m keepers.run``: starts the keeper bot on a network.

    python -m keepers.run --network ethereum:sepolia:node [--live] [--config FILE] [-- SILVERBACK ARGS]

It validates the configuration first (as ``python -m keepers.config
--check`` does; exit 2 with every problem listed), then replaces itself
with::

    silverback run --network <CHOICE> --runner keepers.runner:ResilientPollingRunner \\
        [SILVERBACK ARGS] keepers.bots.liquidator:bot

with ``SILVERBACK_NETWORK_CHOICE`` set (the bot's network, before
Silverback parses its options), ``NAVLEND_KEEPER_CONFIG`` when
``--config`` is given and ``NAVLEND_KEEPER_LIVE=true`` with ``--live``.
Off local networks the keeper only dry-runs without ``--live``
(``keepers.brakes.effective_dry_run``). ``--print`` shows the command and
the variables it would set, and exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from keepers.config import CONFIG_PATH_ENV, ENV_PREFIX, ConfigError, bot_problems, load_config
from keepers.configcli import mask_url

RUNNER = "keepers.runner:ResilientPollingRunner"
BOT = "keepers.bots.liquidator:bot"
NETWORK_CHOICE_ENV = "SILVERBACK_NETWORK_CHOICE"
LIVE_ENV = ENV_PREFIX + "LIVE"
EXIT_INVALID = 2


@dataclass(frozen=True)
class Launch:
    """What the launcher runs: ``argv`` with ``env_updates`` over the environment."""

    argv: tuple[str, ...]
    env_updates: Mapping[str, str]


def silverback_bin() -> str:
    """The ``silverback`` beside this interpreter (its venv), else PATH's."""
    beside = Path(sys.executable).with_name("silverback")
    return str(beside) if beside.exists() else (shutil.which("silverback") or "silverback")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m keepers.run",
        description="Validate the keeper's configuration, then exec silverback run on --network.",
    )
    p.add_argument("--network", required=True, metavar="CHOICE",
                   help="Ape network choice, e.g. ethereum:sepolia:node or ethereum:mainnet:https://...")
    p.add_argument("--live", action="store_true", help="send transactions off local networks (default: dry run)")
    p.add_argument("--config", metavar="FILE", help=f"the keeper's TOML file (sets ${CONFIG_PATH_ENV})")
    p.add_argument("--bot", default=BOT, help=f"the bot to run (default {BOT})")
    p.add_argument("--print", dest="print_only", action="store_true", help="print the command, do not run it")
    p.add_argument("silverback_args", nargs=argparse.REMAINDER, help="after --: more silverback run options")
    return p


def plan(args: argparse.Namespace) -> Launch:
    """The command and variables for ``args``."""
    extra = list(args.silverback_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    env = {NETWORK_CHOICE_ENV: args.network}
    if args.config:
        env[CONFIG_PATH_ENV] = str(Path(args.config).resolve())
    if args.live:
        env[LIVE_ENV] = "true"
    argv = (silverback_bin(), "run", "--network", args.network, "--runner", RUNNER, *extra, args.bot)
    return Launch(argv, env)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    launch = plan(args)
    env = {**os.environ, **launch.env_updates}
    try:
        config = load_config(env=env, network_choice=args.network)
        if problems := bot_problems(config):
            raise ConfigError(problems)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return EXIT_INVALID
    if args.print_only:
        for name, value in launch.env_updates.items():
            print(f"{name}={mask_url(value)}")
        print(" ".join(mask_url(part) for part in launch.argv))
        return 0
    sys.stdout.flush()
    os.execvpe(launch.argv[0], list(launch.argv), env)
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
