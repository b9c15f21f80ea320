"""`rllab dqn play --video x.mp4` writes a real MP4 out of the box (imageio-ffmpeg is a dependency)."""
import imageio.v2 as imageio
import pytest

from rllab.cli import main


def test_play_writes_an_mp4(tmp_path, tiny_overrides, capsys):
    pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg is a dependency in pyproject.toml; reinstall rllab")
    run_dir = tmp_path / "run"
    overrides = tiny_overrides(total_steps=200, eval_interval=200, eval_episodes=1)
    flags = [f"--{name.replace('_', '-')}" for name in overrides]
    argv = ["dqn", "train", "--env", "CartPole-v1", "--run-dir", str(run_dir)]
    for flag, value in zip(flags, overrides.values()):
        argv += [flag, *map(str, value)] if isinstance(value, tuple) else [flag, str(value)]
    assert main(argv) == 0
    video = tmp_path / "play.mp4"
    assert main(["dqn", "play", "--run-dir", str(run_dir), "--video", str(video), "--frame-every", "4"]) == 0
    assert video.read_bytes()[4:8] == b"ftyp"  # an MP4 container, not a GIF under another name
    frames_written = int(capsys.readouterr().out.split(" frames written")[0].rsplit(" ", 1)[-1])
    reader = imageio.get_reader(video, format="FFMPEG")
    try:
        frames = [frame for frame in reader]
    finally:
        reader.close()
    assert len(frames) == frames_written and frames[0].shape == (400, 600, 3)  # CartPole's render size
