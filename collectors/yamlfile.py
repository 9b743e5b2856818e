"""YAML documents that remember where each value was written, for `file:line` errors.

`load_yaml(text, file)` returns the plain data plus a `Lines` map from a field path
(`("slas", 0, "threshold")`) to its line number. `pydantic_errors` turns a pydantic
`ValidationError` into `file:line: path.to.field: message` lines, with the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
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


def _yaml12(base: type[Any]) -> type[Any]:
    """`base` with YAML 1.2 booleans: only true/false, so keys like `on:` stay strings."""
    loader: type[Any] = type(f"Baton{base.__name__}", (base,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL]
        for first, resolvers in base.yaml_implicit_resolvers.items()}
    for first in "tTfF":
        loader.add_implicit_resolver(
            BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list(first))
    return loader


BOOL, INT, FLOAT = (f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float"))
Loader = _yaml12(yaml.SafeLoader)
# libyaml's parser (in PyYAML's wheels); the same resolvers and constructors, in C
FastLoader = _yaml12(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class YamlSyntaxError(ValueError):
    """The text is not YAML (or not YAML Baton reads); the message is `file:line: message`."""


MAX_ALIAS_VALUES = 10_000  # values that aliases (*name) may add; a ten-line bomb adds billions
MAX_NUMBER_DIGITS = 100  # Python refuses to read ints past 4,300 digits, with a ValueError
MAX_DEPTH = 50  # nesting; Python's own recursion (repr, validation) stops near 1,000


def read_text(path: str | Path) -> str:
    """A config file's text (UTF-8); YamlSyntaxError (`file:1: …`) when it cannot be read."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(f"{file}:1: not UTF-8 text (byte {exc.start}); save the file "
                              "as UTF-8") from None
    except IsADirectoryError:
        raise YamlSyntaxError(f"{file}:1: is a folder, not a file; rename or remove it"
                              ) from None
    except FileNotFoundError:
        what = "a link to a missing file" if file.is_symlink() else "no such file"
        raise YamlSyntaxError(f"{file}:1: {what}; fix or remove it") from None
    except OSError as exc:
        raise YamlSyntaxError(f"{file}:1: cannot be read ({exc.strerror}); check its "
                              "permissions") from None


def load_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse YAML safely, once, with libyaml where installed (ten times faster than the
    pure-Python parser: 17,000 SLAs took 27 s); raise YamlSyntaxError (one `file:line:`
    message) when it is not YAML, or when its aliases would expand past MAX_ALIAS_VALUES."""
    lines = Lines(file)
    documents = _load(text, file, FastLoader, lines.by_path, single=True)
    return (documents[0][0] if documents else None), lines


def load_documents(text: str, file: str, loader: type[Any] | None = None
                   ) -> list[tuple[Any, yaml.Node]]:
    """Every document of a stream (`---` between them), each with its node for line numbers,
    under the checks of `load_yaml`; `loader`: a FastLoader subclass with other resolvers."""
    return _load(text, file, loader or FastLoader, {}, single=False)


def _load(text: str, file: str, loader_class: type[Any], by_path: dict[Path_, int],
          single: bool) -> list[tuple[Any, yaml.Node]]:
    loader = loader_class(text)
    documents = []
    try:
        if single:
            nodes = [node] if (node := loader.get_single_node()) is not None else []
        else:
            nodes = []
            while loader.check_node():
                nodes.append(loader.get_node())
        budget = MAX_ALIAS_VALUES
        for node in nodes:
            if "*" in text:  # no `*`, no alias: the check costs nothing for ordinary files
                budget = _check_aliases(node, file, budget)
            _walk(node, by_path, file)
            documents.append((loader.construct_document(node), node))
    except YamlSyntaxError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = min(mark.line + 1, max(text.count("\n"), 1)) if mark else 1
        raise YamlSyntaxError(f"{file}:{line}: not valid YAML: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise YamlSyntaxError(f"{file}:1: not valid YAML: {exc}") from None
    except ValueError as exc:  # a value its tag cannot hold, e.g. the date 2026-02-30
        raise YamlSyntaxError(f"{file}:1: a value cannot be read: {exc}") from None
    finally:
        loader.dispose()
    return documents


def _children(node: yaml.Node) -> list[tuple[yaml.Node, int]]:
    """(child, its line) of a collection node; keys' lines for mapping values."""
    if isinstance(node, yaml.MappingNode):
        return [(n, key.start_mark.line + 1) for key, value in node.value
                for n in (key, value)]
    if isinstance(node, yaml.SequenceNode):
        return [(item, item.start_mark.line + 1) for item in node.value]
    return []


def _check_aliases(root: yaml.Node, file: str, budget: int) -> int:
    """Refuse recursive aliases and aliases that expand past `budget` values; what is left
    of it. An alias is the same node object met again: its size is counted, not walked."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    added = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, root.start_mark.line + 1, False)]
    while stack:
        node, line, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child, _ in _children(node))
        elif key in open_:
            raise YamlSyntaxError(f"{file}:{line}: an alias refers to a value that contains "
                                  "it; YAML aliases may not be recursive")
        elif key in sizes:
            added += sizes[key]
            if added > budget:
                raise YamlSyntaxError(
                    f"{file}:{line}: aliases (*name) expand to more than "
                    f"{MAX_ALIAS_VALUES:,} values; write the values out or use fewer aliases")
        else:
            open_.add(key)
            stack.append((node, line, True))
            stack.extend((child, at, False) for child, at in reversed(_children(node)))
    return budget - added


def _walk(root: yaml.Node, out: dict[Path_, int], file: str) -> None:
    """Record the line of every key and item, and refuse numbers too long to be meant and
    values nested too deep to be meant."""
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        out.setdefault(path, node.start_mark.line + 1)
        if len(path) > MAX_DEPTH:
            raise YamlSyntaxError(f"{file}:{node.start_mark.line + 1}: values are nested more "
                                  f"than {MAX_DEPTH} deep; flatten them")
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + (str(key.value),)
                out[child] = key.start_mark.line + 1
                stack.append((value, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + (index,)) for index, item in enumerate(node.value))
        elif node.tag in (INT, FLOAT) and len(node.value) > MAX_NUMBER_DIGITS:
            raise YamlSyntaxError(f"{file}:{node.start_mark.line + 1}: a number of "
                                  f"{len(node.value):,} characters; write at most "
                                  f"{MAX_NUMBER_DIGITS}")


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
    found = exc.errors(include_url=False)
    for error in found:
        if error["type"] == "too_short" and _has_item_errors(error["loc"], found):
            continue  # the item that failed is what made the list short: say that alone
        loc = prefix + tuple(p for p in error["loc"] if not _is_tag(p) and p not in skip)
        if error["type"] == "union_tag_invalid":
            loc += (error["ctx"]["discriminator"].strip("'"),)
        message = _message(error)
        out.append(f"{lines.where(loc)}: {dotted(loc)}: {message}")
    return out


def _has_item_errors(loc: tuple[Any, ...], errors: list[Any]) -> bool:
    return any(len(e["loc"]) > len(loc) and e["loc"][:len(loc)] == loc for e in errors)


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
