"""The model zoo: registry, shipped checkpoints and cards, loading errors, attacks and tiny trainings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from core import attacks
from core.budget import distance
from core.cli import main
from core.data import load_mnist
from core.errors import BudgetError, ModelError
from core.images import to_float
from core.training.run import training_log
from core.zoo import ZOO, available_models, checkpoints_dir, list_models, load, load_card
from core.zoo import registry as zoo_registry
from core.zoo.architectures import build

SHIPPED = available_models()
FAST_SHIPPED = [name for name in SHIPPED if not ZOO[name].slow]


def _test_batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist("test")
    return torch.from_numpy(to_float(images[:n])).unsqueeze(1), torch.from_numpy(labels[:n])


@pytest.mark.parametrize(
    "architecture", sorted({entry.architecture for entry in ZOO.values() if "abs" not in entry.architecture})
)
def test_architectures_map_images_to_ten_logits(architecture: str) -> None:
    model = build(architecture)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_registry_is_consistent() -> None:
    assert list_models() == list(ZOO)
    for entry in ZOO.values():
        assert (entry.norm is None) == (entry.eps is None)
        assert entry.recipe in {"standard", "fgsm-rs", "pgd", "slide", "spatial", "ibp", "abs"}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_matches_its_card(name: str) -> None:
    """Card readable and complete; output shape; clean accuracy on 200 test images agrees with the card."""
    card = load_card(name)
    assert card.name == name and card.command.startswith("invariance train")
    assert card.training["seconds"] >= 0 and card.checkpoint_sha256  # 0 when weights are shared (binary-abs)
    clean = card.figure("clean_accuracy")
    assert clean is not None
    model = load(name, "cpu")
    x, y = _test_batch(200 if name in FAST_SHIPPED else 50)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (len(y), 10) and torch.isfinite(logits).all()
    measured = float((logits.argmax(1) == y).float().mean())
    assert measured >= clean - 0.05, f"{name}: {measured:.3f} on the first test images, card says {clean:.3f}"


def test_shipped_checkpoints_hold_no_copies_and_fit_the_size_budget() -> None:
    files = sorted(checkpoints_dir().glob("*.safetensors"))
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
    assert len(set(digests)) == len(digests), "two checkpoint files hold the same weights"
    assert sum(path.stat().st_size for path in files) <= 40_000_000  # the budget, 40 MB


def test_unknown_model_and_missing_checkpoint_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="unknown model 'resnet'"):
        load("resnet")
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path))
    with pytest.raises(ModelError, match="no model card"):
        load("undefended")


def test_corrupt_checkpoint_is_refused(tiny_zoo: Path) -> None:
    weights = tiny_zoo / "undefended.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 does not match"):
        load("undefended")
    card = json.loads((tiny_zoo / "undefended.json").read_text())
    card["format_version"] = 99
    (tiny_zoo / "undefended.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="format_version"):
        load("undefended")


@pytest.fixture
def tiny_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoints folder with 'undefended' trained for one epoch on 300 images."""
    from core.training.run import train_model

    checkpoints = tmp_path / "checkpoints"
    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(checkpoints))
    entry = ZOO["undefended"]
    monkeypatch.setitem(zoo_registry.ZOO, "undefended", dataclasses.replace(entry, hyper={**entry.hyper, "epochs": 1}))
    monkeypatch.setattr("core.zoo.evaluation.CLEAN_N", 100)
    train_model("undefended", train_subset=1300, evaluate_n=20, progress=False)
    return checkpoints


def test_training_writes_checkpoint_card_and_log(tiny_zoo: Path) -> None:
    card = load_card("undefended")
    assert (tiny_zoo / "undefended.safetensors").exists()
    assert training_log("undefended").read_text().count("epoch 1/1") == 1
    assert card.training["train_images"] == 1300
    assert set(card.evaluation) == {"clean_accuracy", "robust_accuracy_linf_0.3"}
    assert card.evaluation["clean_accuracy"]["n"] == 100
    assert 0.0 <= card.figure("clean_accuracy") <= 1.0  # type: ignore[operator]


