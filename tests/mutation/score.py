"""Mutation score per folder from a Stryker JSON report: killed / (killed + survived + no coverage),
timeouts counted as killed (as Stryker does); compile errors and ignored mutants left out."""
import collections, json, os, sys

report = json.load(open(sys.argv[1]))
per = collections.defaultdict(lambda: collections.Counter())
for path, data in report["files"].items():
    folder = os.path.dirname(path).split("/src/")[-1]
    for m in data["mutants"]:
        per[folder][m["status"]] += 1
total = collections.Counter()
print(f"{'folder':50} {'killed':>7} {'survived':>8} {'no cov':>7} {'score':>6}")
for folder in sorted(per):
    c = per[folder]
    total.update(c)
    killed = c["Killed"] + c["Timeout"]
    valid = killed + c["Survived"] + c["NoCoverage"]
    print(f"{folder:50} {killed:7} {c['Survived']:8} {c['NoCoverage']:7} {100 * killed / max(valid, 1):5.1f}%")
killed = total["Killed"] + total["Timeout"]
valid = killed + total["Survived"] + total["NoCoverage"]
print(f"{'total':50} {killed:7} {total['Survived']:8} {total['NoCoverage']:7} {100 * killed / max(valid, 1):5.1f}%")
