"""File-based face sources (LFW, CelebA, folders), on-disk caching, identity splits and build_dataset.

Fake folders are generated in ``tmp_path``; the real-LFW tests use the shared dev data (``lfw_dir``).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fh_gym.data import DatasetError, FaceDataset, build_dataset, clear_dataset_cache, imageio, split_by_identity
from fh_gym.data.celeba import celeba
from fh_gym.data.folder import folder
from fh_gym.data.lfw import lfw
from fh_gym.data.splits import assign_identities
from fh_gym.restorers.config import ConfigError


@pytest.fixture(autouse=True)
def _fresh_dataset_cache():
    clear_dataset_cache()
    yield
    clear_dataset_cache()


def _write_image(path: Path, width: int, height: int, seed: int) -> np.ndarray:
    """A smooth random RGB image (JPEG-friendly); returns what cv2 decodes back, as RGB."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _fake_lfw(root: Path, people: dict[str, int], size: int = 250) -> Path:
    for p, (person, count) in enumerate(people.items()):
        for i in range(1, count + 1):
            _write_image(root / person / f"{person}_{i:04d}.jpg", size, size, seed=100 * p + i)
    return root


def _dataset(identity_names: list[str], per_identity: int = 2, meta: dict | None = None) -> FaceDataset:
    n = len(identity_names) * per_identity
    return FaceDataset(images=torch.zeros((n, 3, 1, 1), dtype=torch.uint8),
                       identities=np.repeat(np.arange(len(identity_names)), per_identity),
                       identity_names=identity_names, names=[str(i) for i in range(n)], meta=meta or {})


# ----- splits -----

def test_splits_are_identity_disjoint_and_cover_everything():
    data = _dataset([f"person_{i}" for i in range(300)], per_identity=3)
    splits = split_by_identity(data, (0.8, 0.1, 0.1), seed=0)
    people = {name: set(data.identities[idx]) for name, idx in splits.items()}
    assert not people["train"] & people["val"] and not people["train"] & people["test"]
    assert not people["val"] & people["test"]
    np.testing.assert_array_equal(np.sort(np.concatenate(list(splits.values()))), np.arange(len(data)))
    shares = {name: len(ids) / 300 for name, ids in people.items()}
    assert shares["train"] == pytest.approx(0.8, abs=0.07)
    assert shares["val"] == pytest.approx(0.1, abs=0.05) and shares["test"] == pytest.approx(0.1, abs=0.05)


def test_split_of_a_person_is_stable_when_people_are_added_or_removed():
    names = [f"person_{i}" for i in range(400)]
    before = dict(zip(names[:250], assign_identities(names[:250], (0.7, 0.15, 0.15), seed=5)))
    shuffled = list(np.random.default_rng(0).permutation(names[100:]))
    after = dict(zip(shuffled, assign_identities(shuffled, (0.7, 0.15, 0.15), seed=5)))
    common = set(before) & set(after)
    assert len(common) == 150 and all(before[n] == after[n] for n in common)
    other_seed = assign_identities(names, (0.7, 0.15, 0.15), seed=6)
    assert (other_seed != assign_identities(names, (0.7, 0.15, 0.15), seed=5)).sum() > 50


@pytest.mark.parametrize("count", [3, 4, 5])
def test_every_positive_split_gets_someone(count):
    data = _dataset([f"p{i}" for i in range(count)])
    for seed in range(20):
        splits = split_by_identity(data, (0.8, 0.1, 0.1), seed=seed)
        assert all(len(idx) > 0 for idx in splits.values()), (count, seed)
    assert len(split_by_identity(data, (0.5, 0.5, 0.0))["test"]) == 0


@pytest.mark.parametrize("fractions, problem", [((0.5, 0.5), "3 numbers"), ((0.7, 0.2, 0.2), "sum to 1"),
                                                ((1.1, 0.0, -0.1), "non-negative"), (("a", 0, 1), "numbers"),
                                                ((float("nan"), 0.5, 0.5), "finite")])
def test_invalid_fractions_are_named(fractions, problem):
    with pytest.raises(ConfigError, match=problem):
        split_by_identity(_dataset(["a", "b", "c"]), fractions)


def test_official_partition_is_honoured_and_checked():
    codes = np.array([0, 0, 1, 1, 2, 2, 0, 0])
    data = _dataset(["a", "b", "c", "d"], meta={"split": codes})
    splits = split_by_identity(data, (0.8, 0.1, 0.1))
    assert splits["val"].tolist() == [2, 3] and splits["test"].tolist() == [4, 5]
    # subset() keeps the per-image codes aligned with the images
    part = data.subset([5, 0, 2])
    assert part.meta["split"].tolist() == [2, 0, 1]
    bad = _dataset(["a", "b"], meta={"split": np.array([0, 1, 2, 2])})
    with pytest.raises(DatasetError, match=r"'a'.*train.*val"):
        split_by_identity(bad)


