"""The gain predictor's label replay: stored states come back exactly, mirrored ones with mirrored labels."""

from __future__ import annotations

import pytest
import torch

from fh_gym.restorers.archs.selection_arch import selection_stack
from fh_gym.restorers.training.label_replay import LabelledStates, LabelReplay, mirror_permutation

SIZE = 8
GRID = torch.tensor([[top, left, 4, 4] for top in (0, 4) for left in (0, 4)])  # 2 x 2 cells of an 8 x 8 image


def states(count: int, seed: int = 0) -> LabelledStates:
    g = torch.Generator().manual_seed(seed)
    image, start = torch.rand(count, 3, SIZE, SIZE, generator=g), torch.rand(count, 3, SIZE, SIZE, generator=g)
    coverage = torch.rand(count, 1, SIZE, SIZE, generator=g)
    return LabelledStates(stack=selection_stack(image, start, coverage), gains=torch.rand(count, 4, generator=g),
                          allowed=torch.rand(count, 4, generator=g) > 0.3, boxes=GRID)


def test_mirror_permutation_of_a_grid_and_of_an_asymmetric_set():
    assert mirror_permutation(GRID, SIZE).tolist() == [1, 0, 3, 2]
    assert mirror_permutation(torch.tensor([[0, 0, 4, 4], [0, 2, 4, 4]]), SIZE) is None


def test_replayed_states_are_the_stored_ones_and_the_ring_drops_the_oldest():
    replay = LabelReplay(5, GRID, SIZE)
    first, second = states(3, seed=1), states(3, seed=2)
    replay.add(first)
    replay.add(second)
    assert replay.size == 5
    stored = torch.cat([second.gains[1:2], second.gains[2:3], first.gains[2:3], second.gains[0:1], first.gains[1:2]])
    batch = replay.sample(64)
    # every sampled state is one of the five kept (the first state of `first` was overwritten), input exact to fp16
    for row in range(64):
        match = (stored - batch.gains[row]).abs().sum(1) == 0
        assert match.sum() == 1
    kept = torch.cat([first.stack[1:], second.stack])
    distances = (batch.stack[:, None] - kept[None]).abs().amax(dim=(2, 3, 4))
    assert float(distances.min(1).values.max()) < 1e-3
    assert not bool((batch.gains[:, None] == first.gains[0][None, None]).all(-1).any())


def test_mirrored_states_carry_their_candidates_mirror_gains():
    replay = LabelReplay(1, GRID, SIZE, mirror=True, seed=3)
    state = states(1, seed=4)
    replay.add(state)
    batch = replay.sample(200)
    plain = (batch.gains == state.gains).all(1)
    mirrored = (batch.gains == state.gains[:, [1, 0, 3, 2]]).all(1)
    assert bool((plain | mirrored).all()) and 60 < int(mirrored.sum()) < 140
    flipped = batch.stack[mirrored][0]
    image, start, coverage = (state.stack[:, part].flip(-1) for part in (slice(0, 3), slice(3, 6), slice(9, 10)))
    expected = selection_stack(image, start, coverage)
    torch.testing.assert_close(flipped, expected[0], atol=1e-3, rtol=0)
    assert batch.allowed[mirrored][0].tolist() == state.allowed[0, [1, 0, 3, 2]].tolist()


def test_bad_replay_settings_are_refused():
    with pytest.raises(ValueError, match="mirror image is no candidate"):
        LabelReplay(4, torch.tensor([[0, 0, 4, 4], [0, 2, 4, 4]]), SIZE, mirror=True)
    with pytest.raises(ValueError, match="at least 1 state"):
        LabelReplay(0, GRID, SIZE)
    with pytest.raises(ValueError, match="empty"):
        LabelReplay(2, GRID, SIZE).sample(1)


def test_train_gain_predictor_with_replay_and_mirror(tmp_path, capsys):
    from fh_gym.agents.cli.main import main

    data = ["--data", "synthetic", "--set", "data.identities=24", "--env", "fh_gym/FaceRepair-Dense-x8-T4-v0"]
    (tmp_path / "gp.yaml").write_text("eval_faces: 4\nreplay_states: 16\nreplay_updates: 2\nmirror: true\n")
    assert main(["train-gain-predictor", *data, "--steps", "3", "--batch-size", "4", "--eval-every", "0",
                 "--config", str(tmp_path / "gp.yaml"), "--out", str(tmp_path / "gp"), "--quiet"]) == 0
    assert (tmp_path / "gp" / "gain_predictor.pt").is_file()
    (tmp_path / "bad.yaml").write_text("replay_updates: 2\n")
    assert main(["train-gain-predictor", *data, "--steps", "1", "--batch-size", "4", "--eval-every", "0",
                 "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "replay_updates=2 needs replay_states >= 1" in capsys.readouterr().err
