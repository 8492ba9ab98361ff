"""``ape run`` itself, in a subprocess, against the test's anvil
(APE_FOUNDRY_HOST): the scripts load, a command sends and prints one JSON
document on stdout, a refusal exits 1 with one line and no traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

from navlend.cli.errors import EXIT_REFUSED
from navlend.deployments import DEPLOYMENTS_DIR_ENV

ROOT = Path(__file__).resolve().parents[2]
APE = str(Path(sys.executable).parent / "ape")


def ape_run(chain, deployment_dir, *args):
    env = {
        **os.environ,
        "APE_FOUNDRY_HOST": chain.provider.uri,
        DEPLOYMENTS_DIR_ENV: str(deployment_dir),
    }
    return subprocess.run(
        [APE, "run", *args],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ape_run_sends_with_pure_json_and_refuses_in_one_line(
    seeded, deployment_dir, chain, market, borrower, outsider
):
    result = ape_run(chain, deployment_dir, "lend", "10", "--account", "TEST::4", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # Ape's own confirmation logs kept off stdout
    assert [t["step"] for t in doc["transactions"]] == ["approve market", "deposit"]
    assert market.balanceOf(borrower) > 0
    nonce = outsider.nonce
    result = ape_run(chain, deployment_dir, "deposit", "fund_a", "1", "--account", "TEST::7")
    assert result.returncode == EXIT_REFUSED
    assert "is not allowlisted by fund_a" in result.stderr and "Traceback" not in result.stderr
    assert outsider.nonce == nonce
    assert chain.provider.is_connected


def test_ape_run_deploy__alias_of_the_local_world__deploys_and_records_it(chain, tmp_path):
    """`ape run deploy` is `ape run deploy-local-world` under its old name
    (README, Makefile and the demo keep working)."""
    result = ape_run(chain, tmp_path, "deploy", "--world-only", "--account", "TEST::15")
    assert result.returncode == 0, result.stderr
    assert "deploying the navlend world" in result.stdout
    recorded = json.loads((tmp_path / "local.json").read_text())
    assert "fund_a" in recorded["contracts"] and "market" not in recorded["contracts"]
    listed = ape_run(chain, tmp_path, "--help")
    assert "deploy-local-world" in listed.stdout and "deploy-market" in listed.stdout


def test_ape_run_deploy_market__missing_config__refused_in_one_line(chain, tmp_path):
    result = ape_run(chain, tmp_path, "deploy-market", "--config", str(tmp_path / "none.toml"))
    assert result.returncode == 1
    assert "none.toml: 1 problem(s)" in result.stderr and "file: not found" in result.stderr
    assert "Traceback" not in result.stderr
