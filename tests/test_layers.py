"""The layering rules import-linter cannot see: which imports may sit inside functions."""

import ast
from pathlib import Path

import imsynth
from imsynth._deferred import DEFERRED_IMPORTS

SOURCE = Path(imsynth.__file__).parent


def function_level_imports():
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import):
                        yield path, [alias.name for alias in inner.names]
                    elif isinstance(inner, ast.ImportFrom):
                        yield path, ["." * inner.level + (inner.module or "")]


def test_only_listed_optional_dependencies_are_imported_inside_functions():
    found = list(function_level_imports())
    assert found  # the scan sees the deferred imports that exist
    for path, modules in found:
        for module in modules:
            assert module.split(".")[0] in DEFERRED_IMPORTS, (
                f"{path.relative_to(SOURCE)} imports {module} in a function"
            )
