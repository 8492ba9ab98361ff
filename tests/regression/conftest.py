"""Fixtures of the regression suite: the market suite's, re-exported.

The market fixtures live in tests/market/conftest.py; a conftest only
serves its own folder, so that file is loaded here and its public names
copied in (pytest registers any fixture in a conftest's namespace). It is
loaded by path: a third-party ``tests`` package in site-packages shadows
``import tests.market``. Keep this file to that.
"""

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "navlend_market_conftest", Path(__file__).resolve().parents[1] / "market" / "conftest.py"
)
_market_conftest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _market_conftest  # dataclasses look their module up
_spec.loader.exec_module(_market_conftest)
globals().update({name: value for name, value in vars(_market_conftest).items() if not name.startswith("_")})
