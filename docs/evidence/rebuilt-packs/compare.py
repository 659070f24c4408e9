import json, sys

a = json.load(open(sys.argv[1]))["trials"]
b = json.load(open(sys.argv[2]))["trials"]
ok = 0
bad = []
bb = {t["trial"]: t for t in b}
for t in a:
    u = bb.get(t["trial"])
    good = u is not None and all(
        t.get(k) == u.get(k) for k in ("group", "source_index", "target_label", "source_label", "control")
    )
    if good and t.get("raw_score") is not None:
        good = u.get("raw_score") is not None and abs(t["raw_score"] - u["raw_score"]) <= 1e-4
    elif good:
        good = u.get("raw_score") is None
    ok += good
    if not good:
        bad.append(
            (
                t["trial"],
                t.get("group"),
                t.get("source_index"),
                t.get("target_label"),
                t.get("raw_score"),
                None
                if u is None
                else (u.get("group"), u.get("source_index"), u.get("target_label"), u.get("raw_score")),
            )
        )
print(f"{ok}/{len(a)} (regen has {len(b)})")
for x in bad[: int(sys.argv[3]) if len(sys.argv) > 3 else 10]:
    print("  mismatch", x)