def test_training_can_start_from_another_zoo_model(tiny_zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``init_from`` copies the weights of a trained zoo model: with 0 epochs the result equals the source."""
    from core.training.run import train_model

    entry = ZOO["linf-pgd-0.3"]
    started = dataclasses.replace(entry, hyper={**entry.hyper, "epochs": 0, "init_from": "undefended"})
    monkeypatch.setitem(zoo_registry.ZOO, "linf-pgd-0.3", started)
    card = train_model("linf-pgd-0.3", train_subset=1300, evaluate_n=5, progress=False)
    assert str(card.training["initialised_from"]).startswith("undefended (sha256 ")
    source, copy = load("undefended").state_dict(), load("linf-pgd-0.3").state_dict()
    assert all(torch.equal(source[key], copy[key]) for key in source)
    small = dataclasses.replace(ZOO["linf-pgd-0.1"], hyper={**ZOO["linf-pgd-0.1"].hyper, "init_from": "undefended"})
    monkeypatch.setitem(zoo_registry.ZOO, "linf-pgd-0.1", small)
    with pytest.raises(ModelError, match="architecture"):
        train_model("linf-pgd-0.1", train_subset=1300, evaluate_n=5, progress=False)


def test_training_resumes_after_the_last_completed_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.training.run import train_model

    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr("core.zoo.evaluation.CLEAN_N", 50)
    entry = ZOO["linf-pgd-0.1"]
    monkeypatch.setitem(
        zoo_registry.ZOO,
        "linf-pgd-0.1",
        dataclasses.replace(entry, hyper={**entry.hyper, "epochs": 2, "ramp_epochs": 1}),
    )
    train_model("linf-pgd-0.1", train_subset=1200, evaluate_n=10, time_budget_s=0.0, progress=False)
    log = training_log("linf-pgd-0.1").read_text()
    assert "epoch 1/2" in log and "epoch 2/2" not in log and "time budget reached" in log
    train_model("linf-pgd-0.1", train_subset=1200, evaluate_n=10, resume=True, progress=False)
    log = training_log("linf-pgd-0.1").read_text()
    assert "resumed from" in log and "epoch 2/2" in log


def test_clean_weight_mixes_the_clean_loss_into_adversarial_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a stand-in attack: clean_weight 1 on blank "adversarial" images trains exactly like clean_weight 0 on
    unperturbed copies (only the clean term counts), and clean_weight 0.5 does not."""
    from core.training.run import train_model

    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr("core.zoo.evaluation.CLEAN_N", 20)
    entry = ZOO["l1-slide-5"]
    weights = []
    for clean_weight, blank in ((1.0, True), (0.0, False), (0.5, True)):

        def stand_in(model: nn.Module, x: torch.Tensor, y: torch.Tensor, blank: bool = blank, **_: object):  # type: ignore[no-untyped-def]
            return attacks.AttackResult(
                torch.zeros_like(x) if blank else x.clone(), torch.zeros(len(x), dtype=torch.bool)
            )

        monkeypatch.setattr(attacks, "pgd", stand_in)
        hyper = {**entry.hyper, "epochs": 1, "ramp_epochs": 1, "clean_weight": clean_weight}
        monkeypatch.setitem(zoo_registry.ZOO, "l1-slide-5", dataclasses.replace(entry, hyper=hyper))
        train_model("l1-slide-5", train_subset=1300, evaluate_n=5, progress=False)
        weights.append(load("l1-slide-5").state_dict())
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key])
    assert not all(torch.allclose(weights[0][key], weights[2][key]) for key in weights[0])


def test_train_eps_sets_the_training_ball_and_the_check_keeps_the_threat_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.training.run import train_model

    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr("core.zoo.evaluation.CLEAN_N", 20)
    calls: list[tuple[int, float]] = []

    def recording(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int, **_: object):  # type: ignore[no-untyped-def]
        calls.append((steps, eps))
        return attacks.AttackResult(x.clone(), torch.zeros(len(x), dtype=torch.bool))

    monkeypatch.setattr(attacks, "pgd", recording)
    entry = ZOO["l1-slide-5"]
    hyper = {**entry.hyper, "epochs": 1, "ramp_epochs": 1, "ramp_start": 1.0, "train_eps": 7.0}
    monkeypatch.setitem(zoo_registry.ZOO, "l1-slide-5", dataclasses.replace(entry, hyper=hyper))
    train_model("l1-slide-5", train_subset=1300, evaluate_n=5, progress=False)
    training = {eps for steps, eps in calls if steps == entry.hyper["steps"]}
    check = {eps for steps, eps in calls if steps == 10}
    assert training == {7.0} and check == {5.0}


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.flatten(1))


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 1.0), ("l1", 5.0)])
def test_pgd_results_are_in_budget_and_flags_are_honest(norm: str, eps: float) -> None:
    model = _Linear().eval()
    x, y = _test_batch(32)
    result = attacks.pgd(
        model, x, y, norm=norm, eps=eps, steps=10, restarts=2, generator=torch.Generator().manual_seed(0)
    )
    assert result.adversarial.shape == x.shape
    assert float(result.adversarial.min()) >= 0 and float(result.adversarial.max()) <= 1
    assert bool((distance(x, result.adversarial, norm) <= eps + 1e-5).all())
    with torch.no_grad():
        fooled = model(result.adversarial).argmax(1) != y
    assert torch.equal(fooled, result.success)
    with torch.no_grad():
        clean_wrong = model(x).argmax(1) != y
    assert int(result.success.sum()) >= int(clean_wrong.sum())


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 1.0), ("l1", 5.0)])
def test_pgd_early_stop_keeps_the_first_fooling_iterate(norm: str, eps: float) -> None:
    """With early_stop every reported success is a real, in-budget misclassification, and it finds at least the
    examples that the full attack (same start, same steps) breaks at its last iterate."""
    model = _Linear().eval()
    x, y = _test_batch(64)
    kwargs = {"norm": norm, "eps": eps, "steps": 10}
    full = attacks.pgd(model, x, y, **kwargs, generator=torch.Generator().manual_seed(1))  # type: ignore[arg-type]
    early = attacks.pgd(
        model,
        x,
        y,
        **kwargs,
        generator=torch.Generator().manual_seed(1),
        early_stop=True,  # type: ignore[arg-type]
    )
    assert bool((distance(x, early.adversarial, norm) <= eps + 1e-5).all())
    with torch.no_grad():
        assert torch.equal(model(early.adversarial).argmax(1) != y, early.success)
    assert bool((early.success | ~full.success).all())
    assert int(early.success.sum()) > 0


