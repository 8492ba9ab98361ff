"""Side-by-side gas benchmark: the reference scenario
(``docs/gas-scenario.md``) on navlend, Morpho Blue and Aave v3, in one run
on one chain, through one adapter per protocol.

- :mod:`devkit.gasbench.scenario`: the scenario driver and the adapter contract.
- :mod:`devkit.gasbench.navlend_adapter`, :mod:`~devkit.gasbench.morpho`,
  :mod:`~devkit.gasbench.aave`: the three adapters.
- :mod:`devkit.gasbench.solc`, :mod:`~devkit.gasbench.artifacts`: building
  the peers from their npm packages.
- :mod:`devkit.gasbench.routes`: liquidation by route (seize, redeem) on
  the native market and over the Superstate and Ondo adapters.
- :mod:`devkit.gasbench.bench`: the run, its typed result and its JSON.
- :mod:`devkit.gasbench.table`: the rich table.
"""
