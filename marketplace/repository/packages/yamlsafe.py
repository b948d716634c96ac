"""Loads untrusted YAML: plain data only, bounded in size, nodes, depth and aliases.

PyYAML's SafeLoader refuses arbitrary tags but still expands aliases, so a few hundred
bytes can become gigabytes (a "billion laughs"). This loader counts nodes and aliases
while composing, rejects duplicate keys (YAML says they are an error; PyYAML keeps the
last), and reports every error with its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from marketplace.repository.packages.problems import PackageRejected, Problem


@dataclass(frozen=True)
class YamlLimits:
    max_bytes: int = 4 * 1024 * 1024
    max_nodes: int = 200_000
    max_aliases: int = 100
    max_depth: int = 64


class _BoundedLoader(yaml.SafeLoader):
    limits: YamlLimits = YamlLimits()

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):  # each alias may multiply the document; see _expanded_size
            self._aliases += 1
            if self._aliases > self.limits.max_aliases:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.YAMLError(f"more than {self.limits.max_aliases} aliases (line {mark.line + 1})")
        self._nodes += 1
        if self._nodes > self.limits.max_nodes:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.YAMLError(f"more than {self.limits.max_nodes} nodes (line {mark.line + 1})")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode):
                key = key_node.value
                if key in seen:
                    raise yaml.YAMLError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _depth(node: Node, limit: int) -> None:
    # Iterative: an adversarial document must not exhaust Python's recursion limit either.
    stack: list[tuple[Node, int]] = [(node, 1)]
    seen: set[int] = set()
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            raise yaml.YAMLError(f"nesting deeper than {limit} levels (line {current.start_mark.line + 1})")
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
        elif isinstance(current, MappingNode):
            for key, value in current.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Nodes in the document once every alias is expanded (what a consumer walking it sees)."""
    if id(node) in memo:
        return memo[id(node)]
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = size
    return size


def load(data: bytes, *, file: str, limits: YamlLimits | None = None) -> Any:
    """Parse one YAML document from `data` (the file `file` of a package), or raise PackageRejected."""
    limits = limits or YamlLimits()
    if len(data) > limits.max_bytes:
        raise PackageRejected(
            [Problem("yaml.too-large", f"{len(data)} bytes, over the limit of {limits.max_bytes}", file=file)]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageRejected(
            [Problem("yaml.encoding", f"not UTF-8 (byte {exc.start})", file=file, location=f"byte {exc.start}")]
        ) from None
    loader = type("Loader", (_BoundedLoader,), {"limits": limits})(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _depth(node, limits.max_depth)  # first, so the recursion below stays shallow
        expanded = _expanded_size(node, {})
        if expanded > limits.max_nodes:
            raise yaml.YAMLError(f"aliases expand to {expanded} nodes, over the limit of {limits.max_nodes}")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackageRejected(
            [Problem("yaml.syntax", f"{exc.problem or exc.context or 'invalid YAML'}", file=file, location=line)]
        ) from None
    except yaml.YAMLError as exc:
        raise PackageRejected([Problem("yaml.unsafe", str(exc), file=file)]) from None
    finally:
        loader.dispose()
