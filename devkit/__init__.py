"""navlend's developer kit: what builds, runs and measures navlend on a
local chain, and nothing a user or a keeper operator needs.

- :mod:`devkit.world`, :mod:`devkit.seeding`, :mod:`devkit.devchain`: the
  simulated fund world on anvil, its borrowers, chain helpers;
- :mod:`devkit.devnet`, :mod:`devkit.processes`: an anvil and the bots as
  subprocesses (the keeper's tests and benchmark, the demo);
- :mod:`devkit.demo`: ``make demo``'s NAV-shock scenario and its report;
- :mod:`devkit.gasbench`: the gas scenario side by side with Morpho Blue
  and Aave v3 (``docs/gas-scenario.md``);
- :mod:`devkit.keeper_bench`: the keeper's scan and batch benchmark;
- :mod:`devkit.tools`: static analysis, mutation testing, the state
  machine's speed, the ABI files' generator.

Imports go one way: the kit imports ``navlend`` (the library and CLI) and
``keepers`` (the keeper engine and bots); neither imports the kit
(``tests/lib/test_import_graph.py``).
"""
