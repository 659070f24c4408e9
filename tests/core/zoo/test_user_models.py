"""``invariance models add|list|remove``: the three routes, the conventions, and bad files that register nothing."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from core.cli import main
from core.collection import Collection
from core.errors import ModelError
from core.images import to_float
from core.paths import checkpoints_dir
from core.zoo import available, entry, load
from core.zoo import user as user_models
from core.zoo.cards import parse_card
from tests.fixtures_collection import write_paper_layout
from tests.fixtures_user_models import Scaled, export_onnx, mnist_test_digits, tiny_classifier

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")  # TorchScript route
N_CHECK = "1000"  # the CLI default is all 10,000 test digits; 1,000 keeps these tests fast


@pytest.fixture(autouse=True)
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    monkeypatch.setenv("INVARIANCE_USER_DIR", str(folder))
    return folder


def add(*arguments: str) -> int:
    return main(["models", "add", *arguments, "--n", N_CHECK])


def same_predictions(name: str, reference: nn.Module, n: int = 500) -> None:
    x, _ = mnist_test_digits(n)
    loaded = load(name, "cpu")
    with torch.no_grad():
        assert torch.equal(loaded(x).argmax(1), reference(x).argmax(1))
        torch.testing.assert_close(loaded(x), reference(x), atol=1e-4, rtol=1e-4)


def registered() -> list[str]:
    folder = user_models.models_dir()
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_tiny_onnx_model_is_added_and_predicts_as_in_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = tiny_classifier()
    assert add("tiny", "--onnx", str(export_onnx(tiny, tmp_path / "tiny.onnx")), "--threat", "linf:0.1") == 0
    assert "added tiny: clean accuracy" in capsys.readouterr().out
    same_predictions("tiny", tiny)
    assert "tiny" in available() and entry("tiny").origin == "user" and entry("tiny").norm == "linf"
    card = user_models.read_user_card("tiny")
    assert card.origin == "user" and card.evaluation["clean_accuracy"]["n"] == 1000
    assert card.source["format"] == "onnx" and card.source["runs_user_code"] is False
    # converted with onnx2torch: gradients reach the input, so attacks work on it
    x, y = mnist_test_digits(4)
    x.requires_grad_(True)
    nn.functional.cross_entropy(load("tiny", "cpu")(x), y).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_zoo_model_exported_to_onnx_predicts_as_in_torch(tmp_path: Path) -> None:
    undefended = load("undefended", "cpu")
    assert add("my-undefended", "--onnx", str(export_onnx(undefended, tmp_path / "u.onnx"))) == 0
    same_predictions("my-undefended", undefended)


def test_torchscript_route(tmp_path: Path) -> None:
    tiny = tiny_classifier()
    torch.jit.save(torch.jit.script(tiny), str(tmp_path / "tiny.pt"))
    assert add("scripted", "--torchscript", str(tmp_path / "tiny.pt")) == 0
    same_predictions("scripted", tiny)
    assert user_models.read_user_card("scripted").source["runs_user_code"] is True


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_factory_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    package = tmp_path / "src" / "mymodels"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            def linear():
                return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.delitem(sys.modules, "mymodels", raising=False)
    monkeypatch.delitem(sys.modules, "mymodels.nets", raising=False)
    tiny = tiny_classifier()
    weights = tmp_path / f"w{suffix}"
    state = {key: value.contiguous() for key, value in tiny.state_dict().items()}
    save_file(state, str(weights)) if suffix == ".safetensors" else torch.save(state, weights)
    assert add("factory-made", "--factory", "mymodels.nets:linear", "--weights", str(weights)) == 0
    same_predictions("factory-made", tiny)


def test_declared_conventions_are_wrapped(tmp_path: Path) -> None:
    """A flat-input model on 0-255 pixels returning probabilities: wrapped, every caller sees [0, 1] -> logits."""
    tiny = tiny_classifier()
    odd = Scaled(tiny, 1 / 255, flat=True).eval()
    path = export_onnx(odd, tmp_path / "odd.onnx", flat=True)
    assert add("odd", "--onnx", str(path), "--input-range", "0-255", "--input-shape", "784", "--outputs", "probs") == 0
    x, _ = mnist_test_digits(200)
    with torch.no_grad():
        wrapped = load("odd", "cpu")(x)
        torch.testing.assert_close(wrapped.softmax(1), tiny(x).softmax(1), atol=1e-5, rtol=1e-4)


def test_a_wrong_input_convention_is_refused_with_the_one_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = Scaled(tiny_classifier(), 1 / 255, flat=False).eval()
    path = export_onnx(odd, tmp_path / "odd.onnx")
    assert add("odd", "--onnx", str(path)) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(path) in error and "below 50%" in error
    assert "--input-range 0-255 --input-shape 1x28x28" in error
    assert registered() == []


class BrightnessGate(nn.Module):
    """``inner`` (trained on [0, 1]) plus a gate that only fits [0, 1]: a digit whose mean pixel exceeds
    ``threshold`` is pushed to class 1. On [0, 1] inputs no digit does; on 0-255 inputs the brightest 30% do,
    so the model still clears 50% with the wrong range, but far below what it reaches with the right one."""

    push: torch.Tensor

    def __init__(self, inner: nn.Module, threshold: float) -> None:
        super().__init__()
        self.inner = inner
        self.threshold = threshold
        self.register_buffer("push", 1000.0 * nn.functional.one_hot(torch.tensor(1), 10).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.relu(x.mean(dim=(1, 2, 3)) - self.threshold)
        return self.inner(x) + gate[:, None] * self.push


def test_a_declared_range_much_worse_than_another_is_refused_and_the_right_one_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = mnist_test_digits(1000)
    threshold = 255 * float(x.mean(dim=(1, 2, 3)).quantile(0.7))
    gated = BrightnessGate(tiny_classifier(), threshold).eval()
    with torch.no_grad():
        right = float((gated(x).argmax(1) == y).float().mean())
        wrong = float((gated(x * 255).argmax(1) == y).float().mean())
    assert wrong >= 0.5 and right - wrong >= 0.1  # the case the check is for: clears 50% with the wrong range
    path = export_onnx(gated, tmp_path / "gated.onnx")
    assert add("gated", "--onnx", str(path), "--input-range", "0-255") == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "much lower than" in error
    assert "with --input-range 0-1 --input-shape 1x28x28" in error and "add it with those options" in error
    assert registered() == []
    assert add("gated", "--onnx", str(path), "--input-range", "0-1") == 0


def _bad_factory_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    (tmp_path / "badnets.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "badnets", raising=False)
    return "badnets:make"


BAD_CASES = {
    "garbage-onnx": ("--onnx", b"not a protobuf at all", "not a convertible ONNX model"),
    "garbage-torchscript": ("--torchscript", b"PK\x03\x04 nope", "not a TorchScript model"),
    "empty-onnx": ("--onnx", b"", "not a convertible ONNX model"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_files_give_one_line_and_register_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    option, data, message = BAD_CASES[case]
    path = tmp_path / f"{case}.bin"
    path.write_bytes(data)
    assert add("bad", option, str(path)) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("invariance: error: ") and str(path) in error
    assert message in error
    assert registered() == []


class FiveClasses(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :5]


class NaNs(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 10), float("nan"))


@pytest.mark.parametrize(("model", "message"), [(FiveClasses(), "output shape (500, 5)"), (NaNs(), "NaN or infinite")])
def test_bad_models_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: nn.Module, message: str
) -> None:
    path = tmp_path / "bad.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    assert add("bad", "--torchscript", str(path)) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error and str(path) in error
    assert registered() == []


def test_factory_failures_register_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = _bad_factory_module(
        tmp_path, monkeypatch, "from torch import nn\ndef make():\n    return nn.Linear(3, 10)\n"
    )
    weights = tmp_path / "w.safetensors"
    save_file({key: value.contiguous() for key, value in tiny_classifier().state_dict().items()}, str(weights))
    assert add("bad", "--factory", factory, "--weights", str(weights)) == 1
    assert "weights do not fit factory badnets:make" in capsys.readouterr().err
    pickled = tmp_path / "w.pt"
    torch.save({"weight": torch.zeros(1), "evil": object()}, pickled)  # not loadable with weights_only=True
    assert add("bad", "--factory", factory, "--weights", str(pickled)) == 1
    assert "not a weights-only torch file" in capsys.readouterr().err
    assert add("bad", "--factory", "nosuchpackage.mod:make", "--weights", str(weights)) == 1
    assert "cannot import nosuchpackage.mod" in capsys.readouterr().err
    assert add("bad", "--factory", factory) == 2  # bad usage
    assert "--factory needs --weights" in capsys.readouterr().err
    assert registered() == []


def test_names_duplicates_and_threats_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = export_onnx(tiny_classifier(), tmp_path / "tiny.onnx")
    assert add("undefended", "--onnx", str(path)) == 1
    assert "is a zoo model" in capsys.readouterr().err
    assert add("../escape", "--onnx", str(path)) == 1
    assert add("ok", "--onnx", str(path), "--threat", "l0:2.5") == 1
    assert "whole number" in capsys.readouterr().err
    assert add("ok", "--onnx", str(tmp_path / "missing.onnx")) == 1
    assert registered() == []
    assert add("ok", "--onnx", str(path)) == 0
    assert add("ok", "--onnx", str(path)) == 1
    assert "already exists" in capsys.readouterr().err
    assert registered() == ["ok"]


def test_tampered_file_and_bad_cards_are_refused(tmp_path: Path) -> None:
    assert add("tiny", "--onnx", str(export_onnx(tiny_classifier(), tmp_path / "tiny.onnx"))) == 0
    folder = user_models.models_dir() / "tiny"
    stored = folder / "model.onnx"
    stored.write_bytes(stored.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="sha256 does not match"):
        load("tiny", "cpu")
    card = folder / "card.json"
    for text, message in [
        (b"[1, 2]", "must be a JSON object, not list"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "unreadable model card"),
        (b"[" * 100_000, "unreadable model card"),
    ]:
        card.write_bytes(text)
        with pytest.raises(ModelError, match=message):
            parse_card(card, "tiny")
    raw = json.loads((checkpoints_dir() / "undefended.json").read_text())
    raw.pop("checkpoint_sha256")
    card.write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="no checkpoint_sha256"):
        parse_card(card, "undefended")


def test_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert add("tiny", "--onnx", str(export_onnx(tiny_classifier(), tmp_path / "tiny.onnx"))) == 0
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listing["models"]] == ["tiny"] and listing["models"][0]["slow"] is False
    stray = user_models.models_dir() / "tiny" / "notes.txt"
    stray.write_text("mine")
    assert main(["models", "remove", "tiny"]) == 1  # a file the tool did not write is never deleted
    stray.unlink()
    assert main(["models", "remove", "tiny"]) == 0
    assert main(["models", "remove", "undefended"]) == 1
    assert registered() == [] and "tiny" not in available()


def test_user_model_in_evaluate_and_scorecard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = tiny_classifier()
    assert add("tiny", "--onnx", str(export_onnx(tiny, tmp_path / "tiny.onnx")), "--threat", "linf:0.1") == 0
    write_paper_layout(tmp_path / "paper", count=6, manual=3, seed=1)
    coll = tmp_path / "paper-coll"
    assert main(["import-paper", str(tmp_path / "paper"), "--out", str(coll)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(coll), "--models", "undefended,tiny", "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["models"] == ["undefended", "tiny"]
    with Collection.open(coll, read_only=True) as collection:
        wins = [it for it in collection.items if it.set_name == "linf/automated_eps03"]
    wins = [it for it in wins if it.human_label not in (-1, it.original_label)]
    x = torch.as_tensor(np.stack([to_float(it.image) for it in wins]))[:, None]
    hits = int(sum(int(p) == it.human_label for p, it in zip(tiny(x).argmax(1), wins, strict=True)))
    assert report["sets"]["linf/automated_eps03"]["models"]["tiny"]["n_agree"] == hits

    plot = tmp_path / "plot.png"
    code = main(["scorecard", "tiny", "--n", "20", "--json", "--collections", str(coll), "--plot", str(plot)])
    assert code == 0
    captured = capsys.readouterr()
    assert "tiny: AutoAttack (linf, ε=0.1) on 20 images: measuring" in captured.err
    rows = {row["name"]: row for row in json.loads(captured.out)["rows"]}
    mine = rows["tiny"]
    assert mine["origin"] == "user" and mine["autoattack"]["n"] == 20 and mine["pgd"]["n"] == 20
    assert mine["autoattack"]["value"] <= mine["pgd"]["value"] + 0.1  # AutoAttack is at least as strong, up to noise
    assert {agreement["set_name"] for agreement in mine["humans"]} >= {"linf/automated_eps03"}
    assert rows["undefended"]["origin"] == "zoo" and rows["undefended"]["clean"]["source"] == "card"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the measured figures are cached on the user's card, so a second scorecard does not attack again
    assert "autoattack_linf_0.1@20" in user_models.read_user_card("tiny").evaluation["scorecard"]
    assert main(["scorecard", "tiny", "--n", "20", "--collections", str(coll)]) == 0
    err = capsys.readouterr().err
    assert "tiny: PGD (linf, ε=0.1) on 20 images: from card" in err
    assert "tiny: AutoAttack (linf, ε=0.1) on 20 images: from card" in err and "measuring" not in err


def test_a_slow_model_is_marked_slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = _bad_factory_module(
        tmp_path,
        monkeypatch,
        """
        import time
        from torch import nn

        class Slow(nn.Sequential):
            def forward(self, x):
                time.sleep(0.008)  # slower than SLOW_FORWARD_MS per single image
                return super().forward(x)

        def make():
            return Slow(nn.Flatten(), nn.Linear(784, 10))
        """,
    )
    weights = tmp_path / "w.safetensors"
    save_file({key: value.contiguous() for key, value in tiny_classifier().state_dict().items()}, str(weights))
    assert main(["models", "add", "slowpoke", "--factory", factory, "--weights", str(weights), "--n", "500"]) == 0
    assert user_models.read_user_card("slowpoke").source["forward_ms_batch1"] > user_models.SLOW_FORWARD_MS
    assert entry("slowpoke").slow and not entry("undefended").slow


def test_standardized_inputs_are_wrapped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = tiny_classifier()
    path = export_onnx(tiny, tmp_path / "tiny.onnx")
    assert add("std", "--onnx", str(path), "--mean", "0.1307") == 2  # bad usage
    assert "--mean and --std go together" in capsys.readouterr().err
    assert (
        add("std", "--onnx", str(path), "--mean", "0.1307", "--std", "0.3081", "--input-range", "0-1") == 2
    )  # bad usage
    assert add("std", "--onnx", str(path), "--mean", "0.1307", "--std", "0.3081") == 0
    x, _ = mnist_test_digits(50)
    with torch.no_grad():
        torch.testing.assert_close(load("std", "cpu")(x), tiny((x - 0.1307) / 0.3081), atol=1e-4, rtol=1e-4)


def test_a_card_cannot_point_outside_its_folder(tmp_path: Path) -> None:
    assert add("tiny", "--onnx", str(export_onnx(tiny_classifier(), tmp_path / "tiny.onnx"))) == 0
    card_path = user_models.models_dir() / "tiny" / "card.json"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    card = json.loads(card_path.read_text())
    card["source"]["file"] = str(Path("..") / ".." / ".." / victim.name)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"source\.file must be one of"):
        load("tiny", "cpu")
    assert main(["models", "remove", "tiny"]) == 1
    assert victim.read_text() == "keep me"
