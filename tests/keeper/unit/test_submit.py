"""Submission routes (keepers/submit.py): configuration, the fallback
order, bundles and their window, and the keeper's config checks. HTTP is a
recording transport; no network, no chain."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from keepers.config import ConfigError, load_config
from keepers.rpc import HttpReply
from keepers.submit import (
    BundleBook,
    RouteConfigError,
    RouteName,
    SendFailed,
    Sender,
    bundle_params,
    bundle_targets,
    is_final_answer,
    parse_routes,
    read_reply,
    tx_hash,
)
from keepers.types import to_address
from keepers.wiring_routes import request_tip, submission_sender

ADDRESSES = {
    "NAVLEND_KEEPER_MARKET": to_address("0x" + "3a" * 20),
    "NAVLEND_KEEPER_LENS": to_address("0x" + "1e" * 20),
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": to_address("0x" + "f1" * 20),
    "NAVLEND_KEEPER_NAV_ORACLES": to_address("0x" + "0a" * 20),
    "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
}
RAW = "0x02f86c0180843b9aca00850ba43b7400825208940000000000000000000000000000000000000001"
PRIVATE, BUILDER_A, BUILDER_B, SEQUENCER = ("http://private.test", "http://builder-a.test",
                                            "http://builder-b.test", "http://sequencer.test")


def ok(result) -> HttpReply:
    return HttpReply(200, {}, json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode())


def rpc_error(message: str) -> HttpReply:
    return HttpReply(200, {}, json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000,
                                                                               "message": message}}).encode())


@dataclass
class Wire:
    """A transport answering per URL: a reply, or an exception raised."""

    answers: dict[str, HttpReply | Exception] = field(default_factory=dict)
    posts: list[tuple[str, dict]] = field(default_factory=list)

    def post(self, url: str, body: bytes, timeout: float) -> HttpReply:
        self.posts.append((url, json.loads(body)))
        answer = self.answers.get(url, ok("0x" + "ab" * 32))
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Node:
    """The keeper's node: its eth_sendRawTransaction and head."""

    head: int = 100
    fail: Exception | None = None
    sent: list[str] = field(default_factory=list)

    def request(self, method: str, params: list):
        if method == "eth_blockNumber":
            return hex(self.head)
        assert method == "eth_sendRawTransaction"
        if self.fail is not None:
            raise self.fail
        self.sent.append(params[0])
        return tx_hash(params[0])


def sender(names, wire: Wire, node: Node, blocks: int = 3) -> Sender:
    routes = parse_routes(names, PRIVATE, (BUILDER_A, BUILDER_B), SEQUENCER, blocks)
    return Sender(routes, node.request, transport=wire)


# ---------------------------------------------------------------- configuration


def test_parse_routes__order_kept__each_route_with_its_urls():
    routes = parse_routes(["bundle", "private", "public"], PRIVATE, (BUILDER_A, BUILDER_B), None, 2)

    assert routes.names == (RouteName.BUNDLE, RouteName.PRIVATE, RouteName.PUBLIC)
    assert routes.get(RouteName.BUNDLE).urls == (BUILDER_A, BUILDER_B)
    assert routes.get(RouteName.PRIVATE).urls == (PRIVATE,) and routes.get(RouteName.PUBLIC).urls == ()
    assert routes.bundle_blocks == 2 and routes.get(RouteName.SEQUENCER) is None


@pytest.mark.parametrize(
    "names, private, builders, sequencer, message",
    [
        (["private"], None, (), None, "route 'private' needs private_rpc_url"),
        (["bundle", "public"], None, (), None, "route 'bundle' needs builder_urls"),
        (["sequencer"], None, (), None, "route 'sequencer' needs sequencer_url"),
        (["flashbots"], None, (), None, "unknown route 'flashbots'"),
        (["public", "public"], None, (), None, "named twice"),
        ([], None, (), None, "at least one route"),
        (["private"], "ws://relay", (), None, r"not an http\(s\) URL"),
    ],
)
def test_parse_routes__bad_configuration__refused_naming_the_mistake(names, private, builders, sequencer, message):
    with pytest.raises(RouteConfigError, match=message):
        parse_routes(names, private, builders, sequencer)


def test_parse_routes__bundle_window_out_of_range__refused():
    with pytest.raises(RouteConfigError, match="bundle_blocks: 0"):
        parse_routes(["public"], bundle_blocks=0)


def test_load_config__routes_from_environment__read_in_order():
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_SUBMIT_ROUTES": "bundle, public",
                              "NAVLEND_KEEPER_BUILDER_URLS": f"{BUILDER_A},{BUILDER_B}"})

    assert config.submit_routes == ("bundle", "public") and config.builder_urls == (BUILDER_A, BUILDER_B)


def test_load_config__default__public_route_only():
    assert load_config(env=ADDRESSES).submit_routes == ("public",)


