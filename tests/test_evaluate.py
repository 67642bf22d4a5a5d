"""End-to-end tests of ``python -m cyclecorr.evaluate`` on tiny generated DAVIS trees."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from cyclecorr.evaluate import baseline_protocols, run
from cyclecorr.utils.config import CONF_DIR, REPO_ROOT, register_resolvers
from helpers.davis import make_davis_tree

DATA_DIR = Path(os.environ.get("CYCLECORR_DATA", REPO_ROOT.parent / "shared" / "data"))


def compose_eval(overrides: list[str]) -> DictConfig:
    """The evaluate config as a Hydra run composes it (the group choices are known)."""
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="evaluate", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def read_global(path: Path) -> dict[str, float]:
    with path.open() as handle:
        row = next(csv.DictReader(handle))
    return {k: float(v) for k, v in row.items()}


def test_evaluate_pixels_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "davis"
    names = make_davis_tree(root)
    out = tmp_path / "run"
    cfg = compose_eval(
        [
            "eval=davis",
            f"eval.root={root}",
            "encoder=pixels",
            "protocol=timecycle",
            "protocol.size=128",
            "device=cpu",
            "progress=false",
            f"paths.output_dir={out}",
        ]
    )
    metrics = run(cfg)
    for name in names:
        assert len(list((out / "predictions" / name).glob("*.png"))) == 6
    glob = read_global(out / "global_results-val.csv")
    assert glob["J&F-Mean"] == pytest.approx(metrics["J&F-Mean"], abs=1e-3)
    assert 0.3 < metrics["J&F-Mean"] <= 1.0  # Lab pixels track flat-coloured moving shapes
    with (out / "per-sequence_results-val.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["Sequence"] for r in rows) == sorted(f"{n}_{k}" for n in names for k in (1, 2))
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["encoder"] == "pixels" and saved["protocol"] == "timecycle"
    assert (out / "config_resolved.yaml").is_file()


def test_scoring_only_mode_perfect_predictions(tmp_path: Path) -> None:
    root = tmp_path / "davis"
    make_davis_tree(root)
    out = tmp_path / "run"
    # Ground truth as predictions -> J = F = 1, no model built (encoder=checkpoint w/o a file).
    cfg = compose_eval(
        [
            f"eval.root={root}",
            f"eval.predictions={root / 'Annotations' / '480p'}",
            "progress=false",
            f"paths.output_dir={out}",
        ]
    )
    metrics = run(cfg)
    assert metrics["J&F-Mean"] == pytest.approx(1.0)
    assert read_global(out / "global_results-val.csv")["J-Mean"] == pytest.approx(1.0)
    # the run says it only scored: no encoder or protocol is named
    assert (metrics["encoder"], metrics["protocol"]) == (None, None)
    assert metrics["scored"] == str(root / "Annotations" / "480p")


def test_baselines_protocols_choose_the_presets() -> None:
    cfg = compose_eval([])
    assert list(baseline_protocols(list(cfg.baselines_protocols))) == ["timecycle", "crw"]
    chosen = baseline_protocols(
        list(compose_eval(["baselines_protocols=[crw]"]).baselines_protocols)
    )
    assert list(chosen) == ["crw"] and chosen["crw"].radius == 12.0
    for bad in (["crw", "crw"], []):
        with pytest.raises(ValueError, match="baselines_protocols"):
            baseline_protocols(bad)
    with pytest.raises(ValueError, match="unknown protocol 'CRW'"):
        baseline_protocols(["CRW"])


def test_evaluate_synthetic_random_resnet18(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = compose_eval(
        [
            "eval=synthetic",
            "eval.prepare.num_videos=1",
            "eval.prepare.spec.height=48",
            "eval.prepare.spec.width=48",
            "eval.prepare.spec.num_frames=4",
            "encoder=random",
            "encoder.arch=resnet18",
            "encoder.stop_at=layer2",
            "encoder.out_channels=32",
            "protocol=crw",
            "protocol.resize=short_side",
            "protocol.size=48",
            "progress=false",
            f"paths.output_dir={out}",
        ]
    )
    assert cfg.eval.root == f"{out}/synthetic_davis"
    run(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval"] == "synthetic" and 0.0 <= metrics["J&F-Mean"] <= 1.0
    assert (out / "synthetic_davis" / "ImageSets" / "2017" / "val.txt").is_file()
    assert (out / "global_results-val.csv").is_file()


@pytest.mark.data
def test_copy_first_frame_matches_official_reference(tmp_path: Path) -> None:
    from cyclecorr.eval.tasks.baselines import write_copy_first_frame
    from cyclecorr.eval.tasks.davis_scoring import evaluate_sequences

    root = DATA_DIR / "davis2017-mini"
    reference = DATA_DIR / "davis2017-mini-osvos" / "reference.csv"
    if not reference.is_file():
        pytest.skip(f"no DAVIS mini data at {root} (set CYCLECORR_DATA)")
    with reference.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("method") == "copy_first_frame"]
    write_copy_first_frame(root, tmp_path, ["car-shadow"])
    result = evaluate_sequences(root, tmp_path, ["car-shadow"], progress=False)
    expected = [
        r for r in rows if r.get("sequence", r.get("Sequence", "")).startswith("car-shadow")
    ]
    assert expected, f"no car-shadow copy_first_frame row in {reference}"
    assert result.overall.j_mean == pytest.approx(float(expected[0]["J-Mean"]), abs=1e-6)
    assert np.isfinite(result.overall.f_mean)


@pytest.mark.data
def test_davis_probe_on_real_frames() -> None:
    from cyclecorr.eval.encoders.pixels import pixel_encoder
    from cyclecorr.eval.tasks.davis import davis_probe
    from cyclecorr.presets import load_protocol

    root = DATA_DIR / "davis2017-mini"
    if not (root / "JPEGImages" / "480p" / "blackswan").is_dir():
        pytest.skip(f"no DAVIS mini data at {root} (set CYCLECORR_DATA)")
    result = davis_probe(
        pixel_encoder(), root, ["blackswan"], load_protocol("timecycle", size=160), 4
    )
    assert 0.5 < result.jf <= 1.0  # 4 frames of a slow swan: pixels track it well
    assert result.overlay.dtype == np.uint8 and result.overlay.shape == (480, 854 * 2 + 2, 3)
