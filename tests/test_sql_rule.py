"""The SQL rule (README, Architecture): a statement longer than three lines lives in `sdi/sql/*.sql`.

Short statements (a catalogue function call, a count) stay inline beside the code that uses them, where a
reader sees both at once; anything longer is read from its file by `sdi.core.sqlfiles.load`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SDI = Path(__file__).resolve().parent.parent / "sdi"
STATEMENT = re.compile(
    r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH|ALTER|DROP|GRANT|REVOKE|TRUNCATE|COPY)\s", re.IGNORECASE
)
MAX_LINES = 3


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of docstring nodes: prose that may start with "Create" or "Drop" is not SQL."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _long_statements(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in prose:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        else:
            continue
        lines = (node.end_lineno or node.lineno) - node.lineno + 1
        if STATEMENT.match(text) and lines > MAX_LINES:
            found.append(f"{path}:{node.lineno}: {lines} lines: {text.strip()[:50]!r}")
    return found


def test_the_scan_sees_a_long_inline_statement(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Create things."""\nQ = """\nSELECT a,\n  b\nFROM t\nWHERE x\n"""\nS = "SELECT 1"\n')
    found = _long_statements(sample)
    assert len(found) == 1 and "6 lines" in found[0]


def test_statements_longer_than_three_lines_live_in_sql_files():
    found = [hit for path in sorted(SDI.rglob("*.py")) for hit in _long_statements(path)]
    assert not found, "move these into sdi/sql/ and read them with sqlfiles.load:\n" + "\n".join(found)
