"""The benchmark command: it runs and reports sane numbers (speed targets are not asserted)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from cyclecorr.benchmark.cli import main
from cyclecorr.benchmark.training import bench_training


def test_training_benchmark_reports_a_finite_step() -> None:
    result = bench_training(["debug=tiny"], torch.device("cpu"), "32", steps=1, warmup=1)
    assert result["seconds_per_step"] > 0
    assert math.isclose(result["clips_per_second"], 2 / result["seconds_per_step"])
    assert math.isfinite(result["final_loss"])
    assert result["peak_memory_mib"] > 0  # peak RSS on CPU
    assert (result["batch_size"], result["crop_size"]) == (2, 72)


def test_training_benchmark_cli_prints_its_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    main(["training", "--device", "cpu", "--steps", "1", "--warmup", "0", "debug=tiny"])
    out = capsys.readouterr().out
    assert "s/step:" in out and "clips/s:" in out and "peak memory:" in out


def test_data_benchmark_cli_prints_every_loader_and_the_ratios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two 1 s videos: the command generates, prepares and reads them (no speed asserted)."""
    main(["data", "--videos", "2", "--seconds", "1", "--clips", "3", "--prepare-workers", "1"])
    out = capsys.readouterr().out
    assert "key frames per video [1, 1]" in out
    assert "prepare (12 fps JPEGs):" in out and "24 frames" in out  # 2 x 1 s at 12 fps
    for line in (
        "(a) mp4 VideoTreeDataset, pyav:",
        "(a) mp4 VideoTreeDataset, torchcodec:",  # its rate, or why it was skipped
        "(b) frames FrameListDataset:",
        "(c) plain PyAV decode-all loader:",
        "ratio (a)/(c) pyav:",
        "ratio (b)/(c):",
    ):
        assert line in out
    rates = [float(line.split()[-4]) for line in out.splitlines() if "clips/s per worker" in line]
    assert len(rates) >= 3 and all(rate > 0 for rate in rates)


@pytest.mark.data
def test_propagation_benchmark_on_davis_mini(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["propagation", "--device", "cpu", "--davis-root", str(shared_data / "davis2017-mini")]
    main(
        [
            *argv,
            "--encoder",
            "random",
            "--arch",
            "resnet18",
            "--stop-at",
            "layer2",
            "--max-frames",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert "frames:            2" in out and "frames/s:" in out and "peak memory:" in out
