"""Attention-FH recurrent policy network (Shi et al., TPAMI 2020, Sec. 3.2, Fig. 2, Table 1).

Per step t, for B faces at once:

* ``v_t`` = Table-1 feature extractor (4 stride-2 convs + fc 64) on the current image I_t, ``v_0`` = the
  same architecture on the start image I_0 (computed once per episode in :meth:`begin`);
* ``v_l`` = hidden state of a GRU over the encodings of all previous actions ``h_0 .. h_{t-1}`` (Fig. 2:
  64 hidden units; ``h_0`` = the all-zero "initial action" of Algorithm 1);
* the state ``s_t = [v_t, v_0, v_l]`` feeds a second GRU (Sec. 3.2: "The GRU takes the state s_t as input
  and generates a 128 x 1 hidden vector v_c"), then an FC layer (Fig. 2: 128 neurons) gives the logits
  of the action factors: ``(x, y, ratio, scale)`` for ``box`` actions (size-free attention), or the
  cells of a ``grid`` action space.

Choices where the paper is vague or inconsistent: it states both a 128-d (Fig. 2) and a 512-d (Sec. 3.2)
state; we use ``2 * feature_dim + history_hidden`` (= 192 at the defaults). An action is encoded as the
concatenated one-hot codes of its factors. The factors are independent given ``v_c``. The learned
baseline (value head, an MLP on the *detached* ``v_c`` so the baseline never shapes the policy's
features) is ours: the paper writes ``a * (r - b)`` without saying what b is.
``image_input="start"`` is the "Our w/ I_0 agent" ablation (Sec. 4.5): the policy sees I_0 in place
of I_t, so its actions do not depend on the repairs made so far.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fh_gym.agents.pg.policy_base import POLICIES, EpisodePolicy, PolicyOutput, State, to_signed
from fh_gym.restorers.archs.attention_fh_arch import AttentionFHFeatureExtractor

IMAGE_INPUTS = ("current", "start")


@POLICIES.register()
class AttentionFHPolicy(EpisodePolicy):
    """Table-1 extractors on I_t and I_0, a GRU over the action history, a GRU over states, FC head.

    Args:
        sizes: Choices per action factor (box: ``[positions, positions, ratios, scales]``; grid: ``[cells]``).
        multi: Whether actions are ``MultiDiscrete`` rows (box) or ``Discrete`` (grid).
        image_size: Side of the images (the Table-1 fc input size depends on it).
        feature_dim: Length of ``v_t`` and ``v_0`` (Table 1: 64).
        history_hidden: Hidden units of the action-history GRU, the length of ``v_l`` (Fig. 2: 64).
        policy_hidden: Hidden units of the state GRU, the length of ``v_c`` (Sec. 3.2: 128).
        head_hidden: Units of the FC layer before the logits (Fig. 2: 128); 0 = logits straight from ``v_c``.
        value_hidden: Units of the baseline MLP.
        image_input: ``"current"`` (I_t, the full model) or ``"start"`` (I_0: the "w/ I_0 agent" ablation).
        share_extractor: Use one Table-1 extractor for I_t and I_0 (the paper does not say).
        avoid_repeats: Never pick a box centre twice in an episode (Sec. 1: previously attended regions
            "are also recorded to avoid duplicated selection"), in training and at test time alike.
    """

    def __init__(self, sizes: list[int], multi: bool, image_size: int = 128, feature_dim: int = 64,
                 history_hidden: int = 64, policy_hidden: int = 128, head_hidden: int = 128,
                 value_hidden: int = 64, image_input: str = "current", share_extractor: bool = False,
                 avoid_repeats: bool = True) -> None:
        super().__init__(sizes, multi, image_size, avoid_repeats)
        if image_input not in IMAGE_INPUTS:
            raise ValueError(f"image_input must be one of {IMAGE_INPUTS}, got {image_input!r}")
        self.remember(sizes=list(self.spec.sizes), multi=bool(multi), image_size=int(image_size),
                      feature_dim=int(feature_dim), history_hidden=int(history_hidden),
                      policy_hidden=int(policy_hidden), head_hidden=int(head_hidden),
                      value_hidden=int(value_hidden), image_input=image_input, share_extractor=bool(share_extractor),
                      avoid_repeats=bool(avoid_repeats))
        self.image_input = image_input
        self.extract_t = AttentionFHFeatureExtractor(3, image_size, feature_dim)
        self.extract_0 = self.extract_t if share_extractor else AttentionFHFeatureExtractor(3, image_size, feature_dim)
        self.history = nn.GRUCell(self.spec.total, history_hidden)
        self.recurrent = nn.GRUCell(2 * feature_dim + history_hidden, policy_hidden)
        self.build_heads(policy_hidden, head_hidden, value_hidden)

    def begin(self, engine, slots: Tensor) -> State:
        batch = len(slots)
        device = engine.start.device
        return {
            "v0": self.extract_0(to_signed(engine.start[slots])),
            "history": torch.zeros(batch, self.history.hidden_size, device=device),
            "hidden": torch.zeros(batch, self.recurrent.hidden_size, device=device),
        }

    def forward(self, engine, slots: Tensor, state: State, prev_actions: Tensor, first: Tensor) -> PolicyOutput:
        # h_0 (Algorithm 1's initial action) is the zero vector; later steps encode the previous action.
        code = self.spec.one_hot(prev_actions) * (~first).to(torch.float32)[:, None]
        v_l = self.history(code, state["history"])
        image = engine.start[slots] if self.image_input == "start" else engine.current[slots]
        v_t = self.extract_t(to_signed(image))
        v_c = self.recurrent(torch.cat([v_t, state["v0"], v_l], dim=1), state["hidden"])
        logits = self.head(v_c)
        value = self.value_head(v_c.detach()).squeeze(1)
        return PolicyOutput(logits, value, {"v0": state["v0"], "history": v_l, "hidden": v_c})
