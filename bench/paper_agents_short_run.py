"""Short CPU check that a paper agent learns: train for a few minutes, then compare on validation faces.

Every row repairs with the restorer trained jointly with the agent, so the table isolates the *policy*:
the trained policy, the same policy at its initialisation, and the random / sequential strategies.

    PYTHONPATH=. python bench/paper_agents_short_run.py --algo attention_fh --minutes 4
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", default="attention_fh", choices=["attention_fh", "ipfh"])
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--horizon", type=int, default=8)
    p.add_argument("--positions", type=int, default=4, help="box centres per axis (attention_fh)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--faces", type=int, default=32, help="validation faces in the comparison")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/short_run"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from fh_gym.agents.evaluate import run_episodes
    from fh_gym.agents.pg.actor import PolicyActor
    from fh_gym.agents.registry import get_algo, load_agent
    from fh_gym.agents.reports import table_rows, to_markdown
    from fh_gym.agents.runs import TrainContext
    from fh_gym.agents.strategies import build_strategy
    from fh_gym.data import build_dataset
    from fh_gym.engine.core import RepairEngine
    from fh_gym.envs.face_repair import make_config
    from fh_gym.restorers.config import merge_config

    data = {"type": "synthetic", "image_size": args.image_size}
    overrides = {"image_size": args.image_size, "data": data, "horizon": args.horizon}
    if args.algo == "attention_fh":
        overrides["action"] = {"type": "box", "positions": args.positions}
    env_id = {"attention_fh": "fh_gym/FaceRepair-AttentionFH-v0", "ipfh": "fh_gym/FaceRepair-IPFH-v0"}[args.algo]
    variant = {"attention_fh": "attention_fh", "ipfh": "ipfh"}[args.algo]
    env_config = make_config(overrides, variant)
    eval_config = merge_config(env_config, {"data": {**data, "split": "val"}})
    algo = get_algo(args.algo)
    algo_config = merge_config(algo.defaults(env_id), {"batch_size": args.batch, "minutes": args.minutes,
                                                       "checkpoint_every": 5})
    shutil.rmtree(args.out, ignore_errors=True)
    ctx = TrainContext(env_id=env_id, env_config=env_config, eval_config=eval_config, algo_config=algo_config,
                       run_dir=args.out, seed=args.seed, total_timesteps=10**9, resume=False, progress=True,
                       eval_every=10**9, eval_faces=args.faces)
    started = time.perf_counter()
    summary = algo.train(ctx)
    print(f"trained {summary['updates']} updates ({summary['env_steps']} env steps) in "
          f"{(time.perf_counter() - started) / 60:.1f} min")

    actor = load_agent(args.out / "agent.pt")
    # The same policy at initialisation: the trainer seeds, builds its engine (restorer), then the policy.
    torch.manual_seed(args.seed)
    engine = RepairEngine(env_config, args.batch)
    initial = PolicyActor(algo.make_policy(algo_config, engine), actor.restorer, actor.action_block, "initial policy")
    dataset = build_dataset(eval_config["data"])
    indices = np.arange(min(args.faces, len(dataset)))
    results = [run_episodes(eval_config, a, indices, restorer=actor.restorer, dataset=dataset, seed=args.seed)
               for a in (actor, initial, build_strategy("random"), build_strategy("sequential"))]
    print(to_markdown(table_rows(results)))


if __name__ == "__main__":
    main()
