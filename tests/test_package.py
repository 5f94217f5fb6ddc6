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
    {"_version", "_exceptions", "_display", "_procstat", "_status", "_timeout", "_workers", "_urls", "_filemodes", "_limits"},
    {"_wakeable", "_reply"},
    {"_jsonrpc", "_types", "_sandbox", "_config", "_sse", "_httpwire", "_credentials", "_mcpheaders", "_forks"},
    {"_validation", "_era", "_listcache", "_tasks", "_toolnames", "_startup", "_events", "_toolcache", "_auth", "_login"},
    {"_es256", "_oauthdiscovery", "_oauthflight", "_oauthcredentials", "_circuit"},
    {"_oauthclients"},
    {"_oauthgrants"},
    {"_transport", "_oauth", "_sselegacy"},
    {"_httpworkers", "_httpexchange"},
    {"_httpsession", "_toolheaders"},
    {"_stdio", "_http", "testing"},
    {"_endpoint", "_client_features", "_remote"},
    {"_handshake", "_requests", "_pagination", "_toolcalls", "_subscriptions"},
    {"_notifications", "_sessioncatalog"},
    {"_session", "_elicitation"},
    {"_services", "_callstats", "_servertools", "_unavailable"},
    {"_instance"},
    {"_sandboxsync", "_managedtools"},
    {"_managed", "_connect"},
    {"_runtime"},
    {"_fallback", "_replace"},
    {"_routing", "_catalog", "_reconfig", "_health"},
    {"_manager"},
    {"llm"},
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


def test_every_public_name_has_an_example() -> None:
    import syncmcp.llm
    import syncmcp.server
    import syncmcp.testing

    missing = []
    for module in (syncmcp, syncmcp.server, syncmcp.testing, syncmcp.llm):
        for name in module.__all__:
            if name.isupper() or name.startswith("__"):
                continue
            doc = inspect.getdoc(getattr(module, name)) or ""
            if "Example" not in doc and ">>>" not in doc:
                missing.append(f"{module.__name__}.{name}")
    assert missing == []


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


# The server package: its modules by layer (importing only lower layers), and the core modules
# it may use. It never imports the client session, the stdio client transport or a manager.
SERVER_LAYERS = [
    {"server._errors", "server._docstrings", "server._uritemplate", "server._pagination", "server._content", "server._listens"},
    {"server._schema", "server._sseout", "server._httpguard"},
    {"server._answers"},
    {"server._context"},
    {"server._features"},
    {"server._registry", "server._io"},
    {"server._router"},
    {"server._connection", "server._stateless"},
    {"server._httpsessions"},
    {"server._wsgi"},
    {"server._httpserve", "server._registrations"},
    {"server._server"},
    {"server.workspace._files"},
    {"server.workspace._ignore", "server.workspace._patch", "server.workspace._info", "server.workspace._prompts"},
    {"server.workspace._paths", "server.workspace._commands"},
    {"server.workspace._catalog"},
    {"server.workspace._app"},
]
SERVER_MAY_IMPORT = {
    "_jsonrpc", "_transport", "_endpoint", "_exceptions", "_types", "_sandbox", "_version", "_era", "_validation", "_stdio",
    "_workers", "_urls", "_mcpheaders", "_wakeable",
}  # fmt: skip


def server_layer_of(module: str) -> int:
    for index, names in enumerate(SERVER_LAYERS):
        if module in names:
            return index
    raise AssertionError(f"module {module} is not assigned a layer in tests/test_package.py")


