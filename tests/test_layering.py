"""The library layer's module structure: no import cycles, cheap registration, rewards that never see the
engine, and docs that follow the registries."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from import_graph import ROOT, cycles, import_graph

import fh_gym
from fh_gym.engine import ACTIONS, REWARDS
from fh_gym.envs.face_repair import FaceRepairEnv
from fh_gym.variants import variant_files

#: the packages and modules of the library layer checked here (the engine, envs, data, registration...)
LIBRARY = ("fh_gym.engine", "fh_gym.envs", "fh_gym.data", "fh_gym.metrics", "fh_gym.registration",
           "fh_gym.variants", "fh_gym.degradations", "fh_gym.render")


def _in_library(module: str) -> bool:
    return module == "fh_gym" or any(module == p or module.startswith(p + ".") for p in LIBRARY)


def test_import_graph_sees_function_local_imports():
    graph = import_graph()
    assert "fh_gym.envs" in graph["fh_gym"]  # fh_gym/__init__ imports the envs inside __getattr__ only
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_touches_the_library_layer():
    found = [c for c in cycles(import_graph()) if any(_in_library(m) for m in c)]
    assert not found, f"import cycles (function-local imports count): {found}"


def test_rewards_and_identity_terms_never_import_the_engine():
    graph = import_graph()
    readers = [m for m in graph if m.startswith("fh_gym.engine.rewards")] + \
        ["fh_gym.engine.identity", "fh_gym.engine.dual_domain", "fh_gym.engine.view"]
    for module in readers:
        assert "fh_gym.engine.core" not in graph[module], module


def test_registration_and_the_env_classes_do_not_import_each_other():
    graph = import_graph()
    assert not {"fh_gym.envs", "fh_gym.envs.face_repair", "fh_gym.envs.vector"} & graph["fh_gym.registration"]
    for module in ("fh_gym.envs.face_repair", "fh_gym.envs.vector", "fh_gym.envs.config"):
        assert "fh_gym.registration" not in graph[module], module


def test_import_fh_gym_registers_the_env_ids_without_torch():
    code = ("import sys, fh_gym, gymnasium as gym; "
            "assert all(i in gym.registry for i in fh_gym.ENV_IDS); "
            "print(sorted(m for m in ('torch', 'stable_baselines3', 'fh_gym.envs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert fh_gym.FaceRepairEnv is FaceRepairEnv  # loaded on first use


def test_env_docstring_lists_every_registered_variant():
    doc = FaceRepairEnv.__doc__
    listed = doc[doc.index("## Registered configurations"):]
    for name, data in variant_files().items():
        assert f"``{data['id']}`` (``{name}.yaml``)" in listed
    assert sorted(re.findall(r"\* ``(fh_gym/FaceRepair-[\w-]+)``", listed)) == sorted(fh_gym.ENV_IDS)


def test_environment_doc_covers_every_variant_reward_and_action_type():
    text = (ROOT / "docs" / "environment.md").read_text()
    for env_id in fh_gym.ENV_IDS:
        assert f"| `{env_id}` |" in text, f"docs/environment.md: add a row for {env_id}"
    for name in REWARDS.names():
        assert f"### `{name}`" in text, f"docs/environment.md: describe the reward '{name}'"
    for name in ACTIONS.names():
        assert f"* **`{name}`**" in text, f"docs/environment.md: describe the action type '{name}'"


@pytest.mark.parametrize("folder", ["fh_gym"])
def test_modules_cite_the_projects_own_docs_not_a_spec(folder):
    citing = [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*.py")
              if re.search(r"\bSPEC(\.md)?\b", p.read_text())]
    assert not citing, f"cite docs/ instead of a SPEC the project does not contain: {citing}"
