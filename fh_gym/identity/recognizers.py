"""Face recognisers behind one interface: L2-normalised embeddings of NCHW [0, 1] faces.

Two kinds:

* ``dlib`` — dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``, 99.38% on LFW
  by its authors), an *independent* judge of identity: CPU, no gradients, ~50-90 ms a face on one core. The
  model files come from the ``face_recognition_models`` package and dlib from ``dlib-bin``
  (``pip install "fh-gym[identity]"``). Alignment: dlib's 5-point shape predictor inside a fixed face
  rectangle (fh-gym's faces are aligned crops, so no detector runs: it cannot miss a blurry face), then dlib's
  own 150x150 chip alignment.
* ``net`` — a torch identity network (the project's SICNN CNN_R, or a network distilled from dlib): batched,
  on any device and differentiable, so identity terms can run inside the engine. Alignment is the fixed
  crop the network was trained on (fh-gym's 128x128 faces); ``flip`` (spec suffix ``+flip``) averages each
  face's embedding with its mirror image's.

Both return ``(N, D)`` unit vectors; :func:`identity_distance` is the Euclidean distance between them (in
[0, 2]) and :attr:`Recognizer.threshold` the distance under which a recogniser calls two faces one person.

Example:
    >>> judge = build_recognizer("dlib")  # doctest: +SKIP
    >>> d = identity_distance(judge.embed(sr), judge.embed(hr))  # doctest: +SKIP
    >>> same_person_rate = (d < judge.threshold).float().mean()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fh_gym.restorers.build import build_network
from fh_gym.restorers.checkpoint import load_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.training.identity_training import flip_averaged

#: the suffix of a ``--recognizer`` spec that averages a network's embeddings over each face and its mirror image
FLIP_SUFFIX = "+flip"
#: how to get the optional dependencies of the dlib recogniser
IDENTITY_EXTRA = 'pip install "fh-gym[identity]"  (dlib-bin and face_recognition_models)'


def check_faces(images: Tensor) -> Tensor:
    """Validate a batch of faces: (N, 3, H, W) float in [0, 1]; returns it clamped (rounding noise)."""
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"faces must be a (N, 3, H, W) tensor, got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"faces must be float in [0, 1], got dtype {images.dtype}")
    low, high = (float(images.detach().min()), float(images.detach().max())) if images.numel() else (0.0, 1.0)
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(f"faces must be in [0, 1], got values in [{low:.3f}, {high:.3f}]")
    return images.clamp(0, 1)


def identity_distance(a: Tensor, b: Tensor) -> Tensor:
    """(N,) Euclidean distance between unit embeddings ``a`` and ``b`` (N, D): 0 same face, 2 opposite."""
    if a.shape != b.shape:
        raise ValueError(f"embeddings must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (a - b).norm(dim=1)


class Recognizer:
    """Base class: ``embed(faces) -> (N, D)`` unit vectors.

    Attributes:
        name: Short name for tables (``dlib``, or the network's).
        threshold: Distance between unit embeddings under which two faces are the same person.
        differentiable: Whether :meth:`embed` keeps the autograd graph (torch networks).
    """

    name = ""
    threshold = 0.5
    differentiable = False

    def embed(self, images: Tensor) -> Tensor:
        raise NotImplementedError


class NetRecognizer(Recognizer):
    """A torch identity network (e.g. SICNN's CNN_R) as a recogniser.

    Args:
        net: ``net(images) -> (N, D)`` features of (N, 3, H, W) faces in [0, 1].
        threshold: Same-person distance; default: the one stored with the network (``checkpoint_meta
            ["threshold"]``, calibrated on its validation people; ``"threshold_flip"`` with ``flip``) or 1.0
            (cosine 0.5) for a network stored without one.
        name: Row name (default: the network type, ``+flip`` appended with ``flip``).
        flip: Embed each face as the unit mean of its own and its mirror image's unit features (test-time
            flip averaging: +0.7 verification points for ``CNNR lfw_dlib``, +0.04 for ``lfw_dlib_aug``,
            BENCHMARKS section 10).
            Same-person pairs come closer (the distances are not the plain ones), so it has its own threshold:
            a network without a stored ``threshold_flip`` (trained before the recipe stored it) embeds but has
            no threshold.
    """

    differentiable = True

    def __init__(self, net: nn.Module, threshold: float | None = None, name: str | None = None,
                 flip: bool = False) -> None:
        self.net = net.eval()
        self.flip = bool(flip)
        meta = getattr(net, "checkpoint_meta", {}) or {}
        if threshold is None:  # a plain net stored without one gets cosine 0.5; a flip one gets none
            threshold = meta.get("threshold_flip") if self.flip else meta.get("threshold", 1.0)
        self._threshold = None if threshold is None else float(threshold)
        type_name = getattr(net, "arch_config", {}).get("type", type(net).__name__)
        self.name = name or type_name + (FLIP_SUFFIX if self.flip else "")

    @property
    def threshold(self) -> float:  # type: ignore[override]
        if self._threshold is None:
            raise ConfigError(f"recogniser {self.name} has no stored flip-averaged threshold (threshold_flip; the "
                              f"identity-distill recipe stores it): give a threshold, or judge with the plain net")
        return self._threshold

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def embed(self, images: Tensor) -> Tensor:
        """Unit features; differentiable in ``images`` (the network stays in eval mode)."""
        faces = check_faces(images).to(self.device)
        if self.flip:
            both = self.net(torch.cat([faces, faces.flip(-1)]))  # one forward call; eval mode: rows independent
            return flip_averaged(both[: len(faces)], both[len(faces):])
        return F.normalize(self.net(faces), dim=1)


class DlibRecognizer(Recognizer):
    """dlib's ResNet face descriptor (128-D), embeddings L2-normalised.

    dlib calls two faces one person below a distance of 0.6 between its raw descriptors, whose norms are
    about 1.41 on LFW faces; between the unit embeddings returned here the same rule is ``0.6 / 1.41``, the
    default ``threshold`` (0.425).

    Args:
        margin: Pixels between the image border and the face rectangle given to the shape predictor, at
            128x128 (scaled with the image); 10 matches dlib's own detector on fh-gym's LFW crops.
        jitter: dlib's ``num_jitters`` (1: no jittering; more is slower and slightly more accurate).
        threshold: Same-person distance between unit embeddings.

    Raises:
        ConfigError: When dlib or the model files are not installed (the message says how to install them).
    """

    name = "dlib"
    threshold = 0.6 / 1.41

    def __init__(self, margin: int = 10, jitter: int = 1, threshold: float | None = None) -> None:
        dlib, models = _dlib_and_models()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._model = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._rectangle = dlib.rectangle
        self.margin, self.jitter = int(margin), int(jitter)
        if threshold is not None:
            self.threshold = float(threshold)

    def embed(self, images: Tensor) -> Tensor:
        faces = check_faces(images)
        pixels = (faces.detach() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        rows = []
        for image in pixels:  # dlib has no batched CPU path for descriptors of given shapes
            image = np.ascontiguousarray(image)
            h, w = image.shape[:2]
            m = round(self.margin * min(h, w) / 128)
            shape = self._shape(image, self._rectangle(m, m, w - 1 - m, h - 1 - m))
            rows.append(np.asarray(self._model.compute_face_descriptor(image, shape, self.jitter)))
        embeddings = torch.from_numpy(np.stack(rows)).to(torch.float32) if rows else torch.zeros(0, 128)
        return F.normalize(embeddings, dim=1).to(images.device)


def _dlib_and_models() -> tuple[object, Path]:
    """The dlib module and the folder of face_recognition_models' model files.

    ``face_recognition_models/__init__.py`` imports ``pkg_resources``, which setuptools >= 81 no longer ships;
    the package is located with ``importlib.util.find_spec`` instead of being imported.
    """
    try:
        import dlib  # optional dependency (the "identity" extra)
    except ImportError as exc:
        raise ConfigError(f"the dlib recogniser needs dlib: {IDENTITY_EXTRA}") from exc
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the dlib recogniser needs the face_recognition_models files: {IDENTITY_EXTRA}")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [n for n in ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
               if not (models / n).is_file()]
    if missing:
        raise ConfigError(f"face_recognition_models lacks {', '.join(missing)} in {models}: {IDENTITY_EXTRA}")
    return dlib, models


def identity_block(spec: str | Path) -> dict[str, str]:
    """The network block of an identity net given as shipped weights ``TYPE:NAME`` (``{type, weights}``) or a
    checkpoint path (``{type: CNNR, checkpoint}``: the identity networks fh-gym trains are CNN_R)."""
    if not Path(spec).is_file() and ":" in str(spec):
        network, name = str(spec).split(":", 1)
        return {"type": network, "weights": name}
    return {"type": "CNNR", "checkpoint": str(spec)}


def identity_network(spec: str | Path, device: str | torch.device = "cpu", what: str = "--recognizer") -> nn.Module:
    """An identity network from a checkpoint path or shipped weights ``TYPE:NAME`` (e.g. ``CNNR:lfw_dlib``,
    see ``fh-gym weights``), in eval mode on ``device``; ``what`` names the option in the error."""
    path = Path(spec)
    block = identity_block(spec)
    if "weights" in block:
        return build_network(block, kind="aux").to(device).eval()
    if not path.is_file():
        raise ConfigError(f"{what} must be {'dlib, ' if what == '--recognizer' else ''}an identity-network "
                          f"checkpoint file or shipped weights TYPE:NAME (e.g. CNNR:lfw_dlib); {path} not found")
    return load_network(path, kind="aux").to(device).eval()


def split_flip(spec: str | Path) -> tuple[str, bool]:
    """``(spec without the suffix, whether it asked for flip averaging)`` of a ``--recognizer`` spec.

    Raises:
        ConfigError: For ``dlib+flip`` (dlib aligns faces itself; flip averaging is for identity networks).
    """
    text = str(spec)
    base, flip = (text[: -len(FLIP_SUFFIX)], True) if text.endswith(FLIP_SUFFIX) else (text, False)
    if flip and base == "dlib":
        raise ConfigError("--recognizer dlib+flip: flip averaging is for identity networks, not dlib")
    return base, flip


def build_recognizer(spec: str | Path, device: str | torch.device = "cpu") -> Recognizer:
    """``"dlib"``, an identity-network checkpoint path or shipped weights ``TYPE:NAME`` (``--recognizer``); a
    network's spec may end in ``+flip`` (``CNNR:lfw_dlib+flip``: :class:`NetRecognizer` with ``flip``)."""
    if str(spec) == "dlib":
        return DlibRecognizer()
    base, flip = split_flip(spec)
    shipped = "weights" in identity_block(base)  # named by TYPE:NAME; a checkpoint by its network type
    return NetRecognizer(identity_network(base, device), name=str(spec) if shipped else None, flip=flip)
