"""Silverback bot: a simulated fund administrator for local worlds. It
publishes each fund's NAV once per business day (the strike after the
oracle's latest round, once the chain time has passed it), accrued at the
fund's yield. Rules and configuration: ``keepers/navreport.py``.

Run it with the oracles' updater as signer (``ape run deploy`` makes test
account 0 the updater)::

    APE_FOUNDRY_HOST=http://127.0.0.1:8545 \\
    NAVLEND_REPORTER_DEPLOYMENTS_FILE=deployments/local.json \\
    silverback run keepers.bots.nav_reporter:bot --network ethereum:local:foundry --account TEST::0

A failed publication is logged and retried on the next block; it never
stops the bot. At start it refuses to run if the signer is not the updater
of every feed.

The oracles are the project's ``NavOracle`` type at the deployed addresses
(``ape.Contract(address)`` only knows a local network's contracts in the
process that deployed them). Feeds due in the same block go out back to
back with consecutive nonces (``NonceCounter``), so they land together.
"""

from __future__ import annotations

import structlog
from ape import chain, project
from silverback import SilverbackBot
from silverback.exceptions import CircuitBreaker

from keepers.config import ConfigError
from keepers.logs import configure_logging
from keepers.navreport import NonceCounter, SentStrikes, accrued_nav, due_strike, load_reporter_config, within_move

configure_logging()
log = structlog.get_logger("keepers.bots.nav_reporter")

bot = SilverbackBot(signer_required=True)
feeds: list = []
nonces = NonceCounter()
sent = SentStrikes()


@bot.on_startup()
def startup(startup_state):
    try:
        config = load_reporter_config()
    except ConfigError as err:
        raise CircuitBreaker(str(err)) from None
    signer = str(bot.signer.address)
    for spec in config.feeds:
        oracle = project.NavOracle.at(spec.oracle)
        updater = str(oracle.updater())
        if updater != signer:
            raise CircuitBreaker(f"{spec.name}: the signer {signer} is not the oracle's updater {updater}")
        feeds.append((spec, oracle))
    log.info("nav reporter ready", feeds=[s.name for s, _ in feeds], signer=signer)


@bot.on_(chain.blocks)
def publish_due(block):
    published = 0
    for spec, oracle in feeds:
        blog = log.bind(block=block.number, feed=spec.name)
        try:
            _, answer, _, as_of, _ = oracle.latestRoundData()
            if oracle.pending_round().answer != 0:
                blog.info("a NAV move waits for the guardian; not publishing over it")
                continue
            strike = due_strike(as_of, block.timestamp, oracle.min_interval())
            if strike is None:
                continue
            if not sent.should_send(spec.name, strike, block.number):
                continue  # sent in an earlier block, not mined yet
            nav = accrued_nav(answer, spec.apy_bps, strike - as_of)
            if not within_move(answer, nav, oracle.max_move_bps()):
                blog.warning("accrued NAV exceeds the oracle's move bound; not publishing", nav=nav)
                continue
            nonce = nonces.take(chain.provider.web3.eth.get_transaction_count(bot.signer.address, "pending"))
            try:
                receipt = oracle.publish(nav, strike, sender=bot.signer, nonce=nonce)
            except Exception:
                # Not sent, or sent and failed: the pending count tells
                # the next take which.
                nonces.release(nonce)
                raise
            sent.sent(spec.name, strike, block.number)
            published += 1
            blog.info("published NAV", nav=nav, as_of=strike, nonce=nonce, tx=str(receipt.txn_hash))
        except Exception as err:  # an RPC fault or a revert: retry next block
            blog.warning("publication failed; will retry", error=str(err)[:300])
    return {"navs_published": published}
