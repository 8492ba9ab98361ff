"""``--json`` on anvil: every command's document validates against its
schema (navlend/cli/schema.py), sent and dry-run alike; every failure prints
the error object on stdout and exits with its own status."""

import json
from pathlib import Path

import jsonschema
import pytest
import requests
from conftest import load_script

from navlend.cli import schema
from navlend.cli.contracts import Navlend
from navlend.cli.errors import EXIT_INTERNAL, EXIT_REFUSED, EXIT_REVERTED, EXIT_RPC, EXIT_USAGE

ME = ("--account", "TEST::4")
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def document(ape_run, command: str, *args) -> dict:
    result = ape_run(command, *args, *ME, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema.COMMANDS[command])
    return doc


def failure(ape_run, command: str, *args, code: int) -> dict:
    result = ape_run(command, *args, "--json")
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema.ERROR)
    assert doc["error"]["exit_code"] == code and "Traceback" not in result.stderr
    return doc["error"]


def test_every_command__json__matches_its_schema(ape_run, market, borrower):
    sends = [
        ("lend", "10", "--yes"),
        ("withdraw", "5", "--yes"),
        ("deposit", "fund_a", "1000", "--yes"),
        ("borrow", "5000", "--yes"),
        ("repay", "1000", "--yes"),
        ("withdraw_collateral", "fund_a", "10", "--yes"),
        ("leverage", "wrapper", "10000", "--yes"),
        ("unwind", "wrapper", "--yes"),
    ]
    for command, *args in sends:
        dry = document(ape_run, command, *args, "--dry-run")
        assert dry["dry_run"] is True and dry["transactions"] == [], command
        doc = document(ape_run, command, *args)
        assert doc["command"] == command and doc["transactions"], command
        assert all(tx["fee"]["symbol"] == "ETH" for tx in doc["transactions"])
    document(ape_run, "position")
    document(ape_run, "market")


def test_every_script_with_json__has_a_schema():
    with_json = {
        path.stem
        for path in SCRIPTS.glob("*.py")
        if "common_options" in path.read_text() or "view_options" in path.read_text()
    }
    admin = {f"admin {name}" for name in load_script("admin").commands}
    assert (with_json - {"admin"}) | admin <= set(schema.COMMANDS)
    assert len(admin) >= 15


def test_failure__usage__exit_2_with_error_object(ape_run, borrower, nonce_kept):
    with nonce_kept(borrower):
        comma = failure(ape_run, "borrow", "1,5", *ME, code=EXIT_USAGE)
        option = failure(ape_run, "borrow", "10", "--bogus", *ME, code=EXIT_USAGE)
        checksum = failure(
            ape_run, "borrow", "10", "--to", "0x70997970c51812dc3a010c7d01b50e0d17dc79C8", *ME, code=EXIT_USAGE
        )
    assert comma["code"] == "usage" and "did you mean 1.5?" in comma["message"]
    assert "--bogus" in option["message"]
    assert "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" in checksum["message"]


def test_failure__refused__exit_3_with_error_object(ape_run, borrower, nonce_kept):
    with nonce_kept(borrower):
        error = failure(ape_run, "borrow", "20000", *ME, code=EXIT_REFUSED)
    assert error["code"] == "refused" and "no collateral" in error["message"]


def test_failure__simulation_reverts__exit_4_with_error_object(ape_run, seeded, market, deployer, borrower, nonce_kept):
    seeded.fund_a.approve(market, 10**12, sender=borrower)
    seeded.fund_a.freeze(market, sender=deployer)
    with nonce_kept(borrower):
        error = failure(ape_run, "deposit", "fund_a", "1", *ME, code=EXIT_REVERTED)
    assert error["code"] == "reverted" and "would revert" in error["message"] and "nothing sent" in error["message"]


def test_failure__node_unreachable__exit_5_with_error_object(ape_run, seeded, monkeypatch):
    def down(self):
        raise requests.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(Navlend, "market_view", down)
    error = failure(ape_run, "market", code=EXIT_RPC)
    assert error["code"] == "rpc" and "Connection refused" in error["message"]


def test_failure__a_bug__exit_1_internal(ape_run, seeded, monkeypatch):
    def broken(self):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(Navlend, "market_view", broken)
    error = failure(ape_run, "market", code=EXIT_INTERNAL)
    assert error["code"] == "internal" and "RuntimeError: unexpected" in error["message"]


@pytest.mark.parametrize("amount", ["1e30", "1,5", "10,00", "-1", "nan", "1" + "0" * 80])
def test_borrow__bad_amount__usage_error_nothing_sent(ape_run, borrower, nonce_kept, amount):
    with nonce_kept(borrower):
        result = ape_run("borrow", amount, *ME)
    assert result.exit_code == EXIT_USAGE, (amount, result.stderr)
    assert "Error: " in result.stderr and "Traceback" not in result.stderr
