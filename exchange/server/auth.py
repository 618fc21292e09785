"""API keys and Binance's SIGNED endpoint rules: the API-key header, the signature of the
query string followed by the body, the timestamp within recvWindow, and key permissions.

Two key types, as Binance has them (https://developers.binance.com/docs/derivatives/
usds-margined-futures/general-info#signed-trade-and-user_data-endpoint-security, read
2026-12-07): HMAC-SHA256 (the signature is the hex HMAC of the payload with the secret) and
Ed25519 (the signature is the base64 Ed25519 signature of the payload, percent-encoded in a
query string or body; the venue holds only the public key). Ed25519 needs ``cryptography``
(which ccxt installs).
"""
from __future__ import annotations

import base64
import functools
import hmac
from urllib.parse import unquote

import attrs
from aiohttp import web

from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError
from exchange.server.handlers.ws_api import WsRequest
from exchange.server.params import int_param

PERMISSIONS = ("read", "trade")
KEY_TYPES = ("HMAC_SHA256", "ED25519")


@attrs.frozen
class Credentials:
    """An API key pair of one account. ``permissions``: ``("read",)`` for a read-only key
    (Binance's "Enable Reading"), ``("read", "trade")`` to trade too ("Enable Futures").
    ``key_type``: ``"HMAC_SHA256"`` (``secret`` signs and verifies) or ``"ED25519"``
    (``public_key``, PEM, verifies; ``secret`` is the private key's PEM when the mock made
    the pair, what a client such as ccxt takes as its secret, and empty when the key was
    registered from its public half)."""

    api_key: str
    secret: str
    account: int
    permissions: tuple = PERMISSIONS
    key_type: str = "HMAC_SHA256"
    public_key: str = ""


def ed25519_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as PEM text: (private key PKCS#8, public key SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@functools.lru_cache(maxsize=1024)
def ed25519_public_key(pem: str):
    """The Ed25519 public key of ``pem``; ValueError if it is not one."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(pem.encode())
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify(cred: Credentials, payload: str, signature: str) -> bool:
    """Whether ``signature`` (as sent, percent-decoded) signs ``payload`` with ``cred``'s key."""
    if getattr(cred, "key_type", "HMAC_SHA256") == "ED25519":
        from cryptography.exceptions import InvalidSignature

        try:
            raw = base64.b64decode(signature, validate=True)
            ed25519_public_key(cred.public_key).verify(raw, payload.encode())
        except (InvalidSignature, ValueError):
            return False
        return True
    expected = hmac.digest(cred.secret.encode(), payload.encode(), "sha256").hex()
    return hmac.compare_digest(expected, signature.lower())


RECV_WINDOW_MS = 5000


def split_signature(query: str, body: str) -> tuple[str, str | None]:
    """The signed payload (query string, then body, as sent) and the signature parameter,
    which Binance expects last in whichever part carries it."""
    for part in ("body", "query"):
        text = body if part == "body" else query
        head, sep, sig = text.rpartition("signature=")
        if sep and "&" not in sig and (head == "" or head.endswith("&")):
            head = head[:-1] if head.endswith("&") else head
            payload = query + head if part == "body" else head + body
            return payload, sig
    return query + body, None


class Auth:
    """Authenticating requests against the server's keys. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    async def _signed(self, request: web.Request) -> tuple[Credentials, dict[str, str]]:
        """Binance's SIGNED endpoint rules: API key header, HMAC-SHA256 of the query string
        followed by the body, timestamp within recvWindow (a WebSocket API request: its
        sorted parameters, :meth:`~exchange.server.handlers.ws_api.WsApiHandlers._ws_signed`)."""
        if type(request) is WsRequest:
            return self._ws_signed(request)
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        cred = self._keys.get(key)
        if cred is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        # the query string as sent (percent-encoded): what the client signed
        query = self._query(request)
        body = await self._body(request)
        payload, signature = split_signature(query, body)
        if signature is None:
            raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, "
                                      "or malformed.")
        if "%" in signature:                    # an Ed25519 signature: base64, percent-encoded
            signature = unquote(signature)
        if not verify(cred, payload, signature):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        params = self._merge(self._parse(query), self._parse(body))
        params.pop("signature", None)
        return self._admitted(cred, params, request.method)

    def _admitted(self, cred: Credentials, params: dict, method: str):
        """The rules after the signature: the timestamp within recvWindow (at most 60 s),
        the key's permission to trade for anything but a query (``method`` != GET)."""
        ts = int_param(params, "timestamp", required=True)
        window = int_param(params, "recvWindow", default=RECV_WINDOW_MS)
        if not 0 < window <= 60_000:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        now = now_ms()
        if ts > now + 1000 or now - ts > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        if method != "GET" and "trade" not in cred.permissions:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        self._sync_clock()
        return cred, params

    def _api_key_only(self, request) -> Credentials:
        key = request.headers.get("X-MBX-APIKEY")
        cred = self._keys.get(key) if key else None
        if cred is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return cred