# ----- build_dataset -----

def test_build_dataset_splits_by_identity_and_caches():
    block = {"type": "synthetic", "identities": 30, "images_per_identity": 2, "image_size": 64}
    parts = {s: build_dataset({**block, "split": s}) for s in ("train", "val", "test", "all")}
    assert len(parts["all"]) == 60
    assert sum(len(parts[s]) for s in ("train", "val", "test")) == 60
    names = {s: set(parts[s].identities.tolist()) for s in ("train", "val", "test")}
    assert not names["train"] & names["val"] and not names["val"] & names["test"]
    assert build_dataset({**block, "split": "val"}) is parts["val"]
    assert len(build_dataset({**block, "split": "all", "max_images": 7})) == 7


def test_build_dataset_rejects_unknown_keys_types_and_splits():
    with pytest.raises(ConfigError, match=r"identitys.*valid keys:.*identities.*images_per_identity"):
        build_dataset({"type": "synthetic", "identitys": 3})
    with pytest.raises(ConfigError, match=r"unknown data type 'ffhq'.*celeba.*folder.*lfw.*synthetic"):
        build_dataset({"type": "ffhq"})
    with pytest.raises(ConfigError, match=r"unknown split 'dev'"):
        build_dataset({"type": "synthetic", "identities": 3, "split": "dev"})


# ----- LFW layout (fake folders) -----

