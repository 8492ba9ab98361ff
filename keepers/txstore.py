"""The keeper's transactions in flight, persisted in SQLite or PostgreSQL
(:mod:`keepers.store`), so that a restart follows them again instead of
sending again what is in flight.

One row per transaction in flight (per request key), for one signer on one
chain: the request (target, calldata, label, positions, context), its
nonce, gas limit and fees, every hash sent under the nonce, the last signed
bytes (what a rebroadcast sends), the block and time of the first send, the
bumps, and the cancel when one replaced it. A row is written *before* its
bytes reach the node (a crash between the two leaves a row whose bytes the
rebroadcast rule sends), updated on each bump, rebroadcast or cancel, and
deleted once the nonce is used.

On PostgreSQL the table lives in the schema ``keeper_txs``, shared by
every signer and chain (rows are keyed by them); each row is written by
the single submitter of its signing key. No RPC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepers.store import Store, StoreLocation, configured_location

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_txs (
    chain_id BIGINT NOT NULL,
    signer TEXT NOT NULL,
    key TEXT NOT NULL,
    nonce BIGINT NOT NULL,
    request TEXT NOT NULL,
    gas_limit BIGINT NOT NULL,
    max_fee TEXT NOT NULL,
    priority_fee TEXT NOT NULL,
    hashes TEXT NOT NULL,
    raw TEXT NOT NULL,
    first_block BIGINT NOT NULL,
    first_at DOUBLE PRECISION NOT NULL,
    last_signed_block BIGINT NOT NULL,
    last_broadcast_block BIGINT NOT NULL,
    bumps BIGINT NOT NULL,
    bumps_exhausted BIGINT NOT NULL,
    cancelling BIGINT NOT NULL,
    cancel_hashes TEXT NOT NULL,
    cancel_capped BIGINT NOT NULL,
    PRIMARY KEY (chain_id, signer, key)
);
"""

_COLUMNS = (
    "chain_id", "signer", "key", "nonce", "request", "gas_limit", "max_fee", "priority_fee", "hashes", "raw",
    "first_block", "first_at", "last_signed_block", "last_broadcast_block", "bumps", "bumps_exhausted",
    "cancelling", "cancel_hashes", "cancel_capped",
)

_KEY = ("chain_id", "signer", "key")
_SAVE = (
    f"INSERT INTO pending_txs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in _KEY)
)


def tx_store_path(index_path: str | Path) -> Path:
    """The store's file beside the position index's (``index.sqlite`` ->
    ``index.txs.sqlite``): its own file, so neither changes the other's
    journal mode or locks."""
    path = Path(index_path)
    return path.with_name(f"{path.stem}.txs{path.suffix or '.sqlite'}")


def tx_store_location(db_url: str | None, db_path: str | Path) -> StoreLocation:
    """The configured store of the transactions in flight: the database of
    ``db_url`` when set (its own schema), else the SQLite file beside the
    index's (:func:`tx_store_path`)."""
    if db_url is not None and db_url.strip():
        return configured_location(db_url, db_path)
    return configured_location(None, tx_store_path(db_path))


class TxStoreError(ValueError):
    """A stored row cannot be read back (the message says which and why)."""


@dataclass(frozen=True)
class StoredRequest:
    """The request part of a stored transaction (``TxRequest``'s fields)."""

    key: str
    to: str
    data: bytes
    label: str
    positions: tuple[str, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)
    net_profit_wei: int | None = None
    planned_gas_price: int = 0


@dataclass(frozen=True)
class StoredTx:
    """One transaction in flight as stored."""

    request: StoredRequest
    nonce: int
    gas_limit: int
    max_fee: int
    priority_fee: int
    hashes: tuple[str, ...]
    raw: bytes
    first_block: int
    first_at: float
    last_signed_block: int
    last_broadcast_block: int
    bumps: int = 0
    bumps_exhausted: bool = False
    cancelling: bool = False
    cancel_hashes: tuple[str, ...] = ()
    cancel_capped: bool = False

    def __post_init__(self) -> None:
        if self.nonce < 0:
            raise ValueError(f"negative nonce {self.nonce}")
        if not self.raw:
            raise ValueError(f"transaction {self.request.key} stored without its signed bytes")