def test_load_config__route_without_its_url_and_unknown_route__both_reported():
    with pytest.raises(ConfigError) as caught:
        load_config(env={**ADDRESSES, "NAVLEND_KEEPER_SUBMIT_ROUTES": "private,mempool"})

    text = str(caught.value)
    assert "route 'private' needs private_rpc_url" in text and "unknown route 'mempool'" in text


# ---------------------------------------------------------------- pure rules


def test_bundle_targets__from_the_next_block__window_long():
    assert bundle_targets(100, 3) == (101, 102, 103)


def test_bundle_targets__no_window__refused():
    with pytest.raises(ValueError, match="blocks >= 1"):
        bundle_targets(100, 0)


def test_bundle_params__flashbots_shape__hex_block():
    assert bundle_params([RAW], 257) == [{"txs": [RAW], "blockNumber": "0x101"}]


@pytest.mark.parametrize("raws, target, message", [([], 5, "at least one"), (["ab"], 5, "0x-prefixed"),
                                                   ([RAW], 0, "positive block")])
def test_bundle_params__bad_input__refused(raws, target, message):
    with pytest.raises(ValueError, match=message):
        bundle_params(raws, target)


def test_read_reply__result__returned():
    assert read_reply(ok({"bundleHash": "0x01"})) == {"bundleHash": "0x01"}


@pytest.mark.parametrize("reply, message", [
    (HttpReply(503, {}, b"overloaded"), "HTTP 503: overloaded"),
    (rpc_error("bundle rejected"), "JSON-RPC error: bundle rejected"),
    (HttpReply(200, {}, b"<html>"), "not JSON"),
    (HttpReply(200, {}, b'{"jsonrpc": "2.0", "id": 1}'), "no result"),
])
def test_read_reply__failure__error_says_why(reply, message):
    with pytest.raises(ValueError, match=message):
        read_reply(reply)


def test_is_final_answer__settled_or_underpriced__final_else_not():
    assert is_final_answer("JSON-RPC error: nonce too low") and is_final_answer("Transaction underpriced")
    assert not is_final_answer("connection refused") and not is_final_answer("HTTP 502: bad gateway")


def test_bundle_book__only_bundles_all_past_their_window__lapsed():
    book = BundleBook()
    book.offered("0xa", 103)
    book.offered("0xb", 105)

    assert not book.lapsed(["0xa", "0xb"], 103) and book.lapsed(["0xa", "0xb"], 105)
    assert book.open_until("0xb", 104) == 105 and book.open_until("0xa", 104) is None


def test_bundle_book__another_route_took_it__never_lapsed():
    book = BundleBook()
    book.offered("0xa", 103)
    book.took_elsewhere("0xa")

    assert not book.lapsed(["0xa"], 200) and not book.lapsed([], 200) and not book.lapsed(["0xunknown"], 200)


# ---------------------------------------------------------------- the sender


def test_send__public_route__on_the_node():
    node, wire = Node(), Wire()

    sent = sender(["public"], wire, node).send(bytes.fromhex(RAW[2:]))

    assert node.sent == [RAW] and wire.posts == [] and sent.route is RouteName.PUBLIC
    assert sent.tx_hash == tx_hash(RAW)


def test_send__private_route__its_url_not_the_node():
    node, wire = Node(), Wire()

    sent = sender(["private", "public"], wire, node).send(RAW)

    assert node.sent == [] and sent.route is RouteName.PRIVATE
    assert wire.posts == [(PRIVATE, {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                     "params": [RAW]})]


@pytest.mark.parametrize("failure", [ConnectionRefusedError("connection refused"), HttpReply(502, {}, b"bad gateway"),
                                     rpc_error("internal error")])
def test_send__private_route_fails__falls_to_public_each_attempt_recorded(failure):
    node, wire = Node(), Wire({PRIVATE: failure})

    sent = sender(["private", "public"], wire, node).send(RAW)

    assert node.sent == [RAW] and sent.route is RouteName.PUBLIC
    assert [a.route for a in sent.attempts] == [RouteName.PRIVATE, RouteName.PUBLIC]
    assert not sent.attempts[0].ok and sent.attempts[1].ok


def test_send__sequencer_route__its_url():
    node, wire = Node(), Wire()

    sent = sender(["sequencer"], wire, node).send(RAW)

    assert sent.route is RouteName.SEQUENCER and [u for u, _ in wire.posts] == [SEQUENCER]


def test_send__every_route_fails__send_failed_lists_them():
    node, wire = Node(fail=ConnectionError("node down")), Wire({SEQUENCER: ConnectionRefusedError("refused")})

    with pytest.raises(SendFailed, match="every route failed: sequencer: refused; public: node down") as caught:
        sender(["sequencer", "public"], wire, node).send(RAW)

    assert len(caught.value.attempts) == 2


def test_send__final_answer__no_fallback_message_kept():
    node, wire = Node(), Wire({PRIVATE: rpc_error("nonce too low")})

    with pytest.raises(SendFailed, match="nonce too low"):
        sender(["private", "public"], wire, node).send(RAW)

    assert node.sent == []


