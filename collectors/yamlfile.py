"""YAML documents that remember where each value was written, for `file:line` errors.

`load_yaml(text, file)` returns the plain data plus a `Lines` map from a field path
(`("slas", 0, "threshold")`) to its line number. `pydantic_errors` turns a pydantic
`ValidationError` into `file:line: path.to.field: message` lines, with the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

Path_ = tuple[str | int, ...]


@dataclass
class Lines:
    """Line numbers (1-based) of every mapping key and sequence item in one YAML file."""

    file: str
    by_path: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Iterable[str | int]) -> int:
        """The line of `path`, or of its nearest written ancestor."""
        key = tuple(path)
        while key and key not in self.by_path:
            key = key[:-1]
        return self.by_path.get(key, 1)

    def where(self, path: Iterable[str | int]) -> str:
        return f"{self.file}:{self.line(path)}"


class Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so keys like `on:` stay strings."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list(_first))


class YamlSyntaxError(ValueError):
    """The text is not YAML; the message is `file:line: message`."""


def load_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse YAML safely; raise YamlSyntaxError (one `file:line:` message) when it is not."""
    lines = Lines(file)
    try:
        node = yaml.compose(text, Loader=Loader)
        data = yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = min(mark.line + 1, max(text.count("\n"), 1)) if mark else 1
        raise YamlSyntaxError(f"{file}:{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{file}:1: not valid YAML: {exc}") from None
    if node is not None:
        _walk(node, (), lines.by_path)
    return data, lines


def _walk(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (str(key.value),)
            out[child] = key.start_mark.line + 1
            _walk(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), out)


def dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def pydantic_errors(exc: ValidationError, lines: Lines, prefix: Path_ = (),
                    skip: frozenset[str] = frozenset()) -> list[str]:
    """`file:line: path: message (got value)` for every error pydantic found.
    `skip` names union tags (e.g. discriminator values) that pydantic puts in locations."""
    out = []
    for error in exc.errors(include_url=False):
        loc = prefix + tuple(p for p in error["loc"] if not _is_tag(p) and p not in skip)
        if error["type"] == "union_tag_invalid":
            loc += (error["ctx"]["discriminator"].strip("'"),)
        message = _message(error)
        out.append(f"{lines.where(loc)}: {dotted(loc)}: {message}")
    return out


def _is_tag(part: Any) -> bool:
    # pydantic puts union member names and function names into `loc`; they are not fields
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _message(error: Any) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        msg = "unknown field; check its spelling against the reference"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        ctx = error["ctx"]
        expected = ctx["expected_tags"].replace("'", "")
        name = ctx["discriminator"].strip("'")
        return f"{name} {ctx['tag']!r} is not one of {expected} (got {ctx['tag']!r})"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    value = error.get("input")
    if kind != "missing" and not isinstance(value, dict | list) and value is not None:
        return f"{msg} (got {value!r})"
    return msg
