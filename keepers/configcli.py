"""``python -m keepers.config``: the keeper's configuration on the command
line.

- ``--check``: loads the configuration as the bot would (the file named by
  ``--config`` or ``NAVLEND_KEEPER_CONFIG``, the ``NAVLEND_KEEPER_*``
  variables, the deployments file, the network of ``--network``), prints
  every field with its value and where it came from, secrets masked, and
  whether the keeper would send or only dry-run; exit 0. A bad
  configuration prints every problem; exit 2.
- ``--help``: the usage and every field with its default and meaning.

Masked: any field named as a secret (``*_key``, ``*_token``, ``*_secret``,
``*_password``, ``*_auth*``), and in every URL the user and password, the
query values, the fragment and each path segment long enough to be an API
key (``/v2/<key>``). The passphrase file is checked (mode, size), never
read.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from keepers.brakes import effective_dry_run
from keepers.config import (
    CONFIG_PATH_ENV,
    ENV_PREFIX,
    ConfigError,
    KeeperConfig,
    bot_problems,
    load_config_traced,
)
from keepers.passphrase import PassphraseError, check_passphrase_file

EXIT_OK = 0
EXIT_INVALID = 2
MASK = "***"
# Name parts that make a field secret as a whole.
SECRET_PARTS = frozenset({"key", "keys", "secret", "secrets", "token", "tokens", "password", "auth", "apikey"})
# A path segment this long, of key characters, is taken for an API key.
# A path segment that may be a key: 8+ key characters with a digit among
# them (Alchemy's and Infura's keys sit in the path; "mainnet",
# "ethereum-sepolia" or "v2" do not look like one).
_KEYLIKE_SEGMENT = re.compile(r"^(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{8,}$")

# Meanings of the fields the dataclass does not comment.
MEANINGS = {
    "network": "Ape network name; taken from silverback --network, an override here must agree",
    "deployments_file": "the deployments JSON (default deployments/<network>.json)",
    "market": "the market's address (default: the deployments file's)",
    "lens": "the Lens's address (default: the deployments file's)",
    "flash_liquidator": "the keeper's FlashLiquidator (default: the deployments file's)",
    "nav_oracles": "NavOracles whose updates trigger a full scan (default: every NavOracle deployed)",
    "base_decimals": "the market's stablecoin decimals",
    "signer_alias": "the Ape account that signs (ape accounts list; TEST::n on a local chain)",
    "backfill_chunk_blocks": "blocks per eth_getLogs call of the backfill",
    "finality_depth": "blocks after which the index treats a log as final",
    "db_path": "the position index (SQLite); pending transactions are kept beside it",
    "scan_batch_size": "accounts per Lens call",
    "near_edge_hf": "health factor below which a position is scanned every block",
    "healthy_scan_interval": "blocks between scans of the healthy positions",
    "shard_count": "scan shards (>1: silverback workers on Redis, see keepers/scale.py)",
    "shard_id": "this process's shard",
    "min_profit_usd": "smallest expected profit worth a liquidation",
    "safety_buffer_usd": "profit kept back for price moves between plan and block",
    "eth_usd": "ETH price used when no feed answers",
    "gas_limit_redeem": "gas limit of a redeem-route liquidation",
    "gas_limit_seize": "gas limit of a seize-route liquidation",
    "min_out_tolerance_bps": "slippage allowed on the redeem route's minimum output",
    "cleanup_mode": "also close positions that are not profitable (bad debt cleanup)",
    "max_fee_gwei": "highest max fee per gas ever offered",
    "priority_fee_gwei": "the tip per gas (the floor when tip_share_bps is set)",
    "fee_bump": "factor of each fee bump of a stuck transaction (1.1 to 2)",
    "max_fee_bumps": "fee bumps before a stuck transaction is left to expire",
    "pending_timeout_blocks": "blocks without a receipt before a transaction counts as stuck",
    "dry_run": "never send (plans are logged); wins over live",
    "metrics_host": "address of the /metrics and /healthz endpoint",
    "metrics_port": "port of the /metrics and /healthz endpoint",
    "low_balance_eth": "signer balance below which /healthz and an alert warn",
    "redis_url": "Redis broker of the sharded workers (required when shard_count > 1)",
    "max_consecutive_failures": "failed sends in a row that halt sending",
    "eth_usd_max_age_seconds": "oldest ETH/USD feed answer used",
    "min_sweep_usd": "smallest profit sweep worth a transaction",
    "approval_reset_first": "set the allowance to 0 before raising it (USDT-style tokens)",
}


def field_meanings() -> dict[str, str]:
    """Each field's meaning: :data:`MEANINGS`, else the comment lines just
    above the field in :class:`KeeperConfig`, else its section's name."""
    found: dict[str, str] = {}
    section, comments = "", []
    for line in inspect.getsource(KeeperConfig).splitlines():
        text = line.strip()
        if text.startswith("# ---"):
            section, comments = text.strip("# -"), []
        elif text.startswith("#"):
            comments.append(text.lstrip("# "))
        elif m := re.match(r"^([a-z_][a-z0-9_]*)\s*:", text):
            found.setdefault(m.group(1), " ".join(comments) or f"({section})")
            comments = []
        else:
            comments = []
    names = [f.name for f in fields(KeeperConfig)]
    return {name: MEANINGS.get(name) or found.get(name) or "(no description)" for name in names}


