"""``devkit/bigbook_checks.py``'s nonce check, without a chain: a node
double answers the signer's nonce."""

from __future__ import annotations

from dataclasses import dataclass

from devkit.bigbook_checks import nonce_of, sequence_problems

SENDER = "0x" + "5e" * 20


@dataclass
class Node:
    nonce: int

    def rpc(self, method: str, *params):
        assert (method, params) == ("eth_getTransactionCount", (SENDER, "latest"))
        return hex(self.nonce)


def test_sequence_problems__consecutive_nonces_all_succeeded__none():
    sent = {"0xa": (3, 1), "0xb": (4, 1), "0xc": (5, 1)}
    assert nonce_of(Node(6), SENDER) == 6
    assert sequence_problems(Node(6), SENDER, 3, sent) == []


def test_sequence_problems__a_nonce_missing_and_a_failure__both_named():
    sent = {"0xa": (3, 1), "0xc": (5, 0)}
    problems = sequence_problems(Node(6), SENDER, 3, sent)
    assert len(problems) == 2
    assert "[3, 5] are not consecutive" in problems[0] and "[3, 4, 5]" in problems[0]
    assert "0xc" in problems[1]
