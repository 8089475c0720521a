"""``fh-gym demo``: the whole pipeline on the built-in synthetic faces, in minutes on a CPU.

1. builds the env: its patch restorer comes with the shipped weights (``fh-gym weights``), nothing to pre-train;
2. trains a small MaskablePPO agent (sb3-contrib) on the training people (``--timesteps``, a run folder under
   ``<out>/agents`` with TensorBoard logs and checkpoints, as ``fh-gym train`` makes);
3. compares the agent with the random / even / sequential / centre-out / best-fixed / greedy-oracle strategies on
   unseen test people (PSNR/SSIM with 95% CIs, paired gains over bicubic) and prints the table;
4. records MP4 (H.264) videos of the agent's episodes.

The demo's agent is trained for a few minutes: it shows the tools working together, not what learned patch
selection is worth (docs/evaluation.md and BENCHMARKS.md have the experiments).
"""

from __future__ import annotations

import argparse
import time

from fh_gym.agents.cli.common import add_env_args, add_out_arg, add_seed_arg, count, env_config_from_args
from fh_gym.restorers.config import merge_config

DEMO_ALGO = "maskable_ppo"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end demo on the built-in synthetic faces", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="test")
    add_out_arg(p, "outputs/demo")
    p.add_argument("--timesteps", type=count("--timesteps"), default=12_288,
                   help="env steps of the demo agent's training (default: 12288, a few minutes on a CPU)")
    p.add_argument("--faces", type=count("--faces"), default=64, help="test faces in the comparison (default: 64)")
    p.add_argument("--episodes", type=count("--episodes"), default=2, help="videos to record")
    add_seed_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Lazy: the evaluation and RL stacks (scipy, matplotlib, SB3) load only for the command that runs.
    from fh_gym.agents.comparison import build_actors, compare
    from fh_gym.agents.registry import get_algo, load_agent
    from fh_gym.agents.reports import to_markdown
    from fh_gym.agents.runs import new_context
    from fh_gym.agents.strategies import strategy_names
    from fh_gym.engine.networks import env_network
    from fh_gym.recording import record_episodes

    started = time.perf_counter()
    test_config = env_config_from_args(args)
    restorer = env_network(test_config)
    print(f"[1/4] {args.env}: restorer {test_config['restorer']['type']} with "
          f"{restorer.weights_source or 'the weights given'} ({test_config['data']['type']} faces)")

    print(f"[2/4] training a {DEMO_ALGO} agent for {args.timesteps} env steps on the training people")
    algo = get_algo(DEMO_ALGO)
    algo.check_env(test_config, args.env)
    train_config = merge_config(test_config, {"data": {**test_config["data"], "split": "train"}})
    val_config = merge_config(test_config, {"data": {**test_config["data"], "split": "val"}})
    hyperparams = algo.check_hyperparams(args.env, {**algo.defaults(args.env), "total_timesteps": args.timesteps})
    ctx = new_context(args.out / "agents", args.env, DEMO_ALGO, args.seed, train_config, val_config, hyperparams,
                      eval_every=0, eval_faces=16)
    result = algo.train(ctx)
    agent = load_agent(result["final"])

    print(f"[3/4] comparing the agent and the strategies on {args.faces} faces of unseen test people")
    actors = [*build_actors(strategy_names(), env_config=test_config), agent]
    rows, paths = compare(test_config, actors, args.faces, 32, args.seed, args.out / "compare")
    print(to_markdown(rows))

    print(f"[4/4] recording {args.episodes} episodes of the agent")
    videos = record_episodes(test_config, agent, args.episodes, args.out / "videos")
    print("written:", ", ".join(str(p) for p in [ctx.run_dir, *paths.values(), *videos]))
    print(f"demo finished in {(time.perf_counter() - started) / 60:.1f} min")
    return 0
