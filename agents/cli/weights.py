"""``fh-gym weights``: the trained weights shipped inside the package (network, data, scale, budget, figures).

A block ``{type: Network, weights: NAME}`` loads one; every env uses ``weights: default`` (the file that fits
it); ``docs/weights.md`` has a model card per file. ``--check`` recomputes each file's small check figure
(test faces of its data; LFW files need the development data) next to the recorded one.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list the shipped weights (and check them)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="recompute every file's check figure")
    p.add_argument("--commands", action="store_true", help="also print the command that retrains each file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the evaluation stack loads only for the command that runs.
    from fh_gym.agents.weights_card import check_value, weights_table
    from fh_gym.restorers.weights import shipped

    print(weights_table())
    for w in shipped():
        if args.commands:
            print(f"{w.network} {w.name}: {w.command}")
        if args.check:
            value = check_value(w)
            expected, tolerance = float(w.check["value"]), float(w.check.get("tolerance", 0.01))
            verdict = "ok" if abs(value - expected) <= tolerance else "DIFFERS"
            print(f"{w.network} {w.name}: {w.check['metric']} {value:.4f} (recorded {expected:.4f}) {verdict}")
    return 0
