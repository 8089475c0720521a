"""Features extractor for the ``FaceRepairEnv`` Dict observation (SB3 ``MultiInputPolicy``).

SB3 hands the extractor the observation *after* its preprocessing: ``VecTransposeImage`` turns the
uint8 HxWxC image entries (``image``, ``start``, ``coverage``) into CxHxW and ``preprocess_obs`` scales
them to [0, 1] (``normalize_images=True``, the default). The extractor accepts either layout, so it also
works on an un-transposed observation space.

Frame stacking (``VecFrameStack``, RL Zoo's ``frame_stack: k``) is supported: the k frames' images, start
images and coverage arrive concatenated along the channels (``3k``, ``3k``, ``k``) and ``last_action`` /
``step`` along their vector (``4k``, ``k``); the CNN then sees ``10k`` channels. Any other layout is refused
with a message naming the entry, its shape and what was expected.

Encoder choice. The default ``"small"`` CNN sees a 10-channel stack [I_t, I_0, coverage * 255 / T,
I_t - I_0] at half resolution and *flattens* its 8x8 map: where the face is still blurry (I_t - I_0 ~ 0)
and uncovered is exactly what a patch choice needs, and flattening (instead of global pooling) keeps
that layout. ``"attention_fh"`` runs the Attention-FH Table-1 extractor
(:class:`fh_gym.restorers.archs.attention_fh_arch.AttentionFHFeatureExtractor`, 4 stride-2 convs then fc) on
the same stack at full resolution, for paper-faithful ablations; it costs ~4x the FLOPs of ``"small"``.

Example:
    >>> from stable_baselines3 import PPO
    >>> policy_kwargs = {"features_extractor_class": FaceRepairExtractor,
    ...                  "features_extractor_kwargs": {"features_dim": 128, "horizon": 16}}
    >>> model = PPO("MultiInputPolicy", vec_env, policy_kwargs=policy_kwargs)  # doctest: +SKIP
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from fh_gym.restorers.archs.attention_fh_arch import AttentionFHFeatureExtractor

IMAGE_KEYS = ("image", "start", "coverage")
VECTOR_KEYS = ("last_action", "step")
ENCODERS = ("small", "attention_fh")


def _layout(name: str, space: gym.spaces.Space) -> tuple[bool, int, int]:
    """(channels first, channels, side) of a square image entry: CxSxS when SB3 transposed it, SxSxC else."""
    shape = tuple(getattr(space, "shape", None) or ())
    if len(shape) == 3 and shape[1] == shape[2] and shape[0] != shape[1]:
        return True, shape[0], shape[1]
    if len(shape) == 3 and shape[0] == shape[1]:
        return False, shape[2], shape[0]
    raise ValueError(f"FaceRepairExtractor: observation {name!r} has shape {shape}; expected a square image "
                     "(S, S, C) or (C, S, S)")


def stacked_frames(observation_space: gym.spaces.Dict) -> int:
    """How many frames a (possibly frame-stacked) FaceRepairEnv observation holds; ``ValueError`` naming the
    entry whose shape does not fit."""
    layout, channels, side = _layout("image", observation_space.spaces["image"])
    if channels % 3:
        raise ValueError(f"FaceRepairExtractor: 'image' has {channels} channels; expected 3 per stacked frame")
    frames = channels // 3
    expected = {"start": 3 * frames, "coverage": frames}
    for key, count in expected.items():
        first, got, got_side = _layout(key, observation_space.spaces[key])
        if got != count or got_side != side or first != layout:
            raise ValueError(f"FaceRepairExtractor: {key!r} has {got} channels of {got_side}px; with {frames} "
                             f"stacked frame(s) of 'image' ({channels} channels, {side}px) it needs {count}")
    for key, per_frame in (("last_action", 4), ("step", 1)):
        shape = tuple(observation_space.spaces[key].shape)
        if shape != (per_frame * frames,):
            raise ValueError(f"FaceRepairExtractor: {key!r} has shape {shape}; with {frames} stacked frame(s) it "
                             f"needs ({per_frame * frames},)")
    return frames


class ObservationStack:
    """``stack(observations) -> (B, 10k, H, W)`` [I_t, I_0, coverage, I_t - I_0] of k stacked frames.

    Args:
        observation_space: The env's Dict space (as SB3 passes it: images possibly transposed).
        horizon: Episode length T; coverage counts are rescaled by it so a pixel covered once reads 1/T.

    Raises:
        ValueError: If the space lacks an fh-gym key or an entry's shape fits no number of stacked frames.
    """

    def __init__(self, observation_space: gym.spaces.Dict, horizon: int) -> None:
        missing = [k for k in (*IMAGE_KEYS, *VECTOR_KEYS) if k not in observation_space.spaces]
        if missing:
            raise ValueError(f"FaceRepairExtractor needs the FaceRepairEnv observation; missing keys {missing}")
        self.channels_first, _, self.image_size = _layout("image", observation_space.spaces["image"])
        #: frames per observation (VecFrameStack / RL Zoo's frame_stack; 1 without stacking)
        self.frames = stacked_frames(observation_space)
        self.horizon = int(horizon)

    def _image(self, x: Tensor) -> Tensor:
        return x if self.channels_first else x.permute(0, 3, 1, 2)

    def __call__(self, observations: dict[str, Tensor]) -> Tensor:
        """The CNN input from preprocessed observations (images in [0, 1])."""
        image = self._image(observations["image"].float())
        start = self._image(observations["start"].float())
        # SB3 scaled the visit counts by 1/255; bring them to "fraction of the episode" units.
        coverage = self._image(observations["coverage"].float()) * (255.0 / self.horizon)
        return torch.cat([image, start, coverage, image - start], dim=1)


class FaceRepairExtractor(BaseFeaturesExtractor):
    """CNN over [I_t, I_0, coverage, I_t - I_0] concatenated with ``last_action`` and ``step``.

    Args:
        observation_space: The env's Dict space (as SB3 passes it: images possibly transposed).
        features_dim: Length of the output vector.
        horizon: Episode length T; coverage counts are rescaled by it so a pixel covered once reads 1/T
            whatever T is (SB3 already divided the uint8 counts by 255).
        encoder: ``"small"`` (default, CPU-cheap) or ``"attention_fh"`` (Attention-FH Table 1).
        width: Channels of the ``"small"`` CNN's first layer (the next two have 2x).

    Raises:
        ValueError: If the observation space lacks an fh-gym key, an entry has a shape that no number of
            stacked frames explains, or ``encoder`` is unknown.
    """

    def __init__(self, observation_space: gym.spaces.Dict, features_dim: int = 128, horizon: int = 16,
                 encoder: str = "small", width: int = 16) -> None:
        super().__init__(observation_space, features_dim)
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
        self.stack = ObservationStack(observation_space, horizon)
        self.image_size, self.frames, self.horizon = self.stack.image_size, self.stack.frames, self.stack.horizon
        self.encoder_name = encoder
        in_channels = 10 * self.frames
        if encoder == "small":
            self.cnn = nn.Sequential(
                nn.AvgPool2d(2),  # 128 -> 64 first: the convolutions then cost a quarter
                nn.Conv2d(in_channels, width, 5, stride=2, padding=2), nn.ReLU(),
                nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(),
            )
            with torch.no_grad():
                flat = self.cnn(torch.zeros(1, in_channels, self.image_size, self.image_size)).shape[1]
        else:
            flat = features_dim
            self.cnn = nn.Sequential(AttentionFHFeatureExtractor(in_channels, self.image_size, flat), nn.ReLU())
        vector = sum(int(observation_space.spaces[k].shape[0]) for k in VECTOR_KEYS)
        self.head = nn.Sequential(nn.Linear(flat + vector, features_dim), nn.ReLU())

    def forward(self, observations: dict[str, Tensor]) -> Tensor:
        maps = self.cnn(self.stack(observations))
        vector = torch.cat([observations[k].float().flatten(1) for k in VECTOR_KEYS], dim=1)
        return self.head(torch.cat([maps, vector], dim=1))
