"""The submission routes and the tip as ``build_keeper`` hands them to the
transaction manager (kept apart from keepers/wiring.py, which the rest of
the keeper's parts share)."""

from __future__ import annotations

from typing import Any

from keepers.chain import Rpc
from keepers.config import KeeperConfig
from keepers.profit import tip_policy_from_config
from keepers.submit import Sender, sender_from_config
from keepers.tipping import RequestTip


def submission_sender(config: KeeperConfig, w3: Any) -> Sender | None:
    """The configured routes, or None for the node alone (the default
    ``public``: the transaction manager's own send, as before)."""
    if tuple(config.submit_routes) == ("public",):
        return None
    return sender_from_config(config, Rpc(w3).request)


def request_tip(config: KeeperConfig, spending: Any) -> RequestTip:
    """``tip_share_bps`` of each request's expected profit at the live ETH
    price (``spending.price``, the config's ``eth_usd`` until it is read);
    with a share of 0 every tip is the priority fee, as before."""

    def base_per_eth() -> int:
        price = getattr(spending, "price", None)
        return price.base_per_eth if price is not None else config.eth_usd_base

    return RequestTip(tip_policy_from_config(config), base_per_eth)
