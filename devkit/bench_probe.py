"""Times the keeper's per-block method inside the keeper's own process,
whatever command started it.

:func:`probe_environment` gives the environment that does it: a
directory holding a ``sitecustomize.py`` first on ``PYTHONPATH``, which
calls :func:`install` at interpreter start-up in the keeper process and in
any Python child it starts (a ``silverback worker``'s). :func:`install`
waits for the target's module to be imported (an import hook, so nothing
is imported early), then wraps the target method: every call appends one
JSON line to ``<dir>/probe-<pid>.jsonl``::

    {"pid": 4242, "block": 1234, "ms": 8.31, "skipped": false, "maxrss_kib": 301234}

``block`` is the returned report's ``block`` (else the first int
argument), ``skipped`` its ``skipped_block``, ``maxrss_kib`` the process's
peak resident set (``getrusage``). The target is
``NAVLEND_BENCH_PROBE_TARGET`` (``module:Class.method``, default
:data:`DEFAULT_TARGET`); a keeper with another per-block entry point (one
over several markets) names its own.

A benchmark tool (devkit): the keeper never imports it.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_TARGET = "keepers.keeper:Keeper.on_block"
ENV_DIR = "NAVLEND_BENCH_PROBE_DIR"
ENV_TARGET = "NAVLEND_BENCH_PROBE_TARGET"

SITECUSTOMIZE = '''\
# Written by devkit.bench_probe: times the keeper's per-block method.
try:
    from devkit.bench_probe import install as _install
    _install()
except Exception as _err:  # never stop the process under test
    import sys as _sys
    print(f"bench probe not installed: {_err!r}", file=_sys.stderr)
'''


class ProbeError(ValueError):
    """A target that is not ``module:Class.method``."""


def parse_target(target: str) -> tuple[str, str, str]:
    module, sep, attr = target.partition(":")
    owner, dot, method = attr.rpartition(".")
    if not sep or not dot or not module or not owner or not method:
        raise ProbeError(f"probe target must be module:Class.method, not {target!r}")
    return module, owner, method


def probe_environment(directory: Path, target: str = DEFAULT_TARGET,
                      base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that probe a process (its records go to ``directory``);
    ``base`` is the PYTHONPATH to keep (default: this process's)."""
    parse_target(target)
    directory.mkdir(parents=True, exist_ok=True)
    site = directory / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    root = str(Path(__file__).resolve().parents[1])
    keep = (base if base is not None else os.environ).get("PYTHONPATH", "")
    path = os.pathsep.join(p for p in (str(site), root, keep) if p)
    return {"PYTHONPATH": path, ENV_DIR: str(directory), ENV_TARGET: target}


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _block_of(result: Any, args: tuple[Any, ...]) -> int | None:
    block = getattr(result, "block", None)
    if isinstance(block, int) and block >= 0:
        return block
    return next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), None)


def wrap(method: Any, out_dir: Path) -> Any:
    """``method`` timed; one line per call in ``out_dir``."""
    lock = threading.Lock()

    @functools.wraps(method)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = method(self, *args, **kwargs)
        ms = (time.perf_counter() - started) * 1000
        line = json.dumps({"pid": os.getpid(), "block": _block_of(result, args), "ms": round(ms, 3),
                           "skipped": bool(getattr(result, "skipped_block", False)), "maxrss_kib": _peak_kib()})
        with lock, open(out_dir / f"probe-{os.getpid()}.jsonl", "a") as out:
            out.write(line + "\n")
        return result

    timed.__bench_probe__ = True
    return timed


def _patch(module: Any, owner: str, method: str, out_dir: Path) -> None:
    cls = module
    for part in owner.split("."):
        cls = getattr(cls, part)
    current = getattr(cls, method)
    if not getattr(current, "__bench_probe__", False):
        setattr(cls, method, wrap(current, out_dir))


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds ``module`` through the other finders, then patches it once
    its code has run."""

    def __init__(self, module: str, owner: str, method: str, out_dir: Path):
        self.module, self.owner, self.method, self.out_dir = module, owner, method, out_dir

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader, hook = spec.loader, self
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            _patch(module, hook.owner, hook.method, hook.out_dir)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> bool:
    """Arms the probe from the environment (nothing without
    ``NAVLEND_BENCH_PROBE_DIR``); returns whether it did."""
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return False
    module, owner, method = parse_target(os.environ.get(ENV_TARGET, DEFAULT_TARGET))
    out_dir = Path(directory)
    if module in sys.modules:
        _patch(sys.modules[module], owner, method, out_dir)
    else:
        sys.meta_path.insert(0, _PatchOnImport(module, owner, method, out_dir))
    return True
