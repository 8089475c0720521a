"""``fh-gym verify``: LFW-pairs face verification of HR faces, bicubic upsampling and generators' outputs.

The SICNN / IPFH recognisability protocol on the LFW view-2 pairs (10 folds, threshold chosen on the other
nine): each pair is scored by the cosine of the identity network's features, for the HR faces, for bicubic
upsampling of their LR (x``--scale``) versions and for each ``--generator``'s hallucinations. Prints a Markdown
table of accuracy (mean +- std over folds) and ROC AUC.

Fair use of the identity network: pairs with a person the network was trained on (its checkpoint's
``class_names``) are left out, and the table says how many pairs remain; each fold is then balanced again
(as many different- as same-person pairs, as LFW's folds are, so chance is 50%); train the network with
``fh-gym train-generator identity-net --data lfw`` (identity-disjoint hash split) so the test people and the
pairs' people are never seen.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="LFW-pairs verification accuracy: HR vs bicubic vs generators",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--identity-net", type=Path, required=True, metavar="CKPT",
                   help="identity network checkpoint (identity-net or sicnn recipe)")
    p.add_argument("--generator", action="append", default=[], type=Path, metavar="CKPT",
                   help="generator checkpoint to evaluate (repeatable)")
    p.add_argument("--pairs", type=Path, help="LFW pairs file (default <shared data>/lfw_pairs.txt)")
    p.add_argument("--data-root", help="LFW folder (default <shared data>/lfw-deepfunneled)")
    p.add_argument("--scale", type=int, default=8, help="degradation factor of the LR inputs (default 8)")
    p.add_argument("--all-pairs", action="store_true",
                   help="keep pairs with people the identity net was trained on (not a fair test)")
    p.add_argument("--unbalanced", action="store_true",
                   help="keep every usable pair (default: as many different- as same-person pairs per fold)")
    p.add_argument("--max-pairs", type=int, help="use only N pairs, evenly spread over the folds (quick checks)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="seed of the degradations")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.set_defaults(func=run)


def degrade_source(scale: int, seed: int, generator: Any = None):
    """A face source: HR -> degraded LR -> bicubic or ``generator``. Every batch's degradation draws from a
    generator seeded with ``seed`` (the default bicubic degradation draws nothing)."""
    import torch

    from fh_gym.degradations import Degradation, upsample_bicubic

    degradation = Degradation.from_config({"scale": scale})

    def source(hr: torch.Tensor) -> torch.Tensor:
        lr = degradation(hr, np.random.default_rng(seed)).lr.to(hr.device)
        with torch.no_grad():
            return upsample_bicubic(lr, scale) if generator is None else generator(lr)

    return source


def format_table(results: dict[str, Any], kept: int, total: int, excluded: int, balanced: bool = True) -> str:
    lines = ["| faces | pairs (same) | accuracy (mean ± std over folds) | ROC AUC |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r.pairs} ({r.positives}) | {100 * r.accuracy:.2f}% ± {100 * r.std:.2f} | "
                     f"{r.auc:.4f} |")
    note = (f"\n{kept} of {total} pairs used"
            + (f" ({excluded} left out: a person the identity net was trained on)" if excluded else "")
            + ("; folds balanced (as many different- as same-person pairs, chance = 50%)" if balanced else "") + ".")
    return "\n".join(lines) + "\n" + note


def run(args: argparse.Namespace) -> int:
    from fh_gym.data import build_dataset
    from fh_gym.data.paths import shared_data_dir
    from fh_gym.engine.core import resolve_device
    from fh_gym.identity_eval import balance_folds, parse_lfw_pairs, restrict_pairs, spread_subset, verify_pairs
    from fh_gym.restorers.checkpoint import load_network

    device = resolve_device(args.device)
    pairs_path = args.pairs
    if pairs_path is None:
        base = shared_data_dir()
        if base is None:
            raise FileNotFoundError("no --pairs given and no shared data folder found (set FH_GYM_DATA)")
        pairs_path = base / "lfw_pairs.txt"
    pairs = parse_lfw_pairs(pairs_path)
    total = len(pairs)
    net = load_network(args.identity_net, kind="aux").to(device).eval()
    trained_on = set(getattr(net, "checkpoint_meta", {}).get("class_names", []) or [])
    if not args.all_pairs:
        if not trained_on:
            print("warning: the identity checkpoint has no class names; cannot leave out the people it was "
                  "trained on (all pairs used)")
        pairs = restrict_pairs(pairs, trained_on)
    excluded = total - len(pairs)
    if not args.unbalanced:
        pairs = balance_folds(pairs)
    if args.max_pairs:
        pairs = spread_subset(pairs, args.max_pairs)
    data = {"type": "lfw", "split": "all", **({"root": args.data_root} if args.data_root else {})}
    dataset = build_dataset(data)
    sources = {"HR": lambda hr: hr, f"bicubic x{args.scale}": degrade_source(args.scale, args.seed)}
    for path in args.generator:
        generator = load_network(path, kind="generator").to(device).eval()
        if getattr(generator, "scale", args.scale) != args.scale:
            raise ValueError(f"generator {path} is x{generator.scale} but --scale is {args.scale}")
        name = f"{generator.arch_config['type']} ({path})"
        sources[name] = degrade_source(args.scale, args.seed, generator)
    results = verify_pairs(net, dataset, pairs, sources, batch_size=args.batch_size, device=device)
    print(format_table(results, len(pairs), total, excluded, balanced=not args.unbalanced))
    return 0
