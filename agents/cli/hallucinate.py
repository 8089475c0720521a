"""``fh-gym hallucinate``: LR face image(s) in, repaired HR PNG(s) out, with a trained agent or a strategy.

No ground truth is needed: the engine runs in inference mode (``reset(options={"lr": ...})``), the
front-end upsamples each LR face to the start image and the agent (``--agent``) or baseline strategy
(``--strategy``, default ``even``) picks T boxes that the restorer repairs.

* Env: ``--agent`` runs on the env config it was trained on; otherwise ``--env`` (default the dense x8
  variant). ``--set KEY=VALUE`` and ``--restorer CKPT`` override either.
* Restorer (the same rule as ``compare`` and ``record``): an agent trained with its own restorer (paper
  agents; SB3 agents that fine-tuned it) repairs with that one, and ``--restorer`` is then not used (a note
  says so); every other agent or strategy repairs with the env config's restorer, which ``--restorer`` sets.
* Sizes: inputs must be ``image_size / scale`` pixels square (16x16 at x8). Other sizes are resized to
  that with area interpolation (bicubic when enlarging) and a note is printed; ``--strict-size`` makes
  a wrong size an error instead.
* Outputs per input ``NAME.ext``: ``<out>/NAME.png`` (the final image, ``image_size`` square);
  with ``--save-steps`` also ``NAME_step00.png`` (start image) .. ``NAME_stepT.png``; with ``--video``
  ``NAME.mp4`` (LR | image with the box history, one frame per step).

Examples::

    fh-gym hallucinate lr_faces/ --agent runs/fh_gym-FaceRepair-Dense-x8-v0__ppo__0__1700000000/final.zip --out sr/
    fh-gym hallucinate face16.png --strategy even --restorer runs/restorer/restorer.pt --video --out sr/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fh_gym.agents.cli.common import DEFAULT_ENV, DEVICE, FPS, add_out_arg, add_seed_arg, build_env_config, count
from fh_gym.agents.strategies import strategy_names


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hallucinate", help="super-resolve LR face images with an agent or a strategy",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, help="LR image files and/or folders of them")
    add_out_arg(p, "outputs/hallucinate")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--agent", type=Path, help="trained agent checkpoint (.zip / .pt)")
    who.add_argument("--strategy", default="even",
                     help="baseline strategy when no agent "
                          f"({', '.join(strategy_names(with_truth=False, defaults_only=False))})")
    p.add_argument("--env", help=f"registered env id (default: the agent's env, else {DEFAULT_ENV})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one env config key, e.g. --set horizon=20")
    p.add_argument("--restorer", type=Path, help="restorer checkpoint (.pt) to repair with")
    p.add_argument("--device", type=DEVICE.argparse_type("--device"), help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--strict-size", action="store_true", help="fail on inputs of the wrong size instead of resizing")
    p.add_argument("--save-steps", action="store_true", help="also write the image after every step")
    p.add_argument("--video", action="store_true", help="also write an MP4 per image")
    p.add_argument("--fps", type=FPS.argparse_type("--fps"), default=4.0, help="video frame rate (default: 4)")
    p.add_argument("--batch-size", type=count("--batch-size"), default=32, help="images per batch (default: 32)")
    add_seed_arg(p, "seed of sampling strategies (random)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the evaluation stack (scipy, matplotlib) loads only for the command that runs.
    from fh_gym.agents.comparison import build_actors
    from fh_gym.inference import (
        check_inference_actor,
        collect_inputs,
        hallucinate_files,
        inference_config,
        inference_restorer,
        training_repairs_note,
    )

    # A plain SB3 / RL Zoo zip records no env: it acts on --env's (fh-gym's agent files act on their own).
    given = build_env_config(args.env or DEFAULT_ENV, restorer=args.restorer, device=args.device,
                             overrides=args.overrides)
    (actor,) = build_actors([], [args.agent], env_config=given) if args.agent else build_actors([args.strategy])
    check_inference_actor(actor)
    base = actor.env_config if args.env is None else None
    config = inference_config(build_env_config(args.env or DEFAULT_ENV, base=base, restorer=args.restorer,
                                               device=args.device, overrides=args.overrides))
    files = collect_inputs(args.inputs)
    if actor.restorer is not None:
        unused = f"; --restorer {args.restorer} is not used" if args.restorer else ""
        print(f"repairing with the restorer trained with the agent ({args.agent}){unused}")
    restorer = inference_restorer(config, actor)
    if actor.restorer is None:
        print(f"repairing with {config['restorer']['type']} {restorer.weights_source or ''}".rstrip())
        note = training_repairs_note(actor, restorer)
        if note:
            print(note)
    written = hallucinate_files(config, actor, files, args.out, restorer=restorer, batch_size=args.batch_size,
                                seed=args.seed,
                                strict_size=args.strict_size, save_steps=args.save_steps, video=args.video,
                                fps=args.fps)
    print(f"wrote {written} image(s) of {config['image_size']}x{config['image_size']} to {args.out}")
    return 0
