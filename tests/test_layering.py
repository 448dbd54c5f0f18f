"""The import graph keeps DESIGN.md's layering (Architecture habits: the store is the hub).

Rules, checked on every ``.py`` file under ``mesyx/`` by parsing it with :mod:`ast`
(nothing is imported, so a half-written module elsewhere cannot hide a violation):

1. ``mesyx/store/`` and ``mesyx/crypto/`` import neither ``mesyx.modes`` nor
   ``mesyx.bridges``: the store is the hub and knows no mode.
2. A mode ``mesyx/modes/X/`` imports no other mode ``mesyx.modes.Y``: modes never call
   each other; they meet in the store and its change events.
3. ``mesyx/interfaces/`` imports no mode: the contracts sit below the modes.
4. The shared packages ``mesyx/pipeline/``, ``mesyx/sieve/``, ``mesyx/proto/`` and
   ``mesyx/http/`` import no mode: every mode may use them, so they must not pull a mode in.

Absolute imports, relative imports (``from ..modes import accept``), imports under
``if TYPE_CHECKING:`` and ``importlib.import_module("...")`` / ``__import__("...")`` with a
literal name all count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "mesyx"


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    module: str  # its dotted module name
    target: str  # the dotted name it imports
    lineno: int
    statement: str  # the source of the import, for messages

    def describe(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root.parent)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.lineno}: {self.statement!r} imports {self.target}"


def module_name(path: Path, package_dir: Path) -> str:
    """``mesyx/store/blobs.py`` -> ``mesyx.store.blobs``; ``mesyx/store/__init__.py`` -> ``mesyx.store``."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` inside ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package):
        raise ValueError(f"relative import beyond the top-level package in {module}")
    base = package[: len(package) - (level - 1)]
    if name:
        base.append(name)
    return ".".join(base)


