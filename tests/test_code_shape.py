"""The shape of the code: short functions, and subpackages that say what they export."""

import ast
import importlib

import pytest

from tests.conftest import REPO

PACKAGES = ("orchestrator", "trainables", "search_spaces")
MAX_FUNCTION_LINES = 50


def _functions():
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    yield f"{path.relative_to(REPO)}:{node.name}", node.end_lineno - start + 1


def test_no_function_is_longer_than_50_lines():
    long = {name: lines for name, lines in _functions() if lines > MAX_FUNCTION_LINES}
    assert not long


SUBPACKAGES = [p.parent for p in sorted((REPO / "orchestrator").glob("*/__init__.py"))]


@pytest.mark.parametrize("folder", SUBPACKAGES, ids=lambda p: p.name)
def test_each_driver_subpackage_has_a_docstring_and_exports_what_it_lists(folder):
    module = importlib.import_module(f"orchestrator.{folder.name}")
    assert module.__doc__ and len(module.__doc__.strip().splitlines()) == 1
    assert module.__all__ and all(hasattr(module, name) for name in module.__all__)
