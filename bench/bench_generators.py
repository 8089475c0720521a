"""Generator benchmark on LFW x8: train every generator recipe for a CPU budget, then compare them with bicubic.

1. ``identity-net`` (SICNN CNN_R + A-softmax) on the LFW *training* people, unless ``--identity-net`` is given.
   It is the identity-feature extractor of the table and of the verification, and the pre-trained CNN_R that
   ``sicnn`` starts from (its ``identity_checkpoint``).
2. Each generator recipe (``ipfh-coarse``, ``sicnn``, ``csrip``, ``ofhnet``, ``srgan`` — those registered) on
   LFW x8 until its step count or ``--minutes`` of wall clock, whichever comes first (the recipe's YAML in
   ``envs_configs/recipes/`` when there is one, else its defaults; ``data: lfw``). Runs live in
   ``<out>/<recipe>`` and resume when the script is started again, so a budget can be spent in sittings.
3. Evaluation on ``--faces`` LFW *test* faces (people never trained on, spread over people): PSNR / SSIM on
   RGB and Y with the border cropped by the scale (``docs/evaluation.md``, uint8), identity cosine of SR vs HR
   (SICNN), mean and 95% CI, with the bicubic row. Every generator is trained and tested on the same
   clean x8 bicubic LR inputs (the recipes' own degradations, C-SRIP's blur + decimation and OFHNet's
   occlusions, are overridden).
4. LFW-pairs verification (10 folds) of HR faces, bicubic and the generator with the best identity cosine,
   on the pairs whose people the identity net never saw, each fold re-balanced (chance = 50%).

Usage (2 CPU cores, the lead's benchmark)::

    OMP_NUM_THREADS=1 python bench/bench_generators.py --minutes 30 --identity-minutes 30 --faces 300

Prints Markdown tables and writes them to ``<out>/generators.md``. One thread per process is deliberate: on
a shared, oversubscribed CPU two OpenMP threads per process ran 10-60x slower than one in our measurements.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GENERATOR_RECIPES = ("ipfh-coarse", "sicnn", "csrip", "ofhnet", "srgan")


def recipe_overrides(name: str, minutes: float, identity_checkpoint: Path | None) -> dict[str, Any]:
    """The recipe's YAML (if any) with LFW data, the time budget and the shared identity net."""
    from fh_gym.degradations import Degradation
    from fh_gym.restorers.config import load_yaml
    from fh_gym.restorers.training.recipes import get_recipe

    yaml_path = ROOT / "envs_configs" / "recipes" / f"{name.replace('-', '_')}.yaml"
    overrides: dict[str, Any] = load_yaml(yaml_path) if yaml_path.is_file() else {}
    overrides.pop("recipe", None)
    overrides["data"] = {"type": "lfw"}
    # Train on the degradation the table tests (clean antialiased bicubic x8, the envs' default), not the
    # recipe's own (C-SRIP: blur + decimation, OFHNet: occluded inputs): a generator is only comparable on
    # the LR images it was trained for.
    protocol = {**Degradation.default_config(), "scale": 8}
    recipe_degradation = get_recipe(name).defaults.get("degradation", {})
    overrides["degradation"] = {key: protocol[key] for key in recipe_degradation}
    overrides["minutes"] = float(minutes)  # the run stops at its step count or after the budget, first reached
    if identity_checkpoint is not None and "identity_checkpoint" in get_recipe(name).defaults:
        overrides["identity_checkpoint"] = str(identity_checkpoint)
    return overrides


def train(name: str, overrides: dict[str, Any], out_dir: Path, device: str) -> dict[str, Any]:
    """Run (or resume) recipe ``name`` until its ``steps`` or its ``minutes`` budget of this sitting."""
    from fh_gym.agents.recipes import run_recipe
    from fh_gym.restorers.training.recipes import recipe_config

    config = recipe_config(name, {**overrides, "device": device})
    started = time.perf_counter()
    summary = run_recipe(name, config, out_dir, resume=True, progress=True)
    summary["minutes"] = (time.perf_counter() - started) / 60.0
    return summary


@torch.no_grad()
def evaluate(generators: dict[str, Path], identity_net: torch.nn.Module, faces: int, seed: int,
             device: torch.device) -> list[dict[str, Any]]:
    """Per-generator metric arrays on LFW test faces (plus the bicubic row)."""
    from fh_gym.agents.evaluate import image_metrics, sample_faces
    from fh_gym.data import build_dataset
    from fh_gym.degradations import Degradation, upsample_bicubic
    from fh_gym.identity_eval import identity_similarity
    from fh_gym.restorers.checkpoint import load_network

    dataset = build_dataset({"type": "lfw", "split": "test"})
    indices = sample_faces(dataset.identities, faces, seed)
    hr = dataset.hr_float(indices, device)
    lr = Degradation.from_config({"scale": 8})(hr, np.random.default_rng(seed)).lr.to(device)
    outputs = {"bicubic": upsample_bicubic(lr, 8).clamp(0, 1)}
    for name, path in generators.items():
        generator = load_network(path, kind="generator").to(device).eval()
        outputs[name] = torch.cat([generator(lr[i:i + 32]).clamp(0, 1) for i in range(0, len(lr), 32)])
    rows = []
    for name, images in outputs.items():
        metrics = image_metrics(images, hr, 8)
        metrics["identity"] = identity_similarity(images, hr, identity_net).numpy()
        rows.append({"name": name, "n": len(indices), **metrics})
    return rows


