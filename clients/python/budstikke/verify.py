"""Offline verification of the Budstikke audit log, in pure Python.

- RFC 9162 §2.1 Merkle tree hashing: :func:`leaf_hash`, :func:`node_hash`,
  :func:`root_hash` (of a list of leaves, for tests and small logs).
- RFC 9162 §2.1.3.2 inclusion and §2.1.4.2 consistency proof verification:
  :func:`verify_inclusion`, :func:`verify_consistency`.
- C2SP signed notes with Ed25519 (https://c2sp.org/signed-note) and
  tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint):
  :func:`parse_verifier_key`, :func:`verify_note`, :func:`verify_checkpoint`.

Every ``verify_*`` function raises :class:`budstikke.VerificationError` when the
data does not verify and returns normally (or the parsed result) when it does.
Ed25519 needs ``cryptography`` (Debian: python3-cryptography); hashing and proofs
need only the standard library.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

from budstikke.errors import VerificationError

__all__ = ["leaf_hash", "node_hash", "root_hash", "inclusion_path", "consistency_path",
           "root_from_inclusion", "verify_inclusion", "verify_consistency", "VerifierKey",
           "parse_verifier_key", "verify_note", "Checkpoint", "parse_checkpoint",
           "verify_checkpoint"]

_ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash + space


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf_data: bytes) -> bytes:
    """SHA-256(0x00 || leaf_data)."""
    return _sha256(b"\x00" + bytes(leaf_data))


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + bytes(left) + bytes(right))


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf data (not hashes), RFC 9162 §2.1.1."""
    if not leaves:
        return _sha256(b"")
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _split(len(leaves))
    return node_hash(root_hash(leaves[:k]), root_hash(leaves[k:]))


