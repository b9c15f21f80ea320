"""rllab.plotting.save_video: GIF and MP4 by suffix, odd frame sizes, atomic writes, bad suffixes."""
import imageio.v2 as imageio
import numpy as np
import pytest

from rllab.errors import UsageError
from rllab.plotting import save_video


def _frames(count: int = 6, height: int = 33, width: int = 47) -> list[np.ndarray]:
    """Frames with a bright square moving across a dark background (odd sizes on purpose)."""
    frames = []
    for i in range(count):
        frame = np.full((height, width, 3), 20, np.uint8)
        frame[10:20, 5 * i: 5 * i + 10] = (230, 200, 40)
        frames.append(frame)
    return frames


def test_gif_keeps_every_frame_and_its_size(tmp_path):
    frames = _frames()
    path = save_video(frames, tmp_path / "sub" / "anim.gif", fps=10)
    assert path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    read = imageio.mimread(path)
    assert len(read) == len(frames) and read[0].shape[:2] == (33, 47)
    assert np.abs(read[3][..., :3].astype(int) - frames[3]).mean() < 10
    assert [p.name for p in path.parent.iterdir()] == ["anim.gif"]  # no temporary file left behind


def test_mp4_of_odd_sized_frames_reads_back(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    frames = _frames()
    path = save_video(frames, tmp_path / "anim.mp4", fps=10)
    reader = imageio.get_reader(path, format="FFMPEG")
    try:
        read = [frame for frame in reader]
    finally:
        reader.close()
    assert len(read) == len(frames)
    assert read[0].shape == (34, 48, 3)  # padded by one row and one column for yuv420p, not rescaled
    assert np.abs(read[3][:33, :47].astype(int) - frames[3]).mean() < 12  # H.264 is lossy
    assert [p.name for p in tmp_path.iterdir()] == ["anim.mp4"]


def test_unsupported_suffix_is_a_one_line_error_listing_the_accepted_ones(tmp_path):
    with pytest.raises(UsageError, match=r"must end in \.gif or \.mp4, got .*anim\.avi"):
        save_video(_frames(), tmp_path / "anim.avi")
    assert not list(tmp_path.iterdir())
