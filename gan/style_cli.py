"""``rllab style CONTENT STYLE [STYLE ...] --out result.png``: VGG19 neural style transfer.

Imports no TensorFlow at import time (``rllab --help`` stays fast): the handler imports `gan.style_run`.
Every `StyleConfig` field is a flag whose help is the field's docstring.
"""
from __future__ import annotations

import argparse

from gan.style_config import INITS, OPTIMIZERS, PRECISIONS, StyleConfig
from rllab.cli_common import add_config_flags, add_train_args, nonneg_int, number, positive_int
from rllab.errors import UsageError
from rllab.images import DEFAULT_MAX_PIXELS


def _items(text: str, parse, what: str) -> tuple:
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"expected {what}, comma-separated, got {text!r}")
    values = []
    for part in parts:
        try:
            values.append(parse(part))
        except (argparse.ArgumentTypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {what}, comma-separated, got {text!r}") from None
    return tuple(values)


def layer_list(text: str) -> tuple[str, ...]:
    """``block1_conv1,block2_conv1`` -> a tuple of names (checked against VGG19 by the config)."""
    return _items(text, str, "VGG19 layer names")


def number_list(text: str) -> tuple[float, ...]:
    """``0.3,0.7`` -> ``(0.3, 0.7)`` (signs are checked by the config, with a clearer message)."""
    return _items(text, number, "numbers")


def size_list(text: str) -> tuple[int, ...]:
    """``256,512`` -> ``(256, 512)``."""
    return _items(text, positive_int, "positive integers")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "style", help="VGG19 neural style transfer",
        description="Repaint CONTENT in the style of STYLE (several style images are blended, see --style-weights): "
                    "the Gatys et al. method on VGG19, with the TensorFlow tutorial's layers and loss weights. "
                    "The result goes to --out; the run folder gets the config, the loss curves (metrics.csv, "
                    "TensorBoard, artifacts/history.png), frames and a progress GIF, and a content | style | result sheet.",
        epilog="Weights: ImageNet weights come from Keras' cache (~/.keras/models, downloaded on first use) or "
               "--weights PATH to vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5. Ctrl-C writes the image so "
               "far to --out; the same command with --resume continues it.",
    )
    parser.add_argument("content", metavar="CONTENT", help="the image to repaint (any format Pillow reads)")
    parser.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="where to write the result (.png, .jpg, .webp, .bmp, .tif)")
    flags = add_config_flags(
        parser, StyleConfig,
        parsers={"content_layers": layer_list, "style_layers": layer_list, "style_weights": number_list,
                 "scales": size_list, "steps": positive_int, "save_every": nonneg_int},
        choices={"optimizer": OPTIMIZERS, "init": INITS, "precision": PRECISIONS},
        defaults={"content_layers": ",".join(StyleConfig.content_layers),
                  "style_layers": ",".join(StyleConfig.style_layers), "style_weights": "equal",
                  "scales": "none"},
    )
    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help=f"refuse input images with more pixels than this (default: {DEFAULT_MAX_PIXELS:,})")
    add_train_args(parser, "style", seed_help="seed of the noise initialisation and of TensorFlow",
                   budget_flags=["--steps"])
    parser.set_defaults(func=_stylize, config_flags=flags)


def _stylize(args: argparse.Namespace) -> int:
    given = args.config_flags.given(args)
    if "scales" in given and given.get("max_size") not in (None, (given["scales"] or [None])[-1]):
        raise UsageError(f"--max-size {given['max_size']} and --scales {','.join(map(str, given['scales']))} disagree: "
                         "the last scale is the result's size; drop one of them")
    config = StyleConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})

    from gan.style_run import stylize

    figures = stylize(config, args.content, args.styles, args.out, run_dir=args.run_dir, seed=args.seed,
                      resume=args.resume, given=given, max_pixels=args.max_pixels)
    width, height = figures["size"]
    print(f"wrote {figures['out']} ({width}x{height}): loss {figures['loss']:.4g} (content {figures['content_loss']:.4g}, "
          f"style {figures['style_loss']:.4g}, tv {figures['tv_loss']:.4g}) after {figures['steps']} {figures['optimizer']} "
          f"steps, {figures['evaluations']} VGG19 evaluations, {figures['seconds']:.1f} s; run folder {figures['run_dir']}")
    return 0

