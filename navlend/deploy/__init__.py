"""The production deployment: a market over contracts that already exist,
from a config file (``ape run deploy-market``, docs/deploy.md).

One job per module:

- :mod:`~navlend.deploy.config`: the TOML file into typed, frozen
  dataclasses, every problem collected with its key path;
- :mod:`~navlend.deploy.facts`: what the chain says about the configured
  addresses (code, decimals, the feeds' rounds, the facilities' tokens,
  the issuers' admissions), read before anything is sent;
- :mod:`~navlend.deploy.checks`: the refusals and warnings, pure, over
  the config and those facts;
- :mod:`~navlend.deploy.plan`: the ordered steps, the addresses they will
  create (from the deployer's nonce), and the plan's table;
- :mod:`~navlend.deploy.execute`: runs the steps, recording each in the
  deployments file as it goes, resuming from it;
- :mod:`~navlend.deploy.verify`: every setting read back and compared;
- :mod:`~navlend.deploy.command`: the whole command, as the script and
  the tests call it.
"""
