"""The one check of an HTTP caller's credentials: a shared bearer token, or basic auth where a
sender (Alertmanager) can only send that. Compared in constant time, so a wrong token cannot be
found a byte at a time."""

from __future__ import annotations

import base64
import binascii
import hmac


def authorized(header: str, token: str | None, basic: str | None = None) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme == "Bearer" and token:
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme == "Basic" and basic:
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, basic.encode())
    return False
