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

from fh_gym.agents.cli.common import DEVICE, add_seed_arg, count
from fh_gym.degradations import SCHEMA as DEGRADATION_SCHEMA


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="LFW-pairs verification accuracy: HR vs bicubic vs generators",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    judge = p.add_mutually_exclusive_group(required=True)
    judge.add_argument("--identity-net", type=Path, metavar="CKPT",
                       help="identity network checkpoint (identity-net or sicnn recipe)")
    judge.add_argument("--recognizer", metavar="dlib|CKPT",
                       help="face recogniser: 'dlib' (dlib's ResNet descriptor, pip install \"fh-gym[identity]\"; "
                            "not trained on LFW, so every pair is kept) or an identity-network checkpoint")
    p.add_argument("--generator", action="append", default=[], type=Path, metavar="CKPT",
                   help="generator checkpoint to evaluate (repeatable)")
    p.add_argument("--pairs", type=Path, help="LFW pairs file (default <shared data>/lfw_pairs.txt)")
    p.add_argument("--data-root", help="LFW folder (default <shared data>/lfw-deepfunneled)")
    p.add_argument("--scale", type=DEGRADATION_SCHEMA["scale"].argparse_type("--scale"), default=8,
                   help="degradation factor of the LR inputs (default 8)")
    p.add_argument("--all-pairs", action="store_true",
                   help="keep pairs with people the identity net was trained on (not a fair test)")
    p.add_argument("--unbalanced", action="store_true",
                   help="keep every usable pair (default: as many different- as same-person pairs per fold)")
    p.add_argument("--max-pairs", type=count("--max-pairs"),
                   help="use only N pairs, evenly spread over the folds (quick checks)")
    p.add_argument("--batch-size", type=count("--batch-size"), default=64, help="faces per batch (default: 64)")
    add_seed_arg(p, "seed of the degradations")
    p.add_argument("--device", type=DEVICE.argparse_type("--device"), default="cpu",
                   help="cpu, cuda, cuda:N, mps or auto (default: cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the identity stack loads only for the command that runs.
    from fh_gym.data import build_dataset
    from fh_gym.engine.core import resolve_device
    from fh_gym.identity import build_recognizer
    from fh_gym.identity_eval import lfw_pairs_path, parse_lfw_pairs, verification_sources, verify_lfw
    from fh_gym.restorers.checkpoint import load_network
    from fh_gym.restorers.config import ConfigError

    device = resolve_device(args.device)
    pairs = parse_lfw_pairs(lfw_pairs_path(args.pairs))
    if args.recognizer == "dlib":
        net, trained_on = build_recognizer("dlib"), set()
    else:
        path = Path(args.recognizer) if args.recognizer else args.identity_net
        if not path.is_file():
            raise ConfigError(f"identity network checkpoint {path} not found")
        net = load_network(path, kind="aux").to(device).eval()
        trained_on = set(getattr(net, "checkpoint_meta", {}).get("class_names", []) or [])
    if not args.all_pairs and not trained_on and args.recognizer != "dlib":
        print("warning: the identity checkpoint has no class names; cannot leave out the people it was "
              "trained on (all pairs used)")
    generators = {}
    for path in args.generator:
        generator = load_network(path, kind="generator").to(device).eval()
        if getattr(generator, "scale", args.scale) != args.scale:
            raise ValueError(f"generator {path} is x{generator.scale} but --scale is {args.scale}")
        generators[f"{generator.arch_config['type']} ({path})"] = generator
    dataset = build_dataset({"type": "lfw", "split": "all", **({"root": args.data_root} if args.data_root else {})})
    report = verify_lfw(net, dataset, pairs, verification_sources(args.scale, args.seed, generators),
                        exclude_people=None if args.all_pairs else trained_on, balanced=not args.unbalanced,
                        max_pairs=args.max_pairs, batch_size=args.batch_size, device=device)
    print(report.table())
    return 0
