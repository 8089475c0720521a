"""The import graph of the project's modules, function-local imports included, and its cycles.

Module names are the installed ones (``restorers/x.py`` is ``fh_gym.restorers.x``, see ``fh_gym/_checkout.py``).
Every ``import`` statement counts wherever it is (module level, inside a function, under ``TYPE_CHECKING``):
a cycle hidden in a function is still a cycle. ``from package import name`` points at the submodule
``package.name`` when there is one, else at the package (its ``__init__``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: repository folder -> installed package name
PACKAGES = {"fh_gym": "fh_gym", "restorers": "fh_gym.restorers", "agents": "fh_gym.agents",
            "envs_configs": "fh_gym.envs_configs"}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Installed module name -> file, for every ``.py`` file of the project's packages."""
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that ``name`` starts with (None: not a project module)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _imported(tree: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> Iterable[str]:
    """The project modules an import statement of ``module`` loads (its target, not the parent packages)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                parts = module.split(".")
                anchor = parts[: len(parts) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import x` loads the submodule pkg.x when there is one, else takes a name of pkg
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                yield target


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Project module -> the project modules it imports (anywhere in the file)."""
    modules = module_files(root)
    return {module: set(_imported(ast.parse(path.read_text()), module, path.name == "__init__.py", modules))
            for module, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules (a few hundred)
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
