"""The scale-out tests' Redis: a redis-server of its own on a free loopback
port, shut down after the test."""

from __future__ import annotations

import pytest

from devkit.processes import free_port


@pytest.fixture
def redis_url():
    from keepers.scale import ensure_redis

    port = free_port()
    try:
        url = ensure_redis(port)
    except Exception as err:  # apt-get refused, no package, did not start
        # `make setup` installs redis-server (keepers/install-redis.sh), so a
        # missing one is a broken setup, not a reason to pass untested.
        pytest.fail(f"redis-server unavailable (run `make setup`): {err}")
    import redis

    client = redis.Redis.from_url(url)
    try:
        yield url
    finally:
        try:
            client.shutdown(nosave=True)
        except Exception:
            pass  # shutdown closes the connection under the client
