"""Rates of GenInv pooled over blind packs, and p_human's calibration over them and per pack (the shared code of
``geninv-budget-2036/pooled.py`` and ``geninv-budget-2038/pooled.py``).

A pack is (name, organiser folder, answers folder, {group in the pack: set}); an empty renaming keeps the groups that
are set names. p_human is recomputed from each raw score with the shipped mapping. Per set: ratings that saw the
target and the share (per digit asked for: every digit got one suggestion), each pack's share beside it.
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

Pack = tuple[str, Path, Path, dict[str, str]]


def pooled_rates(packs: tuple[Pack, ...], sets: tuple[str, ...], *, calibration: bool = True) -> None:
    """Print each set's pooled rate and per-pack rates; then, with ``calibration``, p_human's calibration table over
    every rated suggestion and per pack."""
    p_human = load_mapping()
    by_set: dict[str, list[Outcome]] = {name: [] for name in sets}
    per_pack: dict[str, list[str]] = {name: [] for name in sets}
    tables: list[tuple[str, list[Outcome]]] = []
    for pack, organiser, folder, renamed in packs:
        mapping = read_mapping_file(organiser / "mapping.json")
        recompute_p_human(mapping, p_human)
        answers = dict(read_rater_answers(path) for path in sorted(folder.glob("answers-*.json")))
        kept = [o for o in outcomes(mapping, answers) if o.group in (renamed or sets)]
        tables.append((f"{pack} {organiser.parent.name}", kept))
        for name in sets:
            rated = [o for o in kept if renamed.get(o.group, o.group) == name]
            if rated:
                seen = sum(o.success for o in rated)
                by_set[name] += rated
                per_pack[name].append(f"{pack} {seen}/{len(rated)} = {seen / len(rated):.0%} ({len(answers)} raters)")
    for name in sets:
        seen, count = sum(o.success for o in by_set[name]), len(by_set[name])
        print(f"{name:9s} pooled {seen}/{count} = {seen / count:.1%}; " + "; ".join(per_pack[name]))
    if not calibration:
        return
    every = [o for rated in by_set.values() for o in rated]
    for label, rated in [("every set", every), *tables]:
        print_calibration(label, rated)


def print_calibration(title: str, rated: list[Outcome]) -> None:
    """p_human's calibration table over ``rated``, one bin a line."""
    print(f"calibration, {title}: p_human bin | ratings | mean p_human | rated success")
    for cell in calibration_table(rated):
        print(f"  {cell['bin']} | {cell['ratings']} | {cell['mean_p_human']:.2f} | {cell['success_rate']:.2f}")


def rated_by_digit(pack: Path, answers: Path, group: str) -> dict[int, list[Outcome]]:
    """Ratings of ``group`` in the blind pack ``pack`` (answers files in ``answers``) by source digit."""
    mapping = read_mapping_file(pack / "organiser/mapping.json")
    given = dict(read_rater_answers(path) for path in sorted(answers.glob("answers-*.json")))
    digit_of = {int(entry["trial"]): int(entry["source_index"]) for entry in mapping}
    by_digit: dict[int, list[Outcome]] = {}
    for outcome in outcomes(mapping, given):
        if outcome.group == group:
            by_digit.setdefault(digit_of[outcome.trial], []).append(outcome)
    return by_digit


def share(ratings: list[Outcome]) -> str:
    """``seen/rated = rate`` of ratings."""
    seen = sum(o.success for o in ratings)
    return f"{seen}/{len(ratings)} = {seen / len(ratings):.1%}" if ratings else "0/0"


def swap_in(
    by_digit: dict[int, list[Outcome]], changed: set[int], new: dict[int, list[Outcome]]
) -> tuple[list[Outcome], list[Outcome], list[Outcome]]:
    """A pack's ratings by digit as they were; the same with each ``changed`` digit's ratings replaced by ``new``'s
    (the ratings of its new image in a re-rating pack); and the changed digits' old ratings."""
    theirs = [o for ratings in by_digit.values() for o in ratings]
    mine = [o for digit, ratings in by_digit.items() for o in (new[digit] if digit in changed else ratings)]
    old = [o for digit, ratings in by_digit.items() if digit in changed for o in ratings]
    return theirs, mine, old


def changed_digits_line(
    changed: set[int], old: list[Outcome], again: dict[int, list[Outcome]], new: dict[int, list[Outcome]]
) -> str:
    """How the changed digits fared: their old images in their own packs (``old``), the same images re-rated
    (``again``) and their new images (``new``) in the re-rating pack."""
    return (
        f"the {len(changed)} changed digits: old image in its pack {share(old)}, "
        f"old image re-rated here {share([o for d in changed for o in again.get(d, [])])}, "
        f"new image here {share([o for d in changed for o in new.get(d, [])])}"
    )
