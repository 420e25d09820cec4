"""The import rules between the packages, read from the source with `ast` (like
tests/unit/core/test_purity.py, which keeps `registry.core` pure; that rule is not repeated here).

    api ──▶ verifier ──▶ anchoring ──▶ registry (service, storage) ──▶ registry.core

- `registry` (outside the core) never imports `anchoring`, `verifier` or `api`: the service,
  storage, checkpointing and proof assembly know nothing of the chain or the HTTP edge.
- `anchoring` never imports `api` or `verifier`. From `registry` it takes the pure core, the
  errors, the logging and the clock, and what the worker really needs: the checkpoint builder
  (`registry.checkpointing`) and the tables it keeps its state in (`registry.db.models`,
  `registry.db.repositories`: checkpoints and issuer keys). Never the service, the proof
  assembler or the records.
- `verifier` never imports `api`, and from `registry` only the pure core, the errors and the
  clock: a verifier is written from the spec, never from the registry's storage.
- `api` never imports `registry.db` (models, repositories, stores, the engine) — it goes through
  `RegistryService`, `TransparencyService` and the `Stack`; the composition root, `api/stack.py`,
  opens the database and its caches through `registry.storage`.
- No module imports another module's private name (`_x`), nor a private module.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("registry", "anchoring", "verifier", "api")


@dataclass(frozen=True)
class Import:
    module: str  # the module imported from, e.g. "registry.db.models"
    names: tuple[str, ...]  # the names taken from it (`from m import a, b`), empty for `import m`
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    """Every import in the file, at any depth (functions, `if TYPE_CHECKING:` blocks too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative imports hide where code comes from"
            assert node.module is not None
            names = tuple(alias.name for alias in node.names)
            found.append(Import(node.module, names, node.lineno))
    return found


def targets(i: Import) -> list[str]:
    """The modules an import reaches: `from registry.db import models` reaches
    `registry.db.models`."""
    if not i.names:
        return [i.module]
    package = ROOT.joinpath(*i.module.split("."))
    found = [
        f"{i.module}.{name}"
        for name in i.names
        if (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()
    ]
    return found if len(found) == len(i.names) else [i.module, *found]


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_package_has_sources() -> None:
    for package in PACKAGES:
        assert any(module_name(p).split(".")[0] == package for p in SOURCES), package


@dataclass(frozen=True)
class Rule:
    """Modules under `importer` never import modules under `forbidden`, except those under
    `unless`; modules named in `exempt` are not bound by it."""

    importer: str
    forbidden: tuple[str, ...]
    reason: str
    unless: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ()


RULES = (
    Rule("registry", ("anchoring", "verifier", "api"), "registry never imports the layers above"),
    Rule("anchoring", ("api", "verifier"), "anchoring never imports api or verifier"),
    Rule(
        "anchoring",
        ("registry",),
        "anchoring takes from registry only the core, errors, logs, clock, the checkpoint "
        "builder and the tables of checkpoints and issuer keys",
        unless=(
            "registry.core",
            "registry.errors",
            "registry.logs",
            "registry.clock",
            "registry.checkpointing",
            "registry.db.models",
            "registry.db.repositories",
        ),
    ),
    Rule("verifier", ("api",), "verifier never imports api"),
    Rule(
        "verifier",
        ("registry",),
        "verifier takes from registry only the core, errors and clock",
        unless=("registry.core", "registry.errors", "registry.clock"),
    ),
    Rule(
        "api",
        ("registry.db",),
        "api never imports registry.db (the composition root opens it through registry.storage)",
    ),
)


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    if under(importer, "registry.core"):
        return None  # stricter, and checked in tests/unit/core/test_purity.py
    for rule in RULES:
        if (
            under(importer, rule.importer)
            and importer not in rule.exempt
            and under(imported, *rule.forbidden)
            and not under(imported, *rule.unless)
        ):
            return rule.reason
    return None


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(p) for p in SOURCES])
def test_imports_follow_the_layers(path: Path) -> None:
    importer = module_name(path)
    bad = [
        f"line {i.line}: {target}: {why}"
        for i in imports_of(path)
        for target in targets(i)
        if (why := violation(importer, target)) is not None
    ]
    assert bad == [], f"{importer}: " + "; ".join(bad)


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(p) for p in SOURCES])
def test_no_private_names_cross_modules(path: Path) -> None:
    importer = module_name(path)
    bad = [
        f"line {i.line}: {i.module} {', '.join(i.names)}"
        for i in imports_of(path)
        if under(i.module, *PACKAGES)
        and i.module != importer
        and (
            any(private(part) for part in i.module.split("."))
            or any(private(name) for name in i.names)
        )
    ]
    assert bad == [], f"{importer} imports private names: " + "; ".join(bad)


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("registry.service", "anchoring.client", False),
        ("registry.assembly", "registry.db.models", True),
        ("anchoring.worker", "registry.checkpointing", True),
        ("anchoring.worker", "registry.service", False),
        ("anchoring.metrics", "verifier.chain", False),
        ("verifier.chain", "anchoring.client", True),
        ("verifier.audit", "registry.db.models", False),
        ("verifier.verify", "registry.core.verify", True),
        ("api.routes.transparency", "registry.db.stores", False),
        ("api.stack", "registry.db.engine", False),
        ("api.stack", "registry.storage", True),
        ("api.web.routes", "registry.transparency", True),
        ("api.cli", "sqlalchemy", True),
    ],
)
def test_the_rules_themselves(importer: str, imported: str, allowed: bool) -> None:
    assert (violation(importer, imported) is None) is allowed


def test_the_checker_reads_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import registry.db.models\n"
        "from registry.db import models, repositories\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from anchoring.client import _rpc\n"
        "def f() -> None:\n"
        "    from verifier.chain import FactsCache  # noqa: PLC0415\n"
    )
    found = imports_of(sample)
    assert [(i.module, i.names) for i in found] == [
        ("registry.db.models", ()),
        ("registry.db", ("models", "repositories")),
        ("typing", ("TYPE_CHECKING",)),
        ("anchoring.client", ("_rpc",)),
        ("verifier.chain", ("FactsCache",)),
    ]
    assert targets(found[1]) == ["registry.db.models", "registry.db.repositories"]
    assert targets(found[3]) == ["anchoring.client"]