def metrics_table(rows: list[dict[str, Any]], summaries: dict[str, dict[str, Any]]) -> str:
    from fh_gym.metrics import format_mean_ci, mean_ci

    columns = (("psnr", "PSNR (dB)", 2), ("ssim", "SSIM", 4), ("psnr_y", "PSNR-Y (dB)", 2),
               ("ssim_y", "SSIM-Y", 4), ("identity", "ID cosine", 4))
    lines = ["| generator | steps | train min | n | " + " | ".join(c[1] for c in columns) + " |",
             "|" + "---|" * (4 + len(columns))]
    for row in rows:
        summary = summaries.get(row["name"], {})
        cells = [format_mean_ci(*mean_ci(row[key]), digits) for key, _, digits in columns]
        minutes = f"{summary['minutes']:.1f}" if "minutes" in summary else ""
        lines.append(f"| {row['name']} | {summary.get('step', '')} | {minutes} | {row['n']} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines) + "\n"


def verification_table(identity_net: torch.nn.Module, best: tuple[str, Path] | None, seed: int,
                       device: torch.device, max_pairs: int | None = None) -> str:
    """``fh-gym verify``'s protocol: unseen people only, balanced folds (HR, bicubic and the best generator)."""
    from fh_gym.data import build_dataset
    from fh_gym.data.paths import shared_data_dir
    from fh_gym.identity_eval import parse_lfw_pairs, verification_sources, verify_lfw
    from fh_gym.restorers.checkpoint import load_network

    base = shared_data_dir()
    if base is None or not (base / "lfw_pairs.txt").is_file():
        return "(no lfw_pairs.txt found: verification skipped)\n"
    generators = {}
    if best is not None:
        generators[f"{best[0]} (best ID cosine)"] = load_network(best[1], kind="generator").to(device).eval()
    dataset = build_dataset({"type": "lfw", "split": "all"})
    report = verify_lfw(identity_net, dataset, parse_lfw_pairs(base / "lfw_pairs.txt"),
                        verification_sources(8, seed, generators),
                        exclude_people=set(identity_net.checkpoint_meta.get("class_names", [])),
                        max_pairs=max_pairs, device=device)
    return report.table() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per generator recipe")
    parser.add_argument("--identity-minutes", type=float, default=30.0, help="training budget of identity-net")
    parser.add_argument("--identity-net", type=Path, help="use this identity-net checkpoint (skip step 1)")
    parser.add_argument("--recipes", default=",".join(GENERATOR_RECIPES), help="comma-separated recipe names")
    parser.add_argument("--faces", type=int, default=300, help="LFW test faces to evaluate")
    parser.add_argument("--max-pairs", type=int, help="verify on N usable pairs spread over the folds (quick checks)")
    parser.add_argument("--eval-only", action="store_true", help="evaluate the existing runs, train nothing")
    parser.add_argument("--train-only", action="store_true",
                        help="train, evaluate nothing (to train recipes in parallel processes, then --eval-only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_generators")
    args = parser.parse_args(argv)

    from fh_gym.restorers.checkpoint import load_network
    from fh_gym.restorers.training.recipe import RECIPES

    device = torch.device(args.device)
    identity_path = args.identity_net or args.out / "identity-net" / "identity_net.pt"
    if args.identity_net is None and not args.eval_only:
        train("identity-net", recipe_overrides("identity-net", args.identity_minutes, None),
              args.out / "identity-net", args.device)
    identity_net = load_network(identity_path, kind="aux").to(device).eval()

    summaries: dict[str, dict[str, Any]] = {}
    generators: dict[str, Path] = {}
    for name in [n.strip() for n in args.recipes.split(",") if n.strip()]:
        if name not in RECIPES:
            print(f"skipping '{name}': not a registered recipe ({RECIPES.help()})")
            continue
        if not args.eval_only:
            summaries[name] = train(name, recipe_overrides(name, args.minutes, identity_path), args.out / name,
                                    args.device)
        path = args.out / name / "generator.pt"
        if path.is_file():
            generators[name] = path
            summaries.setdefault(name, {"step": load_network(path).checkpoint_meta.get("step", "")})

    if args.train_only:
        return 0
    rows = evaluate(generators, identity_net, args.faces, args.seed, device)
    report = "## LFW x8, test people\n\n" + metrics_table(rows, summaries)
    trained = [r for r in rows if r["name"] in generators]
    best = max(trained, key=lambda r: float(np.mean(r["identity"])), default=None)
    report += "\n## LFW pairs verification\n\n" + verification_table(
        identity_net, None if best is None else (best["name"], generators[best["name"]]), args.seed, device,
        args.max_pairs)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "generators.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
