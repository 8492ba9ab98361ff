"""The keeper bot with its node behind the fault proxy (``devkit.faultproxy``)
and no fault armed: the proxy is transparent to Ape and Silverback, so the
fault runs of issue 16 test the keeper, not the proxy. The NAV drop and
borrowers are those of ``test_keeper_e2e.py``.
"""

from __future__ import annotations

from devkit.devnet import wait_for
from devkit.faultproxy import FaultProxy

DROP_BPS = 1_200
FUND_A_UNHEALTHY = (1, 2, 3, 4)
HEALTHY = (0, 5, 6)


def test_keeper_through_the_proxy__no_faults__liquidates_as_if_direct(devnet):
    with FaultProxy(devnet.anvil.url, seed=1) as proxy:
        bot, _ = devnet.start_keeper(APE_FOUNDRY_HOST=proxy.url)
        devnet.drop_nav(DROP_BPS)

        wait_for(
            lambda: not any(devnet.health(devnet.borrowers[i]).liquidatable for i in FUND_A_UNHEALTHY),
            90, "every unhealthy position liquidated",
        )
        stats = proxy.stats()

    assert all(len(devnet.liquidations(devnet.borrowers[i])) == 1 for i in FUND_A_UNHEALTHY)
    assert all(devnet.liquidations(devnet.borrowers[i]) == [] for i in HEALTHY)
    # The keeper read and sent through the proxy, which injected nothing.
    assert stats.forwarded.get("eth_getLogs", 0) > 0 and stats.forwarded.get("eth_sendRawTransaction", 0) > 0
    assert stats.rate_limited == stats.timed_out == stats.log_limit_refusals == 0
    assert bot.alive
