"""keepers/txstore.py: the keeper's transactions in flight, per signer and
chain, read back as written; on both stores (SQLite and PostgreSQL, the
``new_location`` fixture of conftest.py). No chain."""

from __future__ import annotations

import pytest

from keepers.store import Store, StoreKind
from keepers.txstore import StoredRequest, StoredTx, TxStore, TxStoreError, tx_store_location, tx_store_path

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


@pytest.fixture
def where(new_location):
    """One store location, the same each time it is opened."""
    return new_location(persistent=True)


def test_txstore__saved__loaded_back_equal(where):
    store = TxStore(where, 1, KEEPER)
    tx = _tx(cancelling=True, cancel_hashes=("0x" + "03" * 32,), bumps_exhausted=True)
    store.save(tx)
    assert TxStore(where, 1, KEEPER).load() == [tx]


def test_txstore__saved_twice__one_row_with_the_latest(where):
    store = TxStore(where, 1, KEEPER)
    store.save(_tx(bumps=1))
    store.save(_tx(bumps=2))
    assert [t.bumps for t in store.load()] == [2]


def test_txstore__other_signer_or_chain__not_loaded(where):
    TxStore(where, 1, KEEPER).save(_tx())
    assert TxStore(where, 10, KEEPER).load() == []
    assert TxStore(where, 1, "0x" + "aa" * 20).load() == []
    assert len(TxStore(where, 1, KEEPER.upper().replace("0X", "0x")).load()) == 1


def test_txstore__deleted__gone(where):
    store = TxStore(where, 1, KEEPER)
    store.save(_tx("a", 1))
    store.save(_tx("b", 2))
    store.delete("a")
    assert [t.request.key for t in store.load()] == ["b"]


def test_txstore__loaded_in_nonce_order(where):
    store = TxStore(where, 1, KEEPER)
    store.save(_tx("late", 9))
    store.save(_tx("early", 3))
    assert [t.nonce for t in store.load()] == [3, 9]


def test_txstore__unreadable_row__clear_error(where):
    store = TxStore(where, 1, KEEPER)
    store.save(_tx())
    Store(where, TxStore.NAMESPACE).execute("UPDATE pending_txs SET request = ?", ('{"to": 1}',))
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


def test_tx_store_location__db_url__the_database_else_the_file_beside_the_index(tmp_path):
    url = "postgresql://keeper@db.internal:5432/navlend"
    assert tx_store_location(url, tmp_path / "index.sqlite").target == url
    local = tx_store_location(None, tmp_path / "index.sqlite")
    assert local.kind is StoreKind.SQLITE and local.target == str(tmp_path / "index.txs.sqlite")