def test_pgd_is_deterministic_given_the_generator() -> None:
    model = _Linear().eval()
    x, y = _test_batch(8)
    first = attacks.pgd(model, x, y, norm="l2", eps=1.0, steps=5, generator=torch.Generator().manual_seed(3))
    second = attacks.pgd(model, x, y, norm="l2", eps=1.0, steps=5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first.adversarial, second.adversarial)


@pytest.mark.parametrize("architecture", ["cnn-s2-large", "cnn-s2-small"])
def test_input_gradient_view_computes_the_same_function_and_gradient(architecture: str) -> None:
    torch.manual_seed(0)
    model = build(architecture).eval()
    view = attacks.input_gradient_view(model)
    assert view is not model and view[0].conv is model[0]  # type: ignore[index,union-attr]
    images = torch.rand(7, 1, 28, 28)
    gradients = []
    for network in (model, view):
        x = images.clone().requires_grad_(True)
        logits = network(x)
        (gradient,) = torch.autograd.grad(logits.square().sum(), x)
        gradients.append((logits.detach(), gradient))
    torch.testing.assert_close(gradients[1][0], gradients[0][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gradients[1][1], gradients[0][1], rtol=1e-4, atol=1e-5)
    strided = nn.Sequential(nn.Conv2d(1, 3, 3, stride=1, padding=0, dilation=2), nn.Flatten())
    torch.testing.assert_close(attacks.input_gradient_view(strided)(images), strided(images))
    linear = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    for untouched in (linear, nn.Sequential(nn.Conv2d(1, 2, 3, padding="same")), nn.Sequential(nn.Conv2d(2, 2, 3))):
        assert attacks.input_gradient_view(untouched) is untouched


def test_pgd_rejects_unsupported_norms() -> None:
    with pytest.raises(BudgetError):
        attacks.pgd(_Linear(), torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long), norm="l0", eps=1, steps=1)


def test_spatial_transforms_and_worst_case_selection() -> None:
    x, y = _test_batch(4)
    identity = attacks.affine_transform(x, torch.zeros(4), torch.zeros(4), torch.zeros(4))
    assert torch.allclose(identity, x, atol=1e-5)
    shifted = attacks.affine_transform(x, torch.zeros(4), torch.full((4,), 2.0), torch.zeros(4))
    assert torch.allclose(shifted[..., 2:], x[..., :-2], atol=1e-5)
    grid = attacks.spatial_grid(rotations=3, shifts=3)
    assert grid.shape == (27, 3)
    model = _Linear().eval()
    worst = attacks.worst_transform(model, x, y, grid)
    with torch.no_grad():
        loss = nn.functional.cross_entropy(model(worst), y, reduction="none")
        plain = nn.functional.cross_entropy(model(x), y, reduction="none")
    assert bool((loss >= plain - 1e-5).all())  # the identity is in the grid


def test_zoo_cli_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(ZOO)
    assert main(["zoo", "--models", "nope", "--audit"]) == 1


def test_train_cli_needs_a_known_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "no-such-model"]) == 1
    assert "unknown model" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_card_clean_accuracy_reproduces_on_the_full_test_set(name: str) -> None:
    """The card's clean accuracy is re-measured exactly (same weights, same 10,000 images, deterministic)."""
    from core.zoo.evaluation import CLEAN_N, Figure, measure

    card = load_card(name)
    measured = measure(load(name, "cpu"), Figure("clean_accuracy", "clean", CLEAN_N), torch.device("cpu"))
    assert measured == pytest.approx(card.figure("clean_accuracy"), abs=1e-4)


