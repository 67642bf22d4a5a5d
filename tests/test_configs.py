"""Every experiment composes, instantiates (datamodule, model, trainer) and trains one CPU step.

Real-video experiments run on tiny trees and frame lists generated in ``tmp_path``;
``davis_videos``, ``real_cpu`` and ``crw_real_cpu`` also run on the real clips under
``CYCLECORR_DATA`` (``data`` marker).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from cyclecorr.train import train
from cyclecorr.utils.config import CONF_DIR, REPO_ROOT, register_resolvers
from helpers.videos import make_kinetics_tree, write_moving_square

EXPERIMENTS = sorted(path.stem for path in (CONF_DIR / "experiment").glob("*.yaml"))
ONE_CPU_STEP = [
    "data.num_workers=0",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "trainer.max_steps=1",
    "validate_before_training=false",
]
DATA_DIR = Path(os.environ.get("CYCLECORR_DATA", REPO_ROOT.parent / "shared" / "data"))


def compose_train(overrides: list[str]) -> DictConfig:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def make_frame_list(tmp_path: Path) -> Path:
    """Two videos and a frame list naming them, one ``<path> <num_frames>`` line each."""
    lines = []
    for i in range(2):
        path = tmp_path / "vlog" / f"clip_{i}.mp4"
        write_moving_square(path, num_frames=40)
        lines.append(f"{path} 40")
    list_file = tmp_path / "vlog" / "frames.txt"
    list_file.write_text("\n".join(lines) + "\n")
    return list_file


def debug_preset(experiment: str) -> str:
    """The tiny-size preset of an experiment's objective (CRW's sizes differ from TimeCycle's)."""
    return "debug=crw_tiny" if experiment.startswith("crw_") else "debug=tiny"


