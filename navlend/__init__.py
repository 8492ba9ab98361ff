"""navlend: a lending market for a USD stablecoin against tokenized
money-market-fund shares, with its local world, keepers and tools.

- :mod:`navlend.world`: deploy the local world (stablecoin, funds, NAV
  oracles, redemption facilities, accumulating wrapper).
- :mod:`navlend.deployments`: the ``deployments/<network>.json`` file.
- :mod:`navlend.timeutil`: business-day NAV strike times.
"""

__all__ = ["deployments", "timeutil", "world"]
