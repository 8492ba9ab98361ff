"""End to end on PostgreSQL (issue 17, "Several hosts"): the keeper bot with
``NAVLEND_KEEPER_DB_URL`` keeps its index and its transactions in flight in
a PostgreSQL database (a throwaway cluster, keepers/store_server.py), not
in the SQLite file of ``DB_PATH``; stopped and restarted, it resumes from
the checkpoint stored there and liquidates what sank while it was down.
Against the seeded anvil of ``tests/keeper/conftest.py``; a 12 % fall of
fund A's NAV makes borrowers 1-4 liquidatable (as in test_keeper_e2e.py)."""

from __future__ import annotations

import time

import psycopg

from devkit.devnet import wait_for

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)


def _none_liquidatable(devnet) -> bool:
    return not any(devnet.health(devnet.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY)


def test_postgres__restart__resumes_from_the_stored_checkpoint_and_liquidates(postgres_server, devnet):
    # postgres_server (tests/keeper/conftest.py) first: up before the devnet, down after its bots.
    postgres_url = postgres_server.url
    bot, _ = devnet.start_keeper("first", NAVLEND_KEEPER_DB_URL=postgres_url)
    first_checkpoint = bot.events("backfilled")[0]["head"]
    time.sleep(3)
    bot.stop()

    schema = "index_" + str(devnet.lm.market.address)[2:].lower()
    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute(f'SELECT value FROM "{schema}".meta WHERE key = %s', ("checkpoint",)).fetchone()
        positions = conn.execute(f"SELECT COUNT(*) FROM \"{schema}\".state WHERE kind = 'debt' AND value != '0'")
        assert int(stored[0]) >= first_checkpoint
        assert positions.fetchone()[0] == len(devnet.borrowers)
    assert not (devnet.workdir / "index.sqlite").exists(), "the keeper wrote the SQLite file, not PostgreSQL"

    devnet.drop_nav(DROP_BPS)
    second, _ = devnet.start_keeper("second", NAVLEND_KEEPER_DB_URL=postgres_url)
    resumed = second.events("backfilled")[0]
    assert resumed["start"] > first_checkpoint >= 1, "the restart rescanned from the start"
    assert resumed["open"] == len(devnet.borrowers)
    wait_for(lambda: _none_liquidatable(devnet), 90, "liquidations after the restart")
    # The transactions in flight were kept in PostgreSQL too (rows go once mined), not beside DB_PATH.
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('keeper_txs.pending_txs')").fetchone()[0] is not None
    assert not (devnet.workdir / "index.txs.sqlite").exists()
