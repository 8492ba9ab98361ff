"""The signer's passphrase from a file (keepers/passphrase.py): the file's
mode checked, the variable Ape reads set only while the bot is built."""

from __future__ import annotations

import json
import os

import pytest
from eth_account import Account
from eth_account.messages import SignableMessage

from keepers.passphrase import (
    PassphraseError,
    check_passphrase_file,
    passphrase_variable,
    read_passphrase,
    signer_passphrase,
)

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def _secret(tmp_path, text: str = "correct horse\n", mode: int = 0o600):
    path = tmp_path / "keeper.passphrase"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_read_passphrase__owner_only_file__its_text_without_the_newline(tmp_path):
    assert read_passphrase(_secret(tmp_path, "correct horse\r\n")) == "correct horse"


@pytest.mark.parametrize(("mode", "shown"), [(0o640, "0640"), (0o604, "0604"), (0o620, "0620")])
def test_check_passphrase_file__group_or_others_may_read_or_write__refused(tmp_path, mode, shown):
    with pytest.raises(PassphraseError, match=f"mode {shown}: group or others may read it"):
        check_passphrase_file(_secret(tmp_path, mode=mode))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (lambda tmp: tmp, "is not a regular file"),
        (lambda tmp: _secret(tmp, ""), "is empty"),
        (lambda tmp: _secret(tmp, "\n"), "is empty"),
        (lambda tmp: _secret(tmp, "x" * 5000), "not a passphrase file"),
    ],
)
def test_read_passphrase__unusable_file__refused_with_the_reason(tmp_path, make, message):
    with pytest.raises(PassphraseError, match=message):
        read_passphrase(make(tmp_path))


def test_signer_passphrase__inside_the_block__set_after_it__removed(tmp_path):
    env: dict[str, str] = {}
    with signer_passphrase("keeper", _secret(tmp_path), env):
        assert env == {"APE_ACCOUNTS_keeper_PASSPHRASE": "correct horse"}
    assert env == {}


def test_signer_passphrase__variable_set_before__restored(tmp_path):
    env = {passphrase_variable("keeper"): "older"}
    with signer_passphrase("keeper", _secret(tmp_path), env):
        assert env[passphrase_variable("keeper")] == "correct horse"
    assert env == {passphrase_variable("keeper"): "older"}


def test_signer_passphrase__no_file__environment_untouched():
    env = {"OTHER": "1"}
    with signer_passphrase("keeper", None, env):
        assert env == {"OTHER": "1"}


def test_signer_passphrase__bad_file__refused_before_the_block(tmp_path):
    env: dict[str, str] = {}
    with pytest.raises(PassphraseError):
        with signer_passphrase("keeper", _secret(tmp_path, mode=0o644), env):
            pytest.fail("the block ran")
    assert env == {}


def test_signer_passphrase__ape_keyfile_account__unlocks_and_signs_without_a_prompt(tmp_path, monkeypatch):
    """What Silverback does while the bot is built: ``set_autosign(True)``
    on an encrypted Ape account, which unlocks it from the variable."""
    from ape_accounts.accounts import KeyfileAccount

    keyfile = tmp_path / "keeper.json"
    keyfile.write_text(json.dumps(Account.encrypt(KEY, "correct horse")))
    account = KeyfileAccount(keyfile_path=keyfile)
    monkeypatch.setattr(account, "_prompt_for_passphrase", lambda *a, **k: pytest.fail("prompted"))

    with signer_passphrase("keeper", _secret(tmp_path)):
        account.set_autosign(True)
    assert not account.locked
    signature = account.sign_message(SignableMessage(b"E", b"keeper", b"hello"))
    assert signature is not None and account.check_signature(SignableMessage(b"E", b"keeper", b"hello"), signature)
    assert passphrase_variable("keeper") not in os.environ


def test_signer_passphrase__wrong_passphrase__ape_refuses(tmp_path, monkeypatch):
    from ape_accounts.accounts import KeyfileAccount

    keyfile = tmp_path / "keeper.json"
    keyfile.write_text(json.dumps(Account.encrypt(KEY, "another")))
    account = KeyfileAccount(keyfile_path=keyfile)
    monkeypatch.setattr(account, "_prompt_for_passphrase", lambda *a, **k: pytest.fail("prompted"))
    with pytest.raises(Exception, match="(?i)password|passphrase|mac"):
        with signer_passphrase("keeper", _secret(tmp_path)):
            account.set_autosign(True)
