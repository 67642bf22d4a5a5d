"""The DAVIS baselines table (cyclecorr.eval.baselines)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from cyclecorr.eval.encoders.checkpoints import checkpoint_encoder
from cyclecorr.eval.encoders.pixels import pixel_encoder
from cyclecorr.eval.tasks import baselines
from cyclecorr.presets import load_protocol
from helpers.davis import make_davis_tree


def test_baselines_table(tmp_path: Path) -> None:
    root = tmp_path / "davis"
    make_davis_tree(root, num_videos=1, num_frames=4)
    rows = baselines.run_baselines(
        root,
        tmp_path / "b",
        {
            "timecycle": load_protocol("timecycle", size=32),
            "crw": load_protocol("crw", resize="short_side", size=32),
        },
        [baselines.Baseline("pixels", pixel_encoder)],
        progress=False,
    )
    assert [(r.method, r.protocol) for r in rows] == [
        ("copy first frame", "-"),
        ("pixels", "timecycle"),
        ("pixels", "crw"),
    ]
    assert all(0.0 <= r.jf <= 1.0 and r.jf == pytest.approx((r.j + r.f) / 2) for r in rows)
    assert (tmp_path / "b/pixels/crw/per-sequence_results-val.csv").is_file()
    table = baselines.format_table(rows, "t")
    assert table.count("\n|") == 5 and "| copy first frame | - |" in table


def test_default_baselines_add_the_checkpoint_row() -> None:
    names = [b.name for b in baselines.default_baselines()]
    assert names == [
        "pixels (Lab)",
        "CRW scratch ResNet-18 (random, seed 777)",
        "random ResNet-50 + proj (seed 0)",
        "random tiny encoder (ResNet-18 to layer2 + proj 128, seed 0)",
    ]
    picked = baselines.default_baselines(methods=["random_tiny", "pixels"])
    assert [b.name for b in picked] == [names[3], names[0]]
    with pytest.raises(ValueError, match="unknown baselines methods"):
        baselines.default_baselines(methods=["pixel"])
    with_ckpt = baselines.default_baselines(
        ["/x/run1/checkpoints/last.ckpt", "/y/b.ckpt"], "resnet18", "layer4"
    )
    build = with_ckpt[-2].build
    assert isinstance(build, functools.partial) and build.func is checkpoint_encoder
    assert build.args == ("/x/run1/checkpoints/last.ckpt", "resnet18", "layer4")
    assert [b.name for b in with_ckpt[-2:]] == ["checkpoint run1/last.ckpt", "checkpoint b.ckpt"]
    crw = baselines.default_baselines([{"path": "/c.ckpt", "name": "CRW", "stop_at": "layer3"}])
    assert crw[-1].name == "CRW" and crw[-1].build.args == ("/c.ckpt", None, "layer3")  # type: ignore[attr-defined]


def test_a_finished_row_is_read_not_recomputed(tmp_path: Path) -> None:
    root = tmp_path / "davis"
    make_davis_tree(root, num_videos=1, num_frames=3)
    builds: list[str] = []

    def counted() -> object:
        builds.append("pixels")
        return pixel_encoder()

    def run(size: int) -> list[baselines.BaselineRow]:
        protocol = {"timecycle": load_protocol("timecycle", size=size)}
        row = baselines.Baseline("pixels", counted, "lab")  # type: ignore[arg-type]
        return baselines.run_baselines(root, tmp_path / "b", protocol, [row], progress=False)

    record = tmp_path / "b/pixels/timecycle/row.json"
    first = run(32)
    assert len(builds) == 1 and json.loads(record.read_text())["scores"]["jf"] == first[1].jf
    (tmp_path / "b/pixels/timecycle/global_results-val.csv").unlink()
    assert run(32) == first and len(builds) == 1  # same record: read, not propagated or scored
    assert not (tmp_path / "b/pixels/timecycle/global_results-val.csv").exists()
    unscored = json.loads(record.read_text())
    del unscored["scores"]
    record.write_text(json.dumps(unscored))
    assert run(32) == first and len(builds) == 1  # finished but unscored: scored again only
    run(40)  # another protocol field: propagated again
    assert len(builds) == 2
    record.unlink()  # a killed row has no record yet
    run(40)
    assert len(builds) == 3
