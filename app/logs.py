"""The service's log lines, as text (the sentence alone, as an operator reads it) or as JSON
(`--log-format json`: one object per line for a log pipeline).

    logs.configure("json")
    logs.info("evaluated", "evaluated 4 SLAs: 4 ok", slas=4, counts={"ok": 4}, duration_s=0.8)
    -> {"time": "2026-12-08T09:00:00.123Z", "level": "info", "event": "evaluated",
        "message": "evaluated 4 SLAs: 4 ok", "slas": 4, "counts": {"ok": 4}, "duration_s": 0.8}

Information goes to stdout, warnings and errors to stderr (each looked up when written, so
a test capturing either sees it). Lines carry names, counts and durations, never payloads;
whatever wrote them (an error text from a library may quote anything), every line is masked:
personal data as `collectors.privacy` masks it (e-mail addresses, personal `key: value`
pairs), and bearer tokens, credentials in URLs and secret-looking query values here. The
libraries' own warnings (uvicorn, APScheduler) come out in the same format.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from collectors.privacy import mask_text

LOGGER = logging.getLogger("baton")
FORMATS = ("text", "json")
LIBRARIES = ("uvicorn", "uvicorn.error", "apscheduler")

_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[\w.~+/=-]+"), r"\1 <redacted>"),
    (re.compile(r"(\w+://)[^/\s:@]+:[^/\s@]+@"), r"\1<redacted>@"),
    (re.compile(r"(?i)([?&](?:token|key|secret|password|signature|sig|code)=)[^&\s]+"),
     r"\1<redacted>"),
)


def mask(text: str) -> str:
    """The text with personal data, tokens and URL credentials replaced."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return mask_text(text)


class _Streams(logging.Handler):
    """Writes information to stdout and warnings/errors to stderr, whichever they are now."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the service
            pass


class TextFormatter(logging.Formatter):
    """The sentence; warnings and errors prefixed `baton: ` like every other command's."""

    def format(self, record: logging.LogRecord) -> str:
        text = mask(_with_exception(record))
        if record.name != LOGGER.name:
            return f"baton: {record.name}: {text}"
        return f"baton: {text}" if record.levelno >= logging.WARNING else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, message and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", record.name),
            "message": mask(_with_exception(record)),
        }
        body.update({key: _masked(value) for key, value in fields.items()})
        return orjson.dumps(body, default=str).decode()


def _with_exception(record: logging.LogRecord) -> str:
    """The message, and the exception a library logged with it, in one line (no traceback)."""
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        first = (str(exc).strip().splitlines() or [""])[0]
        message = f"{message}: {type(exc).__name__}: {first}"
    return message


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


_HANDLER = _Streams()
_HANDLER.setFormatter(TextFormatter())
LOGGER.addHandler(_HANDLER)
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False


def configure(fmt: str) -> None:
    """Write every line (Baton's and the libraries' warnings) in `fmt`: text or json."""
    _HANDLER.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name in LIBRARIES:
        library = logging.getLogger(name)
        library.handlers = [_HANDLER]
        library.propagate = False
        library.setLevel(logging.WARNING)
    # APScheduler warns at every tick an evaluation overruns; Baton's own line says it once,
    # with the duration
    logging.getLogger("apscheduler.executors").setLevel(logging.ERROR)
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


def info(event: str, message: str, **fields: Any) -> None:
    LOGGER.info(message, extra={"event": event, "fields": fields})


def warning(event: str, message: str, **fields: Any) -> None:
    LOGGER.warning(message, extra={"event": event, "fields": fields})


def error(event: str, message: str, **fields: Any) -> None:
    LOGGER.error(message, extra={"event": event, "fields": fields})
