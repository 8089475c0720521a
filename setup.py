"""Package discovery for the wheel (the metadata lives in ``pyproject.toml``).

The repository keeps ``agents/``, ``restorers/`` and ``envs_configs/`` beside ``fh_gym/``; the wheel installs them
as ``fh_gym.agents``, ``fh_gym.restorers`` and ``fh_gym.envs_configs`` so ``fh_gym`` is its only top-level
package (a user's own ``agents/`` folder can never shadow ours). ``fh_gym/_checkout.py`` maps the same names
when the code runs from the checkout itself.
"""

from setuptools import find_packages, setup

SIBLINGS = ("agents", "restorers", "envs_configs")

packages = find_packages(include=["fh_gym", "fh_gym.*"])
package_dir = {"fh_gym": "fh_gym"}
for name in SIBLINGS:
    package_dir[f"fh_gym.{name}"] = name
    packages += [f"fh_gym.{found}" for found in find_packages(include=[name, f"{name}.*"])]

setup(packages=packages, package_dir=package_dir)