def test_send__bundle_route__each_builder_each_target_block():
    node, wire = Node(head=100), Wire()

    sent = sender(["bundle", "public"], wire, node, blocks=2).send(RAW)

    assert sent.route is RouteName.BUNDLE and sent.targets == (101, 102) and node.sent == []
    assert [(url, body["method"], body["params"][0]["blockNumber"]) for url, body in wire.posts] == [
        (BUILDER_A, "eth_sendBundle", "0x65"), (BUILDER_B, "eth_sendBundle", "0x65"),
        (BUILDER_A, "eth_sendBundle", "0x66"), (BUILDER_B, "eth_sendBundle", "0x66")]


def test_send__one_builder_down__bundle_still_taken():
    node, wire = Node(), Wire({BUILDER_A: ConnectionRefusedError("refused")})

    sent = sender(["bundle", "public"], wire, node, blocks=1).send(RAW)

    assert sent.route is RouteName.BUNDLE and node.sent == []


def test_send__every_builder_down__falls_to_public():
    node, wire = Node(), Wire({BUILDER_A: ConnectionRefusedError("refused"), BUILDER_B: HttpReply(500, {}, b"")})

    sent = sender(["bundle", "public"], wire, node).send(RAW)

    assert sent.route is RouteName.PUBLIC and node.sent == [RAW]
    assert "no builder took the bundle" in sent.attempts[0].error


def test_send__rebroadcast_inside_its_window__not_sent_again():
    node, wire = Node(head=100), Wire()
    s = sender(["bundle"], wire, node, blocks=3)
    s.send(RAW)
    posts = len(wire.posts)
    node.head = 102

    again = s.send(RAW)

    assert len(wire.posts) == posts and again.targets == (103,)


def test_lapsed__bundle_past_its_last_target__lapsed_not_before():
    node, wire = Node(head=100), Wire()
    s = sender(["bundle"], wire, node, blocks=2)
    s.send(RAW)

    assert not s.lapsed([tx_hash(RAW)], 101) and s.lapsed([tx_hash(RAW)], 102)


def test_lapsed__bundle_failed_then_public_took_it__never_lapsed():
    node, wire = Node(head=100), Wire({BUILDER_A: ConnectionRefusedError("x"), BUILDER_B: ConnectionRefusedError("y")})

    s = sender(["bundle", "public"], wire, node, blocks=1)
    s.send(RAW)

    assert not s.lapsed([tx_hash(RAW)], 500)


def test_behind__sends_inside_collected__one_bundle_behind_the_given_tx_for_the_next_block():
    node, wire = Node(head=100), Wire()
    s = sender(["private", "bundle", "public"], wire, node, blocks=3)
    theirs = "0x02aa"

    with s.behind([theirs]):
        first, second = s.send(RAW), s.send("0x02bb")
        posted_inside = len(wire.posts)
    after = s.send("0x02cc")

    bundles = [b["params"][0] for _, b in wire.posts[:2]]
    assert posted_inside == 0 and first.targets == second.targets == (101,) and node.sent == []
    assert bundles[:2] == [{"txs": [theirs, RAW, "0x02bb"], "blockNumber": "0x65"}] * 2  # each builder
    assert after.route is RouteName.PRIVATE and wire.posts[-1][0] == PRIVATE
    assert s.lapsed([tx_hash(RAW)], 101) and not s.lapsed([tx_hash(RAW)], 100)


def test_behind__no_bundle_route__refused():
    with pytest.raises(ValueError, match="needs the bundle route"):
        with sender(["public"], Wire(), Node()).behind(["0x02aa"]):
            pass


def test_behind__builders_down__nothing_raised_transactions_lapse():
    node, wire = Node(head=100), Wire({BUILDER_A: ConnectionRefusedError("x"), BUILDER_B: ConnectionRefusedError("y")})
    s = sender(["bundle", "public"], wire, node)

    with s.behind(["0x02aa"]):
        s.send(RAW)

    assert node.sent == [] and s.lapsed([tx_hash(RAW)], 101)


# ---------------------------------------------------------------- wiring


def test_submission_sender__default_public__none_the_managers_own_send():
    assert submission_sender(load_config(env=ADDRESSES), w3=None) is None


def test_submission_sender__routes_configured__a_sender_in_that_order():
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_SUBMIT_ROUTES": "private,public",
                              "NAVLEND_KEEPER_PRIVATE_RPC_URL": PRIVATE})

    made = submission_sender(config, w3=None)

    assert made is not None and made.routes.names == (RouteName.PRIVATE, RouteName.PUBLIC)


@dataclass(frozen=True)
class _Price:
    base_per_eth: int


@pytest.mark.parametrize("price, expected", [(None, 3_000 * 10**6), (_Price(2_000 * 10**6), 2_000 * 10**6)])
def test_request_tip__eth_price_live_else_the_configs(price, expected):
    config = load_config(env={**ADDRESSES, "NAVLEND_KEEPER_TIP_SHARE_BPS": "500"})

    tip = request_tip(config, type("Spending", (), {"price": price})())

    assert tip.base_per_eth() == expected and tip.policy.share_bps == 500
