"""IPFH training (Sec. III-B.2 and III-C): policy gradient on the env's ``ipfh`` reward + joint restoration.

* Policy controller: stochastic actions from the softmax over patch locations, REINFORCE with a baseline
  on the env's reward (short-term dual-domain MSE + texture after each repair, long-term whole-image terms
  at T, Eqs. 9-15; the env's ``form`` picks absolute or delta), returns-to-go with ``gamma`` (1.0: the
  paper's undiscounted sum, Eq. 9), Adam with the learning rate decayed from 1e-3 to 1e-5.
* Local restoration network, trained together (Sec. III-B.2): after every repair one Adam step on the
  patch loss (Eq. 16, :mod:`fh_gym.agents.ipfh.losses`); at T one step on the image loss (Eq. 17) of the final
  image. The final image's gradient is taken through a *replay*: the restorer is re-run (current weights)
  on every step's kept inputs and its outputs are pasted in step order onto I_T, so each pixel depends on
  the last repair that covered it. Gradients through earlier repairs' effect on later inputs are cut
  (truncated back-propagation; the paper does not say how it differentiates the sequence).

Deviations (``envs_configs/agents/ipfh.yaml``): batch 16 on CPU (paper 64), a learned value baseline,
normalised advantages, a small entropy bonus, CPU-sized policy widths, ``faces_per_step`` subsampling.
"""

from __future__ import annotations

from typing import Any

import torch

from fh_gym.agents.ipfh.losses import IMAGE_TERMS, PATCH_TERMS, IPFHLosses, weighted_sum
from fh_gym.agents.ipfh.policy import IPFHPolicy
from fh_gym.agents.pg.distributions import ActionSpec
from fh_gym.agents.pg.restorer_training import cat_contexts, slice_context, training_batch
from fh_gym.agents.pg.trainer import AgentSpec, RestorerTrainer, train_agent
from fh_gym.agents.registry import TrainContext
from fh_gym.config import ConfigError
from fh_gym.engine.core import RepairEngine, StepOutput
from fh_gym.engine.windows import gather_windows, pasted_windows

ALGO = "ipfh"


def make_policy(cfg: dict[str, Any], engine: RepairEngine) -> IPFHPolicy:
    spec = ActionSpec.from_space(engine.single_action_space)
    return IPFHPolicy(list(spec.sizes), spec.multi, engine.image_size, **cfg["policy"])


class IPFHRestorerTrainer(RestorerTrainer):
    """Eq. 16 after every repair, Eq. 17 (through the replay) at T.

    Args:
        engine: The training engine (its restorer is trained).
        lr / grad_clip / faces_per_step: Optimiser settings; ``faces_per_step`` subsamples the faces of
            both losses (None: all).
        loss_cfg: The ``restorer_loss`` block (weights, image_loss, texture_features, lr_domain, identity_net).
    """

    def __init__(self, engine: RepairEngine, lr: float, grad_clip: float | None, faces_per_step: int | None,
                 loss_cfg: dict[str, Any]) -> None:
        self.restorer = engine.restorer
        self.optimizer = torch.optim.Adam(self.restorer.parameters(), lr=lr)
        self.grad_clip, self.faces_per_step = grad_clip, faces_per_step
        self.patch_weights = _weights(loss_cfg["patch"], PATCH_TERMS, "patch")
        self.image_weights = _weights(loss_cfg["image"], IMAGE_TERMS, "image")
        self.image_loss = bool(loss_cfg["image_loss"])
        self.losses = IPFHLosses(engine, loss_cfg["texture_features"], loss_cfg["lr_domain"], loss_cfg["identity_net"])
        self._steps: list[tuple[Any, torch.Tensor, torch.Tensor]] = []

    def _update(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.restorer.parameters(), self.grad_clip)
        self.optimizer.step()
        self.restorer.eval()

    def start_episode(self, engine: RepairEngine, faces: torch.Tensor) -> None:
        self._steps = []
        self.losses.start_episode(faces)

    def after_step(self, engine: RepairEngine, step: StepOutput) -> dict[str, float]:
        if self.image_loss:  # keep every step's inputs for the replay at T
            self._steps.append((step.context, step.record.starts, step.record.paste))
        ctx, rec, _ = training_batch(step, self.faces_per_step, self.generator)
        self.restorer.train()
        terms = self.losses.patch(self.restorer(ctx), rec.hr, rec.lr, rec.box_mask)
        loss = weighted_sum(terms, self.patch_weights)
        self._update(loss)
        return {"losses/restorer": float(loss.detach()),
                **{f"losses/restorer_{k}": float(v.detach()) for k, v in terms.items()}}

    def replay_final_image(self, engine: RepairEngine, faces: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """I_T of ``faces[rows]`` rebuilt from the kept inputs with the current restorer, differentiably.

        One restorer call for all T steps (same window size), then the pastes in step order starting from
        I_0, blending each output into the replayed image exactly as the engine did (also with feathered
        pastes), so the result equals ``engine.current`` if the weights have not changed since the episode.
        """
        contexts = cat_contexts([slice_context(c, rows) for c, _, _ in self._steps])
        outputs = self.restorer(contexts).clamp(0, 1).split(len(rows))
        image = engine.start[faces[rows]].detach().clone()
        slots = torch.arange(len(rows), device=engine.device)
        for out, (_, starts, paste) in zip(outputs, self._steps, strict=True):
            window = gather_windows(image, slots, starts[rows], engine.window)
            image = pasted_windows(image, slots, starts[rows], window + paste[rows] * (out - window))
        return image

    def end_episode(self, engine: RepairEngine, faces: torch.Tensor) -> dict[str, float]:
        if not self.image_loss or not self._steps:
            return {}
        count = len(faces)
        rows = torch.arange(count) if self.faces_per_step is None or self.faces_per_step >= count else \
            torch.randperm(count, generator=self.generator)[: int(self.faces_per_step)]
        rows = rows.to(engine.device)
        self.restorer.train()
        image = self.replay_final_image(engine, faces, rows)
        terms = self.losses.image(image, engine.hr[faces[rows]], engine.lr[faces[rows]], faces[rows])
        loss = weighted_sum(terms, self.image_weights)
        self._update(loss)
        self._steps = []
        return {"losses/restorer_image": float(loss.detach())}


def _weights(block: dict[str, float], names: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = set(block) - set(names)
    if unknown:
        raise ConfigError(f"unknown restorer_loss.{what} term(s) {sorted(unknown)}; valid: {', '.join(names)}")
    return {k: float(block.get(k, 0.0)) for k in names}


def make_restorer_trainer(cfg: dict[str, Any], engine: RepairEngine) -> IPFHRestorerTrainer:
    block = cfg["restorer"]
    return IPFHRestorerTrainer(engine, block["lr"], block["grad_clip"], block["faces_per_step"], cfg["restorer_loss"])


SPEC = AgentSpec(algo=ALGO, make_policy=make_policy, make_restorer_trainer=make_restorer_trainer)


def train(ctx: TrainContext) -> dict[str, Any]:
    """``fh-gym train --algo ipfh``: see the module docstring."""
    return train_agent(ctx, SPEC)
