"""The signer's passphrase, from a file, for Ape's encrypted accounts.

Ape 0.8's keyfile accounts (``ape accounts import/generate``) unlock
without a prompt when ``APE_ACCOUNTS_<alias>_PASSPHRASE`` is set, and
Silverback unlocks its signer (``set_autosign``) while the bot object is
built. :func:`signer_passphrase` reads ``passphrase_file`` (refusing one
that its group or others may read), sets that variable for exactly that
moment, and takes it out of the environment again, so that no child
process inherits it. The passphrase is never logged.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

# Longer is not a passphrase file: a wrong path (a key store, a log).
MAX_BYTES = 4096


class PassphraseError(ValueError):
    """The passphrase file cannot be used; the message says why."""


def passphrase_variable(alias: str) -> str:
    """The variable Ape's ``KeyfileAccount.unlock`` reads."""
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


def check_passphrase_file(path: Path) -> None:
    """Refuses a file that is missing, not a regular file, readable or
    writable by group or others, empty or too long, without reading it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise PassphraseError(f"passphrase_file: {path} does not exist") from None
    except OSError as exc:
        raise PassphraseError(f"passphrase_file: {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise PassphraseError(f"passphrase_file: {path} is not a regular file")
    if info.st_mode & 0o077:
        raise PassphraseError(
            f"passphrase_file: {path} has mode {stat.S_IMODE(info.st_mode):04o}: group or others may read it "
            f"(chmod 600 {path})"
        )
    if info.st_size > MAX_BYTES:
        raise PassphraseError(f"passphrase_file: {path} is {info.st_size} bytes: not a passphrase file")
    if info.st_size == 0:
        raise PassphraseError(f"passphrase_file: {path} is empty")


def read_passphrase(path: Path) -> str:
    """The file's passphrase, without its final newline, once
    :func:`check_passphrase_file` accepts the file."""
    check_passphrase_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PassphraseError(f"passphrase_file: {path} cannot be read: {exc}") from None
    passphrase = text.removesuffix("\n").removesuffix("\r")
    if not passphrase:
        raise PassphraseError(f"passphrase_file: {path} is empty")
    return passphrase


@contextmanager
def signer_passphrase(
    alias: str, path: Path | None, environ: MutableMapping[str, str] | None = None
) -> Iterator[None]:
    """Within the block, Ape finds ``alias``'s passphrase in the
    environment; after it, the variable is gone (or back to what it was).
    Nothing happens without a ``path``."""
    if path is None:
        yield
        return
    environ = os.environ if environ is None else environ
    name = passphrase_variable(alias)
    previous = environ.get(name)
    environ[name] = read_passphrase(Path(path))
    try:
        yield
    finally:
        if previous is None:
            environ.pop(name, None)
        else:
            environ[name] = previous
