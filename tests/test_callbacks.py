"""Callbacks and drawing: throughput arithmetic, box geometry, heatmap colours, cycle images from
a real (tiny) TimeCycleSystem, index recording, and the DAVIS probe's skip/run behaviour."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from cyclecorr.callbacks.cycle_viz import CycleVisualizer, trace_cycle
from cyclecorr.callbacks.davis_probe import DavisProbe, missing_sequences
from cyclecorr.callbacks.index_recorder import IndexRecorder
from cyclecorr.callbacks.throughput import ThroughputMonitor, local_batch_size
from cyclecorr.ops.normalize import IMAGENET_MEAN, IMAGENET_STD
from cyclecorr.presets import load_protocol
from cyclecorr.utils.config import CONF_DIR, register_resolvers
from cyclecorr.viz.boxes import draw_theta, theta_corners_px
from cyclecorr.viz.cycle import DIRECT_COLOR, GT_COLOR, draw_cycle
from cyclecorr.viz.heatmap import colorize, overlay_heatmap
from cyclecorr.viz.images import hstack, to_uint8, vstack

DATA = Path(os.environ.get("CYCLECORR_DATA", Path(__file__).parents[2] / "shared" / "data"))
CENTRED = np.array([[1 / 3, 0, 0], [0, 1 / 3, 0]])


class FakeModule:
    """Records ``log`` calls like a LightningModule."""

    def __init__(self) -> None:
        self.logged: list[tuple[str, float]] = []

    def log(self, name: str, value: float, **kwargs: Any) -> None:
        self.logged.append((name, value))


def test_throughput_hand_computed() -> None:
    # step: wait 1 s then compute 3 s; 2 ranks x 4 clips = 8 clips per step
    times = iter([0.0, 3.0, 4.0, 7.0, 8.0, 11.0])
    monitor = ThroughputMonitor(window=2, clock=lambda: next(times))
    trainer, module = SimpleNamespace(world_size=2), FakeModule()
    batch = {"frames": torch.zeros(4, 5, 3, 8, 8)}
    for _ in range(3):
        monitor.on_train_batch_start(trainer, module, batch, 0)  # type: ignore[arg-type]
        monitor.on_train_batch_end(trainer, module, None, batch, 0)  # type: ignore[arg-type]
    # the first step has no previous end (not measured); steps 2 and 3: 16 clips in 8 s
    assert dict(module.logged) == {"perf/clips_per_s": 2.0, "perf/data_wait_frac": 0.25}


def test_local_batch_size_and_errors() -> None:
    assert local_batch_size({"frames": torch.zeros(3, 2)}) == 3
    assert local_batch_size({"x": 1, "y": torch.zeros(5)}) == 5
    with pytest.raises(ValueError, match="throughput"):
        local_batch_size({"x": 1})
    with pytest.raises(ValueError, match="window"):
        ThroughputMonitor(window=0)


def test_theta_corners_centred_and_rotated() -> None:
    corners = theta_corners_px(CENTRED, 90, 90)  # middle third of a 90 px frame
    np.testing.assert_allclose(corners, [[30, 30], [60, 30], [60, 60], [30, 60]])
    a = math.pi / 2  # rotating the patch by 90 deg moves its top-left corner to the top-right
    rot = np.array([[math.cos(a) / 3, -math.sin(a) / 3, 0], [math.sin(a) / 3, math.cos(a) / 3, 0]])
    np.testing.assert_allclose(theta_corners_px(rot, 90, 90)[0], [60, 30], atol=1e-9)
    shifted = CENTRED + np.array([[0, 0, 0.5], [0, 0, -0.5]])  # +half frame right, up
    batch = theta_corners_px(torch.tensor(np.stack([CENTRED, shifted])), 60, 120)
    assert batch.shape == (2, 4, 2)
    np.testing.assert_allclose(batch[1, 0], [40 + 30, 20 - 15])


def test_draw_theta_paints_the_box_edges_only() -> None:
    image = np.zeros((90, 90, 3), np.uint8)
    out = draw_theta(image, CENTRED, (255, 0, 0), width=1)
    assert image.sum() == 0, "input must not be modified"
    assert tuple(out[45, 29]) == (255, 0, 0) or tuple(out[45, 30]) == (255, 0, 0)  # left edge
    assert tuple(out[45, 45]) == (0, 0, 0)  # interior untouched
    assert tuple(out[5, 5]) == (0, 0, 0)


def test_colorize_ramp_ends_and_overlay() -> None:
    values = np.array([[0.0, 1.0], [0.5, 0.5]])
    colors = colorize(values)
    assert colors.dtype == np.uint8 and colors.shape == (2, 2, 3)
    assert tuple(colors[0, 0]) == (0, 0, 96) and tuple(colors[0, 1]) == (160, 0, 0)
    assert tuple(colors[1, 0]) == (0, 224, 224)
    assert colorize(np.ones((3, 3))).sum() == 3 * 3 * 96  # constant map -> lowest colour
    image = np.full((8, 8, 3), 100, np.uint8)
    blended = overlay_heatmap(image, np.zeros((2, 2)), alpha=0.5)
    assert tuple(blended[3, 3]) == (50, 50, 98)


def test_to_uint8_inverts_imagenet_normalisation_and_stacks() -> None:
    rgb = torch.tensor([[[10.0]], [[128.0]], [[250.0]]])  # (3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    assert to_uint8((rgb / 255 - mean) / std)[0, 0].tolist() == [10, 128, 250]
    with pytest.raises(ValueError, match="images"):
        to_uint8(torch.zeros(1, 4, 4))
    a, b = np.zeros((4, 3, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)
    assert hstack([a, b], gap=2).shape == (4, 10, 3)
    assert vstack([a, b], gap=1).shape == (9, 5, 3)


def test_draw_cycle_layout_and_colours() -> None:
    k, size = 3, 48
    frames = np.zeros((k + 1, size, size, 3), np.uint8)
    thetas = np.repeat(CENTRED[None], k, axis=0)
    image = draw_cycle(frames, CENTRED, thetas, thetas, thetas, np.random.rand(k, 6, 6))
    assert image.shape == (2 * size + 2, (k + 1) * size + 2 * k, 3)
    top_left = image[:size, :size].reshape(-1, 3)
    assert (top_left == DIRECT_COLOR).all(axis=1).any()  # a direct-hop box in frame t-k
    target = image[:size, k * (size + 2) :].reshape(-1, 3)
    assert (target == GT_COLOR).all(axis=1).any()
    with pytest.raises(ValueError, match="direct_thetas"):
        draw_cycle(frames, CENTRED, thetas[:2])


@pytest.fixture(scope="module")
def tiny_system() -> Any:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["debug=tiny"])
    torch.manual_seed(0)
    return instantiate(cfg.model), int(cfg.data.crop_size), int(cfg.data.clip_len)


def tiny_batch(crop: int, k: int, n: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    theta = torch.tensor(CENTRED, dtype=torch.float32).expand(n, 2, 3).clone()
    return {
        "frames": torch.randn(n, k + 1, 3, crop, crop, generator=gen),
        "patch": torch.randn(n, 3, crop // 3, crop // 3, generator=gen),
        "theta": theta,
        "index": torch.arange(n),
        "skipped": torch.zeros(n, dtype=torch.int64),
    }


def test_trace_cycle_shapes_and_heatmap_mass(tiny_system: Any) -> None:
    system, crop, k = tiny_system
    trace = trace_cycle(system, tiny_batch(crop, k, n=2))
    assert trace.direct_thetas.shape == (2, k, 2, 3) == trace.long_thetas.shape
    assert trace.heatmaps.shape == (2, k, crop // 8, crop // 8)
    torch.testing.assert_close(trace.heatmaps.sum(dim=(2, 3)), torch.ones(2, k))


def test_cycle_visualizer_writes_pngs_on_rank0_only(tiny_system: Any, tmp_path: Path) -> None:
    system, crop, k = tiny_system
    system.train()
    viz = CycleVisualizer(every_n_steps=5, num_clips=2)
    batch = tiny_batch(crop, k)

    def trainer(step: int, zero: bool = True) -> Any:
        return SimpleNamespace(
            global_step=step, is_global_zero=zero, loggers=[], default_root_dir=str(tmp_path)
        )

    viz.on_train_batch_end(trainer(5, zero=False), system, None, batch, 0)
    viz.on_train_batch_end(trainer(4), system, None, batch, 0)
    assert not (tmp_path / "media").exists()
    viz.on_train_batch_end(trainer(5), system, None, batch, 0)
    viz.on_train_batch_end(trainer(5), system, None, batch, 0)  # same step (skipped step): once
    files = sorted((tmp_path / "media" / "viz_cycle").glob("*.png"))
    assert [f.name for f in files] == ["step_0000005_0.png", "step_0000005_1.png"]
    assert system.training, "train mode must be restored"


def test_index_recorder_appends_per_rank(tmp_path: Path) -> None:
    recorder = IndexRecorder(str(tmp_path / "idx"))
    for rank, batch in ((0, [4, 1]), (1, [7, 0]), (0, [2])):
        trainer = SimpleNamespace(global_rank=rank)
        recorder.on_train_batch_start(trainer, None, {"index": torch.tensor(batch)}, 0)  # type: ignore[arg-type]
    assert recorder.path_for(0).read_text().split() == ["4", "1", "2"]
    assert recorder.path_for(1).read_text().split() == ["7", "0"]
    with pytest.raises(ValueError, match="index"):
        recorder.on_train_batch_start(SimpleNamespace(global_rank=0), None, {}, 0)  # type: ignore[arg-type]


def test_davis_probe_switches_itself_off_without_data(tmp_path: Path) -> None:
    probe = DavisProbe(str(tmp_path / "nothing"), load_protocol("timecycle"), every_n_steps=1)
    with pytest.warns(UserWarning, match="DAVIS probe skipped"):
        probe.setup(None, None, "fit")  # type: ignore[arg-type]
    assert not probe.enabled
    trainer = SimpleNamespace(global_step=1, is_global_zero=True, loggers=[])
    probe.on_train_batch_end(trainer, None, None, None, 0)  # type: ignore[arg-type]  # no crash
    assert missing_sequences(tmp_path, ["a"]) == ["a"]


@pytest.mark.data
def test_davis_probe_runs_on_davis_mini(tiny_system: Any, tmp_path: Path) -> None:
    root = DATA / "davis2017-mini"
    if missing_sequences(root, ["blackswan", "car-shadow"]):
        pytest.skip(f"davis2017-mini not found under {DATA} (set CYCLECORR_DATA)")
    system, _, _ = tiny_system
    probe = DavisProbe(
        str(root), load_protocol("timecycle", size=64), every_n_steps=1, max_frames=3
    )
    probe.setup(None, system, "fit")  # type: ignore[arg-type]
    assert probe.enabled
    logged: list[dict[str, float]] = []
    logger = SimpleNamespace(log_metrics=lambda metrics, step: logged.append(metrics))
    trainer = SimpleNamespace(
        global_step=1, is_global_zero=True, loggers=[logger], default_root_dir=str(tmp_path)
    )
    probe.on_train_batch_end(trainer, system, None, None, 0)  # type: ignore[arg-type]
    assert len(logged) == 1 and 0.0 <= logged[0]["val/davis_mini_jf"] <= 1.0
    overlays = list((tmp_path / "media" / "val_davis_mini_overlay").glob("*.png"))
    assert len(overlays) == 1