# ---------------------------------------------------------------- #
#                              MASKING                              #
# ---------------------------------------------------------------- #


def secret_name(name: str) -> bool:
    """A field whose whole value is secret, by its name."""
    return bool(SECRET_PARTS & set(name.lower().split("_")))


def mask_url(text: str) -> str:
    """``text`` with a URL's credentials, query values, fragment and
    key-like path segments replaced by ``***``; other text unchanged."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK  # not parseable: show nothing of it
    netloc = (f"{MASK}@" if parts.username or parts.password else "") + host + (f":{port}" if port else "")
    path = "/".join(MASK if _KEYLIKE_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(f"{pair.split('=', 1)[0]}={MASK}" for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, path, query, MASK if parts.fragment else ""))


def shown(name: str, value: Any) -> str:
    """A field's value as ``--check`` prints it (TOML-like, masked)."""
    if value is None:
        return "(unset)"
    if secret_name(name):
        return f'"{MASK}"'
    if name == "passphrase_file":
        return json.dumps(str(value)) + "  (contents not read)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(json.dumps(mask_url(str(v))) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(mask_url(str(value)))


# ---------------------------------------------------------------- #
#                              COMMANDS                             #
# ---------------------------------------------------------------- #


def help_text() -> str:
    """Every field with its variable, default and meaning."""
    meanings = field_meanings()
    lines = ["fields (TOML key / environment variable, default: meaning):", ""]
    for f in fields(KeeperConfig):
        default = f.default if f.default is not MISSING else None
        lines.append(f"  {f.name} / {ENV_PREFIX}{f.name.upper()}  [default {shown(f.name, default)}]")
        lines.append(f"      {meanings[f.name]}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m keepers.config",
        description=(
            "The navlend keeper's configuration: defaults, then a TOML file (--config or "
            f"${CONFIG_PATH_ENV}), then {ENV_PREFIX}<FIELD> variables; unset addresses come from the "
            "deployments file. Exit status: 0 valid, 2 invalid."
        ),
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--check", action="store_true", help="validate and print the effective configuration")
    p.add_argument("--config", metavar="FILE", help=f"the TOML file (default ${CONFIG_PATH_ENV})")
    p.add_argument("--network", metavar="CHOICE",
                   help="the network the bot will run on, as silverback --network (ethereum:sepolia:node)")
    return p


def check(config_path: str | None, network: str | None, out: TextIO, err: TextIO) -> int:
    """``--check``: prints the effective configuration; the exit status."""
    try:
        traced = load_config_traced(config_path, network_choice=network)
        problems = bot_problems(traced.config)
        if traced.config.passphrase_file is not None:
            try:
                check_passphrase_file(Path(traced.config.passphrase_file))
            except PassphraseError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        print(str(exc), file=err)
        return EXIT_INVALID
    config = traced.config
    print("# navlend keeper: effective configuration (value  # source)", file=out)
    for f in fields(config):
        print(f"{f.name} = {shown(f.name, getattr(config, f.name))}  # {traced.origins[f.name]}", file=out)
    decision = effective_dry_run(config.network, config.live, config.dry_run)
    mode = "dry run" if decision.dry_run else "live"
    print(f"# sending: {mode} ({decision.why})", file=out)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if not args.check:
        p.print_usage(err)
        print("nothing to do: give --check (or --help)", file=err)
        return EXIT_INVALID
    return check(args.config, args.network, out, err)


if __name__ == "__main__":
    raise SystemExit(main())
