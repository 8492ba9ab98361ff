"""Side-by-side gas benchmark: the reference scenario on navlend, Morpho
Blue and Aave v3, in one run on one chain, through one adapter per
protocol.

- :mod:`navlend.gas_scenario`: the scenario driver and the adapter contract.
- :mod:`navlend.gasbench.navlend_adapter`, :mod:`~navlend.gasbench.morpho`,
  :mod:`~navlend.gasbench.aave`: the three adapters.
- :mod:`navlend.gasbench.solc`, :mod:`~navlend.gasbench.artifacts`: building
  the peers from their npm packages.
- :mod:`navlend.gasbench.bench`: the run, its typed result and its JSON.
- :mod:`navlend.gasbench.render`: the rich table.
"""
