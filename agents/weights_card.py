"""The shipped weights as a user sees them: the ``fh-gym weights`` table, the model cards of ``docs/weights.md``,
and the small check figure each manifest entry records (the tests reproduce it within its tolerance).

Check metrics (the entry's ``check.metric``), all on the first ``check.faces`` faces of the *test* people of the
file's data (:func:`~fh_gym.agents.evaluate.sample_faces`, seed 0), degradation seed 0:

* ``even_gain_db`` (patch restorers): paired PSNR gain over bicubic of even-grid episodes in the env variant
  ``check.env`` repairing with these weights;
* ``psnr_gain_db`` (generators): paired PSNR gain of the generator's output over bicubic, x``scale``;
* ``identity_cosine_bicubic`` (identity networks): mean cosine of the features of bicubic x8 faces and their HR;
* ``selection_gain_db`` (gain predictors): paired PSNR gain over bicubic of the ``gain_predictor`` strategy's
  episodes with these weights in the env variant ``check.env`` (its default restorer).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fh_gym.agents.evaluate import image_metrics, run_episodes, sample_faces
from fh_gym.agents.strategies import EvenGridStrategy, GainPredictorStrategy
from fh_gym.data import build_dataset
from fh_gym.degradations import Degradation, upsample_bicubic
from fh_gym.envs.config import make_config
from fh_gym.identity_eval import identity_similarity
from fh_gym.restorers.build import build_network
from fh_gym.restorers.config import ConfigError
from fh_gym.restorers.registry import get_arch
from fh_gym.restorers.weights import ShippedWeights, shipped

CHECK_METRICS = ("even_gain_db", "psnr_gain_db", "identity_cosine_bicubic", "selection_gain_db")


def _test_faces(data: str, count: int) -> tuple[Any, np.ndarray]:
    dataset = build_dataset({"type": data, "split": "test"})
    return dataset, sample_faces(dataset.identities, count, seed=0)


def check_value(weights: ShippedWeights) -> float:
    """Recompute the entry's check figure (see the module docstring)."""
    check = weights.check
    metric, faces = check.get("metric"), int(check.get("faces", 8))
    if metric not in CHECK_METRICS:
        raise ConfigError(f"weights {weights.network}.{weights.name}: check.metric must be one of {CHECK_METRICS}")
    block = {"type": weights.network, "weights": weights.name}
    dataset, indices = _test_faces(weights.data, faces)
    if metric in ("even_gain_db", "selection_gain_db"):
        data = {"data": {"type": weights.data, "split": "test"}}
        if metric == "even_gain_db":
            config, strategy = make_config({**data, "restorer": block}, check["env"]), EvenGridStrategy()
        else:
            config, strategy = make_config(data, check["env"]), GainPredictorStrategy(weights=weights.name)
        result = run_episodes(config, strategy, indices, dataset=dataset, batch_size=len(indices))
        return float(np.mean(result.metrics["psnr"] - result.bicubic_metrics["psnr"]))
    hr = dataset.hr_float(indices)
    scale = int(weights.scale or 8)
    lr = Degradation.from_config({"scale": scale})(hr, np.random.default_rng(0)).lr
    bicubic = upsample_bicubic(lr, scale).clamp(0, 1)
    if metric == "psnr_gain_db":
        generator = build_network(block, "generator", scale=scale).eval()
        with torch.no_grad():
            sr = generator(lr).clamp(0, 1)
        return float(np.mean(image_metrics(sr, hr, scale)["psnr"] - image_metrics(bicubic, hr, scale)["psnr"]))
    net = build_network(block, "aux").eval()
    return float(identity_similarity(bicubic, hr, net).mean())


def _figure(name: str, value: Any) -> str:
    """``name value``: dB figures with two decimals and a sign, other [mean, ci95] pairs with four."""
    if isinstance(value, list | tuple) and len(value) == 2:
        text = f"{value[0]:+.2f} ± {value[1]:.2f}" if name.endswith("_db") else f"{value[0]:.4f} ± {value[1]:.4f}"
    elif isinstance(value, float):
        text = f"{value:+.2f}" if name.endswith("_db") else f"{value:.4f}"
    else:
        text = f"{value}"
    return f"{name}: {text}"


def weights_table() -> str:
    """Markdown: one row per shipped file (``fh-gym weights``, README, BENCHMARKS.md)."""
    lines = ["| network | weights | kind | data | scale | default for | size | budget | measured |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w in shipped():
        match = (", ".join(f"{k}={v}" for k, v in w.match.items()) or "any") if w.default else "by name only"
        figures = "; ".join(_figure(k, v) for k, v in w.figures.items())
        lines.append(f"| {w.network} | `{w.name}` | {get_arch(w.network).kind} | {w.data} | "
                     f"{'x' + str(w.scale) if w.scale else '-'} | {match} | {w.size_bytes / 1e6:.2f} MB | "
                     f"{w.budget} | {figures} |")
    return "\n".join(lines) + "\n"


LICENCE = ("LFW-derived weights (`data: lfw`) were trained on Labeled Faces in the Wild (University of Massachusetts, "
           "Amherst), a public research benchmark: use them for research. The synthetic-face weights carry no "
           "data licence.")


def model_cards() -> str:
    """``docs/weights.md``: one model card per shipped file (``tests/test_weights.py`` keeps the page current)."""
    parts = ["# Shipped weights (model cards)\n",
             "Generated from `restorers/weights/manifest.yaml` by `fh_gym.agents.weights_card.model_cards()`; "
             "`fh-gym weights` prints the same list. A block `{type: Network, weights: NAME}` loads a file; "
             "`weights: default` (what every env uses) picks the file that fits the env "
             "(`fh_gym.restorers.weights.resolve_default`); `weights: none` builds an untrained network.\n",
             f"Licence: {LICENCE}\n", "## Overview\n", weights_table()]
    for w in shipped():
        parts.append(f"## {w.network} `{w.name}`\n")
        parts.append(f"{w.description.strip()}\n")
        rows = [("file", f"`{w.file}` ({w.size_bytes / 1e6:.2f} MB, float16, sha256 `{w.sha256[:16]}...`)"),
                ("trained on", f"{w.data} faces" + (" (LFW training people; never its test people)"
                                                    if w.data == "lfw" else " (the built-in generator)")),
                ("settings", ", ".join(f"{k}: {v}" for k, v in w.trained_on.items()) or "-"),
                ("default for", (", ".join(f"{k}={v}" for k, v in w.match.items()) or "any env of its scale")
                 if w.default else f"none (by name: `weights: {w.name}`)"),
                ("budget", w.budget), ("retrain", f"`{w.command}`" if w.command else "-"),
                ("measured", "; ".join(_figure(k, v) for k, v in w.figures.items()) or "-"),
                ("check", ", ".join(f"{k}: {v}" for k, v in w.check.items()) or "-")]
        parts.append("| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n")
    return "\n".join(parts)
