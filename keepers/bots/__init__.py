"""The Silverback bots, one module each (``silverback run keepers.bots.<name>:bot``):

- :mod:`keepers.bots.liquidator`: the liquidation keeper;
- :mod:`keepers.bots.submitter`: the single signing process of a sharded keeper;
- :mod:`keepers.bots.nav_reporter`: a fund administrator publishing NAVs (local worlds).

They wire the engine (``keepers.*``) to Silverback and hold no rules.
"""