def test_lfw_fake_folder_crop_cache_and_rebuild(tmp_path):
    root = _fake_lfw(tmp_path / "lfw", {"Bob_Jones": 2, "Ann_Lee": 3, "Cy_Twombly": 1})
    cache = tmp_path / "cache"
    data = lfw(root=str(root), crop=140, image_size=64, cache_dir=str(cache))
    assert data.identity_names == ["Ann_Lee", "Bob_Jones", "Cy_Twombly"]
    assert data.names[:3] == ["Ann_Lee/Ann_Lee_0001.jpg", "Ann_Lee/Ann_Lee_0002.jpg", "Ann_Lee/Ann_Lee_0003.jpg"]
    assert data.identities.tolist() == [0, 0, 0, 1, 1, 2] and data.landmarks is None
    decoded = cv2.cvtColor(cv2.imread(str(root / "Bob_Jones/Bob_Jones_0002.jpg")), cv2.COLOR_BGR2RGB)
    expected = cv2.resize(decoded[55:195, 55:195], (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(data.images[4].numpy().transpose(1, 2, 0), expected)
    assert not data.meta["cache_hit"] and data.meta["crop"] == 140

    again = lfw(root=str(root), crop=140, image_size=64, cache_dir=str(cache))
    assert again.meta["cache_hit"] and torch.equal(again.images, data.images)
    cache_file = Path(again.meta["cache_file"])
    cache_file.write_bytes(cache_file.read_bytes()[:-100])  # truncated: must not be trusted
    rebuilt = lfw(root=str(root), crop=140, image_size=64, cache_dir=str(cache))
    assert not rebuilt.meta["cache_hit"] and torch.equal(rebuilt.images, data.images)
    raw = bytearray(cache_file.read_bytes())
    raw[-5] ^= 0xFF  # one flipped byte in the pixels
    cache_file.write_bytes(bytes(raw))
    assert not lfw(root=str(root), crop=140, image_size=64, cache_dir=str(cache)).meta["cache_hit"]
    # a new crop is a new cache entry, and a changed file invalidates the old one
    assert not lfw(root=str(root), crop=120, image_size=64, cache_dir=str(cache)).meta["cache_hit"]
    _write_image(root / "Ann_Lee" / "Ann_Lee_0001.jpg", 250, 250, seed=999)
    changed = lfw(root=str(root), crop=140, image_size=64, cache_dir=str(cache))
    assert not changed.meta["cache_hit"] and not torch.equal(changed.images[0], data.images[0])


def test_lfw_people_filters(tmp_path):
    root = _fake_lfw(tmp_path / "lfw", {"A": 1, "B": 3, "C": 2, "D": 2}, size=150)
    kwargs = {"root": str(root), "crop": 140, "image_size": 32, "cache_dir": str(tmp_path / "c")}
    assert lfw(**kwargs, max_people=2).identity_names == ["A", "B"]
    picky = lfw(**kwargs, min_images_per_person=2, max_people=2)
    assert picky.identity_names == ["B", "C"] and len(picky) == 5


def test_lfw_errors_name_the_path(tmp_path):
    cache = str(tmp_path / "cache")
    with pytest.raises(DatasetError, match=r"folder not found: .*nowhere"):
        lfw(root=str(tmp_path / "nowhere"), cache_dir=cache)
    (tmp_path / "empty" / "Some_One").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no images in the expected layout <root>/<Person>/.*empty"):
        lfw(root=str(tmp_path / "empty"), cache_dir=cache)
    root = _fake_lfw(tmp_path / "bad", {"Ann": 2})
    (root / "Ann" / "Ann_0003.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(DatasetError, match=r"corrupt or unreadable image file .*Ann_0003.jpg"):
        lfw(root=str(root), cache_dir=cache)
    small = _fake_lfw(tmp_path / "small", {"Tiny": 1}, size=100)
    with pytest.raises(DatasetError, match=r"Tiny_0001.jpg is 100x100; expected at least a 140x140 crop"):
        lfw(root=str(small), cache_dir=cache)


# ----- real LFW (shared dev data) -----

@pytest.mark.lfw
def test_real_lfw_subset_and_cache(lfw_dir, tmp_path, monkeypatch):
    people = sorted(d for d in os.listdir(lfw_dir) if (lfw_dir / d).is_dir())[:1000]
    expected = sum(len([f for f in os.listdir(lfw_dir / p) if f.endswith(".jpg")]) for p in people)
    # Count decodes rather than time them: a wall-clock ratio is noise on a shared CI machine (the OS file cache
    # makes a cold decode fast), while "a cache hit decodes nothing" is what the cache is for.
    decoded: list[str] = []
    real_read = imageio.read_rgb
    monkeypatch.setattr(imageio, "read_rgb", lambda path: decoded.append(str(path)) or real_read(path))

    def load() -> FaceDataset:
        return lfw(root=str(lfw_dir), max_people=1000, cache_dir=str(tmp_path))

    cold = load()
    assert len(decoded) == expected
    assert len(cold) == expected and cold.num_identities == 1000 and cold.identity_names == people
    assert cold.images.shape == (expected, 3, 128, 128) and cold.images.dtype == torch.uint8
    assert 60 < cold.images.float().mean() < 200  # real faces, not blank crops
    decoded.clear()
    warm = load()
    assert warm.meta["cache_hit"] and not cold.meta["cache_hit"] and decoded == []
    assert torch.equal(warm.images, cold.images) and warm.names == cold.names


@pytest.mark.lfw
def test_real_lfw_through_build_dataset(lfw_dir, tmp_path):
    block = {"type": "lfw", "max_people": 120, "min_images_per_person": 2, "cache_dir": str(tmp_path)}
    train, test = build_dataset({**block, "split": "train"}), build_dataset({**block, "split": "test"})
    assert set(train.identity_names[i] for i in train.identities).isdisjoint(
        test.identity_names[i] for i in test.identities)
    assert np.bincount(train.identities).max() >= 2 and train.image_size == 128


# ----- CelebA (fake folder) -----

def _fake_celeba(root: Path, count: int = 20, people: int = 5) -> tuple[Path, np.ndarray]:
    """count aligned images; person k owns images k, k+people, ...; a bright dot at each landmark."""
    rng = np.random.default_rng(0)
    marks = np.zeros((count, 5, 2), dtype=int)
    lines = {"identity": [], "landmarks": [str(count), " ".join(
        ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
         "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y"])], "partition": []}
    for i in range(count):
        name = f"{i + 1:06d}.jpg"
        marks[i] = np.array([[69, 109], [106, 113], [77, 142], [73, 152], [108, 154]]) + rng.integers(-4, 5, (5, 2))
        image = np.full((218, 178, 3), 30, np.uint8)
        for x, y in marks[i]:
            cv2.circle(image, (int(x), int(y)), 3, (255, 255, 255), -1)
        (root / "img_align_celeba").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "img_align_celeba" / name), image, [cv2.IMWRITE_JPEG_QUALITY, 98])
        lines["identity"].append(f"{name} {1000 + i % people}")
        lines["landmarks"].append(f"{name}  " + " ".join(map(str, marks[i].ravel())))
        lines["partition"].append(f"{name} {(i % people) % 3}")
    for key, file in (("identity", "identity_CelebA.txt"), ("landmarks", "list_landmarks_align_celeba.txt"),
                      ("partition", "list_eval_partition.txt")):
        (root / file).write_text("\n".join(lines[key]) + "\n")
    return root, marks


