"""``ape run deploy``: the alias of ``ape run deploy-local-world`` (the
local navlend world, mocks only), kept so that older instructions keep
working. A market over real issuers' contracts is ``ape run
deploy-market`` (docs/deploy.md)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

# The local-world script's file name has dashes (its `ape run` name), so
# it is loaded by path rather than imported.
_SPEC = importlib.util.spec_from_file_location(
    "navlend_deploy_local_world", Path(__file__).with_name("deploy-local-world.py")
)
_LOCAL = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_LOCAL)

deploy = _LOCAL.deploy
print_deployment = _LOCAL.print_deployment

cli = copy.copy(_LOCAL.cli)
cli.help = "The local navlend world: alias of `ape run deploy-local-world`. " + (
    _LOCAL.cli.help or ""
)
cli.short_help = "Alias of deploy-local-world: deploy the local navlend world (mocks)."
