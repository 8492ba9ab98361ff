"""``python -m keepers.config`` (keepers/configcli.py) and the launcher
``python -m keepers.run`` (keepers/run.py): the effective configuration
with secrets masked, the help, the exit codes, the command launched."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import fields

import pytest

from keepers import configcli, run
from keepers.config import KeeperConfig
from keepers.types import to_address

ADDRESS = to_address("0x" + "3a" * 20)
BASE_ENV = {
    "NAVLEND_KEEPER_MARKET": ADDRESS,
    "NAVLEND_KEEPER_LENS": ADDRESS,
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": ADDRESS,
    "NAVLEND_KEEPER_NAV_ORACLES": ADDRESS,
    "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5",
}


@pytest.fixture
def keeper_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("NAVLEND_KEEPER_")]:
        monkeypatch.delenv(name)
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _check(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = configcli.main(["--check", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------ masking


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://eth-mainnet.g.alchemy.com/v2/AbCdEf0123456789xyz", "https://eth-mainnet.g.alchemy.com/v2/***"),
        ("redis://user:s3cret@cache:6379/0", "redis://***@cache:6379/0"),
        ("https://rpc.example/?apikey=abc&chain=1", "https://rpc.example/?apikey=***&chain=***"),
        ("https://relay.example/rpc#frag", "https://relay.example/rpc#***"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("https://eth-mainnet.g.alchemy.com/v2/SECRETKEY123", "https://eth-mainnet.g.alchemy.com/v2/***"),
        ("https://rpc.example/ethereum-sepolia/v2", "https://rpc.example/ethereum-sepolia/v2"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url__credentials_keys_query_fragment__masked_the_rest_kept(url, shown):
    assert configcli.mask_url(url) == shown


def test_shown__secret_named_field__masked_whole_other_names_not():
    assert configcli.shown("relay_auth_key", "0xdeadbeef") == '"***"'
    assert configcli.shown("signer_alias", "keeper") == '"keeper"'


def test_check__redis_url_with_password__masked_in_the_output(keeper_env):
    keeper_env.setenv("NAVLEND_KEEPER_REDIS_URL", "redis://:hunter2hunter2@cache:6379/0?token=t0k3n")
    code, out, _ = _check()
    assert code == configcli.EXIT_OK
    assert 'redis_url = "redis://***@cache:6379/0?token=***"  # $NAVLEND_KEEPER_REDIS_URL' in out
    assert "hunter2" not in out and "t0k3n" not in out


def _passphrase_file(keeper_env, tmp_path, mode: int) -> None:
    secret = tmp_path / "pass"
    secret.write_text("correct horse battery\n")
    secret.chmod(mode)
    keeper_env.setenv("NAVLEND_KEEPER_PASSPHRASE_FILE", str(secret))


def test_check__passphrase_file__checked_never_read(keeper_env, tmp_path):
    _passphrase_file(keeper_env, tmp_path, 0o600)
    code, out, _ = _check()
    assert code == configcli.EXIT_OK and "(contents not read)" in out and "horse" not in out


def test_check__passphrase_file_readable_by_others__exit_2(keeper_env, tmp_path):
    _passphrase_file(keeper_env, tmp_path, 0o644)
    code, out, err = _check()
    assert code == configcli.EXIT_INVALID and "mode 0644" in err and "chmod 600" in err and out == ""


# ------------------------------------------------------------ --check


def test_check__valid__every_field_with_its_source_and_the_sending_mode(keeper_env, tmp_path):
    path = tmp_path / "keeper.toml"
    path.write_text('min_profit_usd = "5"\n')
    code, out, err = _check("--config", str(path), "--network", "ethereum:sepolia:node")
    assert code == configcli.EXIT_OK and err == ""
    for f in fields(KeeperConfig):
        assert f"\n{f.name} = " in out
    assert f'min_profit_usd = "5"  # {path}' in out
    assert 'network = "sepolia"  # silverback --network' in out
    assert "# sending: dry run (sepolia is not local and --live was not given)" in out


def test_check__live_on_a_local_network__says_live(keeper_env):
    code, out, _ = _check("--network", "ethereum:local:foundry")
    assert code == configcli.EXIT_OK and "# sending: live (local network local)" in out


def test_check__invalid__every_problem_exit_2_no_traceback(keeper_env):
    keeper_env.setenv("NAVLEND_KEEPER_DRY_RUN", "perhaps")
    keeper_env.setenv("NAVLEND_KEEPER_METRICS_PORT", "lots")
    code, out, err = _check()
    assert code == configcli.EXIT_INVALID and out == ""
    assert "metrics_port: Input should be a valid integer" in err and "dry_run: must be true or false" in err
    assert "Traceback" not in err


def test_check__no_nav_oracle__exit_2_naming_the_opt_out(keeper_env):
    keeper_env.setenv("NAVLEND_KEEPER_NAV_ORACLES", "")
    code, _, err = _check()
    assert code == configcli.EXIT_INVALID and "allow_no_nav_oracles" in err


def test_main__no_command__usage_and_exit_2(capsys):
    assert configcli.main([]) == configcli.EXIT_INVALID
    assert "give --check" in capsys.readouterr().err


def test_main__help__every_field_with_default_and_meaning(capsys):
    assert configcli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for f in fields(KeeperConfig):
        assert f"  {f.name} / NAVLEND_KEEPER_{f.name.upper()}  [default " in out
    assert "(no description)" not in out
    assert "[default 9108]" in out and "port of the /metrics and /healthz endpoint" in out


def test_field_meanings__commented_field__its_comment():
    meanings = configcli.field_meanings()
    assert meanings["kill_file"] == "Its presence halts every send while the keeper runs."


def test_python_m_keepers_config__help_and_invalid__exit_codes():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVLEND_KEEPER_")}
    helped = subprocess.run([sys.executable, "-m", "keepers.config", "--help"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "signer_alias / NAVLEND_KEEPER_SIGNER_ALIAS" in helped.stdout
    bad = subprocess.run([sys.executable, "-m", "keepers.config", "--check"],
                         env={**env, "NAVLEND_KEEPER_DRY_RUN": "perhaps"}, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "dry_run: must be true or false" in bad.stderr and "Traceback" not in bad.stderr


# ------------------------------------------------------------ launcher


def test_run__print__silverback_command_and_variables_key_masked(keeper_env, capsys):
    network = "ethereum:sepolia:https://eth.example/v2/AbCdEf0123456789xyz"
    assert run.main(["--network", network, "--live", "--print", "--", "-x", "10"]) == 0
    out = capsys.readouterr().out
    assert "NAVLEND_KEEPER_LIVE=true" in out and "AbCdEf" not in out
    assert out.splitlines()[-1].endswith(
        "run --network ethereum:sepolia:https://eth.example/v2/*** "
        "--runner keepers.runner:ResilientPollingRunner -x 10 keepers.bots.liquidator:bot"
    )


def test_run__plan_without_live__no_live_variable_config_path_absolute(tmp_path):
    args = run.parser().parse_args(["--network", "ethereum:sepolia:node", "--config", "keeper.toml"])
    launch = run.plan(args)
    assert run.LIVE_ENV not in launch.env_updates
    assert launch.env_updates["SILVERBACK_NETWORK_CHOICE"] == "ethereum:sepolia:node"
    assert os.path.isabs(launch.env_updates["NAVLEND_KEEPER_CONFIG"])


def test_run__invalid_configuration__exit_2_nothing_launched(keeper_env, capsys):
    keeper_env.setenv("NAVLEND_KEEPER_NETWORK", "mainnet")
    assert run.main(["--network", "ethereum:sepolia:node", "--print"]) == run.EXIT_INVALID
    captured = capsys.readouterr()
    assert "disagrees with silverback --network" in captured.err and captured.out == ""
