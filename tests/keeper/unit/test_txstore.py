"""keepers/txstore.py: the keeper's transactions in flight in SQLite, per
signer and chain, read back as written. No chain."""

from __future__ import annotations

import sqlite3

import pytest

from keepers.txstore import StoredRequest, StoredTx, TxStore, TxStoreError, tx_store_path

KEEPER = "0x" + "5e" * 20
FLASH = "0x" + "f1" * 20


def _tx(key: str = "0xb0", nonce: int = 7, **overrides) -> StoredTx:
    fields = dict(
        request=StoredRequest(key=key, to=FLASH, data=bytes.fromhex("deadbeef"), label="liquidate:redeem:fund",
                              positions=("0xb0", "0xb1"), context={"route": "redeem", "expected_profit": 25 * 10**6},
                              net_profit_wei=3 * 10**15, planned_gas_price=21 * 10**9),
        nonce=nonce, gas_limit=431_877, max_fee=300 * 10**9, priority_fee=2 * 10**9,
        hashes=("0x" + "01" * 32, "0x" + "02" * 32), raw=b"\x02signed", first_block=100, first_at=1.8e9,
        last_signed_block=104, last_broadcast_block=106, bumps=2,
    )
    fields.update(overrides)
    return StoredTx(**fields)


def test_txstore__saved__loaded_back_equal(tmp_path):
    store = TxStore(tmp_path / "tx.sqlite", 1, KEEPER)
    tx = _tx(cancelling=True, cancel_hashes=("0x" + "03" * 32,), bumps_exhausted=True)
    store.save(tx)
    assert TxStore(tmp_path / "tx.sqlite", 1, KEEPER).load() == [tx]


def test_txstore__saved_twice__one_row_with_the_latest(tmp_path):
    store = TxStore(tmp_path / "tx.sqlite", 1, KEEPER)
    store.save(_tx(bumps=1))
    store.save(_tx(bumps=2))
    assert [t.bumps for t in store.load()] == [2]


def test_txstore__other_signer_or_chain__not_loaded(tmp_path):
    TxStore(tmp_path / "tx.sqlite", 1, KEEPER).save(_tx())
    assert TxStore(tmp_path / "tx.sqlite", 10, KEEPER).load() == []
    assert TxStore(tmp_path / "tx.sqlite", 1, "0x" + "aa" * 20).load() == []
    assert len(TxStore(tmp_path / "tx.sqlite", 1, KEEPER.upper().replace("0X", "0x")).load()) == 1


def test_txstore__deleted__gone(tmp_path):
    store = TxStore(tmp_path / "tx.sqlite", 1, KEEPER)
    store.save(_tx("a", 1))
    store.save(_tx("b", 2))
    store.delete("a")
    assert [t.request.key for t in store.load()] == ["b"]


def test_txstore__loaded_in_nonce_order(tmp_path):
    store = TxStore(tmp_path / "tx.sqlite", 1, KEEPER)
    store.save(_tx("late", 9))
    store.save(_tx("early", 3))
    assert [t.nonce for t in store.load()] == [3, 9]


def test_txstore__unreadable_row__clear_error(tmp_path):
    store = TxStore(tmp_path / "tx.sqlite", 1, KEEPER)
    store.save(_tx())
    db = sqlite3.connect(tmp_path / "tx.sqlite")
    db.execute("UPDATE pending_txs SET request = '{\"to\": 1}'")
    db.commit()
    with pytest.raises(TxStoreError, match="'0xb0' .*nonce 7.* unreadable"):
        store.load()


def test_stored_tx__without_signed_bytes__refused():
    with pytest.raises(ValueError, match="signed bytes"):
        _tx(raw=b"")


@pytest.mark.parametrize("chain_id, signer, match", [(0, KEEPER, "chain id"), (1, "", "signer")])
def test_txstore__bad_identity__refused(tmp_path, chain_id, signer, match):
    with pytest.raises(ValueError, match=match):
        TxStore(tmp_path / "tx.sqlite", chain_id, signer)


def test_tx_store_path__beside_the_index__its_own_file(tmp_path):
    assert tx_store_path(tmp_path / ".keeper" / "index.sqlite") == tmp_path / ".keeper" / "index.txs.sqlite"
    assert str(tx_store_path("keeper.db")) == "keeper.txs.db"
    assert str(tx_store_path("state/index")) == "state/index.txs.sqlite"