def _request_json(request: StoredRequest) -> str:
    return json.dumps({
        "to": request.to, "data": request.data.hex(), "label": request.label,
        "positions": list(request.positions), "context": request.context,
        "net_profit_wei": None if request.net_profit_wei is None else str(request.net_profit_wei),
        "planned_gas_price": str(request.planned_gas_price),
    }, default=str, sort_keys=True)


class TxStore:
    """Transactions in flight of ``signer`` on ``chain_id``, in a SQLite
    file (which may be the position index's: the table is its own) or a
    PostgreSQL database (``location``: a path, a URL or a
    :class:`keepers.store.StoreLocation`)."""

    NAMESPACE = "keeper_txs"

    def __init__(self, location: str | Path | StoreLocation, chain_id: int, signer: str) -> None:
        if chain_id <= 0:
            raise ValueError(f"chain id must be positive, not {chain_id}")
        if not signer:
            raise ValueError("a signer address is required")
        self.chain_id, self.signer = chain_id, signer.lower()
        self._store = Store(location, self.NAMESPACE)
        self._store.create(_SCHEMA)

    def close(self) -> None:
        self._store.close()

    def save(self, tx: StoredTx) -> None:
        """Inserts or replaces the row of ``tx.request.key``."""
        row = (
            self.chain_id, self.signer, tx.request.key, tx.nonce, _request_json(tx.request), tx.gas_limit,
            str(tx.max_fee), str(tx.priority_fee), json.dumps(list(tx.hashes)), tx.raw.hex(), tx.first_block,
            tx.first_at, tx.last_signed_block, tx.last_broadcast_block, tx.bumps, int(tx.bumps_exhausted),
            int(tx.cancelling), json.dumps(list(tx.cancel_hashes)), int(tx.cancel_capped),
        )
        self._store.execute(_SAVE, row)

    def delete(self, key: str) -> None:
        self._store.execute("DELETE FROM pending_txs WHERE chain_id = ? AND signer = ? AND key = ?",
                            (self.chain_id, self.signer, key))

    def load(self) -> list[StoredTx]:
        """Every stored transaction of this signer and chain, by nonce."""
        rows = self._store.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM pending_txs WHERE chain_id = ? AND signer = ? ORDER BY nonce",
            (self.chain_id, self.signer),
        ).fetchall()
        return [self._decode(dict(zip(_COLUMNS, row))) for row in rows]

    @staticmethod
    def _decode(row: dict[str, Any]) -> StoredTx:
        try:
            req = json.loads(row["request"])
            request = StoredRequest(
                key=row["key"], to=req["to"], data=bytes.fromhex(req["data"]), label=req["label"],
                positions=tuple(req["positions"]), context=dict(req["context"]),
                net_profit_wei=None if req["net_profit_wei"] is None else int(req["net_profit_wei"]),
                planned_gas_price=int(req["planned_gas_price"]),
            )
            return StoredTx(
                request=request, nonce=int(row["nonce"]), gas_limit=int(row["gas_limit"]),
                max_fee=int(row["max_fee"]), priority_fee=int(row["priority_fee"]),
                hashes=tuple(json.loads(row["hashes"])), raw=bytes.fromhex(row["raw"]),
                first_block=int(row["first_block"]), first_at=float(row["first_at"]),
                last_signed_block=int(row["last_signed_block"]),
                last_broadcast_block=int(row["last_broadcast_block"]), bumps=int(row["bumps"]),
                bumps_exhausted=bool(row["bumps_exhausted"]), cancelling=bool(row["cancelling"]),
                cancel_hashes=tuple(json.loads(row["cancel_hashes"])), cancel_capped=bool(row["cancel_capped"]),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise TxStoreError(f"stored transaction {row.get('key')!r} (nonce {row.get('nonce')}) is unreadable: "
                               f"{err}") from err
