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