def data_overrides(experiment: str, tmp_path: Path) -> list[str]:
    """Point a real-video experiment at tiny generated data."""
    overrides = [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    overrides.append(debug_preset(experiment))
    if experiment == "kinetics":
        overrides += [f"data.root={make_kinetics_tree(tmp_path / 'tree')}", "data.short_side=80"]
    elif experiment in ("vlog", "paper"):
        overrides += [f"data.list_file={make_frame_list(tmp_path)}", "data.short_side=80"]
    elif experiment == "davis_videos":
        roots = [make_kinetics_tree(tmp_path / name, num_videos=2) for name in ("a", "b")]
        overrides += [f"data.root=[{roots[0]},{roots[1]}]", "data.short_side=80"]
    elif experiment == "crw_kinetics":
        overrides += [f"data.root={make_kinetics_tree(tmp_path / 'tree')}"]
    elif experiment == "crw_real_cpu":
        roots = [make_kinetics_tree(tmp_path / name, num_videos=2) for name in ("train", "val")]
        overrides += [f"data.root={roots[0]}", f"data.val_root={roots[1]}"]
    elif experiment == "real_cpu":
        train_root, val_root = (make_kinetics_tree(tmp_path / name, 2) for name in ("tr", "va"))
        overrides += [f"data.root={train_root}", "data.short_side=80"]
        overrides += [f"data.val_root={val_root}"]
    return overrides


def test_every_experiment_has_a_header() -> None:
    expected = {"kinetics", "vlog", "davis_videos", "paper", "real_cpu", "crw_real_cpu"}
    assert expected <= set(EXPERIMENTS)
    for name in EXPERIMENTS:
        lines = (CONF_DIR / "experiment" / f"{name}.yaml").read_text().splitlines()
        assert lines[0] == "# @package _global_", name
        header = [line for line in lines[1:4] if line.startswith("# ")]
        assert len(header) >= 2, f"{name}: needs a 2-3 line header (what, command, number)"
        assert any("python -m cyclecorr.train" in line for line in header), name


def test_feature_sizes_follow_the_crop_size() -> None:
    for crop, cells, patch_cells in [(144, 18, 6), (240, 30, 10)]:
        cfg = compose_train([f"data.crop_size={crop}", "paths.output_dir=/unused"])
        assert list(cfg.model.tracker.frame_hw) == [cells, cells]
        assert cfg.model.tracker.patch_cells == patch_cells
        assert cfg.data.builder.crop_size == crop
    with pytest.raises(Exception, match="multiple of 24"):
        bad = compose_train(["data.crop_size=100", "paths.output_dir=/unused"])
        _ = bad.model.tracker.patch_cells


def test_paper_experiment_matches_the_release() -> None:
    cfg = compose_train(["experiment=paper", "data.list_file=/unused", "paths.output_dir=/x"])
    assert cfg.model.encoder.arch == "resnet50" and cfg.data.crop_size == 240
    assert cfg.data.batch_size == 36 and cfg.model.optimizer.lr == pytest.approx(2e-4)
    assert list(cfg.model.optimizer.betas) == [0.5, 0.999]
    assert cfg.trainer.gradient_clip_val == 10.0 and cfg.data.clip_len == 4
    assert (cfg.model.loss.w_sim, cfg.model.loss.w_skip, cfg.model.loss.w_long) == (1.0, 0.1, 0.02)
    assert list(cfg.model.tracker.frame_hw) == [30, 30] and cfg.model.tracker.patch_cells == 10
    # release details (docs/deviations.md lists what remains different)
    assert cfg.model.loss.sim_form == "inlier" and cfg.model.loss.reduce == "mean"
    tracker, encoder = cfg.model.tracker, cfg.model.encoder
    assert tracker.align_corners is True and tracker.translation_quirk is True
    assert (tracker.localizer_bias, tracker.localizer_init) == (False, "kaiming_fan_out")
    assert tracker.localizer_readout_init is False  # the release starts at random
    assert (encoder.proj_bias, encoder.proj_init) == (False, "kaiming_fan_out")
    assert cfg.data.clip.motion_offset == 2
    builder = cfg.data.builder
    assert builder.jitter_px is None and builder.jitter_fraction == pytest.approx(1 / 12)
    assert builder.clamp == "centre" and builder.mirror_window_on_flip is True
    # one convention: the patch cut and the inlier mask follow the tracker's
    assert builder.align_corners is True and cfg.model.loss.align_corners is True
    assert cfg.model.loss.translation_quirk is True
    assert "translation_quirk" not in builder  # the release cuts the patch without the quirk


def test_real_cpu_validates_on_videos_never_trained_on() -> None:
    cfg = compose_train(["experiment=real_cpu", "paths.data_dir=/d", "paths.output_dir=/x"])
    datamodule = cfg.data.datamodule
    assert datamodule.train_dataset.root == "/d/videos-davis2016-train"
    assert datamodule.val_dataset.root == "/d/videos"
    assert cfg.model.encoder.arch == "resnet18" and cfg.model.encoder.stop_at == "layer2"
    loss = cfg.model.loss
    assert (loss.w_skip / loss.w_sim, loss.w_long / loss.w_sim) == pytest.approx((0.1, 0.02))
    assert cfg.model.tracker.localizer_readout_init is True  # instead of a frozen warm-up
    assert cfg.model.freeze_encoder_steps == 0
    assert cfg.model.scheduler.T_max == cfg.trainer.max_steps  # annealed within the budget


@pytest.mark.parametrize("data", ["synthetic", "video_tree", "frame_list"])
def test_sampling_convention_is_set_in_one_place(data: str) -> None:
    required = {
        "synthetic": [],
        "video_tree": ["data.root=/x"],
        "frame_list": ["data.list_file=/x"],
    }
    overrides = [f"data={data}", *required[data], "paths.output_dir=/x"]
    for value in (False, True):
        cfg = compose_train([*overrides, f"model.tracker.align_corners={value}"])
        assert cfg.data.builder.align_corners is value and cfg.model.loss.align_corners is value
        quirk = compose_train([*overrides, f"model.tracker.translation_quirk={value}"])
        assert quirk.model.loss.translation_quirk is value
    default = compose_train(overrides)
    assert default.model.tracker.align_corners is False and default.model.loss.reduce == "mean"
    assert default.data.clip.motion_offset is None and default.data.builder.clamp == "corners"


def test_crw_experiments_match_the_reference_code() -> None:
    """The README train command of ajabri/videowalk, and CRW's argument defaults."""
    from cyclecorr.data.crw.sample_builder import CRW_MEAN, CRW_STD

    cfg = compose_train(["experiment=crw_kinetics", "data.root=/unused", "paths.output_dir=/x"])
    assert cfg.model._target_ == "cyclecorr.systems.crw.CRWSystem"
    assert (cfg.model.loss.temperature, cfg.model.loss.edge_dropout) == (0.05, 0.1)
    assert cfg.model.loss.flip is False and cfg.model.loss.eps == 1e-20
    assert (cfg.model.head.depth, cfg.model.head.out_channels) == (0, 128)
    encoder = cfg.model.encoder
    assert (encoder.arch, encoder.stop_at, encoder.out_channels) == ("resnet18", "layer4", None)
    assert encoder.padding_mode == "reflect"
    assert cfg.model.optimizer.lr == pytest.approx(1e-4) and cfg.model.optimizer.weight_decay == 0
    assert (cfg.data.clip_len, cfg.data.frame_rate, cfg.data.batch_size) == (4, 8.0, 20)
    assert (cfg.data.image_size, cfg.data.patch_size, cfg.data.patch_stride) == (256, 64, 32)
    assert tuple(cfg.data.builder.mean) == CRW_MEAN and tuple(cfg.data.builder.std) == CRW_STD
    assert list(cfg.data.builder.patch_scale) == [0.7, 0.9]
    assert list(cfg.data.builder.frame_scale) == [0.8, 0.95]
    assert cfg.trainer.gradient_clip_val is None and cfg.optimized_metric == "val/loss"

    cfg = compose_train(["experiment=crw_real_cpu", "paths.data_dir=/d", "paths.output_dir=/x"])
    assert cfg.data.datamodule.train_dataset.root == "/d/videos-davis2016-train"
    assert cfg.data.datamodule.val_dataset.root == "/d/videos"
    assert cfg.model.encoder.stop_at == "layer2" and cfg.trainer.max_time == "00:00:29:00"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_instantiates_and_trains_one_cpu_step(
    experiment: str, tmp_path: Path, one_thread: None
) -> None:
    cfg = compose_train(
        [f"experiment={experiment}", *ONE_CPU_STEP, *data_overrides(experiment, tmp_path)]
    )
    datamodule = hydra.utils.instantiate(cfg.data.datamodule)
    assert datamodule.batch_size == cfg.data.batch_size
    trainer = hydra.utils.instantiate(cfg.trainer)
    assert trainer.max_steps == 1

    metrics = train(cfg)  # instantiates the model too: channels and cell counts must agree
    assert math.isfinite(metrics["train/loss"])
    assert (tmp_path / "run" / "metrics.csv").is_file()


@pytest.mark.data
@pytest.mark.parametrize("experiment", ["davis_videos", "real_cpu"])
def test_real_video_experiment_trains_one_step_on_real_clips(
    experiment: str, tmp_path: Path, one_thread: None
) -> None:
    if not (DATA_DIR / "videos-davis2016-train").is_dir():
        pytest.skip(f"real data not found at {DATA_DIR}; set CYCLECORR_DATA")
    cfg = compose_train(
        [f"experiment={experiment}", "debug=tiny", *ONE_CPU_STEP, f"paths.data_dir={DATA_DIR}"]
        + [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    )
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"])


@pytest.mark.data
def test_crw_real_cpu_trains_one_step_on_real_clips(tmp_path: Path, one_thread: None) -> None:
    if not (DATA_DIR / "videos-davis2016-train").is_dir():
        pytest.skip(f"real data not found at {DATA_DIR}; set CYCLECORR_DATA")
    cfg = compose_train(
        ["experiment=crw_real_cpu", "debug=crw_tiny", *ONE_CPU_STEP, f"paths.data_dir={DATA_DIR}"]
        + [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
        + ["trainer.max_steps=2", "callbacks.davis_probe=null"]  # validation after step 2
    )
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"])
    assert 0.0 <= metrics["val/acc"] <= 1.0 and math.isfinite(metrics["val/loss"])


def test_the_objective_follows_the_model_whatever_the_source() -> None:
    crw = compose_train(["model=crw", "paths.output_dir=/x"])
    assert crw.data.builder._target_.endswith("CRWSampleBuilder")
    assert crw.data.datamodule.train_dataset._target_.endswith("SyntheticClipDataset")
    assert crw.optimized_metric == "val/loss" and "tracker" not in crw.model
    tree = compose_train(["model=crw", "data=video_tree", "data.root=/v", "paths.output_dir=/x"])
    assert tree.data.clip._target_.endswith("CRWClipSpec")
    timecycle = compose_train(["paths.output_dir=/x"])
    assert timecycle.data.builder._target_.endswith(".SampleBuilder")
    assert timecycle.optimized_metric == "val/theta_err_px"


def test_base_recipe_is_the_cpu_one_and_the_release_runs_restate_the_release() -> None:
    base = compose_train(["paths.output_dir=/x"])
    assert base.model.optimizer.lr == pytest.approx(1e-3) and base.model.loss.w_sim == 10.0
    assert base.trainer.max_steps == 400
    for name, extra in (("kinetics", "data.root=/v"), ("paper", "data.list_file=/l")):
        cfg = compose_train([f"experiment={name}", extra, "paths.output_dir=/x"])
        assert cfg.model.optimizer.lr == pytest.approx(2e-4) and cfg.model.scheduler is None
        weights = (cfg.model.loss.w_sim, cfg.model.loss.w_skip, cfg.model.loss.w_long)
        assert weights == (1.0, 0.1, 0.02)
