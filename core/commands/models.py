"""``invariance models add | list | remove``: bring your own MNIST classifier beside the zoo."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from core.commands import help_handler
from core.errors import ModelError, UsageError

_CODE_WARNING = (
    "TorchScript files and Python factories RUN THE AUTHOR'S CODE when loaded (here and every time the model is "
    "used): add only models you trust. ONNX files and safetensors weights run no code."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "models",
        help="add, list or remove your own models (ONNX, TorchScript, or a factory with weights)",
        description="Your own MNIST classifiers, usable wherever a zoo model is. " + _CODE_WARNING,
    )
    commands = parser.add_subparsers(dest="models_command", metavar="<add|list|remove>")

    add = commands.add_parser(
        "add",
        help="check, measure and register a model",
        description="Check a model (output shape (N, 10), finite values, clean accuracy >= 50% on the MNIST test "
        "digits), time one forward pass, and register it in the user folder. " + _CODE_WARNING,
    )
    add.add_argument("name", help="a new name: a-z, 0-9, '.', '_', '-'")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--onnx", metavar="FILE", type=Path, help="an ONNX model (converted with onnx2torch)")
    source.add_argument(
        "--torchscript", metavar="FILE", type=Path, help="a TorchScript model (torch.jit.save); runs its code"
    )
    source.add_argument(
        "--factory",
        metavar="PKG.MOD:FN",
        help="an importable function returning a torch.nn.Module (needs --weights); runs its code",
    )
    add.add_argument(
        "--weights",
        metavar="FILE",
        type=Path,
        help="the factory's state dict: .safetensors, or .pt read with torch.load(weights_only=True)",
    )
    add.add_argument(
        "--input-range", choices=("0-1", "0-255"), default=None, help="pixel range the model expects (default 0-1)"
    )
    add.add_argument("--mean", type=float, default=None, help="the model expects (x - MEAN) / STD of [0, 1] pixels")
    add.add_argument("--std", type=float, default=None, help="see --mean")
    add.add_argument(
        "--input-shape", choices=("1x28x28", "784"), default="1x28x28", help="(N, 1, 28, 28) or flattened (N, 784)"
    )
    add.add_argument(
        "--outputs", choices=("logits", "probs", "logprobs"), default="logits", help="what the model returns"
    )
    add.add_argument("--threat", metavar="NORM:EPS", help="threat model it defends, e.g. linf:0.3 or l2:2.0")
    add.add_argument("--description", default="", help="one line shown beside the name")
    add.add_argument("--n", type=int, default=10_000, help="test digits for the accuracy check (default all 10,000)")
    add.set_defaults(handler=run_add)

    listing = commands.add_parser("list", help="list the user models")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=run_list)

    remove = commands.add_parser("remove", help="delete a user model (only the files 'models add' wrote)")
    remove.add_argument("name")
    remove.set_defaults(handler=run_remove)
    parser.set_defaults(handler=help_handler(parser))


def run_add(args: argparse.Namespace) -> int:
    from core.device import configure_threads
    from core.zoo import user
    from core.zoo.convention import Convention

    if args.factory and args.weights is None:
        raise UsageError("--factory needs --weights FILE (.safetensors or .pt)")
    if args.weights is not None and not args.factory:
        raise UsageError("--weights goes with --factory (ONNX and TorchScript files carry their weights)")
    if (args.mean is None) != (args.std is None):
        raise UsageError("--mean and --std go together")
    if args.mean is not None and args.input_range is not None:
        raise UsageError("--input-range and --mean/--std exclude each other")
    if not 1 <= args.n <= 10_000:
        raise UsageError(f"--n {args.n}: choose 1 to 10000 test digits")
    convention = Convention(
        input_range="standardize" if args.mean is not None else (args.input_range or "0-1"),
        input_shape=args.input_shape,
        outputs=args.outputs,
        mean=args.mean,
        std=args.std,
    )
    fmt, file = (
        ("onnx", args.onnx)
        if args.onnx
        else ("torchscript", args.torchscript)
        if args.torchscript
        else ("factory", args.weights)
    )
    configure_threads()
    request = user.AddRequest(
        name=args.name,
        fmt=fmt,
        file=file,
        convention=convention,
        factory=args.factory,
        threat=user.parse_threat(args.threat) if args.threat else None,
        description=args.description,
        command=shlex.join(["invariance", *sys.argv[1:]]) if "models" in sys.argv[1:3] else "",
    )
    card = user.add_model(request, n=args.n)
    clean = card.evaluation["clean_accuracy"]
    speed = card.source["forward_ms_batch1"]
    slow = " (slow: the editor updates it asynchronously)" if card.source["slow"] else ""
    print(
        f"added {card.name}: clean accuracy {clean['value']:.2%} on {clean['n']} test digits, "
        f"{speed:.2f} ms per single-image forward pass{slow}; {user.models_dir() / card.name}"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    from core.zoo import user

    rows: list[dict[str, Any]] = []
    for name in user.user_names():
        try:
            card = user.read_user_card(name)
        except ModelError as error:
            rows.append({"name": name, "error": str(error)})
            continue
        threat = card.threat_model or {}
        rows.append(
            {
                "name": name,
                "format": card.source.get("format"),
                "clean_accuracy": card.figure("clean_accuracy"),
                "threat": f"{threat['norm']}:{threat['eps']}" if threat else None,
                "forward_ms_batch1": card.source.get("forward_ms_batch1"),
                "slow": bool(card.source.get("slow")),
                "description": card.description,
            }
        )
    if args.json:
        print(json.dumps({"folder": str(user.models_dir()), "models": rows}, indent=2))
        return 0
    if not rows:
        print(f"no user models in {user.models_dir()} (add one with 'invariance models add NAME --onnx FILE')")
        return 0
    for row in rows:
        if "error" in row:
            print(f"{row['name']:20s} unreadable: {row['error']}")
            continue
        accuracy = "-" if row["clean_accuracy"] is None else f"{row['clean_accuracy']:.2%}"
        print(
            f"{row['name']:20s} {row['format']:12s} clean {accuracy:>7s}  threat {row['threat'] or '-':10s} "
            f"{row['forward_ms_batch1']} ms{'  slow' if row['slow'] else ''}"
        )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from core.zoo import user

    folder = user.remove_model(args.name)
    print(f"removed {args.name} ({folder})")
    return 0
