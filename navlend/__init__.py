"""navlend: a lending market for a USD stablecoin against tokenized
money-market-fund shares. This package is the library and the people's
CLI; it imports neither the keeper (``keepers``) nor the developer kit
(``devkit``).

- :mod:`navlend.rules`: the market's math, once, as pure functions.
- :mod:`navlend.model`: the property suite's reference model over them.
- :mod:`navlend.constants`: the market's constants (checked against Vyper).
- :mod:`navlend.abi`: the compiled interfaces' ABIs (selectors, topics, structs).
- :mod:`navlend.market`: deploy a market, list assets, reach it with one ABI.
- :mod:`navlend.deployments`: the ``deployments/<network>.json`` file.
- :mod:`navlend.timeutil`: business-day NAV strike times.
- :mod:`navlend.cli`: the commands' checks, figures, rendering and chain edge.
"""
