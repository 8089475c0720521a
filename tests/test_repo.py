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
    names = {entry.name for entry in (resources.files("envs_configs") / "envs").iterdir()}
    assert {"dense_x8.yaml", "attention_fh.yaml", "ipfh.yaml"} <= names
