"""``make replay``'s question "is anything saved?" (``propkit.saved``),
against example databases written by Hypothesis itself: nothing on disk,
an empty database, saved failures, and a database whose examples were all
deleted again (Hypothesis's key index alone is not a saved failure)."""

from __future__ import annotations

from hypothesis.database import DirectoryBasedExampleDatabase
from propkit import saved

KEY = b"test_market_state_machine"


def test_saved_examples__no_database_directory__none(tmp_path):
    assert saved.saved_examples(tmp_path / "examples") == 0


def test_saved_examples__empty_database_directory__none(tmp_path):
    (tmp_path / "examples").mkdir()
    assert saved.saved_examples(tmp_path / "examples") == 0


def test_saved_examples__failures_saved_under_two_keys__counted(tmp_path):
    database = DirectoryBasedExampleDatabase(tmp_path / "examples")
    database.save(KEY, b"\x01\x02")
    database.save(KEY, b"\x03")
    database.save(b"test_liquidation_matches_model", b"\x04")
    assert saved.saved_examples(tmp_path / "examples") == 3


def test_saved_examples__every_example_deleted__none(tmp_path):
    database = DirectoryBasedExampleDatabase(tmp_path / "examples")
    database.save(KEY, b"\x01")
    database.save(b"other", b"\x02")
    database.delete(KEY, b"\x01")
    assert saved.saved_examples(tmp_path / "examples") == 1
    database.delete(b"other", b"\x02")
    assert saved.saved_examples(tmp_path / "examples") == 0


def test_saved_examples__only_the_key_index_left__none(tmp_path):
    index = tmp_path / "examples" / saved.KEY_INDEX
    index.mkdir(parents=True)
    (index / "0123456789abcdef").write_bytes(KEY)
    assert saved.saved_examples(tmp_path / "examples") == 0


def test_database_directory__default_and_storage_override(tmp_path, monkeypatch):
    monkeypatch.delenv(saved.STORAGE_ENV, raising=False)
    assert saved.database_directory(tmp_path) == tmp_path / ".hypothesis" / "examples"
    monkeypatch.setenv(saved.STORAGE_ENV, str(tmp_path / "elsewhere"))
    assert saved.database_directory(tmp_path) == tmp_path / "elsewhere" / "examples"


def test_main__prints_the_count(tmp_path, capsys):
    DirectoryBasedExampleDatabase(tmp_path).save(KEY, b"\x01")
    assert saved.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == "1\n"
