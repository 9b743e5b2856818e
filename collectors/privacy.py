"""Masking personal data (e-mail addresses, phone numbers, names, addresses) in what Baton
shows or logs: the raw payloads of rejected records, a lead's event data, error messages.

One rule, applied wherever a payload leaves the store for someone who may not see it:
- a key naming a personal field (case-insensitive, at any depth; `E-Mail`, `work_email`,
  `MobilePhone`, `first_name` all count) has its whole value replaced by `MASK`;
- an e-mail address anywhere in any value (or in text that is not JSON at all) is replaced;
- text that is not JSON (a broken line, a cut-off payload, an error message) is masked by
  the same two rules: `"key": value` / `key=value` pairs of personal keys, and addresses.

The personal field names are `DEFAULT_FIELDS`, or the comma-separated list in
`$BATON_MASK_FIELDS` (which replaces it). Matching splits a key into words (at separators
and camelCase humps) and also joins them: `work_email` matches `email`, `FirstName`
matches `firstname`, but `hostname` does not match `name`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from typing import Any, overload

import orjson

MASK = "[masked]"
FIELDS_ENV = "BATON_MASK_FIELDS"
DEFAULT_FIELDS = (
    "email", "e-mail", "mail", "email_address", "phone", "mobile", "mobilephone", "telephone",
    "fax", "firstname", "lastname", "fullname", "name", "middlename", "nickname", "address",
    "street", "city", "zip", "postcode", "postalcode", "ip", "ip_address", "birthdate",
    "dateofbirth", "ssn",
)
EMAIL = re.compile(r"[\w.+-]+(?:@|%40|\\u0040)[\w-]+(?:\.[\w-]+)+")  # also URL- or JSON-escaped
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')
_PAIR = re.compile(rf"(?P<key>{_QUOTED}|[A-Za-z_][\w.-]*)(?P<sep>\s*[:=]\s*)"
                   rf"(?P<value>{_QUOTED}|[^\s,;&{{}}\[\]]+)")


def fields() -> frozenset[str]:
    """The personal field names in force, normalised (lower case, letters and digits)."""
    return _fields(os.environ.get(FIELDS_ENV))


@functools.lru_cache(maxsize=8)
def _fields(listed: str | None) -> frozenset[str]:
    return frozenset(filter(None, map(_normal, DEFAULT_FIELDS if listed is None
                                      else listed.split(","))))


def is_personal(key: str, names: Iterable[str] | None = None) -> bool:
    """Whether a payload key names a personal field."""
    return _personal(key, _wanted(names))


def mask(value: Any, names: Iterable[str] | None = None) -> Any:
    """A copy of a JSON-like value with personal fields and e-mail addresses masked."""
    return _mask(value, _wanted(names))


@overload
def mask_text(text: str, names: Iterable[str] | None = None) -> str: ...
@overload
def mask_text(text: None, names: Iterable[str] | None = None) -> None: ...


def mask_text(text: str | None, names: Iterable[str] | None = None) -> str | None:
    """Raw text (JSON or not) with personal fields and e-mail addresses masked; JSON stays
    JSON (re-serialised compactly when something was masked), anything else its shape."""
    if not isinstance(text, str):
        return text  # None (or a missing cell): nothing to mask
    return _mask_text(text, _wanted(names))


def _mask_text(text: str, wanted: frozenset[str]) -> str:
    if text.lstrip()[:1] not in ("{", "["):  # not a JSON object or array
        return _mask_plain(text, wanted)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _mask_plain(text, wanted)
    masked = _mask(parsed, wanted)
    if masked != parsed:
        return orjson.dumps(masked).decode()
    # nothing to mask in what the parser kept: keep the text as stored, unless it holds what
    # a parser drops (the first of two equal keys)
    if _has_email(text) or any(_personal(k, wanted) for k in _JSON_KEY.findall(text)):
        return _mask_plain(text, wanted)
    return text


def _mask(value: Any, wanted: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _personal(str(k), wanted) else _mask(v, wanted)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, wanted) for v in value]
    if isinstance(value, str):
        return _mask_string(value, wanted)
    return value


def _mask_string(value: str, wanted: frozenset[str]) -> str:
    # a string can hold JSON itself (a `data` sent as text): masked inside, like raw text
    return _mask_text(value, wanted)


def _mask_plain(text: str, wanted: frozenset[str]) -> str:
    """Text that is not JSON: personal `key: value` / `key=value` pairs, then addresses."""
    if ":" not in text and "=" not in text:
        return EMAIL.sub(MASK, text) if _has_email(text) else text

    def replace(match: re.Match[str]) -> str:
        key = match["key"].strip("\"'")
        if not _personal(key, wanted):
            return match[0]
        quote = match["value"][0] if match["value"][0] in "\"'" else ""
        return f"{match['key']}{match['sep']}{quote}{MASK}{quote}"

    paired = _PAIR.sub(replace, text)
    return EMAIL.sub(MASK, paired) if _has_email(paired) else paired


def _has_email(text: str) -> bool:
    return ("@" in text or "%40" in text or "\\u0040" in text) and EMAIL.search(text) is not None


def _wanted(names: Iterable[str] | None) -> frozenset[str]:
    return fields() if names is None else frozenset(filter(None, map(_normal, names)))


@functools.lru_cache(maxsize=65536)
def _personal(key: str, wanted: frozenset[str]) -> bool:
    words = [w.lower() for w in _WORD.findall(key)]
    return _normal(key) in wanted or any(w in wanted for w in words)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
