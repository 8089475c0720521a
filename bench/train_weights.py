"""Retrain one shipped weights file from scratch with its recorded command and budget, and export it.

Usage (from the repository root)::

    python bench/train_weights.py --list
    python bench/train_weights.py AttentionFHEnhancer lfw_x8            # train into runs/weights/..., export there
    python bench/train_weights.py AttentionFHEnhancer lfw_x8 --install  # ...and replace the shipped file

The command is the manifest entry's ``command`` (``restorers/weights/manifest.yaml``), run as written (every
run is seeded: the same machine gives the same file, another machine a close one). ``--install`` copies the
exported float16 file into ``restorers/weights/`` and prints the new sha256 for the manifest.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from fh_gym.agents.weights_card import weights_table  # noqa: E402
from fh_gym.restorers.weights import export_weights, find, shipped  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network", nargs="?")
    parser.add_argument("name", nargs="?")
    parser.add_argument("--list", action="store_true", help="list the shipped files and exit")
    parser.add_argument("--install", action="store_true", help="replace the shipped file with the new one")
    args = parser.parse_args()
    if args.list or not (args.network and args.name):
        print(weights_table())
        for w in shipped():
            print(f"{w.network} {w.name}: {w.command}")
        return 0
    weights = find(args.network, args.name)
    command = shlex.split(weights.command)
    if command[0] == "fh-gym":  # the checkout's CLI, not whatever fh-gym is on PATH
        command = [sys.executable, "-m", "fh_gym.agents.cli.main", *command[1:]]
    subprocess.run(command, cwd=ROOT, check=True)
    out = ROOT / "runs" / "weights" / weights.file
    digest = export_weights(ROOT / weights.output, out, {"weights": weights.name, "trained_on": weights.trained_on})
    print(f"exported {out} (sha256 {digest})")
    if args.install:
        out.replace(weights.path)
        print(f"installed {weights.path}: set `sha256: {digest}` in the manifest, then `fh-gym weights --check` "
              "recomputes the check figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