def imports_of(path: Path, package_dir: Path) -> Iterator[Import]:
    """Every module name ``path`` imports or may import."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    module = module_name(path, package_dir)
    is_package = path.name == "__init__.py"

    def make(node: ast.AST, target: str) -> Import:
        statement = (ast.get_source_segment(source, node) or "").splitlines()[0] if source else ""
        return Import(path, module, target, getattr(node, "lineno", 0), statement)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield make(node, alias.name)
        elif isinstance(node, ast.ImportFrom):
            absolute = node.module or ""
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else absolute
            yield make(node, base)
            # `from mesyx.modes import accept` imports the submodule mesyx.modes.accept.
            for alias in node.names:
                if alias.name != "*":
                    yield make(node, f"{base}.{alias.name}" if base else alias.name)
        elif isinstance(node, ast.Call):
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if called in {"import_module", "__import__"} and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield make(node, first.value)


def all_imports(package_dir: Path = PACKAGE) -> list[Import]:
    found: list[Import] = []
    for path in sorted(package_dir.rglob("*.py")):
        found.extend(imports_of(path, package_dir))
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def mode_names(package_dir: Path = PACKAGE) -> set[str]:
    """The modes: the packages and modules directly under ``mesyx/modes/``."""
    modes_dir = package_dir / "modes"
    if not modes_dir.is_dir():
        return set()
    names = {p.name for p in modes_dir.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    names |= {p.stem for p in modes_dir.glob("*.py") if p.stem != "__init__"}
    return names


def violations(package_dir: Path = PACKAGE) -> dict[str, list[Import]]:
    """Rule -> the imports that break it."""
    top = package_dir.name
    modes_pkg, bridges_pkg = f"{top}.modes", f"{top}.bridges"
    modes = mode_names(package_dir)
    found: dict[str, list[Import]] = {
        "store and crypto import no mode and no bridge": [],
        "a mode imports no other mode": [],
        "interfaces import no mode": [],
        "pipeline, sieve, proto and http import no mode": [],
    }
    for imp in all_imports(package_dir):
        in_hub = _within(imp.module, f"{top}.store") or _within(imp.module, f"{top}.crypto")
        if in_hub and (_within(imp.target, modes_pkg) or _within(imp.target, bridges_pkg)):
            found["store and crypto import no mode and no bridge"].append(imp)
        if _within(imp.module, f"{top}.interfaces") and _within(imp.target, modes_pkg):
            found["interfaces import no mode"].append(imp)
        in_shared = any(_within(imp.module, f"{top}.{shared}") for shared in ("pipeline", "sieve", "proto", "http"))
        if in_shared and _within(imp.target, modes_pkg):
            found["pipeline, sieve, proto and http import no mode"].append(imp)
        if _within(imp.module, modes_pkg) and imp.module != modes_pkg:
            own = imp.module.split(".")[2]
            if _within(imp.target, modes_pkg) and imp.target != modes_pkg:
                other = imp.target.split(".")[2]
                if other != own and other in modes:
                    found["a mode imports no other mode"].append(imp)
    return found


def _report(rule: str, bad: list[Import], root: Path) -> str:
    unique = sorted({imp.describe(root) for imp in bad})
    lines = "\n  ".join(unique)
    return f"layering rule broken: {rule} (DESIGN.md, Architecture habits)\n  {lines}"


# -- the rules on the real tree ------------------------------------------------------------


def test_package_parses() -> None:
    assert PACKAGE.is_dir(), f"{PACKAGE} is missing"
    errors = []
    for path in sorted(PACKAGE.rglob("*.py")):
        try:
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as exc:
            errors.append(f"{path.relative_to(REPO)}:{exc.lineno}: {exc.msg}")
    assert not errors, "cannot parse:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize(
    "rule",
    [
        "store and crypto import no mode and no bridge",
        "a mode imports no other mode",
        "interfaces import no mode",
        "pipeline, sieve, proto and http import no mode",
    ],
)
def test_layering(rule: str) -> None:
    bad = violations()[rule]
    assert not bad, _report(rule, bad, PACKAGE)


# -- the checker itself, on a synthetic tree ------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "mesyx"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    return root


def _bad(root: Path) -> dict[str, set[str]]:
    return {rule: {f"{i.module}->{i.target}" for i in bad} for rule, bad in violations(root).items() if bad}


def test_checker_accepts_a_clean_tree(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "store/store.py": "from mesyx.crypto import envelope\nfrom . import blobs\n",
            "store/blobs.py": "import os\n",
            "crypto/envelope.py": "from ..errors import Corrupt\n",
            "errors.py": "",
            "modes/__init__.py": "class ModeBase: ...\n",
            "modes/accept/smtp.py": "from mesyx.store.store import Store\nfrom mesyx.modes import ModeBase\n",
            "modes/accept/__init__.py": "from .smtp import x\nfrom mesyx.modes.accept import smtp\n",
            "modes/client/imap.py": "from ...store import store\nfrom mesyx.pipeline import deliver\n",
            "pipeline/deliver.py": "from mesyx.interfaces import EnvelopeSink\n",
            "interfaces/__init__.py": "from mesyx.store.events import Event\n",
            "daemon.py": "from mesyx.modes import accept, client\n",
        },
    )
    assert _bad(root) == {}


def test_checker_finds_every_kind_of_violation(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "store/a.py": "import mesyx.modes.accept.smtp\n",
            "store/b.py": "from ..modes import client\n",
            "store/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mesyx.bridges.irc import X\n",
            "crypto/d.py": "import importlib\nm = importlib.import_module('mesyx.modes.exchange')\n",
            "crypto/e.py": "from mesyx import bridges\n",
            "modes/accept/f.py": "from mesyx.modes.client.imap import Server\n",
            "modes/client/imap.py": "def f():\n    from ..exchange import peer\n",
            "modes/exchange/peer.py": "from mesyx.modes import reencrypt\n",
            "modes/reencrypt/__init__.py": "from .. import accept\n",
            "interfaces/__init__.py": "import mesyx.modes\n",
            "pipeline/g.py": "from mesyx.modes.accept import smtp\n",
            "sieve/h.py": "__import__('mesyx.modes.client')\n",
        },
    )
    bad = _bad(root)
    assert bad["store and crypto import no mode and no bridge"] >= {
        "mesyx.store.a->mesyx.modes.accept.smtp",
        "mesyx.store.b->mesyx.modes.client",
        "mesyx.store.c->mesyx.bridges.irc",
        "mesyx.crypto.d->mesyx.modes.exchange",
        "mesyx.crypto.e->mesyx.bridges",
    }
    assert bad["a mode imports no other mode"] >= {
        "mesyx.modes.accept.f->mesyx.modes.client.imap",
        "mesyx.modes.client.imap->mesyx.modes.exchange",
        "mesyx.modes.client.imap->mesyx.modes.exchange.peer",
        "mesyx.modes.exchange.peer->mesyx.modes.reencrypt",
        "mesyx.modes.reencrypt->mesyx.modes.accept",
    }
    assert bad["interfaces import no mode"] == {"mesyx.interfaces->mesyx.modes"}
    assert bad["pipeline, sieve, proto and http import no mode"] >= {
        "mesyx.pipeline.g->mesyx.modes.accept",
        "mesyx.sieve.h->mesyx.modes.client",
    }


def test_report_names_file_line_and_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"store/a.py": "import os\nfrom mesyx.modes.accept import smtp\n"})
    bad = violations(root)["store and crypto import no mode and no bridge"]
    message = _report("store and crypto import no mode and no bridge", bad, root)
    assert "mesyx/store/a.py:2" in message
    assert "from mesyx.modes.accept import smtp" in message
    assert "mesyx.modes.accept.smtp" in message
