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

Rows of repaired faces: ``--repair STRATEGY`` / ``--agent CKPT`` add the faces the env ``--env`` repairs from
the same LR inputs (quantised to 8 bits, as a user's LR file is), with its front-end, restorer and T, in
inference mode (no truth: not the greedy oracle); ``--set`` changes that env (e.g. ``repair.feather=4``);
repeat ``--restorer`` for a row per restorer (the same pairs and LR faces for each).
``--paired`` adds a table of paired differences on the same pairs (per-pair decisions, so far tighter than two
fold means): every row after bicubic against bicubic and, with several repair rows, against the first of them;
with several judges, every judge after the first against the first on each row's faces.
``--pairs-from unseen`` draws the pairs from every face of the people of the val and test splits (no shipped
network nor restorer was trained on them): ~5x the LFW-file pairs of those people, so differences are measurable.
Several judges: repeat ``--recognizer`` (e.g. ``dlib`` and a network distilled from it); every judge then
sees the same pairs (those of people none of them was trained on), one table with a row per face source and
judge.

Example::

    fh-gym verify --recognizer dlib --recognizer runs/distill/identity_net.pt --repair even --max-pairs 600
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fh_gym.agents.cli.common import DEFAULT_ENV, DEVICE, add_seed_arg, build_env_config, count
from fh_gym.degradations import SCHEMA as DEGRADATION_SCHEMA

#: ``--pairs-from`` choices: splits of the identity-disjoint LFW split whose faces the pairs are drawn from
PAIR_SPLITS = {"train": ("train",), "val": ("val",), "test": ("test",), "unseen": ("val", "test")}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="LFW-pairs verification accuracy: HR vs bicubic vs generators",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    judge = p.add_mutually_exclusive_group(required=True)
    judge.add_argument("--identity-net", type=Path, metavar="CKPT",
                       help="identity network checkpoint (identity-net or sicnn recipe)")
    judge.add_argument("--recognizer", metavar="dlib|CKPT|TYPE:NAME", action="append",
                       help="face recogniser: 'dlib' (dlib's ResNet descriptor, pip install \"fh-gym[identity]\"; "
                            "not trained on LFW), an identity-network checkpoint or shipped weights (CNNR:lfw_dlib, "
                            "the recogniser distilled from dlib; a network's spec ending in +flip averages each face's "
                            "embedding with its mirror image's, e.g. CNNR:lfw_dlib+flip); repeat it to judge with "
                            "several on the same pairs (those of people none of them was trained on), e.g. dlib "
                            "beside a network distilled from it")
    p.add_argument("--generator", action="append", default=[], type=Path, metavar="CKPT",
                   help="generator checkpoint to evaluate (repeatable)")
    repair = p.add_argument_group("patch repair rows (the env's front-end, restorer and T on the LR faces)")
    repair.add_argument("--repair", action="append", default=[], metavar="STRATEGY",
                        help="add a row: the faces repaired by this strategy in --env (repeatable; e.g. even, "
                             "centre_out; not greedy: it reads the truth)")
    repair.add_argument("--agent", action="append", default=[], type=Path, metavar="CHECKPOINT",
                        help="add a row: the faces repaired by this trained agent (repeatable)")
    repair.add_argument("--env", default=DEFAULT_ENV, help=f"env id of the repair rows (default {DEFAULT_ENV})")
    repair.add_argument("--restorer", type=Path, action="append", default=[],
                        help="restorer checkpoint of the repair rows (default: the env's); repeat it for a row per "
                             "restorer on the same pairs and LR faces (e.g. PSNR-only vs identity-aware)")
    repair.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="env config override of the repair rows, e.g. --set repair.feather=4")
    p.add_argument("--paired", action="store_true",
                   help="add paired differences (accuracy CI over pairs, AUC bootstrap): each row against bicubic and, "
                        "with several repair rows, against the first repair row; with several --recognizer, each "
                        "judge against the first on the same faces (e.g. a distilled net against dlib)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--pairs", type=Path, help="LFW pairs file (default <shared data>/lfw_pairs.txt)")
    which.add_argument("--pairs-from", choices=PAIR_SPLITS,
                       help="draw the pairs from the faces of this split of the identity-disjoint LFW split instead "
                            "(unseen: val + test, the people no shipped network was trained on): up to "
                            "--same-per-person same-person pairs a person, as many different, 10 person-disjoint folds")
    p.add_argument("--same-per-person", type=count("--same-per-person"), default=10,
                   help="with --pairs-from: at most this many same-person pairs a person (default 10)")
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
    from fh_gym import identity_eval as ev
    from fh_gym.agents.comparison import build_actors
    from fh_gym.data import build_dataset
    from fh_gym.engine.core import resolve_device
    from fh_gym.identity import NetRecognizer, build_recognizer, identity_network, split_flip
    from fh_gym.restorers.checkpoint import load_network

    device = resolve_device(args.device)
    root = {"root": args.data_root} if args.data_root else {}
    if args.pairs_from:
        names = [n for split in PAIR_SPLITS[args.pairs_from]
                 for n in build_dataset({"type": "lfw", "split": split, **root}).names]
        pairs = ev.split_pairs(names, args.same_per_person, seed=args.seed)
    else:
        pairs = ev.parse_lfw_pairs(ev.lfw_pairs_path(args.pairs))
    judges, trained_on, unknown = {}, set(), []
    for spec in args.recognizer or [args.identity_net]:
        if str(spec) == "dlib":
            judges["dlib"] = build_recognizer("dlib")
            continue
        base, flip = split_flip(spec)
        net = identity_network(base, device, "--recognizer" if args.recognizer else "--identity-net")
        people = set(getattr(net, "checkpoint_meta", {}).get("class_names", []) or [])
        trained_on |= people
        unknown += [] if people else [str(spec)]
        judges[str(spec)] = NetRecognizer(net, name=str(spec), flip=True) if flip else net
    if not args.all_pairs and unknown:
        print(f"warning: {', '.join(unknown)} has no class names; cannot leave out the people it was trained on")
    generators = {}
    for path in args.generator:
        generator = load_network(path, kind="generator").to(device).eval()
        if getattr(generator, "scale", args.scale) != args.scale:
            raise ValueError(f"generator {path} is x{generator.scale} but --scale is {args.scale}")
        generators[f"{generator.arch_config['type']} ({path})"] = generator
    sources = ev.verification_sources(args.scale, args.seed, generators)
    bicubic = ev.bicubic_row(args.scale)
    repaired = []
    if args.repair or args.agent:
        labels = distinct_tails(args.restorer)
        for restorer in args.restorer or [None]:
            env_config = build_env_config(args.env, restorer=restorer, device=str(device), overrides=args.overrides)
            where = args.env if len(args.restorer) < 2 else f"{args.env}, {labels[restorer]}"
            for actor in build_actors(args.repair, args.agent, env_config=env_config):
                repaired.append(f"{actor.name} repair ({where})")
                sources[repaired[-1]] = ev.repair_source(env_config, actor, args.scale, args.seed)
    dataset = build_dataset({"type": "lfw", "split": "all", **root})
    report = ev.verify_lfw(judges, dataset, pairs, sources, exclude_people=None if args.all_pairs else trained_on,
                           balanced=not args.unbalanced, max_pairs=args.max_pairs, batch_size=args.batch_size,
                           device=device)
    # Several judges: one table, rows "faces, judged by", the same pairs and the same faces for all.
    print(report.table())
    if args.paired:
        print_paired(report.results, list(sources), bicubic, repaired, list(judges), args.seed)
    return 0


