"""Action decoding and batched window geometry (pure functions, no data or networks)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fh_gym.engine.actions import build_action_type
from fh_gym.engine.actions.box import BoxActions
from fh_gym.engine.actions.continuous import ContinuousActions
from fh_gym.engine.actions.grid import GridActions
from fh_gym.engine.windows import (
    box_mask,
    full_box_mask,
    gather_windows,
    scatter_windows,
    window_coords,
    window_side,
    window_starts,
)
from fh_gym.restorers.config import ConfigError


def test_grid_cells_cover_the_image_and_touch_the_border():
    grid = GridActions(128, patch_size=32, stride=16)
    assert grid.space.n == 49
    boxes = grid.to_boxes(np.arange(49))
    assert full_box_mask(boxes, 128).any(dim=0).all()
    assert boxes[:, 0].max() == 96 and boxes[:, 1].max() == 96
    odd = GridActions(128, patch_size=32, stride=40)  # 0, 40, 80 and the border cell 96
    assert odd.positions.tolist() == [0, 40, 80, 96]
    assert odd.aligned_to == 8


def test_grid_rejects_out_of_space_and_fractional_actions():
    grid = GridActions(128)
    with pytest.raises(ValueError, match="outside the action space"):
        grid.validate(49)
    with pytest.raises(ValueError, match="outside the action space"):
        grid.validate(-1)
    with pytest.raises(ValueError, match="integers"):
        grid.validate(2.5)
    assert grid.validate(np.int64(3)).tolist() == [3]


def test_box_actions_follow_area_preserving_ratio_and_clip_to_image():
    box = BoxActions(128)
    assert box.base_size == pytest.approx(48.0)
    # centre cell (3, 3) -> centre (56, 56); ratio 1:1 scale 1.0 -> 48x48
    assert box.to_boxes(np.array([[3, 3, 1, 1]])).tolist() == [[32, 32, 48, 48]]
    tall = box.to_boxes(np.array([[3, 3, 0, 1]]))[0]  # ratio 3:2 (h:w)
    assert tall[2].item() / tall[3].item() == pytest.approx(1.5, rel=0.05)
    assert tall[2].item() * tall[3].item() == pytest.approx(48 * 48, rel=0.05)
    corner = box.to_boxes(np.array([[0, 0, 1, 2]]))[0]  # scale 1.25 at the top-left cell: clipped
    assert corner[:2].tolist() == [0, 0]
    assert corner[2].item() == corner[3].item() < 60
    with pytest.raises(ValueError, match="outside the action space"):
        box.validate(np.array([8, 0, 0, 0]))
    with pytest.raises(ValueError, match="shape"):
        box.validate(np.array([1, 2, 3]))


def test_continuous_actions_validate_nan_and_bounds():
    cont = ContinuousActions(128)
    with pytest.raises(ValueError, match="NaN"):
        cont.validate(np.array([0.0, np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="outside the action space"):
        cont.validate(np.array([0.0, 1.5, 0.0, 0.0]))
    centre = cont.to_boxes(cont.validate(np.zeros(4, dtype=np.float32)))[0]
    # a = 0: centre of the image, ratio 1, geometric-middle scale sqrt(0.75 * 1.25): side 46.48 px
    assert math.isclose(cont.base_size * math.sqrt(0.75 * 1.25), 46.48, rel_tol=1e-3)
    assert centre.tolist() == [41, 41, 46, 46]


@pytest.mark.parametrize("kind", ["grid", "box", "continuous"])
def test_action_for_box_round_trips_on_the_grid(kind):
    actions = build_action_type({"type": kind}, 128)
    checked = 0
    for candidate in actions.candidate_actions()[::7]:
        box = actions.to_boxes(np.asarray(candidate)[None])[0].tolist()
        if kind != "grid" and (min(box[:2]) == 0 or max(box[0] + box[2], box[1] + box[3]) == 128):
            continue  # clipped at the border: the unclipped action is not recoverable
        checked += 1
        again = actions.to_boxes(np.asarray(actions.action_for_box(*box))[None])[0].tolist()
        assert np.abs(np.subtract(box, again)).max() <= 2, (candidate, box, again)
    assert checked >= 5


def test_unknown_action_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"valid keys: .*patch_size.*stride"):
        build_action_type({"type": "grid", "patch": 32}, 128)
    with pytest.raises(ConfigError, match="unknown action type 'hexagon'; available: box, continuous, grid"):
        build_action_type({"type": "hexagon"}, 128)


@pytest.mark.parametrize("scale", [4, 8, 16])
def test_windows_hold_the_box_are_aligned_and_inside(scale):
    rng = np.random.default_rng(scale)
    size, margin, max_box = 128, 8, 75
    window = window_side(max_box, margin, scale, size)
    assert window % scale == 0
    hw = torch.from_numpy(rng.integers(4, max_box + 1, size=(500, 2)))
    top_left = torch.from_numpy(rng.integers(0, size, size=(500, 2)))
    hw = torch.minimum(hw, size - top_left)
    boxes = torch.cat([top_left, hw], dim=1)
    starts = window_starts(boxes, window, margin, scale, size)
    assert (starts % scale == 0).all()
    assert (starts >= 0).all() and (starts + window <= size).all()
    assert (starts <= boxes[:, :2]).all() and (starts + window >= boxes[:, :2] + boxes[:, 2:]).all()
    mask = box_mask(boxes, starts, window)
    assert torch.equal(mask.sum(dim=(1, 2, 3)), (boxes[:, 2] * boxes[:, 3]).float())


def test_grid_windows_need_no_slack():
    assert window_side(32, 8, 8, 128, aligned_to=16) == 48
    assert window_side(32, 8, 8, 128, aligned_to=1) == 56


def test_gather_scatter_round_trip_and_only_touch_windows():
    images = torch.rand(3, 3, 64, 64)
    slots = torch.tensor([2, 0])
    starts = torch.tensor([[8, 16], [40, 0]])
    windows = gather_windows(images, slots, starts, 24)
    assert torch.equal(windows[0], images[2, :, 8:32, 16:40])
    assert torch.equal(windows[1], images[0, :, 40:64, 0:24])
    edited = images.clone()
    scatter_windows(edited, slots, starts, torch.zeros_like(windows))
    expected = images.clone()
    expected[2, :, 8:32, 16:40] = 0
    expected[0, :, 40:64, 0:24] = 0
    assert torch.equal(edited, expected)


def test_feathered_mask_ramps_inside_the_box():
    boxes = torch.tensor([[8, 8, 16, 16]])
    starts = torch.tensor([[0, 0]])
    hard = box_mask(boxes, starts, 32)
    soft = box_mask(boxes, starts, 32, feather=3)
    assert torch.equal(soft > 0, hard > 0)
    assert soft[0, 0, 8, 8].item() == pytest.approx(0.25)
    assert soft[0, 0, 16, 16].item() == 1.0


def test_window_coords_are_pixel_centres():
    coords = window_coords(torch.tensor([[0, 64]]), 64, 128)
    assert coords[0, 0, 0, 0].item() == pytest.approx(-1 + 1 / 128)
    assert coords[0, 1, 0, 0].item() == pytest.approx(1 / 128)
    assert coords[0, 1, 0, -1].item() == pytest.approx(1 - 1 / 128)
