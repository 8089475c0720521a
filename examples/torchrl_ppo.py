"""PPO with TorchRL on the native batched env (``fh_gym.envs.torchrl_env.FaceRepairTorchRLEnv``).

Every iteration rolls out one episode per face (N faces x T repairs, all tensors on the env's device),
estimates advantages with GAE and runs a few clipped-PPO epochs. The policy is fh-gym's CNN features
extractor (``FaceRepairExtractor``) with a masked categorical head (a grid cell is never repaired twice)
and a value head. Needs ``pip install "fh-gym[torchrl]"``.

Usage::

    python examples/torchrl_ppo.py --iterations 50 --num-envs 32
    python examples/torchrl_ppo.py --device cuda --num-envs 1024 --restorer runs/restorer/restorer.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from tensordict.nn import TensorDictModule
from torch import Tensor, nn
from torchrl.modules import MaskedCategorical, ProbabilisticActor, ValueOperator
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fh_gym.agents.sb3.features import FaceRepairExtractor
from fh_gym.envs.torchrl_env import FaceRepairTorchRLEnv

OBS_KEYS = ["image", "start", "coverage", "last_action", "step"]


class Backbone(nn.Module):
    """fh-gym's features extractor on raw env tensors (uint8 images, any number of batch dimensions)."""

    def __init__(self, env: FaceRepairTorchRLEnv, features: int) -> None:
        super().__init__()
        engine = env.engine
        self.extractor = FaceRepairExtractor(engine.single_observation_space, features_dim=features,
                                             horizon=engine.horizon)

    def forward(self, image: Tensor, start: Tensor, coverage: Tensor, last_action: Tensor, step: Tensor) -> Tensor:
        lead = image.shape[:-3]
        flat = [x.reshape(-1, *x.shape[len(lead):]) for x in (image, start, coverage, last_action, step)]
        obs = dict(zip(OBS_KEYS, flat, strict=True))
        for key in ("image", "start", "coverage"):
            obs[key] = obs[key].float() / 255.0  # what SB3's preprocessing does before the extractor
        return self.extractor(obs).reshape(*lead, -1)


class Head(nn.Module):
    """A linear head on its own backbone (the actor and the critic do not share features)."""

    def __init__(self, env: FaceRepairTorchRLEnv, features: int, outputs: int) -> None:
        super().__init__()
        self.backbone = Backbone(env, features)
        self.linear = nn.Linear(features, outputs)

    def forward(self, *observations: Tensor) -> Tensor:
        return self.linear(self.backbone(*observations))


def build_agent(env: FaceRepairTorchRLEnv, features: int = 64) -> tuple[ProbabilisticActor, ValueOperator]:
    """Actor (masked categorical over grid cells) and critic, each with its own backbone."""
    cells = int(env.engine.single_action_space.n)
    actor_net = TensorDictModule(Head(env, features, cells), in_keys=OBS_KEYS, out_keys=["logits"])
    actor = ProbabilisticActor(actor_net, in_keys={"logits": "logits", "mask": "action_mask"},
                               distribution_class=MaskedCategorical, return_log_prob=True,
                               spec=env.action_spec)
    critic = ValueOperator(Head(env, features, 1), in_keys=OBS_KEYS)
    return actor.to(env.device), critic.to(env.device)


def train(env: FaceRepairTorchRLEnv, iterations: int, epochs: int = 4, minibatch: int = 64, lr: float = 3e-4,
          seed: int = 0) -> list[dict[str, float]]:
    """Clipped PPO for ``iterations`` rollouts of one episode per face; returns per-iteration statistics."""
    torch.manual_seed(seed)
    env.set_seed(seed)
    actor, critic = build_agent(env)
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01)
    advantage = GAE(gamma=0.99, lmbda=0.95, value_network=critic)
    optimizer = torch.optim.Adam(loss.parameters(), lr=lr)
    history = []
    for _ in range(iterations):
        with torch.no_grad():
            data = env.rollout(env.engine.horizon, actor)  # (N, T): one whole episode per face
            advantage(data)
        flat = data.reshape(-1)
        for _ in range(epochs):
            for rows in torch.randperm(flat.numel(), device=env.device).split(minibatch):
                terms = loss(flat[rows])
                total = terms["loss_objective"] + terms["loss_critic"] + terms["loss_entropy"]
                optimizer.zero_grad()
                total.backward()
                nn.utils.clip_grad_norm_(loss.parameters(), 0.5)
                optimizer.step()
        final = data["next"][:, -1]
        history.append({"episode_return": float(data["next", "reward"].sum(1).mean()),
                        "final_psnr": float(final["psnr"].mean()), "loss": float(total.detach())})
    return history


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="fh_gym/FaceRepair-Dense-x8-v0")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--restorer", help="restorer checkpoint (.pt) the env repairs with")
    parser.add_argument("--horizon", type=int, help="episode length T (default: the env's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 is often fastest on a shared machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config: dict[str, Any] = {"device": args.device}
    if args.restorer:
        config["restorer"] = {"checkpoint": args.restorer}
    if args.horizon:
        config["horizon"] = args.horizon
    env = FaceRepairTorchRLEnv(args.env, args.num_envs, config)
    history = train(env, args.iterations, seed=args.seed)
    for k, stats in enumerate(history):
        print(f"iteration {k}: return {stats['episode_return']:.3f}  final PSNR {stats['final_psnr']:.2f} dB  "
              f"loss {stats['loss']:.4f}")
    return history


if __name__ == "__main__":
    main()
