"""budstikke.verify offline: RFC 9162 proofs and C2SP signed notes (no server)."""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import budstikke
from budstikke import verify as v

LEAVES = [("event-%d" % i).encode() for i in range(17)]


def test_known_roots():
    # RFC 9162: the empty tree's hash is SHA-256 of the empty string.
    assert v.root_hash([]) == hashlib.sha256(b"").digest()
    assert v.root_hash([b"a"]) == hashlib.sha256(b"\x00a").digest()
    ab = hashlib.sha256(b"\x01" + v.leaf_hash(b"a") + v.leaf_hash(b"b")).digest()
    assert v.root_hash([b"a", b"b"]) == ab
    assert v.root_hash([b"a", b"b", b"c"]) == v.node_hash(ab, v.leaf_hash(b"c"))


@pytest.mark.parametrize("size", range(1, 18))
def test_inclusion_every_index(size):
    leaves = LEAVES[:size]
    root = v.root_hash(leaves)
    for i in range(size):
        path = v.inclusion_path(i, leaves)
        v.verify_inclusion(v.leaf_hash(leaves[i]), i, size, path, root)
        with pytest.raises(budstikke.VerificationError):
            v.verify_inclusion(v.leaf_hash(b"other"), i, size, path, root)
        if path:
            with pytest.raises(budstikke.VerificationError):
                v.verify_inclusion(v.leaf_hash(leaves[i]), i, size, path[:-1], root)
            with pytest.raises(budstikke.VerificationError):
                v.verify_inclusion(v.leaf_hash(leaves[i]), i, size, path + [root], root)
    with pytest.raises(budstikke.VerificationError):
        v.verify_inclusion(v.leaf_hash(leaves[0]), size, size, [], root)


@pytest.mark.parametrize("second", range(1, 18))
def test_consistency_every_pair(second):
    root2 = v.root_hash(LEAVES[:second])
    for first in range(1, second + 1):
        root1 = v.root_hash(LEAVES[:first])
        path = v.consistency_path(first, LEAVES[:second])
        v.verify_consistency(first, second, path, root1, root2)
        with pytest.raises(budstikke.VerificationError):
            v.verify_consistency(first, second, path, v.leaf_hash(b"x"), root2)
        if first < second:
            with pytest.raises(budstikke.VerificationError):
                v.verify_consistency(first, second, path, root1, v.leaf_hash(b"x"))
            with pytest.raises(budstikke.VerificationError):
                v.verify_consistency(first, second, path[:-1], root1, root2)
    with pytest.raises(budstikke.VerificationError):
        v.verify_consistency(second + 1, second, [], root2, root2)


def _key(name="example.test/audit"):
    priv = Ed25519PrivateKey.generate()
    pub = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kh = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    vkey = "%s+%s+%s" % (name, kh.hex(), base64.b64encode(b"\x01" + pub).decode())
    return priv, kh, vkey


def _sign(priv, kh, name, text):
    sig = base64.b64encode(kh + priv.sign(text.encode())).decode()
    return text + "\n\u2014 %s %s\n" % (name, sig)


def test_signed_checkpoint_round_trip():
    name = "example.test/audit"
    priv, kh, vkey = _key(name)
    root = v.root_hash(LEAVES[:5])
    text = "%s\n5\n%s\n" % (name, base64.b64encode(root).decode())
    cp = v.verify_checkpoint(_sign(priv, kh, name, text), vkey)
    assert (cp.origin, cp.size, cp.root_hash) == (name, 5, root)
    # Another key's extra signature is allowed.
    other_priv, other_kh, _ = _key("witness.test")
    cosigned = _sign(priv, kh, name, text) + "\u2014 witness.test %s\n" % base64.b64encode(
        other_kh + other_priv.sign(text.encode())).decode()
    assert v.verify_checkpoint(cosigned, vkey).size == 5


@pytest.mark.parametrize("mutate", [
    lambda n: n.replace("\n5\n", "\n6\n"),            # changed size
    lambda n: n.replace("\n\n", "\n"),                # no blank line
    lambda n: n.replace("\n", "\r\n"),                # CRLF
    lambda n: n[:-1],                                 # no final newline
])
def test_tampered_notes_fail(mutate):
    name = "example.test/audit"
    priv, kh, vkey = _key(name)
    text = "%s\n5\n%s\n" % (name, base64.b64encode(b"\x00" * 32).decode())
    with pytest.raises(budstikke.VerificationError):
        v.verify_checkpoint(mutate(_sign(priv, kh, name, text)), vkey)


def test_wrong_key_and_origin():
    name = "example.test/audit"
    priv, kh, vkey = _key(name)
    _, _, other_vkey = _key(name)
    text = "%s\n1\n%s\n" % (name, base64.b64encode(b"\x00" * 32).decode())
    with pytest.raises(budstikke.VerificationError, match="no signature by"):
        v.verify_checkpoint(_sign(priv, kh, name, text), other_vkey)
    bad_origin = "other/origin\n1\n%s\n" % base64.b64encode(b"\x00" * 32).decode()
    with pytest.raises(budstikke.VerificationError, match="origin"):
        v.verify_checkpoint(_sign(priv, kh, name, bad_origin), vkey)


def test_parse_verifier_key_checks_hash():
    _, _, vkey = _key()
    name, kh, key = vkey.split("+", 2)
    bad = "%s+%s+%s" % (name, "00000000", key)
    with pytest.raises(budstikke.VerificationError, match="key hash"):
        v.parse_verifier_key(bad)
    assert v.parse_verifier_key(vkey).name == name