def test_stacked_models_match_separate_forwards() -> None:
    """Same-architecture networks run as one StackedSequential give each network's own logits."""
    from core.zoo.stacked import StackedSequential, run_unit, stack_key, stack_models

    torch.manual_seed(0)
    models = {f"large{k}": build("cnn-s2-large").eval() for k in range(3)}
    models.update({f"small{k}": build("cnn-s2-small").eval() for k in range(2)})
    models["odd"] = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()  # Linear first: not stackable
    x = torch.rand(4, 1, 28, 28)
    units = stack_models(models)
    assert [names for names, _ in units] == [["large0", "large1", "large2"], ["small0", "small1"], ["odd"]]
    assert isinstance(units[0][1], StackedSequential) and units[2][1] is models["odd"]
    with torch.no_grad():
        outputs = {name: logits for names, module in units for name, logits in run_unit(names, module, x).items()}
        for name, model in models.items():
            torch.testing.assert_close(outputs[name], model(x), rtol=1e-5, atol=1e-5)
    assert stack_key(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))) is None
    with pytest.raises(ValueError, match="same stackable architecture"):
        StackedSequential([models["large0"], models["small0"]])


class _FakeJob:
    def __init__(self, polls: int, code: int) -> None:
        self.polls, self.code = polls, code

    def poll(self) -> int | None:
        self.polls -= 1
        return self.code if self.polls < 0 else None


def test_parallel_training_respects_prerequisites_jobs_and_failures() -> None:
    from core.training.jobs import run_jobs

    durations = {"a": 3, "b": 1, "c": 2, "d": 0, "e": 0}
    needs = {"c": ["a"], "e": ["d"], "d": ["zoo-model-not-in-this-run"]}
    codes = {"d": 1}
    started: list[tuple[str, list[str]]] = []
    running: dict[str, _FakeJob] = {}

    def launch(name: str) -> _FakeJob:
        started.append((name, sorted(n for n, job in running.items() if job.polls >= 0)))
        running[name] = _FakeJob(durations[name], codes.get(name, 0))
        return running[name]

    outcome = run_jobs(
        list(durations),
        2,
        launch,
        needs=lambda name: needs.get(name, []),
        cost=lambda name: float(durations[name]),
        report=lambda line: None,
        poll_interval_s=0.0,
    )
    order = [name for name, _ in started]
    assert order.index("c") > order.index("a")  # c starts from a's checkpoint
    assert order[:2] == ["a", "b"]  # longest first; c, the second longest, waits for a
    assert all(len(others) < 2 for _, others in started)  # never more than 2 at a time
    assert max(len(others) for _, others in started) == 1  # and really in parallel
    assert outcome.failed == {"d": 1}
    assert outcome.skipped == {"e": "d"}
    assert sorted(outcome.finished) == ["a", "b", "c"]


def test_parallel_training_runs_children_and_reports_their_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.training.jobs import child_launcher, run_jobs

    monkeypatch.setenv("INVARIANCE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    launch = child_launcher(seed=0, device="cpu", threads=1, time_budget_s=None, resume=False, eval_n=None)
    outcome = run_jobs(["no-such-model"], 2, launch, needs=lambda name: [], report=lambda line: None)
    assert outcome.failed == {"no-such-model": 1}
    console = (tmp_path / "runs" / "no-such-model" / "console.log").read_text(encoding="utf-8")
    assert "unknown model 'no-such-model'" in console


def test_train_cli_refuses_zero_jobs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "undefended", "--jobs", "0"]) == 2  # bad usage
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_training_plan_for_the_shipped_zoo_keeps_dependencies_and_job_limit(capsys: pytest.CaptureFixture[str]) -> None:
    from core.training.jobs import plan_jobs, recorded_seconds

    names = list_models()
    one, two = plan_jobs(names, 1, resolution_s=5.0), plan_jobs(names, 2, resolution_s=5.0)
    total = sum(recorded_seconds(name) for name in names)
    assert {run.name for run in two} == set(names)
    assert max(run.end_s for run in one) == pytest.approx(total, abs=5.0 * len(names) + 1)
    assert max(run.end_s for run in two) < 0.75 * max(run.end_s for run in one)
    by_name = {run.name: run for run in two}
    assert by_name["spatial-linf-0.3"].start_s >= by_name["linf-pgd-0.3"].end_s
    assert by_name["binary-abs"].start_s >= by_name["abs"].end_s
    for run in two:  # never more than two trainings at the same time
        assert sum(other.start_s <= run.start_s < other.end_s for other in two) <= 2
    assert main(["train", "--all", "--jobs", "2", "--plan"]) == 0
    assert f"{len(names)} models, 2 job(s)" in capsys.readouterr().out