def imported_modules(path: Path) -> list:
    """Every syncmcp module ``path`` imports, as dotted names relative to the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from (also for __init__)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = [*base, *(node.module.split(".") if node.module else [])]
            if node.module is None:
                found.extend(".".join([*target, alias.name]) for alias in node.names)
            else:
                found.append(".".join(target))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("syncmcp"):
            found.append(node.module[len("syncmcp.") :])
        elif isinstance(node, ast.Import):
            found.extend(a.name[len("syncmcp.") :] for a in node.names if a.name.startswith("syncmcp."))
    return found


def test_server_package_imports_only_downward_and_only_allowed_core_modules() -> None:
    for path in sorted((PACKAGE / "server").rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if module.endswith("__init__"):
            continue
        level = server_layer_of(module)
        for target in imported_modules(path):
            if not target.startswith("server"):
                assert target in SERVER_MAY_IMPORT, f"{module} imports syncmcp.{target}, which the server must not use"
                continue
            if target in ("server", "server.workspace"):
                raise AssertionError(f"{module} imports its own package's __init__ ({target}); import the module instead")
            assert server_layer_of(target) < level, f"{module} imports {target}, which is not below it"


def test_server_modules_declare_all_and_public_names_are_documented() -> None:
    for path in sorted((PACKAGE / "server").rglob("*.py")):
        name = "syncmcp." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).replace(".__init__", "")
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), name
        assert inspect.getdoc(module), f"{name} has no docstring"
    for package in ("syncmcp.server", "syncmcp.server.workspace"):
        module = importlib.import_module(package)
        for public in module.__all__:
            obj = getattr(module, public)
            if public.isupper():
                continue
            assert inspect.getdoc(obj), f"{package}.{public} has no docstring"
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if not attr.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                        assert inspect.getdoc(value), f"{package}.{public}.{attr} has no docstring"


def test_server_import_is_light_and_does_not_load_jsonschema() -> None:
    code = (
        "import sys, syncmcp.server, syncmcp.server.workspace, syncmcp.__main__; "
        "print(sorted(m for m in ('jsonschema', 'referencing', 'asyncio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "[]"


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
        "import sys\n"
        "before = set(sys.modules)\n"
        "import syncmcp\n"
        "heavy = ('syncmcp._manager', 'syncmcp._managed', 'syncmcp._runtime', 'syncmcp._routing', 'syncmcp._catalog',\n"
        "         'syncmcp._reconfig', 'syncmcp._health', 'syncmcp._config', 'difflib', 'tempfile', 'hashlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules and m not in before))\n"
        "from syncmcp import MCPManager, ServerConfig\n"
        "print(MCPManager.__module__, ServerConfig.__module__, 'MCPManager' in dir(syncmcp))\n"
    )
    # What `import syncmcp` loads, not what was there before it (coverage, in tools/run-tests).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "syncmcp._manager syncmcp._config True"


# The command line sits above everything: it may use any core module, the manager and the server
# package; nothing below it imports it. Its own modules by layer, importing only lower layers.
CLI_LAYERS = [
    {"cli._exits"},
    {"cli._tomledit", "cli._progress", "cli._output"},
    {"cli._configfile", "cli._logsetup"},
    {"cli._context"},
    {"cli._manage", "cli._use", "cli._doctor", "cli._login"},
    {"cli._app"},
]


def cli_layer_of(module: str) -> int:
    for index, names in enumerate(CLI_LAYERS):
        if module in names:
            return index
    raise AssertionError(f"module {module} is not assigned a layer in tests/test_package.py")


def test_cli_modules_import_only_downward_and_nothing_below_imports_the_cli() -> None:
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if module.endswith("__init__"):
            continue
        level = cli_layer_of(module)
        for target in imported_modules(path):
            if target.startswith("cli"):
                assert target != "cli", f"{module} imports the cli package's __init__; import the module instead"
                assert cli_layer_of(target) < level, f"{module} imports {target}, which is not below it"
            elif not target.startswith("server"):
                layer_of(target.split(".")[0])  # a core module (fails for one missing from the table)
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "cli" or relative.name == "__main__.py":
            continue
        imported = imported_modules(path)
        assert not any(target == "cli" or target.startswith("cli.") for target in imported), f"{relative} imports the CLI"


def test_cli_modules_declare_all_and_document_their_public_names() -> None:
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        name = "syncmcp." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).replace(".__init__", "")
        module = importlib.import_module(name)
        assert inspect.getdoc(module), f"{name} has no docstring"
        assert hasattr(module, "__all__"), name
        for public in module.__all__:
            obj = getattr(module, public)
            if public.isupper():
                continue
            assert inspect.getdoc(obj), f"{name}.{public} has no docstring"
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if not attr.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                        assert inspect.getdoc(value), f"{name}.{public}.{attr} has no docstring"


def test_the_library_does_not_load_the_cli_and_the_cli_starts_light() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import syncmcp\n"
        "print(sorted(m for m in sys.modules if m.startswith('syncmcp.cli')))\n"
        "import syncmcp.cli\n"
        "print(sorted(m for m in ('jsonschema', 'syncmcp._manager', 'syncmcp._config', 'filelock', 'platformdirs', 'asyncio') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "[]"


def test_the_runtime_dependencies_are_exactly_the_four_of_the_design() -> None:
    import importlib.metadata

    requirements = importlib.metadata.requires("syncmcp") or []
    runtime = sorted(r.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip() for r in requirements if "extra ==" not in r)
    assert runtime == ["filelock", "jsonschema", "platformdirs", "tomli"]
    tomli = next(r for r in requirements if r.startswith("tomli"))
    assert "python_version < \"3.11\"" in tomli.replace("'", '"')
