"""The package's shape: public names, documentation, typing marker, and downward-only imports."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import syncmcp

PACKAGE = Path(syncmcp.__file__).parent

# Each module may import only modules of a lower layer.
LAYERS = [
    {"_version", "_exceptions", "_display", "_procstat", "_status"},
    {"_jsonrpc", "_types", "_sandbox", "_config"},
    {"_validation", "_era", "_listcache", "_tasks", "_toolnames", "_startup", "_events", "_toolcache"},
    {"_transport"},
    {"_stdio", "testing"},
    {"_endpoint", "_client_features"},
    {"_session", "_elicitation"},
    {"_managed"},
    {"_manager"},
]


def layer_of(module: str) -> int:
    for index, names in enumerate(LAYERS):
        if module in names:
            return index
    raise AssertionError(f"module {module} is not assigned a layer in tests/test_package.py")


def test_public_names_are_exported_sorted_and_documented() -> None:
    assert syncmcp.__all__ == sorted(syncmcp.__all__, key=lambda n: (not n.isupper(), n))
    for name in syncmcp.__all__:
        obj = getattr(syncmcp, name)
        if name.isupper() or name == "__version__":
            continue
        assert inspect.getdoc(obj), f"syncmcp.{name} has no docstring"


def test_every_public_method_is_documented() -> None:
    missing = []
    for name in syncmcp.__all__:
        obj = getattr(syncmcp, name)
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_") or not (inspect.isfunction(value) or isinstance(value, property)):
                continue
            if not inspect.getdoc(value):
                missing.append(f"{name}.{attr}")
    assert missing == []


def test_package_is_typed() -> None:
    assert (PACKAGE / "py.typed").exists()


def test_imports_only_go_downward() -> None:
    for path in PACKAGE.glob("*.py"):
        module = path.stem
        if module in ("__init__", "__main__"):
            continue
        level = layer_of(module)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                target = node.module.split(".")[0]
                assert layer_of(target) < level, f"{module} imports {target}, which is not below it"


def test_import_is_light_and_does_not_load_jsonschema() -> None:
    code = "import sys, syncmcp; print(sorted(m for m in ('jsonschema', 'platformdirs', 'filelock', 'asyncio') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_no_asyncio_anywhere_in_the_package() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] in ("asyncio", "anyio", "trio") for name in names), path


def test_exception_tree_also_uses_builtin_categories() -> None:
    assert issubclass(syncmcp.RequestTimeout, TimeoutError)
    assert issubclass(syncmcp.UnknownToolError, LookupError)
    assert issubclass(syncmcp.UnknownServerError, LookupError)
    assert issubclass(syncmcp.ConfigError, ValueError)
    for name in syncmcp.__all__:
        obj = getattr(syncmcp, name)
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj is not syncmcp.MCPError:
            assert issubclass(obj, syncmcp.MCPError), name


def test_modules_declare_all() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.stem in ("__main__",):
            continue
        module = importlib.import_module(f"syncmcp.{path.stem}" if path.stem != "__init__" else "syncmcp")
        assert hasattr(module, "__all__"), path.name


def test_the_manager_layer_loads_on_first_use() -> None:
    code = (
        "import sys, syncmcp\n"
        "heavy = ('syncmcp._manager', 'syncmcp._managed', 'syncmcp._config', 'difflib', 'tempfile', 'hashlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from syncmcp import MCPManager, ServerConfig\n"
        "print(MCPManager.__module__, ServerConfig.__module__, 'MCPManager' in dir(syncmcp))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "syncmcp._manager syncmcp._config True"
