"""Entry point the demo runs the NAV reporter through:
``silverback run navlend.reporter_bot:bot``.

Why this module exists: ``keepers/nav_reporter.py`` looks its oracles up
with ``ape.Contract(address)``, which on a local network only knows the
contract types of the process that deployed them, so in a fresh process it
fails with ``ContractNotFoundError``. Until the reporter builds its oracles
from the project (``project.NavOracle.at``, as ``keepers/wiring.py`` does for
the keeper), this module points the reporter's ``Contract`` at exactly that,
and otherwise runs the reporter unchanged. Delete it once the reporter does.
"""

from __future__ import annotations

from typing import Any

from ape import project

import keepers.nav_reporter as _reporter


def _nav_oracle_at(address: str) -> Any:
    return project.NavOracle.at(address)


_reporter.Contract = _nav_oracle_at
bot = _reporter.bot
