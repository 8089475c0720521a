"""``fh-gym hallucinate``: LR face image(s) in, repaired HR PNG(s) out, with a trained agent or a strategy.

No ground truth is needed: the engine runs in inference mode (``reset(options={"lr": ...})``), the
front-end upsamples each LR face to the start image and the agent (``--agent``) or baseline strategy
(``--strategy``, default ``even``) picks T boxes that the restorer repairs.

* Env: ``--agent`` runs on the env config it was trained on (its restorer too, or the restorer it
  fine-tuned during training when the checkpoint holds one); otherwise ``--env`` (default the dense x8
  variant). ``--set KEY=VALUE`` and ``--restorer CKPT`` override either.
* Sizes: inputs must be ``image_size / scale`` pixels square (16x16 at x8). Other sizes are resized to
  that with area interpolation (bicubic when enlarging) and a note is printed; ``--strict-size`` makes
  a wrong size an error instead.
* Outputs per input ``NAME.ext``: ``<out>/NAME.png`` (the final image, ``image_size`` square);
  with ``--save-steps`` also ``NAME_step00.png`` (start image) .. ``NAME_stepT.png``; with ``--video``
  ``NAME.mp4`` (LR | image with the box history, one frame per step).

Examples::

    fh-gym hallucinate lr_faces/ --agent runs/FaceRepair-Dense-x8-v0__ppo__0__1700000000/final.zip --out sr/
    fh-gym hallucinate face16.png --strategy even --restorer runs/restorer/restorer.pt --video --out sr/
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from fh_gym.config import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hallucinate", help="super-resolve LR face images with an agent or a strategy",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, help="LR image files and/or folders of them")
    p.add_argument("--out", type=Path, default=Path("outputs/hallucinate"))
    who = p.add_mutually_exclusive_group()
    who.add_argument("--agent", type=Path, help="trained agent checkpoint (.zip / .pt)")
    who.add_argument("--strategy", default="even", help="baseline strategy when no agent (random, even, sequential)")
    p.add_argument("--env", help="registered env id (default: the agent's env, else FaceRepair-Dense-x8-v0)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one env config key, e.g. --set horizon=20")
    p.add_argument("--restorer", type=Path, help="restorer checkpoint (.pt) to repair with")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--strict-size", action="store_true", help="fail on inputs of the wrong size instead of resizing")
    p.add_argument("--save-steps", action="store_true", help="also write the image after every step")
    p.add_argument("--video", action="store_true", help="also write an MP4 per image")
    p.add_argument("--fps", type=float, default=4.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="seed of sampling strategies (random)")
    p.set_defaults(func=run)


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Files as given plus the image files directly inside given folders (sorted)."""
    from fh_gym.data.imageio import image_names

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [path / name for name in image_names(path)]
            if not found:
                raise FileNotFoundError(f"no image files in folder {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"input not found: {path}")
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        raise ValueError("two inputs share a file name stem; outputs would overwrite each other")
    return files


def load_lr(path: Path, size: int, strict: bool) -> tuple[np.ndarray, str | None]:
    """Read an RGB image as (size, size, 3) uint8; returns it and a note when it had to be resized."""
    import cv2

    from fh_gym.data.imageio import read_rgb

    image = read_rgb(path)
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, None
    if strict:
        raise ValueError(f"{path} is {w}x{h}; this env takes {size}x{size} LR faces (drop --strict-size to resize)")
    shrink = h >= size and w >= size
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    how = "area interpolation" if shrink else "bicubic interpolation (enlarged)"
    aspect = "" if h == w else ", aspect ratio not kept"
    return resized, f"{path.name}: {w}x{h} resized to {size}x{size} with {how}{aspect}"


def inference_config(args: argparse.Namespace, actor: Any) -> dict[str, Any]:
    """The env config to hallucinate with (agent's or ``--env``'s), in inference mode."""
    from fh_gym.agents.cli.common import parse_overrides, restorer_block
    from fh_gym.config import merge_config
    from fh_gym.envs.face_repair import make_config
    from fh_gym.registration import env_ids

    if args.env is None and getattr(actor, "env_config", None) is not None:
        config = merge_config(actor.env_config, None)
    else:
        ids = env_ids()
        env = args.env or "FaceRepair-Dense-x8-v0"
        if env not in ids:
            raise ConfigError(f"unknown env id '{env}'; registered: {', '.join(ids)}")
        config = make_config(None, ids[env])
    config = merge_config(config, parse_overrides(args.overrides))
    config["mode"] = "inference"
    if args.restorer:
        config["restorer"] = restorer_block(args.restorer)
    if args.device:
        config["device"] = args.device
    return config


def build_actor(args: argparse.Namespace) -> Any:
    from fh_gym.agents.baselines import build_strategy

    if args.agent:
        from fh_gym.agents.registry import load_agent

        return load_agent(args.agent)
    strategy = build_strategy(args.strategy)
    if strategy.uses_truth:
        raise ValueError(f"strategy '{args.strategy}' needs the ground truth; hallucination has none")
    return strategy


def hallucinate(config: dict[str, Any], actor: Any, images: np.ndarray, *, restorer: Any = None, seed: int = 0,
                keep_steps: bool = False, keep_frames: bool = False) -> dict[str, Any]:
    """Repair a batch of LR faces (N, h, w, 3) uint8 without ground truth.

    Returns:
        ``final`` (N, S, S, 3) uint8; ``steps`` (T+1, N, S, S, 3) when ``keep_steps``; ``frames``
        (per face, T+1 rendered frames) when ``keep_frames``.
    """
    from fh_gym.config import merge_config
    from fh_gym.engine.core import RepairEngine
    from fh_gym.envs.face_repair import render_faces

    horizon = getattr(actor, "horizon", None) or config["horizon"]
    engine = RepairEngine(merge_config(config, {"horizon": int(horizon)}), len(images), restorer=restorer)
    faces = engine.all_faces()
    rng = np.random.default_rng(seed)
    engine.reset(faces, rng, {"lr": images})
    if hasattr(actor, "start_episodes"):
        actor.start_episodes(engine, faces)
    steps = [engine.observe(faces)["image"]] if keep_steps else []
    frames = [[f] for f in render_faces(engine, faces)] if keep_frames else []
    for _ in range(engine.horizon):
        engine.step(actor.act(engine, faces, rng), faces)
        if keep_steps:
            steps.append(engine.observe(faces)["image"])
        if keep_frames:
            for store, frame in zip(frames, render_faces(engine, faces), strict=True):
                store.append(frame)
    out: dict[str, Any] = {"final": engine.observe(faces)["image"]}
    if keep_steps:
        out["steps"] = np.stack(steps)
    if keep_frames:
        out["frames"] = frames
    return out


def write_png(image: np.ndarray, path: Path) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from fh_gym.engine.core import build_scaled
    from fh_gym.video import write_mp4

    actor = build_actor(args)
    config = inference_config(args, actor)
    size = int(config["image_size"]) // int(config["degradation"]["scale"])
    files = collect_inputs(args.inputs)
    # An agent that fine-tuned its restorer during training carries it; --restorer overrides it.
    restorer = None if args.restorer else getattr(actor, "restorer", None)
    if restorer is not None:
        print(f"repairing with the restorer fine-tuned with the agent ({args.agent})")
    else:
        restorer = build_scaled(config["restorer"], "patch", int(config["degradation"]["scale"]), config["device"])
    written = 0
    for lo in tqdm(range(0, len(files), args.batch_size), desc="hallucinate", unit="batch"):
        batch = files[lo:lo + args.batch_size]
        images = []
        for path in batch:
            image, note = load_lr(path, size, args.strict_size)
            if note:
                tqdm.write(note)
            images.append(image)
        result = hallucinate(config, actor, np.stack(images), restorer=restorer, seed=args.seed,
                             keep_steps=args.save_steps, keep_frames=args.video)
        for k, path in enumerate(batch):
            write_png(result["final"][k], args.out / f"{path.stem}.png")
            if args.save_steps:
                for t, step in enumerate(result["steps"][:, k]):
                    write_png(step, args.out / f"{path.stem}_step{t:02d}.png")
            if args.video:
                write_mp4(result["frames"][k], args.out / f"{path.stem}.mp4", args.fps)
            written += 1
    print(f"wrote {written} image(s) of {config['image_size']}x{config['image_size']} to {args.out}")
    return 0
