"""Mutation score per project and folder from Stryker JSON reports.

    score.py REPORT.json...                 print the score per project/folder over all reports
    score.py --keep STRYKER.json OUT.json WALL_SECONDS
                                            keep a run's report (source text dropped, wall time added) and print it

Score = killed / (killed + survived + no coverage), timeouts counted as killed (as Stryker does); compile
errors and ignored mutants are left out. With --survivors, each surviving mutant is listed too."""
import collections, json, os, sys, time


def keep(src, dst, wall):
    report = json.load(open(src))
    for data in report["files"].values():
        data.pop("source", None)
        for m in data["mutants"]:  # per-test ids make the file large and say nothing the score needs
            m.pop("coveredBy", None)
            m.pop("killedBy", None)
    report.pop("testFiles", None)
    report["wallTimeSeconds"] = int(wall)
    report["keptAt"] = int(time.time())
    with open(dst, "w") as f:
        json.dump(report, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    return [dst]


def where(path):
    """('RobotPG.Learning', 'Algorithms') from .../src/RobotPG.Learning/Algorithms/Ppo.cs."""
    parts = path.replace("\\", "/").split("/")
    for i, p in enumerate(parts):
        if p.startswith("RobotPG.") and i + 1 < len(parts) and parts[i - 1] in ("src", "sim"):
            return p, "/".join(parts[i + 1:-1]) or "."
    return "?", os.path.dirname(path)


def main(argv):
    survivors = "--survivors" in argv
    argv = [a for a in argv if a != "--survivors"]
    if argv and argv[0] == "--keep":
        argv = keep(*argv[1:4])
    per = collections.defaultdict(collections.Counter)
    listed = []
    walls = []
    # A later run of some files (after new tests) replaces the earlier results for those files.
    latest = {}
    reports = [(json.load(open(p)), p) for p in argv]
    reports.sort(key=lambda r: r[0].get("keptAt", 0))
    for report, report_path in reports:
        walls.append((os.path.basename(report_path), report.get("wallTimeSeconds")))
        for path, data in report["files"].items():
            # Stryker lists every file of the project; those outside the run's mutate filter are all Ignored.
            if all(m["status"] == "Ignored" for m in data["mutants"]):
                continue
            latest["/".join(where(path)) + "/" + os.path.basename(path)] = (path, data)
    for path, data in (v for _, v in sorted(latest.items())):
        project, folder = where(path)
        for m in data["mutants"]:
            per[(project, folder)][m["status"]] += 1
            per[(project, "")][m["status"]] += 1
            if m["status"] in ("Survived", "NoCoverage"):
                line = m["location"]["start"]["line"]
                listed.append(f"{m['status']:10} {project}/{folder}/{os.path.basename(path)}:{line} "
                              f"{m['mutatorName']}: {m.get('replacement', '')!r}")

    def row(name, c):
        killed = c["Killed"] + c["Timeout"]
        valid = killed + c["Survived"] + c["NoCoverage"]
        print(f"{name:42} {killed:7} {c['Survived']:8} {c['NoCoverage']:7} {100 * killed / max(valid, 1):5.1f}%")

    print(f"{'project / folder':42} {'killed':>7} {'survived':>8} {'no cov':>7} {'score':>6}")
    total = collections.Counter()
    for project in sorted({p for p, _ in per}):
        row(project, per[(project, "")])
        total.update(per[(project, "")])
        for (p, folder) in sorted(k for k in per if k[0] == project and k[1]):
            row("  " + folder, per[(p, folder)])
    row("total", total)
    print("wall time: " + ", ".join(f"{n} {w} s" for n, w in walls if w is not None))
    if survivors:
        print("\n".join(sorted(listed)))


main(sys.argv[1:])
