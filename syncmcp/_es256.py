"""ES256 client assertions for ``private_key_jwt``: P-256 keys, signatures and the assertion JWT.

RFC 7523 client assertions signed with ECDSA P-256 / SHA-256 (RFC 7518 §3.4), in plain Python:
affine point arithmetic, RFC 6979 deterministic nonces (no random-number weakness can leak the
key), and the DER inside PKCS#8 and SEC 1 PEM private keys. Not constant-time: fine for a client
signing an assertion per token request, not for a signing service. Nothing here knows OAuth but
the assertion's claims; no message quotes a key.

Example::

    key = load_p256_private_key(pem)          # the private scalar; ValueError for anything else
    assertion = client_assertion("my-client", "https://auth.example.com", key)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Iterable, List, Optional, Tuple

__all__ = ["client_assertion", "es256_sign", "load_p256_private_key"]

#: Seconds a private_key_jwt client assertion is valid.
_ASSERTION_LIFETIME = 300

_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
_OID_P256 = bytes.fromhex("2a8648ce3d030107")

_Point = Optional[Tuple[int, int]]


def _point_add(p: _Point, q: _Point) -> _Point:
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return None
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _scalar_mult(k: int, point: _Point) -> _Point:
    result: _Point = None
    addend = point
    while k:
        if k & 1:
            result = _point_add(result, addend)
        addend = _point_add(addend, addend)
        k >>= 1
    return result


def _rfc6979_nonces(key: int, digest: bytes) -> Iterable[int]:
    """Deterministic ECDSA nonces for P-256 with HMAC-SHA256 (RFC 6979 §3.2)."""
    x = key.to_bytes(32, "big")
    h = (int.from_bytes(digest, "big") % _N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 1 <= candidate < _N:
            yield candidate
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def es256_sign(key: int, message: bytes) -> bytes:
    """The JWS ES256 signature of ``message``: ``r || s``, 32 bytes each."""
    digest = hashlib.sha256(message).digest()
    e = int.from_bytes(digest, "big")
    for nonce in _rfc6979_nonces(key, digest):
        point = _scalar_mult(nonce, _G)
        assert point is not None
        r = point[0] % _N
        s = pow(nonce, -1, _N) * (e + r * key) % _N
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise AssertionError("unreachable")  # pragma: no cover


def _der(data: bytes, pos: int) -> Tuple[int, bytes, int]:
    """``(tag, contents, next position)`` of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[pos : pos + length], pos + length


def _der_children(data: bytes) -> List[Tuple[int, bytes]]:
    children = []
    pos = 0
    while pos < len(data):
        tag, contents, pos = _der(data, pos)
        children.append((tag, contents))
    return children


def _ec_private_key(der: bytes) -> int:
    """The scalar of a SEC 1 ``ECPrivateKey`` on P-256."""
    tag, body, _ = _der(der, 0)
    items = _der_children(body) if tag == 0x30 else []
    if len(items) < 2 or items[0] != (0x02, b"\x01") or items[1][0] != 0x04:
        raise ValueError("not an EC private key")
    for item_tag, contents in items[2:]:
        if item_tag == 0xA0 and _der(contents, 0)[1] != _OID_P256:
            raise ValueError("the key is not on the P-256 curve")
    key = int.from_bytes(items[1][1], "big")
    if not 1 <= key < _N:
        raise ValueError("the private key is out of range")
    return key


def load_p256_private_key(pem: str) -> int:
    """The private scalar of a PKCS#8 (``PRIVATE KEY``) or SEC 1 (``EC PRIVATE KEY``) P-256 PEM key.

    Raises:
        ValueError: not such a key (the message never quotes the key).
    """
    match = re.search(r"-----BEGIN (EC )?PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END \1?PRIVATE KEY-----", pem)
    if match is None:
        raise ValueError("private_key_pem is not a PEM 'PRIVATE KEY' or 'EC PRIVATE KEY'")
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
        if match.group(1):
            return _ec_private_key(der)
        tag, body, _ = _der(der, 0)
        items = _der_children(body) if tag == 0x30 else []
        if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
            raise ValueError("not a PKCS#8 private key")
        algorithm = [contents for _tag, contents in _der_children(items[1][1])]
        if algorithm[:2] != [_OID_EC_PUBLIC_KEY, _OID_P256]:
            raise ValueError("not a P-256 EC key")
        return _ec_private_key(items[2][1])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"private_key_pem: {exc}") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def client_assertion(client_id: str, audience: str, key: int) -> str:
    """A signed RFC 7523 client assertion JWT for the token endpoint of ``audience``."""
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT"}
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + _ASSERTION_LIFETIME}
    claims["jti"] = secrets.token_urlsafe(16)
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return f"{signing_input}.{_b64url(es256_sign(key, signing_input.encode('ascii')))}"
