"""Secrets never enter evidence, logs, Slack or the audit log: one redaction, used by every
capture and every line rollbot writes from what a platform told it.

Evidence packs sit under S3 Object Lock for years and cannot be deleted, so this errs on the
side of redacting. Three rules, applied everywhere in a captured object:

- by place: `kubectl.kubernetes.io/last-applied-configuration` and any annotation holding a
  JSON document (a whole manifest, env values included) are dropped; the values of ConfigMap
  and Secret data keep their key names and become a salted hash (equal values stay equal
  within one pack, so before and after can be compared, but cannot be looked up);
- by name: a value whose key (or, in an env list, whose `name`) reads like a credential;
- by shape: URLs with a password, PEM blocks, JWTs, AWS access keys, `--password=` style
  arguments and long high-entropy strings, wherever they appear in text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections import Counter
from typing import Any

REDACTED = "<redacted>"
_NAME_WORDS = frozenset(
    {
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "dsn",
        "cookie",
        "session",
        "private",
    }
)
_DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
_CONFIG_DATA = frozenset({"data", "stringData", "binaryData"})

# The words that make an argument or an assignment secret. A flag may also be --auth…; a bare
# `auth=` in text is too often a plain word, so assignments leave it out.
_WORDS = r"pass(?:word|wd)?|pwd|secret|token|api[_-]?key|credentials?"
_SECRET_WORD = rf"(?:{_WORDS})"
_SECRET_FLAG_WORD = rf"(?:{_WORDS}|auth)"
_FLAG_NAME = rf"--?[\w-]*{_SECRET_FLAG_WORD}[\w-]*"

_SHAPES = (
    # a URL's password: scheme://user:password@host
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)", re.I), r"\g<keep>"),
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S), ""),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), ""),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), ""),
    # --password=x and --api-key x (a command line), PASSWORD=x (an environment line)
    (
        re.compile(rf"(?P<keep>{_FLAG_NAME}(?:=|\s+))(?!<redacted>)[^\s\"']+", re.I),
        r"\g<keep>",
    ),
    (
        re.compile(rf"(?P<keep>\b[\w-]*{_SECRET_WORD}[\w-]*=)(?!<redacted>)[^\s\"'&]+", re.I),
        r"\g<keep>",
    ),
)
_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


# what comes before the path of a URL: scheme, host and port (the userinfo is its own shape)
_URL_HEAD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/@]*$", re.I)


def _random_segment(segment: str) -> bool:
    """A path segment that is a key (a webhook's secret part), not an id or a word: long and
    above 4 bits a character, which no hex id reaches."""
    return len(segment) >= 16 and _entropy(segment) > 4.0


def _high_entropy(match: re.Match[str]) -> str:
    """Long random-looking strings are keys; hex digests (at most 4 bits a character, like
    image digests and hashes, which evidence needs) are not. A URL's path is judged segment by
    segment, so a link to an approval request stays readable while a webhook's key does not."""
    word = match.group(0)
    if "/" in word and _URL_HEAD.search(match.string, 0, match.start()):
        return "/".join(REDACTED if _random_segment(s) else s for s in word.split("/"))
    return REDACTED if _random_word(word) else word


def _random_word(word: str) -> bool:
    """Above 4.3 bits a character, or above hex's 4 bits with upper case, lower case and digits
    mixed as base64 mixes them: a short random key can fall under 4.3 by chance (a 40-character
    one measured 4.17), while identifiers and digests do not mix all three."""
    entropy = _entropy(word)
    mixed = any(c.isupper() for c in word) and any(c.islower() for c in word)
    return entropy > 4.3 or (entropy > 4.0 and mixed and any(c.isdigit() for c in word))


def redact_text(text: str) -> str:
    """Every secret-shaped part of a line replaced by <redacted>."""
    for pattern, keep in _SHAPES:
        text = pattern.sub(keep + REDACTED, text)
    return _CANDIDATE.sub(_high_entropy, text)


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


# A bare `key` names a key (an S3 object's, a Secret's entry): only these make it a secret.
_KEY_KINDS = frozenset({"api", "private", "access", "secret", "signing", "encryption", "ssh"})


def credential_name(name: str) -> bool:
    """DB_PASS, apiKey, x-auth-token, SESSION_COOKIE: a name that says its value is secret."""
    words = _words(name)
    keyed = any(w == "key" and i and words[i - 1] in _KEY_KINDS for i, w in enumerate(words))
    return (
        keyed
        or any(w in _NAME_WORDS for w in words)
        or "".join(words).endswith(("password", "apikey", "secret", "token"))
    )


def _holds_document(value: str) -> bool:
    text = value.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def _annotations(found: dict[str, Any], salt: str) -> dict[str, Any]:
    return {
        k: REDACTED
        if k in _DROPPED_ANNOTATIONS or (isinstance(v, str) and _holds_document(v))
        else redact(v, salt)
        for k, v in found.items()
    }


def fingerprint(value: str, salt: str) -> str:
    """A value's salted hash: the same within one pack, useless for guessing."""
    return "hmac-sha256:" + hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


def _mapping(obj: dict[str, Any], salt: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "annotations" and isinstance(value, dict):
            out[key] = _annotations(value, salt)
        elif key in _CONFIG_DATA and isinstance(value, dict):
            out[key] = {k: fingerprint(str(v), salt) for k, v in value.items()}
        elif isinstance(value, str) and credential_name(key):
            out[key] = REDACTED
        else:
            out[key] = redact(value, salt)
    # an env entry: {name: DB_PASS, value: ...}
    if isinstance(out.get("name"), str) and "value" in out and credential_name(out["name"]):
        out["value"] = REDACTED
    return out


_FLAG = re.compile(rf"^{_FLAG_NAME}$", re.I)


def _sequence(items: list[Any], salt: str) -> list[Any]:
    """A list, where `["--password", "x"]` (a flag, then its value) hides the value too."""
    out: list[Any] = []
    for i, item in enumerate(items):
        flagged = i > 0 and isinstance(items[i - 1], str) and _FLAG.match(items[i - 1])
        out.append(REDACTED if flagged and isinstance(item, str) else redact(item, salt))
    return out


def redact(obj: Any, salt: str = "") -> Any:
    """A captured object with every secret gone (see the module's rules). Pure: the input is
    not changed."""
    if isinstance(obj, dict):
        return _mapping(obj, salt)
    if isinstance(obj, list | tuple):
        return _sequence(list(obj), salt)
    if isinstance(obj, str):
        return redact_text(obj)
    return obj
