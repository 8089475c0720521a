"""Compare strategies and trained agents on the same test faces (``fh-gym compare`` / ``eval``, the demo).

Every actor repairs the same faces (:func:`~fh_gym.agents.evaluate.sample_faces`: spread over test people)
from the same LR inputs; actors without a restorer of their own share the env config's restorer. The
protocol is ``docs/evaluation.md``'s.

Example:
    >>> actors = build_actors(["random", "even", "greedy"], [], {"greedy": {"max_candidates": 64}})  # doctest: +SKIP
    >>> rows, paths = compare(env_config, actors, num_faces=100, out_dir=Path("outputs/compare"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fh_gym.agents.evaluate import ExtraMetrics, run_episodes, sample_faces
from fh_gym.agents.registry import load_agent
from fh_gym.agents.reports import table_rows, write_report
from fh_gym.agents.strategies.base import build_strategy
from fh_gym.data import build_dataset
from fh_gym.engine.networks import env_network
from fh_gym.episodes import Actor
from fh_gym.identity.recognizers import build_recognizer, identity_distance, identity_network
from fh_gym.identity_eval import identity_similarity


def build_actors(strategies: Sequence[str] | str, agents: Sequence[str | Path] = (),
                 strategy_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
                 env_config: dict[str, Any] | None = None) -> list[Actor]:
    """Strategies by name, then trained agents from their checkpoints.

    Args:
        strategies: Names (or one comma-separated string, as ``--strategies`` takes them).
        agents: Trained-agent checkpoints (``.zip`` / ``.pt``; plain SB3 / RL Zoo zips too).
        strategy_kwargs: Constructor arguments per strategy name (``{"greedy": {"max_candidates": 64}}``).
        env_config: The command's env config: what plain SB3 zips (no fh-gym metadata) were trained on.

    Names are unique: a later actor whose name is taken gets ``-2``, ``-3``... (in ``--agent`` order).
    """
    names = strategies.split(",") if isinstance(strategies, str) else list(strategies)
    kwargs = strategy_kwargs or {}
    actors: list[Actor] = [build_strategy(n.strip(), **kwargs.get(n.strip(), {})) for n in names if n.strip()]
    actors.extend(load_agent(path, env_config=env_config) for path in agents)
    # Two agents files named alike (runs/a/final.zip, runs/b/final.zip) must stay two rows of the report.
    seen: dict[str, int] = {}
    for actor in actors:
        seen[actor.name] = seen.get(actor.name, 0) + 1
        if seen[actor.name] > 1:
            actor.name = f"{actor.name}-{seen[actor.name]}"
    return actors


def identity_metric(identity_net: str | Path, device: str) -> ExtraMetrics:
    """The ``identity`` column: cosine of the identity network's features of the final image vs HR (``identity_net``:
    a checkpoint path or shipped weights ``TYPE:NAME``)."""
    net = identity_network(identity_net, device, what="--identity-net")

    def metrics(final: Any, hr: Any, slots: Any) -> dict[str, np.ndarray]:
        return {"identity": identity_similarity(final, hr, net).numpy()}

    return metrics


def recognizer_metric(spec: str | Path, device: str) -> ExtraMetrics:
    """The ``id_distance`` and ``id_same`` columns: distance of a recogniser's unit embeddings of the image and
    its HR (:func:`~fh_gym.identity.recognizers.identity_distance`, in [0, 2]) and whether it is under the
    recogniser's same-person threshold (``dlib``: 0.6, its authors' LFW threshold)."""
    judge = build_recognizer(spec, device)

    def metrics(final: Any, hr: Any, slots: Any) -> dict[str, np.ndarray]:
        with torch.no_grad():
            distance = identity_distance(judge.embed(final), judge.embed(hr)).cpu().numpy()
        return {"id_distance": distance, "id_same": (distance < judge.threshold).astype(np.float64)}

    return metrics


def _joined(metrics: Sequence[ExtraMetrics]) -> ExtraMetrics | None:
    if not metrics:
        return None
    return lambda final, hr, slots: {k: v for m in metrics for k, v in m(final, hr, slots).items()}


def compare(env_config: dict[str, Any], actors: Sequence[Actor], num_faces: int, batch_size: int = 32,
            seed: int = 0, out_dir: Path = Path("outputs/compare"), progress: bool = True,
            identity_net: str | Path | None = None, recognizer: str | Path | None = None,
            ) -> tuple[list[dict[str, object]], dict[str, Path]]:
    """Evaluate each actor on ``num_faces`` faces of the env config's split and write the report.

    Args:
        env_config: Full env config (its ``data`` block picks the people, its ``restorer`` repairs).
        actors: Strategies and agents (:func:`build_actors`).
        num_faces: How many faces (:func:`~fh_gym.agents.evaluate.sample_faces`).
        batch_size: Faces stepped together; seed: faces, degradations and random strategies.
        out_dir: Where ``compare.md``, ``.csv``, ``.png`` and ``compare_per_face.csv`` go.
        progress: Show a progress bar over the actors.
        identity_net: Identity network checkpoint or shipped weights ``TYPE:NAME``: adds the identity cosine column.
        recognizer: ``"dlib"`` or an identity-network checkpoint: adds the identity distance to HR and the
            same-person rate (:func:`recognizer_metric`), on the bicubic row too.

    Returns:
        The table rows (:func:`~fh_gym.agents.reports.table_rows`) and the written files.
    """
    dataset = build_dataset(env_config["data"])
    restorer = env_network(env_config).eval()
    indices = sample_faces(dataset.identities, num_faces, seed)
    extra = _joined([*([identity_metric(identity_net, env_config["device"])] if identity_net else []),
                     *([recognizer_metric(recognizer, env_config["device"])] if recognizer else [])])
    # The report's baseline rows come from the first result: the others skip re-judging the same images.
    results = [run_episodes(env_config, actor, indices, restorer=restorer, dataset=dataset, batch_size=batch_size,
                            seed=seed, extra_metrics=extra, extra_baselines=i == 0)
               for i, actor in enumerate(tqdm(actors, desc="strategies", disable=None if progress else True))]
    rows = table_rows(results)
    return rows, write_report(rows, out_dir, results=results)
