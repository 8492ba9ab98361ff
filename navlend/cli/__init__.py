"""The people's tools: ``ape run`` commands and ``ape console`` helpers for
borrowers, lenders and operators of a navlend market.

Pure logic (no chain, unit-tested without one):

- :mod:`navlend.cli.errors`: :class:`Refusal` and revert-reason wording;
- :mod:`navlend.cli.amounts`: human amounts, ratios and durations, parsed
  and formatted;
- :mod:`navlend.cli.records`: plain dataclasses of what the tools read;
- :mod:`navlend.cli.risk`: values, health, liquidation NAV, principal;
- :mod:`navlend.cli.checks`: the pre-flight decisions (refuse or go);
- :mod:`navlend.cli.render`: rich tables and JSON documents.

I/O:

- :mod:`navlend.cli.contracts`: the deployment's contracts and state readers;
- :mod:`navlend.cli.session`: one account's session (simulate, confirm, send);
- :mod:`navlend.cli.actions`, :mod:`navlend.cli.admin`: the operations;
- :mod:`navlend.cli.options`: shared click options and the command runner;
- :mod:`navlend.cli.console`: the ``ape console`` namespace.

The scripts in ``scripts/`` are thin click commands over these.
"""

import warnings

# ape-vyper's settings model warns, on every command, that one field's
# annotation is incomplete (pydantic-settings' IncompleteFieldDefinitionWarning):
# three lines of noise about Ape's internals, nothing a user can act on.
warnings.filterwarnings("ignore", message="Field 'import_remapping' has an incomplete definition")
