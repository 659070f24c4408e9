"""Rates of the shipped GenInv pooled over every fresh blind pack made with it: the 2034 and 2036 packs and the
shipped arm (b) of the 2035 packs. Per set: ratings that saw the target and the share (per digit asked for: every
digit got one suggestion), each pack's share beside it; then p_human's calibration over all of them, p_human
recomputed from each raw score with the shipped mapping (none of these packs was used to fit it). Run from the
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
    totals: dict[str, list[int]] = {name: [0, 0] for name in SETS}
    per_pack: dict[str, list[str]] = {name: [] for name in SETS}
    p_human = load_mapping()
    every: list[Outcome] = []
    for pack, organiser, folder, renamed in PACKS:
        answers = [read_rater_answers(path)[1] for path in sorted(folder.glob("answers-*.json"))]
        mapping = read_mapping_file(organiser / "mapping.json")
        recompute_p_human(mapping, p_human)
        by_rater = dict(read_rater_answers(path) for path in sorted(folder.glob("answers-*.json")))
        kept = set(renamed) if renamed else set(SETS)
        every += [o for o in outcomes(mapping, by_rater) if o.group in kept]
        counts: dict[str, list[int]] = {}
        for entry in mapping:
            name = renamed.get(entry["group"], entry["group"]) if renamed else entry["group"]
            if entry["control"] or name not in SETS or (renamed and entry["group"] not in renamed):
                continue
            for given in answers:
                if entry["trial"] in given:
                    cell = counts.setdefault(name, [0, 0])
                    cell[0] += given[entry["trial"]] == entry["target_label"]
                    cell[1] += 1
        for name, (seen, rated) in counts.items():
            totals[name][0] += seen
            totals[name][1] += rated
            per_pack[name].append(f"{pack} {seen}/{rated} = {seen / rated:.0%} ({len(answers)} raters)")
    for name in SETS:
        seen, count = totals[name]
        print(f"{name:9s} pooled {seen}/{count} = {seen / count:.1%}; " + "; ".join(per_pack[name]))
    print("calibration, every set: p_human bin | ratings | mean p_human | rated success")
    for cell in calibration_table(every):
        print(f"  {cell['bin']} | {cell['ratings']} | {cell['mean_p_human']:.2f} | {cell['success_rate']:.2f}")


if __name__ == "__main__":
    main()
