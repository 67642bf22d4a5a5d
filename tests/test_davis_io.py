"""DAVIS layout reader: split lists, frames, palette annotations, palette round trip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclecorr.data.davis_format import (
    davis_palette,
    read_annotation,
    read_palette,
    write_annotation,
)
from cyclecorr.eval.datasets.davis import list_sequences, load_sequence, load_split, read_frame

DATA = Path(os.environ.get("CYCLECORR_DATA", Path(__file__).parents[1] / "../shared/data"))
INTERACTIVE = DATA / "davis2017-fixtures" / "interactive"
MINI = DATA / "davis2017-mini"
TESTDEV = DATA / "davis2017-fixtures" / "testdev-firstframes"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"needs real DAVIS data at {path} (set CYCLECORR_DATA)")


def test_davis_palette_is_the_voc_colour_map() -> None:
    palette = davis_palette()
    assert len(palette) == 768
    colours = np.array(palette).reshape(256, 3)  # (768,) -> (256, 3) rgb
    np.testing.assert_array_equal(
        colours[:5], [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    )
    np.testing.assert_array_equal(colours[255], [224, 224, 192])
    assert len({tuple(c) for c in colours}) == 256  # all distinct


def test_write_read_round_trip(tmp_path: Path) -> None:
    mask = np.zeros((6, 9), dtype=np.uint8)
    mask[1:3, 2:5] = 1
    mask[4, :] = 2
    mask[0, 0] = 255
    palette = list(range(256)) * 3  # any palette survives
    path = tmp_path / "a" / "00000.png"
    write_annotation(path, mask, palette)
    assert Image.open(path).mode == "P"
    np.testing.assert_array_equal(read_annotation(path), mask)
    assert read_palette(path) == palette
    write_annotation(tmp_path / "b.png", mask)
    assert read_palette(tmp_path / "b.png") == davis_palette()


def test_read_annotation_modes(tmp_path: Path) -> None:
    ids = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    Image.fromarray(ids).save(tmp_path / "grey.png")  # mode L
    np.testing.assert_array_equal(read_annotation(tmp_path / "grey.png"), ids)
    assert read_palette(tmp_path / "grey.png") == davis_palette()
    Image.fromarray(np.zeros((2, 2, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="rgb.png has mode 'RGB'"):
        read_annotation(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        write_annotation(tmp_path / "bad.png", np.zeros((2, 2, 3), dtype=np.uint8))


def test_listing_errors_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ImageSets/2017"):
        list_sequences(tmp_path, "val")
    with pytest.raises(ValueError, match="480p"):
        load_sequence(tmp_path, "x", resolution="720p")
    with pytest.raises(FileNotFoundError, match="0 frames"):
        load_sequence(tmp_path, "missing")


def test_full_resolution_layout(tmp_path: Path) -> None:
    frames = tmp_path / "JPEGImages" / "Full-Resolution" / "s"
    frames.mkdir(parents=True)
    for t in (1, 0):
        Image.fromarray(np.full((4, 6, 3), t * 50, dtype=np.uint8)).save(frames / f"{t:05d}.jpg")
        write_annotation(
            tmp_path / "Annotations" / "Full-Resolution" / "s" / f"{t:05d}.png", np.zeros((4, 6))
        )
    seq = load_sequence(tmp_path, "s", "Full-Resolution")
    assert seq.frame_ids == ["00000", "00001"]
    assert [p.name for p in seq.annotations] == ["00000.png", "00001.png"]
    frame = read_frame(seq.frames[1])
    assert frame.shape == (4, 6, 3) and frame.dtype == np.uint8 and abs(int(frame.mean()) - 50) <= 2


@pytest.mark.data
def test_tennis_two_objects_with_void_and_palette_round_trip(tmp_path: Path) -> None:
    _need(INTERACTIVE)
    seq = load_sequence(INTERACTIVE, "tennis")
    assert len(seq.frames) == 2 and len(seq.annotations) == 2
    mask = read_annotation(seq.annotations[0])
    assert mask.shape == (480, 854) and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) == {0, 1, 2, 255}
    palette = read_palette(seq.annotations[0])
    assert palette == davis_palette()
    write_annotation(tmp_path / "tennis.png", mask, palette)
    np.testing.assert_array_equal(read_annotation(tmp_path / "tennis.png"), mask)
    assert read_palette(tmp_path / "tennis.png") == palette
    assert read_frame(seq.frames[0]).shape == (480, 854, 3)


@pytest.mark.data
def test_mini_split_and_testdev_widths() -> None:
    _need(MINI)
    _need(TESTDEV)
    assert list_sequences(MINI) == [
        "blackswan",
        "car-shadow",
        "dance-twirl",
        "dog",
        "goat",
        "libby",
    ]
    sequences = load_split(MINI)
    counts = {seq.name: len(seq.frames) for seq in sequences}
    assert counts == {
        "blackswan": 50,
        "car-shadow": 40,
        "dance-twirl": 90,
        "dog": 60,
        "goat": 90,
        "libby": 49,
    }
    assert all(len(seq.annotations) == len(seq.frames) for seq in sequences)
    tackle = load_sequence(TESTDEV, "tackle")
    mask = read_annotation(tackle.annotations[0])
    assert mask.shape == (480, 1301)
    assert set(np.unique(mask).tolist()) == {0, 1, 2, 3}
    assert read_frame(tackle.frames[0]).shape == (480, 1301, 3)