def inclusion_path(index: int, leaves: Sequence[bytes]) -> List[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1 (reference implementation, for tests)."""
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_path(index, leaves[:k]) + [root_hash(leaves[k:])]
    return inclusion_path(index - k, leaves[k:]) + [root_hash(leaves[:k])]


def consistency_path(m: int, leaves: Sequence[bytes]) -> List[bytes]:
    """PROOF(m, D[n]), RFC 9162 §2.1.4.1 (reference implementation, for tests)."""

    def sub(m: int, d: Sequence[bytes], b: bool) -> List[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [root_hash(d)]
        k = _split(n)
        if m <= k:
            return sub(m, d[:k], b) + [root_hash(d[k:])]
        return sub(m - k, d[k:], False) + [root_hash(d[:k])]

    if m == 0 or m >= len(leaves):
        return []
    return sub(m, leaves, True)


def root_from_inclusion(leaf: bytes, index: int, tree_size: int,
                        path: Sequence[bytes]) -> bytes:
    """The root hash implied by an inclusion proof (RFC 9162 §2.1.3.2)."""
    if index >= tree_size:
        raise VerificationError("inclusion proof: index %d not below tree size %d"
                                % (index, tree_size))
    fn, sn, r = index, tree_size - 1, bytes(leaf)
    for p in path:
        if len(p) != 32:
            raise VerificationError("inclusion proof: a path entry is not 32 bytes")
        if sn == 0:
            raise VerificationError("inclusion proof: path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof: path too short")
    return r


def verify_inclusion(leaf: bytes, index: int, tree_size: int, path: Sequence[bytes],
                     root: bytes) -> None:
    """Checks that the leaf hash ``leaf`` is at ``index`` in the tree of ``tree_size``
    with root hash ``root``."""
    if root_from_inclusion(leaf, index, tree_size, path) != bytes(root):
        raise VerificationError("inclusion proof: root hash mismatch (index %d, size %d)"
                                % (index, tree_size))


def verify_consistency(first: int, second: int, path: Sequence[bytes], first_root: bytes,
                       second_root: bytes) -> None:
    """Checks that the tree of size ``second`` extends the tree of size ``first``
    (RFC 9162 §2.1.4.2)."""
    path = [bytes(p) for p in path]
    if any(len(p) != 32 for p in path):
        raise VerificationError("consistency proof: a path entry is not 32 bytes")
    if first > second:
        raise VerificationError("consistency proof: first %d > second %d" % (first, second))
    if first == second:
        if path or bytes(first_root) != bytes(second_root):
            raise VerificationError("consistency proof: equal sizes need equal roots "
                                    "and an empty path")
        return
    if first == 0:
        if path:
            raise VerificationError("consistency proof: non-empty path from size 0")
        return
    if not path:
        raise VerificationError("consistency proof: empty path")
    if first & (first - 1) == 0:  # exact power of two
        path = [bytes(first_root)] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof: path too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof: path too short")
    if fr != bytes(first_root) or sr != bytes(second_root):
        raise VerificationError("consistency proof: root hash mismatch (%d -> %d)"
                                % (first, second))


# -- C2SP signed notes ---------------------------------------------------------------

@dataclass(frozen=True)
class VerifierKey:
    """A parsed note verifier key ``<name>+<hex keyhash>+<base64(0x01 || pub)>``."""
    name: str
    key_hash: bytes
    public_key: bytes


def _key_hash(name: str, alg_and_key: bytes) -> bytes:
    return _sha256(name.encode("utf-8") + b"\n" + alg_and_key)[:4]


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Parses and checks a verifier key string (name, key hash and Ed25519 key)."""
    parts = vkey.strip().split("+", 2)  # base64 may contain "+"
    if len(parts) != 3 or not parts[0]:
        raise VerificationError("verifier key: expected <name>+<keyhash>+<key>")
    name, hex_hash, b64 = parts
    if any(ch.isspace() for ch in name):
        raise VerificationError("verifier key: name contains white space")
    try:
        key_hash = bytes.fromhex(hex_hash)
        raw = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise VerificationError("verifier key: malformed key hash or base64") from None
    if len(key_hash) != 4 or len(raw) != 33 or raw[0] != _ALG_ED25519:
        raise VerificationError("verifier key: not an Ed25519 key (0x01 + 32 bytes)")
    if _key_hash(name, raw) != key_hash:
        raise VerificationError("verifier key: key hash does not match name and key")
    return VerifierKey(name, key_hash, raw[1:])


def _ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:  # pragma: no cover
        raise VerificationError("Ed25519 verification needs the `cryptography` package "
                                "(Debian: python3-cryptography)") from None
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def verify_note(note: str, vkey: str) -> str:
    """Verifies a C2SP signed note against a verifier key; returns the note text
    (everything before the blank line, with its final newline)."""
    key = parse_verifier_key(vkey)
    if "\r" in note:
        raise VerificationError("note: carriage return not allowed (LF only)")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise VerificationError("note: no signature block (text, blank line, signatures)")
    text, sig_block = note[:split + 1], note[split + 2:]
    found = False
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(_SIG_PREFIX):
            raise VerificationError("note: malformed signature line")
        rest = line[len(_SIG_PREFIX):]
        name, _, b64 = rest.partition(" ")
        try:
            sig = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise VerificationError("note: malformed signature base64") from None
        if len(sig) < 5:
            raise VerificationError("note: signature too short")
        if name != key.name or sig[:4] != key.key_hash:
            continue  # a signature by another key: allowed, not ours
        if len(sig) != 4 + 64 or not _ed25519_verify(key.public_key, sig[4:],
                                                     text.encode("utf-8")):
            raise VerificationError("note: invalid signature by %s" % key.name)
        found = True
    if not found:
        raise VerificationError("note: no signature by %s" % key.name)
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A parsed C2SP tlog checkpoint (verified when from :func:`verify_checkpoint`)."""
    origin: str
    size: int
    root_hash: bytes
    extensions: Tuple[str, ...] = field(default_factory=tuple)
    note: str = ""


def parse_checkpoint(text: str) -> Checkpoint:
    """Parses a checkpoint body: origin, decimal size, base64 root hash, extensions."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise VerificationError("checkpoint: expected origin, size and root hash lines")
    origin, size_s, root_b64 = lines[0], lines[1], lines[2]
    if not origin or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise VerificationError("checkpoint: malformed origin or size")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except (ValueError, binascii.Error):
        raise VerificationError("checkpoint: malformed root hash") from None
    if len(root) != 32:
        raise VerificationError("checkpoint: root hash is not 32 bytes")
    return Checkpoint(origin, int(size_s), root, tuple(lines[3:-1]))


def verify_checkpoint(signed_note: str, vkey: str) -> Checkpoint:
    """Verifies the note's signature and that the origin equals the key's name;
    returns the checkpoint."""
    text = verify_note(signed_note, vkey)
    cp = parse_checkpoint(text)
    name = parse_verifier_key(vkey).name
    if cp.origin != name:
        raise VerificationError("checkpoint: origin %r is not the key name %r"
                                % (cp.origin, name))
    return Checkpoint(cp.origin, cp.size, cp.root_hash, cp.extensions, signed_note)
