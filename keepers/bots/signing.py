"""What both signing bots (the liquidator, the sharded keeper's submitter)
build first, at import, in the main thread: the Silverback bot with its
signer unlocked, and the process's brakes."""

from __future__ import annotations

from silverback import SilverbackBot

from keepers.brakes import Brakes
from keepers.config import KeeperConfig
from keepers.passphrase import PassphraseError, signer_passphrase
from keepers.wiring import process_brakes


def signing_bot(config: KeeperConfig) -> tuple[SilverbackBot, Brakes]:
    """The bot, its keyfile signer unlocked with ``passphrase_file`` while
    Silverback builds it (exits with the reason when the file is unsafe or
    unreadable), and the brakes, whose operator signals need the main
    thread."""
    try:
        with signer_passphrase(config.signer_alias, config.passphrase_file):
            bot = SilverbackBot(signer_required=True)
    except PassphraseError as err:
        raise SystemExit(str(err)) from None
    return bot, process_brakes(config)