def print_paired(results: dict[str, object], sources: list[str], bicubic: str, repaired: list[str], judges: list[str],
                 seed: int) -> None:
    """``--paired``: each generator / repair row against bicubic and the repair rows against the first, under
    every judge; with several judges also every judge after the first against the first on each source's faces
    (e.g. a distilled net against dlib on the same pairs)."""
    from fh_gym import identity_eval as ev  # lazy: as in run()

    def name(source: str, judge: str) -> str:
        return ev.judged_name(source, judge, len(judges))

    rows = [source for source in sources if source not in ("HR", bicubic)]
    against = [(bicubic, row) for row in rows] + [(repaired[0], row) for row in repaired[1:]]
    comparisons = [(name(a, j), name(b, j)) for j in judges for a, b in against]
    comparisons += [(name(source, judges[0]), name(source, j)) for source in sources for j in judges[1:]]
    if not comparisons:
        print("\n--paired: nothing to compare (add a --generator, --repair or --agent row, or a second --recognizer)")
        return
    print("\nPaired differences (row minus the row it is against, the same pairs):\n")
    print(ev.format_paired(results, comparisons, seed=seed))


def distinct_tails(paths: list[Path]) -> dict[Path, str]:
    """The shortest trailing parts (one depth for all) that tell the paths apart (``w0/restorer.pt``,
    ``w0.2/restorer.pt``): row names a reader takes in, not two long absolute paths that differ in one folder."""
    for depth in range(1, max((len(p.parts) for p in paths), default=1) + 1):
        tails = {path: str(Path(*path.parts[-depth:])) for path in paths}
        if len(set(tails.values())) == len(set(paths)):
            return tails
    return {path: str(path) for path in paths}
