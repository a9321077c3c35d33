"""The package's size limits (docs/architecture.md): modules, classes and function bodies.

The import layers are checked by import-linter in ``make lint``; these limits are
read from the source with ``ast``, so a module that grows past them fails here,
with the names to split.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keras_cnnlab"
MODULE_LINES, CLASS_LINES, FUNCTION_BODY_LINES = 500, 300, 60


def _sources():
    return sorted(PACKAGE.rglob("*.py"))


def _body_lines(node) -> int:
    """Lines of a function's body, its docstring excluded."""
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    if not body:
        return 0
    return body[-1].end_lineno - body[0].lineno + 1


def oversized(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """What in ``path`` is over a limit: one line per module, class or function."""
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(root).as_posix()
    found = []
    lines = len(text.splitlines())
    if lines > MODULE_LINES:
        found.append(f"{name}: {lines} lines (module limit {MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            if size > CLASS_LINES:
                found.append(f"{name}: class {node.name} {size} lines (limit {CLASS_LINES})")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            size = _body_lines(node)
            if size > FUNCTION_BODY_LINES:
                found.append(f"{name}: {node.name}() body {size} lines (limit {FUNCTION_BODY_LINES})")
    return found


def test_the_checker_finds_what_is_over_a_limit(tmp_path):
    module = tmp_path / "keras_cnnlab" / "big.py"
    module.parent.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_BODY_LINES + 1))
    module.write_text(f'def long():\n    """Doc."""\n{body}\n\ndef short():\n    return 1\n')
    found = oversized(module, root=tmp_path)
    assert found == [f"keras_cnnlab/big.py: long() body {FUNCTION_BODY_LINES + 1} lines (limit 60)"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_size_limits(path):
    assert oversized(path) == []
