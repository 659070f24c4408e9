"""Rates of the shipped GenInv pooled over every fresh blind pack made with it: the 2034 and 2036 packs and the
shipped arm (b) of the 2035 packs. Per set: ratings that saw the target and the share (per digit asked for: every
digit got one suggestion), each pack's share beside it; then p_human's calibration over all of them and per pack,
p_human recomputed from each raw score with the shipped mapping (none of these packs was used to fit it). Run from the
repository root:
    python docs/evidence/geninv-budget-2036/pooled.py   (log: pooled.log beside it)
"""

from pathlib import Path

from core.geninv.calibration import (
    Outcome,
    calibration_table,
    load_mapping,
    outcomes,
    read_mapping_file,
    read_rater_answers,
    recompute_p_human,
)

E = Path("docs/evidence")
# (pack, organiser, answers folder, {group in the pack: set})
PACKS = (
    ("2034", E / "geninv-budget-2034/pack/organiser", E / "geninv-budget-2034/answers", {}),
    ("2035", E / "geninv-budget-2035/pack-l0/organiser", E / "geninv-budget-2035/pack-l0/answers",
     {"b25": "l0-25", "b30": "l0-30"}),
    ("2035", E / "geninv-budget-2035/pack-linf/organiser", E / "geninv-budget-2035/pack-linf/answers",
     {"b40": "linf-0.4", "b03": "linf-0.3"}),
    ("2036", E / "geninv-budget-2036/pack/organiser", E / "geninv-budget-2036/answers", {}),
)  # fmt: skip
SETS = ("l0-25", "l0-30", "linf-0.4", "linf-0.3")


def main() -> None:
    p_human = load_mapping()
    by_set: dict[str, list[Outcome]] = {name: [] for name in SETS}
    per_pack: dict[str, list[str]] = {name: [] for name in SETS}
    calibration: list[tuple[str, list[Outcome]]] = []
    for pack, organiser, folder, renamed in PACKS:
        mapping = read_mapping_file(organiser / "mapping.json")
        recompute_p_human(mapping, p_human)
        answers = dict(read_rater_answers(path) for path in sorted(folder.glob("answers-*.json")))
        kept = [o for o in outcomes(mapping, answers) if o.group in (renamed or SETS)]
        calibration.append((f"{pack} {organiser.parent.name}", kept))
        for name in SETS:
            rated = [o for o in kept if renamed.get(o.group, o.group) == name]
            if rated:
                seen = sum(o.success for o in rated)
                by_set[name] += rated
                per_pack[name].append(f"{pack} {seen}/{len(rated)} = {seen / len(rated):.0%} ({len(answers)} raters)")
    for name in SETS:
        seen, count = sum(o.success for o in by_set[name]), len(by_set[name])
        print(f"{name:9s} pooled {seen}/{count} = {seen / count:.1%}; " + "; ".join(per_pack[name]))
    every = [o for rated in by_set.values() for o in rated]
    for label, rated in [("every set", every), *calibration]:
        print(f"calibration, {label}: p_human bin | ratings | mean p_human | rated success")
        for cell in calibration_table(rated):
            print(f"  {cell['bin']} | {cell['ratings']} | {cell['mean_p_human']:.2f} | {cell['success_rate']:.2f}")


if __name__ == "__main__":
    main()
