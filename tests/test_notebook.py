"""Tests for ``notebooks/01_quickstart.ipynb``: stored clean, and executed end to end.

The execution test runs every cell with ``nbclient`` on the ``python3`` kernel at tiny sizes
(3 training steps at the ``debug=tiny`` sizes, 4 DAVIS frames at 64 px), injected through the
environment variables the notebook's parameter cell reads, then checks what the notebook wrote:
the overlay grid, the training curve and per-frame J values in [0, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO_ROOT / "notebooks" / "01_quickstart.ipynb"
TRAIN_STEPS = 3
MAX_FRAMES = 4
CELL_TIMEOUT_S = 300


def read_notebook() -> Any:
    """The notebook as an ``nbformat.NotebookNode`` (v4)."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is a dev dependency")
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_stored_without_outputs() -> None:
    nb = read_notebook()
    import nbformat

    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(code) >= 5
    for cell in code:
        assert cell.outputs == [], "outputs are not committed: clear them before saving"
        assert cell.execution_count is None
    source = "\n".join(cell.source for cell in code)
    for name in ("CYCLECORR_NB_TRAIN_STEPS", "CYCLECORR_NB_MAX_FRAMES", "CYCLECORR_DATA"):
        assert name in source, f"the parameter cell no longer reads {name}"


def has_image_output(cell: Any) -> bool:
    """Whether an executed code cell displayed a PNG image."""
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.mark.data
@pytest.mark.slow
def test_notebook_trains_propagates_and_scores(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a dev dependency")
    davis = shared_data / "davis2017-mini"
    if not (davis / "JPEGImages" / "480p" / "blackswan").is_dir():
        pytest.skip(f"davis2017-mini/blackswan not found under {shared_data}")
    out_dir = tmp_path / "out"
    for key, value in {
        "CYCLECORR_DATA": str(shared_data.resolve()),
        "CYCLECORR_NB_TRAIN_STEPS": str(TRAIN_STEPS),
        "CYCLECORR_NB_MAX_FRAMES": str(MAX_FRAMES),
        "CYCLECORR_NB_SIZE": "64",
        "CYCLECORR_NB_TINY": "1",
        "CYCLECORR_NB_OUT_DIR": str(out_dir),
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "2",
    }.items():
        monkeypatch.setenv(key, value)  # the kernel process inherits this environment

    nb = read_notebook()
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()

    images = [cell for cell in nb.cells if cell.cell_type == "code" and has_image_output(cell)]
    assert len(images) >= 2, "expected the training curve and the overlay grid as images"

    results = json.loads((out_dir / "results.json").read_text())
    assert results["sequence"] == "blackswan"
    assert set(results["j_per_frame"]) == {"trained", "random"}
    for name, values in results["j_per_frame"].items():
        assert len(values) == MAX_FRAMES - 1, name  # every frame after the given first one
        assert all(0.0 <= j <= 1.0 for j in values), (name, values)
        assert results["j_mean"][name] == pytest.approx(sum(values) / len(values))

    from PIL import Image

    with Image.open(out_dir / "overlays.png") as overlay:
        width, height = overlay.size
    assert width > 3 * 100 and height > 3 * 100  # 3 rows (gt, trained, random) x 3+ frames

    ckpt = out_dir / "train" / "checkpoints" / "last.ckpt"
    import torch

    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == TRAIN_STEPS
