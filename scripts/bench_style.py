"""Style transfer speed: the TensorFlow tutorial's Adam loop against the default optimiser, side by side.

Protocol (issue 11), in one process with one VGG19 (same layers, loss weights, initialisation: the
content image):

1. the tutorial's loop at ``--size`` px: Adam(0.02, beta_1 0.99, epsilon 0.1), float32, its train step
   in a ``tf.function``, clipped to 0..1, for ``--adam-steps`` steps; its target is the float32 total
   loss of the image it ends with;
2. the default optimiser (``StyleConfig()``: optimiser and precision) from the same start, until the
   float32 loss of its image is at or below the target; its time counts only its own steps (the
   float32 check after each step is not timed), first-call tracing included, as for Adam;
3. for reference, the default optimiser in float32, L-BFGS (this package's) and SciPy's L-BFGS-B on
   the same loss, capped at ``--cap`` evaluations, and the time of one evaluation in float32 and
   bfloat16;
4. ``rllab style`` at 512 px with the default settings in a child process: its wall time and peak
   resident memory.

``--weights none`` (random VGG19) is the default because ImageNet weights cannot be downloaded on the
machines this was written on; ``--weights PATH`` takes the same figures with real weights.

    python scripts/bench_style.py --out bench_style.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
# One BLAS thread: SciPy's L-BFGS-B calls BLAS, whose threads contend with TensorFlow's on a small CPU
# (set before NumPy loads it).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from rllab.bench import MachineRecord, write_report  # noqa: E402


def sample_images(folder: Path) -> tuple[Path, Path]:
    """A real photograph (matplotlib's grace_hopper.jpg, 512x600) and a generated colourful wave pattern."""
    import matplotlib.cbook
    from PIL import Image

    content = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    rows, cols = np.mgrid[0:384, 0:512] / 384.0
    waves = 0.5 + 0.5 * np.sin(24 * cols[..., None] + 15 * rows[..., None] ** 2 + np.array([0.0, 2.1, 4.2]))
    style = folder / "waves.png"
    Image.fromarray((waves * 255).round().astype(np.uint8)).save(style)
    return content, style


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--content", default=None, help="content image (default: matplotlib's grace_hopper.jpg)")
    parser.add_argument("--style", default=None, help="style image (default: a generated wave pattern)")
    parser.add_argument("--weights", default="none", help="none (random VGG19), imagenet or a path to the .h5 file")
    parser.add_argument("--size", type=int, default=256, help="long side of the side-by-side run (default: 256)")
    parser.add_argument("--adam-steps", type=int, default=1000, help="tutorial Adam steps (default: 1000)")
    parser.add_argument("--cap", type=int, default=150, help="most evaluations for the reference optimisers")
    parser.add_argument("--full-size", type=int, default=512, help="size of the timed 'rllab style' run (0: skip)")
    parser.add_argument("--he-scale", type=float, default=None, metavar="X",
                        help="with --weights none: redraw the random kernels from He-normal x X, so that the VGG19 "
                             "losses weigh as much as the TV term (0.8 at 64 px), as they would with real weights")
    parser.add_argument("--out", default="bench_style.json")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from gan import style as S
    from gan.style_config import StyleConfig
    from gan.style_run import InputImage

    record = MachineRecord()
    workdir = Path(tempfile.mkdtemp(prefix="bench_style_"))
    content_path, style_path = sample_images(workdir)
    content_path = Path(args.content) if args.content else content_path
    style_path = Path(args.style) if args.style else style_path
    defaults = StyleConfig()
    weights = None if args.weights == "none" else args.weights
    content = InputImage(content_path, "content image", max_pixels=64_000_000).pixels(args.size)
    style = InputImage(style_path, "style image", max_pixels=64_000_000).pixels(args.size)
    loss_weights = S.LossWeights(defaults.content_weight, defaults.style_weight, defaults.tv_weight)

    def objective(precision: str, reference=None):
        extractor = S.build_extractor(defaults.style_layers, defaults.content_layers, weights, precision=precision)
        if reference is not None:  # the same (random) weights as the tutorial's extractor
            extractor.model.set_weights(reference.model.get_weights())
        elif args.he_scale is not None:
            import keras

            he_normal = keras.initializers.HeNormal(seed=0)
            for layer in extractor.model.layers:
                if hasattr(layer, "kernel"):
                    layer.kernel.assign(he_normal(layer.kernel.shape) * args.he_scale)
        return S.Objective(extractor, content, [style], np.array([1.0]), loss_weights)

    tutorial = objective("float32")
    float32_loss = lambda image: float(tutorial.losses(tf.constant(image[None], tf.float32))["loss"])  # noqa: E731
    start_loss = float32_loss(content)
    print(f"{args.size}-px content {content.shape[1]}x{content.shape[0]}, weights {args.weights}; "
          f"start loss {start_loss:.6g}", flush=True)

    # 1. The tutorial's loop.
    adam = S.TutorialAdam(tutorial, content)
    started = time.perf_counter()
    adam_curve = []
    for step in range(args.adam_steps):
        adam_curve.append(adam.step()["loss"])
        if (step + 1) % 100 == 0:
            print(f"  adam step {step + 1}: loss {adam_curve[-1]:.6g} ({time.perf_counter() - started:.1f} s)", flush=True)
    adam_seconds = time.perf_counter() - started
    target = float32_loss(adam.current())
    print(f"tutorial Adam: {args.adam_steps} steps in {adam_seconds:.1f} s ({adam_seconds / args.adam_steps:.3f} s/step); "
          f"target loss {target:.6g}", flush=True)

    # 2./3. The default optimiser and the reference ones, each until its float32 loss reaches the target.
    precision = S.resolve_precision(defaults.precision)
    fast = objective(precision, reference=tutorial.extractor) if precision != "float32" else tutorial

    def race(name: str, optimizer, cap: int) -> dict:
        spent, curve = 0.0, []
        for step in range(cap):
            begun = time.perf_counter()
            optimizer.step()
            spent += time.perf_counter() - begun
            curve.append(float32_loss(optimizer.current()))
            if curve[-1] <= target:
                break
        reached = curve[-1] <= target
        figures = {"reached": reached, "steps": step + 1, "evaluations": optimizer.evaluations, "seconds": spent,
                   "final_loss": curve[-1], "speedup": adam_seconds / spent if reached else None, "loss_curve": curve}
        shown = (f"reached {curve[-1]:.6g} in {spent:.2f} s: {adam_seconds / spent:.1f}x sooner" if reached
                 else f"stopped at {curve[-1]:.6g} after {spent:.1f} s without reaching the target")
        print(f"{name}: {step + 1} steps, {optimizer.evaluations} evaluations; {shown}", flush=True)
        return figures

    results = {}
    default_optimizer = S.make_optimizer(defaults.optimizer, fast, content, learning_rate=defaults.learning_rate,
                                         history=defaults.history)
    results[f"default ({defaults.optimizer}, {precision})"] = race(f"default {defaults.optimizer} ({precision})",
                                                                   default_optimizer, args.adam_steps)
    if precision != "float32":  # the method's share of the gain, without bfloat16's
        results[f"{defaults.optimizer} (float32)"] = race(f"{defaults.optimizer} (float32)", S.make_optimizer(
            defaults.optimizer, tutorial, content, learning_rate=defaults.learning_rate), args.adam_steps)
    if defaults.optimizer != "lbfgs":
        results[f"lbfgs ({precision})"] = race(f"lbfgs ({precision})", S.LBFGS(fast, content), args.cap)
    results["scipy L-BFGS-B (float32)"] = scipy_race(tutorial, content, target, args.cap, adam_seconds, float32_loss)

    per_evaluation = {}
    for name, candidate in (("float32", tutorial), (precision, fast)):
        image = tf.constant(content[None])
        candidate.value_and_gradient(image)
        begun = time.perf_counter()
        for _ in range(5):
            candidate.value_and_gradient(image)[1].numpy()
        per_evaluation[name] = (time.perf_counter() - begun) / 5
    print("seconds per evaluation at", args.size, "px:", {k: round(v, 3) for k, v in per_evaluation.items()}, flush=True)

    full = full_size_run(content_path, style_path, args.full_size, args.weights, workdir) if args.full_size else None

    report = {
        "protocol": "tutorial Adam vs the default optimiser to the same float32 total loss, one process, same VGG19",
        "content": str(content_path), "style": str(style_path) if args.style else "generated waves (sample_images)",
        "weights": args.weights, "he_scale": args.he_scale, "size": args.size, "content_shape": list(content.shape),
        "start_loss": start_loss,
        "tutorial_adam": {"steps": args.adam_steps, "seconds": adam_seconds, "seconds_per_step": adam_seconds / args.adam_steps,
                          "target_loss": target, "loss_curve": adam_curve},
        "optimizers": results,
        "seconds_per_evaluation": per_evaluation,
        "full_size_run": full,
        "machine": record.finish(),
    }
    write_report(args.out, report)
    return 0


def scipy_race(objective, content: np.ndarray, target: float, cap: int, adam_seconds: float, float32_loss) -> dict:
    """SciPy's L-BFGS-B fed float64 copies of the float32 loss and gradient, stopped at the target."""
    import scipy.optimize
    import tensorflow as tf

    shape = (1, *content.shape)
    state = {"evaluations": 0, "seconds": 0.0, "best": np.inf, "reached_at": None}

    def loss_and_gradient(x):
        begun = time.perf_counter()
        losses, gradient = objective.value_and_gradient(tf.constant(x.reshape(shape), tf.float32))
        value = float(losses["loss"])
        state["seconds"] += time.perf_counter() - begun
        state["evaluations"] += 1
        state["best"] = min(state["best"], value)
        if value <= target and state["reached_at"] is None:
            state["reached_at"] = (state["evaluations"], state["seconds"])
        return value, gradient.numpy().ravel().astype(np.float64)

    def stop_when_reached(intermediate_result):
        if state["reached_at"] is not None:
            raise StopIteration

    scipy.optimize.minimize(loss_and_gradient, content.ravel().astype(np.float64), jac=True, method="L-BFGS-B",
                            bounds=scipy.optimize.Bounds(0.0, 1.0), callback=stop_when_reached,
                            options={"maxfun": cap, "maxiter": cap})
    reached = state["reached_at"] is not None
    evaluations, seconds = state["reached_at"] if reached else (state["evaluations"], state["seconds"])
    shown = (f"reached the target after {evaluations} evaluations, {seconds:.2f} s: {adam_seconds / seconds:.1f}x sooner"
             if reached else f"best {state['best']:.6g} after {evaluations} evaluations without reaching the target")
    print(f"scipy L-BFGS-B (float32): {shown}", flush=True)
    return {"reached": reached, "evaluations": evaluations, "seconds": seconds, "best_loss": state["best"],
            "speedup": adam_seconds / seconds if reached else None}


def full_size_run(content: Path, style: Path, size: int, weights: str, workdir: Path) -> dict:
    """``rllab style`` with default settings at ``size`` px in a child process: wall time and peak RSS."""
    out = workdir / "result.png"
    command = [sys.executable, "-m", "rllab.cli", "style", str(content), str(style), "--out", str(out),
               "--weights", weights, "--max-size", str(size), "--run-dir", str(workdir / "run")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "MPLBACKEND": "Agg"}
    begun = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - begun
    if process.returncode != 0:
        raise SystemExit(f"rllab style failed ({process.returncode}): {process.stderr[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux: the largest child, i.e. this one
    results = json.loads((workdir / "run" / "artifacts" / "results.json").read_text())
    figures = {"command": " ".join(command[1:]), "wall_seconds": wall, "optimisation_seconds": results["seconds"],
               "steps": results["steps"], "evaluations": results["evaluations"], "size": results["size"],
               "final_loss": results["loss"], "peak_rss_mib": peak_kib / 1024, "precision": results["precision"]}
    print(f"rllab style at {size} px (default settings, {results['steps']} steps, {results['evaluations']} evaluations): "
          f"{wall:.1f} s wall ({results['seconds']:.1f} s optimising), peak memory {peak_kib / 1024:.0f} MiB", flush=True)
    return figures


if __name__ == "__main__":
    sys.exit(main())
