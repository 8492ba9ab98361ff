"""Harness of navlend's property suite (tests/property).

- ``artifacts``: compiles the contracts once (bytecode, ABI, storage
  layout) and caches them by source hash, so a session starts in seconds
  and the mutation runner can compile a mutated copy of the tree;
- ``evm``: the in-process chain (revm through pyrevm) and a thin ABI layer;
- ``world``: deploys the world and the market on it, the way
  ``devkit.world`` / ``navlend.market`` do on Ape;
- ``adapter``: the thin chain adapter the invariants are written against
  (storage words, balances, calls), with an in-process and an Ape implementation;
- ``snapshot`` / ``invariants``: reads the chain into plain data and checks
  the invariants against the reference model (``navlend.model``) and the
  ghost ledger;
- ``machine``: the Hypothesis RuleBasedStateMachine;
- ``profiles``: the Hypothesis profiles (ci, audit, replay, mutation, ...).

It lives under tests/property/ (imported as the top-level package
``propkit``: the pytest rootdir puts this folder on sys.path; the benchmark
and the mutation runner add it themselves).
"""
