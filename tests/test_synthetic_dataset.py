"""Tests for SyntheticClipDataset: the item contract, determinism by draw, frames rendered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclecorr.data.synthetic.dataset import SyntheticClipDataset
from cyclecorr.data.synthetic.scene import SyntheticVideo
from cyclecorr.data.timecycle.clips import ClipSpec, sample_clip_indices
from cyclecorr.data.timecycle.sample_builder import SampleBuilder

CLIP = ClipSpec(clip_len=3, frame_gap=2, pred_distance=4, target_fps=12.0)


class RecordingBuilder:
    """Stands in for SampleBuilder: keeps the raw frames and one draw from the clip's rng."""

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return {
            "raw": torch.from_numpy(frames.copy()),
            "draw": torch.tensor(rng.random(), dtype=torch.float64),
        }


def small_dataset(builder=None, seed: int = 0, num_videos: int = 5) -> SyntheticClipDataset:
    return SyntheticClipDataset(
        num_videos=num_videos,
        height=48,
        width=48,
        num_frames=16,
        num_objects=2,
        scale_range=[0.9, 1.1],  # Hydra passes lists
        clip=CLIP,
        builder=builder if builder is not None else RecordingBuilder(),
        seed=seed,
    )


def test_items_follow_the_sample_contract() -> None:
    builder = SampleBuilder(crop_size=48, patch_grid=3, patch_top_k=2, jitter_px=2)
    dataset = small_dataset(builder)
    item = dataset[7]
    assert len(dataset) == 5
    assert item["frames"].shape == (CLIP.clip_len + 1, 3, 48, 48)
    assert item["frames"].dtype == torch.float32
    assert item["patch"].shape == (3, 16, 16) and item["patch"].dtype == torch.float32
    assert item["theta"].shape == (2, 3) and item["theta"].dtype == torch.float32
    assert item["index"].dtype == torch.int64 and int(item["index"]) == 7
    assert item["skipped"].dtype == torch.int64 and int(item["skipped"]) == 0
    again = dataset[7]
    for key in item:
        assert torch.equal(item[key], again[key]), key
    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])
    assert batch["frames"].shape == (2, CLIP.clip_len + 1, 3, 48, 48)


def test_clip_frames_are_the_videos_frames() -> None:
    dataset = small_dataset()
    draw = 8  # video 3, second pass over the dataset
    item = dataset[draw]
    rng = np.random.default_rng([0, draw])
    indices = sample_clip_indices(16, 12.0, CLIP, rng)
    video = dataset.video(3)
    wanted = [*indices.past, indices.target, indices.motion]
    expected = np.stack([video.render(int(t)).image for t in wanted])  # (clip_len + 2, H, W, 3)
    np.testing.assert_array_equal(item["raw"].numpy(), expected)
    # The builder receives the clip's generator, already advanced past the index draw.
    assert float(item["draw"]) == rng.random()


def test_same_video_every_epoch_different_clip() -> None:
    dataset = small_dataset()
    assert dataset.video(2).render(0).image.tobytes() == dataset.video(2).render(0).image.tobytes()
    assert dataset.video(2).render(0).image.tobytes() != dataset.video(3).render(0).image.tobytes()
    # Draws 2 and 7 both serve video 2 but with independent clip randomness.
    assert float(dataset[2]["draw"]) != float(dataset[7]["draw"])
    other_seed = small_dataset(seed=1)
    assert (
        other_seed.video(2).render(0).image.tobytes() != dataset.video(2).render(0).image.tobytes()
    )


def test_renders_only_the_needed_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    original = SyntheticVideo.render

    def counting_render(self: SyntheticVideo, t: int):
        rendered.append(t)
        return original(self, t)

    monkeypatch.setattr(SyntheticVideo, "render", counting_render)
    small_dataset()[4]
    assert 2 <= len(rendered) <= CLIP.clip_len + 2
    assert len(set(rendered)) == len(rendered)


def test_bad_arguments_are_explained() -> None:
    with pytest.raises(ValueError, match="scale_range"):
        SyntheticClipDataset(scale_range=[1.0], builder=RecordingBuilder())
    with pytest.raises(IndexError, match="draw must be >= 0"):
        small_dataset()[-1]
