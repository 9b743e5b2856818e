"""Exceptions raised by the collectors package.

    CollectorError            base: anything the CLI shows as one sentence, exit 1
    ├── InvalidEvent          one record breaks the shared schema (kept as a reject)
    ├── UnreadableInput       a whole file or stream cannot be read at all
    ├── StoreUnavailable      the metrics store URL cannot be opened
    └── SourceConfigError     config/sources.yaml is invalid
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base of every error the collectors raise on purpose."""


class InvalidEvent(CollectorError):
    """A record that does not satisfy the shared schema; the message is the reason."""


class UnreadableInput(CollectorError):
    """The input as a whole cannot be read (missing file, permission, not text)."""


class StoreUnavailable(CollectorError):
    """The metrics store cannot be opened or reached."""


class SourceConfigError(CollectorError):
    """config/sources.yaml has one or more errors; `errors` holds `file:line: message` lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
