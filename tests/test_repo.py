"""Repository contracts: CI runs the README's test command; configs ship inside the package."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_exactly_the_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("fh-gym demo") and "pip install" in demo
    assert "pytest" in tests and "pip install" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in [line.strip() for line in ci]


def test_env_yaml_files_are_package_data():
    names = {entry.name for entry in (resources.files("fh_gym.envs_configs") / "envs").iterdir()}
    assert {"dense_x8.yaml", "attention_fh.yaml", "ipfh.yaml"} <= names


def _imported_modules(folder: Path) -> dict[str, set[str]]:
    """file -> modules it imports (anywhere in the file, also inside functions), absolute names."""
    import ast

    found = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _imports_any(names: set[str], packages: tuple[str, ...]) -> bool:
    return any(n == p or n.startswith(p + ".") for n in names for p in packages)


def test_dependency_direction():
    """restorers <- fh_gym <- agents (the command line is agents/cli): restorers imports neither of the others,
    fh_gym's own modules never import fh_gym.agents."""
    for path, names in _imported_modules(ROOT / "restorers").items():
        outside = {n for n in names if n.startswith("fh_gym") and not n.startswith("fh_gym.restorers")}
        assert not outside, (path, outside)
    for path, names in _imported_modules(ROOT / "fh_gym").items():
        assert not _imports_any(names, ("fh_gym.agents", "agents")), path


def test_readme_network_table_is_current():
    from fh_gym.restorers.summary import network_table

    assert network_table() in (ROOT / "README.md").read_text()


def test_no_import_cycle_anywhere():
    """No cycle between project modules, function-local imports included (tests/import_graph.py)."""
    from import_graph import cycles, import_graph

    assert cycles(import_graph()) == []


def _function_local_imports() -> list[tuple[str, int, list[str]]]:
    """(file, line, source lines of its import block and the line above) for every import inside a function."""
    import ast

    found = []
    for folder in ("fh_gym", "agents", "restorers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = path.read_text().splitlines()
            for node in ast.walk(ast.parse("\n".join(lines))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        first = sub.lineno - 1
                        while first > 0 and (lines[first - 1].strip().startswith(("import ", "from "))
                                             or not lines[first - 1].strip()):
                            first -= 1
                        found.append((str(path.relative_to(ROOT)), sub.lineno,
                                      lines[max(first - 1, 0):sub.end_lineno]))
    return found


def test_function_local_imports_only_keep_a_dependency_lazy_and_say_so():
    """Issue 7: imports inside functions only where they keep a heavy or optional dependency lazy, with a comment
    saying so (the comment sits on the import, or just above its block)."""
    silent = [f"{path}:{line}" for path, line, block in _function_local_imports()
              if not any("lazy" in text.lower() or "optional" in text.lower() for text in block)]
    assert not silent, f"function-local imports without a 'lazy' comment: {silent}"


def test_readme_env_table_is_current():
    from fh_gym.envs.config import env_table

    assert env_table() in (ROOT / "README.md").read_text()
