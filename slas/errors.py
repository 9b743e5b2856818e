"""Exceptions raised by the SLA engine.

    SlaError                  base: anything the CLI shows as one sentence, exit 1
    ├── DefinitionError       config/slas/*.yaml or config/alerts.yaml has errors; `errors`
    │                         holds `file:line: …` lines
    └── EvaluationError       a request the engine cannot answer (unknown SLA, journey, time)
"""

from __future__ import annotations


class SlaError(Exception):
    """Base of every error the engine raises on purpose."""


class DefinitionError(SlaError):
    """One or more invalid SLA definitions or alert settings, each as
    `file:line: path: message`. `complete` is False when a part with errors could not be
    checked against the rest (its team, journey and stages): more may show once it is fixed."""

    def __init__(self, errors: list[str], complete: bool = True) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.complete = complete


class EvaluationError(SlaError):
    """The engine was asked something it cannot answer; the message says why."""