def test_celeba_landmarks_identities_and_official_partition(tmp_path):
    root, marks = _fake_celeba(tmp_path / "celeba")
    data = celeba(root=str(root), image_size=64, cache_dir=str(tmp_path / "c"), partition="official")
    assert data.images.shape == (20, 3, 64, 64) and data.landmarks.shape == (20, 5, 2)
    assert data.identity_names == ["1000", "1001", "1002", "1003", "1004"]
    assert data.identities[:6].tolist() == [0, 1, 2, 3, 4, 0]
    scale = 64 / 178
    np.testing.assert_allclose(data.landmarks[3], (marks[3] - [0, 20] + 0.5) * scale - 0.5, atol=1e-4)
    gray = data.images.numpy().mean(axis=1)
    for i in range(20):  # every landmark lands on its drawn dot
        for x, y in np.round(data.landmarks[i]).astype(int):
            assert gray[i, y, x] > 150, (i, x, y)
    splits = split_by_identity(data)
    assert splits["train"].tolist() == [i for i in range(20) if i % 5 in (0, 3)]
    assert data.meta["split"].tolist() == [(i % 5) % 3 for i in range(20)]
    by_hash = celeba(root=str(root), image_size=64, cache_dir=str(tmp_path / "c"), max_items=12)
    assert len(by_hash) == 12 and "split" not in by_hash.meta and by_hash.meta["cache_hit"] is False


def test_celeba_errors(tmp_path):
    root, _ = _fake_celeba(tmp_path / "celeba", count=6, people=3)
    cache = str(tmp_path / "c")
    with pytest.raises(ConfigError, match=r"partition 'test'"):
        celeba(root=str(root), partition="test", cache_dir=cache)
    lines = (root / "list_eval_partition.txt").read_text().splitlines()
    lines[3] = lines[3][:-1] + "2"  # 000004.jpg (person 1000) now also in test
    (root / "list_eval_partition.txt").write_text("\n".join(lines))
    data = celeba(root=str(root), image_size=32, cache_dir=cache, partition="official")
    with pytest.raises(DatasetError, match=r"identity '1000' appears in the official splits"):
        split_by_identity(data)
    (root / "list_landmarks_align_celeba.txt").write_text("6\nleft right\n")
    with pytest.raises(DatasetError, match=r"list_landmarks_align_celeba.txt line 2 should name the columns"):
        celeba(root=str(root), cache_dir=cache)
    (root / "identity_CelebA.txt").unlink()
    with pytest.raises(DatasetError, match=r"missing file .*identity_CelebA.txt"):
        celeba(root=str(root), cache_dir=cache)


def test_celeba_rejects_images_that_are_not_aligned_crops(tmp_path):
    root, _ = _fake_celeba(tmp_path / "celeba", count=3, people=3)
    _write_image(root / "img_align_celeba" / "000002.jpg", 250, 250, seed=1)
    with pytest.raises(DatasetError, match=r"000002.jpg is 250x250; expected the aligned 178x218"):
        celeba(root=str(root), cache_dir=str(tmp_path / "c"))


# ----- any folder -----

def test_folder_identity_modes_and_centre_crop(tmp_path):
    root = tmp_path / "faces"
    wide = _write_image(root / "alice" / "a1.png", 60, 40, seed=1)
    _write_image(root / "alice" / "a2.jpg", 50, 50, seed=2)
    _write_image(root / "bob" / "b1.png", 40, 40, seed=3)
    _write_image(root / "group" / "carol" / "c1.webp", 40, 40, seed=4)
    _write_image(root / "loose.bmp", 40, 40, seed=5)
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"junk")
    cache = str(tmp_path / "c")
    by_folder = folder(root=str(root), image_size=32, cache_dir=cache)
    assert by_folder.names == ["alice/a1.png", "alice/a2.jpg", "bob/b1.png", "group/carol/c1.webp", "loose.bmp"]
    assert by_folder.identity_names == ["alice", "bob", "faces", "group/carol"]
    assert by_folder.identities.tolist() == [0, 0, 1, 3, 2]
    expected = cv2.resize(wide[:, 10:50], (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(by_folder.images[0].numpy().transpose(1, 2, 0), expected)
    by_file = folder(root=str(root), image_size=32, identity_from="file", cache_dir=cache)
    assert by_file.num_identities == 5 and by_file.meta["cache_hit"]
    flat = folder(root=str(root), image_size=32, recursive=False, cache_dir=cache)
    assert flat.names == ["loose.bmp"]


def test_folder_errors(tmp_path):
    cache = str(tmp_path / "c")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no images .* in .*empty"):
        folder(root=str(tmp_path / "empty"), cache_dir=cache)
    with pytest.raises(ConfigError, match=r"unknown identity_from 'name'; valid: subfolder, file"):
        folder(root=str(tmp_path / "empty"), identity_from="name", cache_dir=cache)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match=r"corrupt or unreadable image file .*x.png"):
        folder(root=str(tmp_path / "broken"), cache_dir=cache)
