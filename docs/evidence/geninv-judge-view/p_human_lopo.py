"""Held-out log-loss of p_human, leaving one rated pack out at a time: fitted (core.geninv.calibration.
fit_from_outcomes, as ``bench geninv --fit``) on the other packs, scored on the one left out; with the raw scores of
the plain judge (each pack's ``mapping.json``) against those of the blurred one (``mapping-view.json``). Packs: the
budget packs 2027-2033 (the judge-view A/B is left out: its plain arm has no plain-judge twin).
Run from the repository root:
    python docs/evidence/geninv-judge-view/p_human_lopo.py   (log: p_human_lopo.log beside it)
"""

from pathlib import Path

import numpy as np

from core.geninv.calibration import Outcome, fit_from_outcomes, outcomes, read_mapping_file, read_rater_answers

EVIDENCE = Path("docs/evidence")
PACKS = ("geninv-budget", "geninv-budget-2028", "geninv-budget-2029", "geninv-budget-2030", "geninv-budget-2031",
         "geninv-budget-2032", "geninv-budget-2033")  # fmt: skip


def rated(pack: str, mapping_name: str) -> list[Outcome]:
    folder = EVIDENCE / pack
    answers = dict(read_rater_answers(path) for path in sorted((folder / "answers").glob("answers-*.json")))
    found = outcomes(read_mapping_file(folder / "pack/organiser" / mapping_name), answers)
    return [o for o in found if not o.control and o.raw_score is not None]


def log_loss(held: list[Outcome], fitted_on: list[Outcome]) -> float:
    mapping = fit_from_outcomes(fitted_on)
    p = np.array([float(mapping(o.raw_score, norm=o.norm, aligned_cost=o.aligned_cost)) for o in held])
    y = np.array([o.success for o in held], dtype=float)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main() -> None:
    print(f"{'held-out pack':20s} {'norm':5s} {'ratings':>7s} {'plain':>7s} {'blurred':>7s}")
    totals: dict[str, list[float]] = {}
    for name in ("mapping.json", "mapping-view.json"):
        by_pack = {pack: rated(pack, name) for pack in PACKS}
        for pack in PACKS:
            rest = [o for other in PACKS if other != pack for o in by_pack[other]]
            for norm in ("l0", "linf"):
                held = [o for o in by_pack[pack] if o.norm == norm]
                if held:
                    totals.setdefault(f"{pack} {norm}", []).extend([log_loss(held, rest), len(held)])
    weighted: dict[str, list[float]] = {}
    for key, (plain, count, blurred, _) in totals.items():
        pack, norm = key.split()
        print(f"{pack:20s} {norm:5s} {int(count):7d} {plain:7.3f} {blurred:7.3f}")
        weighted.setdefault(norm, []).append((plain * count, blurred * count, count))
    for norm, rows in weighted.items():
        plain, blurred, count = (sum(column) for column in zip(*rows, strict=True))
        print(f"{'all packs':20s} {norm:5s} {int(count):7d} {plain / count:7.3f} {blurred / count:7.3f}")


if __name__ == "__main__":
    main()
