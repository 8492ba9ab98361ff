"""navlend: a lending market for a USD stablecoin against tokenized
money-market-fund shares, with its local world, keepers and tools.

- :mod:`devkit.world`: deploy the local world (stablecoin, funds, NAV
  oracles, redemption facilities, accumulating wrapper).
- :mod:`navlend.deployments`: the ``deployments/<network>.json`` file.
- :mod:`navlend.timeutil`: business-day NAV strike times.
- :mod:`navlend.market`: deploy a market, list assets, reach it with one ABI.
- :mod:`devkit.gasbench.scenario`: the reference gas scenario.
- :mod:`devkit.demo.main`: the demo's NAV-shock scenario.
"""

__all__ = ["demo", "deployments", "gas_scenario", "market", "timeutil", "world"]
