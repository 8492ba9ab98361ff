"""The keeper signs a block's liquidations back to back: with pure-Python
secp256k1 that is ~20 ms a signature, enough to push the last of 100 sends
past the 2-block target. ``coincurve`` (pinned in pyproject.toml) gives
eth-keys libsecp256k1; this pins that it is the backend in use, so a
dependency change cannot silently slow the keeper down."""

from eth_keys import KeyAPI
from eth_keys.backends import CoinCurveECCBackend, NativeECCBackend


def test_signing_backend__default__is_libsecp256k1():
    assert isinstance(KeyAPI().backend, CoinCurveECCBackend)


def test_signing_backend__both__sign_the_same_bytes():
    """The fast backend is a drop-in: same key, same message, same signature."""
    key = b"\x11" * 32
    message_hash = b"\x22" * 32
    fast = KeyAPI(CoinCurveECCBackend()).PrivateKey(key).sign_msg_hash(message_hash)
    slow = KeyAPI(NativeECCBackend()).PrivateKey(key).sign_msg_hash(message_hash)
    assert fast.to_bytes() == slow.to_bytes()
