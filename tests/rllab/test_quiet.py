"""TensorFlow's C++ start-up lines stay off stderr (rllab.quiet), and come back with --verbose."""
import re
import subprocess
import sys
import textwrap

from rllab.cli import main
from rllab.quiet import VERBOSE_ENV, split_chatter
from tests.conftest import REPO, run_cli

TF_LOG_LINE = re.compile(r"^(?:[IWEF]0000 |.*absl)", re.MULTILINE)
NOT_VERBOSE = {VERBOSE_ENV: "0"}  # whatever the developer running the tests has set


def test_split_chatter_keeps_everything_that_is_not_a_glog_record():
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1795669846.541035    3189 port.cc:153] oneDNN custom operations are on.\n"
            "I0000 00:00:1795669846.579737    3189 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
            "\n"
            "some other library's warning\n"
            "E0000 00:00:1795669848.930077    3189 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n")
    chatter, rest = split_chatter(text)
    assert rest == "\nsome other library's warning\n"
    assert chatter.count("\n") == 5 and "To enable the following" in chatter and "cuInit" in chatter


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def test_capture_hides_glog_lines_but_keeps_python_and_other_output():
    """Python's own stderr passes straight through; other fd-2 text is replayed when the capture ends."""
    result = _run_python("""
        import os, sys
        from rllab.quiet import captured_chatter, stderr_fd_captured
        print("before", file=sys.stderr)
        with stderr_fd_captured():
            os.write(2, b"a C++ line that is not a log record\\n")
            os.write(2, b"I0000 00:00:1.5    42 port.cc:153] chatter from C++\\n")
            os.write(2, b"its continuation line\\n")
            print("ours, during", file=sys.stderr)
        print("after", file=sys.stderr)
        print(repr(captured_chatter()))
        try:
            with stderr_fd_captured():
                os.write(2, b"E0000 00:00:2.5    42 loader.cc:9] why the import failed\\n")
                raise ImportError("broken install")
        except ImportError:
            print("failed", file=sys.stderr)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["before", "ours, during", "a C++ line that is not a log record", "after",
                                          "E0000 00:00:2.5    42 loader.cc:9] why the import failed", "failed"]
    assert "chatter from C++" in result.stdout and "its continuation line" in result.stdout


def test_capture_does_nothing_without_a_stderr_descriptor():
    result = _run_python("""
        import os
        from rllab.quiet import stderr_fd_captured
        os.close(2)
        with stderr_fd_captured():
            print("body ran")
    """)
    assert result.returncode == 0 and result.stdout == "body ran\n"


def test_cli_commands_that_load_tensorflow_print_no_cpp_log_lines(tmp_path, with_data_dir, capsys):
    """One classifier run (trained in-process), then real subprocesses: DQN train and classify eval
    quiet, and classify eval with --verbose showing the lines (so this test can fail)."""
    run_dir = tmp_path / "classify"
    assert main(["classify", "train", "--train-limit", "500", "--validation-size", "100", "--epochs", "1",
                 "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()

    dqn = run_cli("dqn", "train", "--env", "CartPole-v1", "--total-steps", "200", "--learning-starts", "100",
                  "--eval-interval", "200", "--eval-episodes", "1", "--num-envs", "1", "--hidden-units", "8",
                  "--run-dir", str(tmp_path / "dqn"), env=NOT_VERBOSE, timeout=120)
    assert dqn.returncode == 0, dqn.stderr
    assert not TF_LOG_LINE.findall(dqn.stderr), dqn.stderr

    quiet = run_cli("classify", "eval", "--run-dir", str(run_dir), env=NOT_VERBOSE, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert "accuracy" in quiet.stdout
    assert not TF_LOG_LINE.findall(quiet.stderr), quiet.stderr

    verbose = run_cli("--verbose", "classify", "eval", "--run-dir", str(run_dir), env=NOT_VERBOSE, timeout=120)
    assert verbose.returncode == 0, verbose.stderr
    assert TF_LOG_LINE.findall(verbose.stderr), "TensorFlow printed nothing at start-up: is rllab/quiet.py still needed?"
