"""find_videos (recursive, sorted, clear layout errors) and read_frame_list (VLOG-style lists)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclecorr.data.sources import FrameListEntry, find_videos, read_frame_list


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_find_videos_in_a_kinetics_tree(tmp_path: Path) -> None:
    root = tmp_path / "kinetics"
    expected = [
        touch(root / "train" / "abseiling" / "b_000001_000011.mp4"),
        touch(root / "train" / "abseiling" / "a_000002_000012.MKV"),
        touch(root / "train" / "zumba" / "c.webm"),
        touch(root / "val" / "archery" / "d.avi"),
    ]
    touch(root / "train" / "abseiling" / "._b_000001_000011.mp4")  # macOS resource fork
    touch(root / "train" / "abseiling" / "labels.csv")
    touch(root / "train" / "zumba" / "clip.mp4.part")
    assert find_videos(root) == sorted(expected)
    assert find_videos(root, extensions=["mp4"]) == [expected[0]]
    assert find_videos(root / "val") == [expected[3]]
    assert find_videos(expected[2]) == [expected[2]]  # a single file is its own tree


def test_missing_root_describes_the_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope does not exist") as info:
        find_videos(tmp_path / "nope")
    assert "<root>/<split>/<class>/<video>.mp4" in str(info.value)


def test_tree_without_videos_describes_the_layout(tmp_path: Path) -> None:
    touch(tmp_path / "empty" / "class" / "readme.txt")
    with pytest.raises(FileNotFoundError, match="found no video files") as info:
        find_videos(tmp_path / "empty")
    assert "empty" in str(info.value) and "Kinetics layout" in str(info.value)


def test_read_frame_list_resolves_relative_paths(tmp_path: Path) -> None:
    list_file = tmp_path / "lists" / "train.txt"
    list_file.parent.mkdir()
    list_file.write_text(
        "# VLOG frames\n"
        "frames/v_001 120\n"
        "\n"
        f"{tmp_path / 'abs' / 'v_002'} 35\n"
        "frames/with space/v 3   \n"
    )
    entries = read_frame_list(list_file)
    assert entries == [
        FrameListEntry(tmp_path / "lists" / "frames" / "v_001", 120),
        FrameListEntry(tmp_path / "abs" / "v_002", 35),
        FrameListEntry(tmp_path / "lists" / "frames" / "with space" / "v", 3),
    ]
    rooted = read_frame_list(list_file, root=tmp_path / "data")
    assert rooted[0] == (tmp_path / "data" / "frames" / "v_001", 120)
    assert rooted[1].path == tmp_path / "abs" / "v_002"  # absolute paths stay


@pytest.mark.parametrize("bad", ["frames/v_001", "frames/v_001 12.5", "frames/v_001 -3", "12"])
def test_malformed_line_names_file_and_line(bad: str, tmp_path: Path) -> None:
    list_file = tmp_path / "list.txt"
    list_file.write_text(f"ok/dir 10\n# comment\n{bad}\n")
    with pytest.raises(ValueError, match=r"list.txt line 3: expected '<frame_dir> <num_frames>'"):
        read_frame_list(list_file)


def test_missing_or_empty_list(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="gone.txt does not exist"):
        read_frame_list(tmp_path / "gone.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="empty.txt has no entries"):
        read_frame_list(tmp_path / "empty.txt")
