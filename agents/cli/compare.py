"""``fh-gym compare`` / ``fh-gym eval``: strategies (and trained agents) x PSNR/SSIM with 95% CIs.

Every strategy repairs the same test faces from the same LR inputs with the same restorer (an agent
trained with its own restorer repairs with that one). Writes ``<out>/compare.md``, ``compare.csv``,
``compare.png`` and ``compare_per_face.csv`` and prints the Markdown table. The protocol is described in
``docs/evaluation.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fh_gym.agents.cli.common import add_env_args, add_out_arg, add_seed_arg, count, env_config_from_args
from fh_gym.agents.strategies import strategy_names
from fh_gym.restorers.weights import file_or_shipped


def add_parser(sub: argparse._SubParsersAction) -> None:
    for name, helptext in (("compare", "compare patch strategies / agents on test faces"),
                           ("eval", "evaluate one strategy or agent on test faces")):
        p = sub.add_parser(name, help=helptext, description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_env_args(p, default_split="test")
        default = ",".join(strategy_names()) if name == "compare" else "even"
        p.add_argument("--strategies", default=default,
                       help=f"comma-separated strategies of {', '.join(strategy_names(defaults_only=False))} "
                            f"(default: {default})")
        p.add_argument("--agent", action="append", default=[], type=Path, metavar="CHECKPOINT",
                       help="trained agent checkpoint to include (repeatable)")
        p.add_argument("--faces", type=count("--faces"), default=100, help="number of test faces (default: 100)")
        p.add_argument("--batch-size", type=count("--batch-size"), default=32, help="faces per batch (default: 32)")
        p.add_argument("--greedy-candidates", type=count("--greedy-candidates"),
                       help="greedy oracle: candidates per step (default all)")
        p.add_argument("--two-step-beam", type=count("--two-step-beam"),
                       help="two-step lookaheads greedy2 and self_lookahead2: first repairs looked past per step "
                            "(default 8)")
        add_seed_arg(p, "seed of the degradations and sampling strategies")
        p.add_argument("--identity-net", metavar="CKPT|TYPE:NAME",
                       help="identity network checkpoint or shipped weights TYPE:NAME (CNNR:lfw_dlib): adds the "
                            "identity cosine (SR vs HR) column")
        p.add_argument("--recognizer", metavar="dlib|CKPT|TYPE:NAME",
                       help="face recogniser judging identity: 'dlib' (pip install \"fh-gym[identity]\"), an "
                            "identity-network checkpoint or shipped weights TYPE:NAME (+flip: flip-averaged "
                            "embeddings); adds the distance to HR and the same-person rate columns")
        p.add_argument("--gain-predictor", metavar="CKPT|NAME",
                       help="a train-gain-predictor run's gain_predictor.pt, or the name of shipped BoxPoolingSelector "
                            "weights (lfw_x8_t4, lfw_x8_t16: for the shipped lfw_x8 restorer): adds the gain_predictor "
                            "strategy")
        if name == "compare":
            p.add_argument("--budgets", type=_budgets, metavar="T1,T2,...",
                           help="headroom report: every strategy and agent at each repair budget T (e.g. 2,4,8,16): "
                                "gain vs T, the oracle's headroom over the strongest fixed strategy, the share "
                                "each agent closes, each agent against the strongest truth-free strategy "
                                "(headroom.md/.csv/.png, and headroom_per_face.csv for paired comparisons of any two "
                                "rows); an agent is a row at its own T")
            p.add_argument("--every-budget", action="store_true",
                           help="with --budgets: run actors with their own T (trained agents, random30) at every "
                                "budget, not only at their own")
        add_out_arg(p, f"outputs/{name}", "folder of the report files")
        p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the evaluation stack (scipy, matplotlib) loads only for the command that runs.
    from fh_gym.agents.comparison import build_actors, compare
    from fh_gym.agents.headroom import headroom, headroom_markdown, runs_at, write_headroom
    from fh_gym.agents.reports import to_markdown

    env_config = env_config_from_args(args)
    kwargs = {"greedy": {"max_candidates": args.greedy_candidates}} if args.greedy_candidates else {}
    if args.two_step_beam:
        kwargs.update({name: {"beam": args.two_step_beam} for name in ("greedy2", "self_lookahead2")})
    strategies = args.strategies
    if args.gain_predictor:
        kwargs["gain_predictor"] = gain_predictor_block(args.gain_predictor)
        if "gain_predictor" not in strategies.split(","):
            strategies = f"{strategies},gain_predictor"
    actors = build_actors(strategies, args.agent, kwargs, env_config=env_config)
    if getattr(args, "budgets", None):
        skipped = [f"{a.name} (T = {a.horizon})" for a in actors
                   if not any(runs_at(a, b, args.every_budget) for b in args.budgets)]
        if skipped:
            print(f"left out of the budgets: {', '.join(skipped)}: their own T is not one of them (--every-budget "
                  "runs them at every budget)")
        rows, results = headroom(env_config, actors, args.budgets, args.faces, args.batch_size, args.seed,
                                 every_budget=args.every_budget)
        print(headroom_markdown(rows))
        print(f"written: {', '.join(str(p) for p in write_headroom(rows, args.out, results).values())}")
        return 0
    rows, paths = compare(env_config, actors, args.faces, args.batch_size, args.seed, args.out,
                          identity_net=args.identity_net, recognizer=args.recognizer)
    print(to_markdown(rows))
    print(f"written: {', '.join(str(p) for p in paths.values())}")
    return 0


def gain_predictor_block(spec: str) -> dict[str, str]:
    """``--gain-predictor``: the ``gain_predictor`` strategy's arguments for a checkpoint file or the name of
    shipped ``BoxPoolingSelector`` weights."""
    block = file_or_shipped(spec, "BoxPoolingSelector", "--gain-predictor")
    return {key: value for key, value in block.items() if key != "type"}


def _budgets(text: str) -> list[int]:
    """``--budgets 2,4,8,16``: positive integers, comma-separated."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"--budgets takes positive integers separated by commas (e.g. 2,4,8,16), "
                                         f"got {text!r}")
    return values
