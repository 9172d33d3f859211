"""Mutation score per project and folder from Stryker JSON reports.

    score.py REPORT.json...                 print the score per project/folder over all reports
    score.py --keep STRYKER.json OUT.json WALL_SECONDS [FILE...]
                                            keep a run's report (source text dropped, wall time added) and print it;
                                            FILEs were mutated only at their earlier survivors (see --spans)
    score.py --spans ROOT FOLDER FILE... -- REPORT.json...
                                            Stryker --mutate patterns covering exactly the surviving and uncovered
                                            mutants of FILEs (in src/.../FOLDER) in REPORTs, one pattern per file
                                            (the whole file when no REPORT measured it yet)

Score = killed / (killed + survived + no coverage), timeouts counted as killed (as Stryker does); compile
errors and ignored mutants are left out. With --survivors, each surviving mutant is listed too.

A later full run of a file replaces its earlier results; a later run limited to a file's survivors (spans)
replaces only the results of the mutants it ran, matched by position, mutator and replacement (the file's
source must not have changed in between)."""
import collections, json, os, sys, time


def keep(src, dst, wall, *partial):
    report = json.load(open(src))
    report["partialFiles"] = sorted(partial)
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


def key(m):
    loc = m["location"]
    return (loc["start"]["line"], loc["start"]["column"], loc["end"]["line"], loc["end"]["column"],
            m["mutatorName"], m.get("replacement"))


def spans(root, folder, files, reports):
    """--mutate patterns: each file with the UTF-16 text spans (Roslyn's positions) of its open mutants.
    A file may be given with its subfolder (Mcap/McapWriter.cs in Logging)."""
    wanted = {}
    for f in files:
        sub = os.path.dirname(f)
        wanted[(folder + "/" + sub if sub else folder, os.path.basename(f))] = f
    open_mutants = collections.defaultdict(dict)
    for report in sorted((json.load(open(p)) for p in reports), key=lambda r: r.get("keptAt", 0)):
        for path, data in report["files"].items():
            f = wanted.get((where(path)[1], os.path.basename(path)))
            if f is not None:
                for m in data["mutants"]:
                    if m["status"] != "Ignored":
                        open_mutants[f][key(m)] = m["status"]
    patterns = []
    for (fold, name), f in wanted.items():
        if f not in open_mutants:  # not measured yet: the whole file
            patterns.append(f"**/{fold}/{name}")
            continue
        project = [p for p in os.listdir(os.path.join(root, "src")) if os.path.exists(os.path.join(root, "src", p, fold, name))]
        text = open(os.path.join(root, "src", project[0], fold, name), encoding="utf-8-sig").read()
        starts, offset = [0], 0
        for ch in text:
            offset += 2 if ord(ch) > 0xFFFF else 1
            if ch == "\n":
                starts.append(offset)
        found = sorted({(starts[k[0] - 1] + k[1] - 1, starts[k[2] - 1] + k[3] - 1)
                        for k, status in open_mutants[f].items() if status in ("Survived", "NoCoverage")})
        if found:
            patterns.append(f"**/{fold}/{name}" + "".join(f"{{{a}..{b}}}" for a, b in found))
    return patterns


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
    if argv and argv[0] == "--spans":
        cut = argv.index("--")
        print("\n".join(spans(argv[1], argv[2], argv[3:cut], argv[cut + 1:])))
        return
    if argv and argv[0] == "--keep":
        argv = keep(*argv[1:])
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
            name = "/".join(where(path)) + "/" + os.path.basename(path)
            if os.path.basename(path) in report.get("partialFiles", []) and name in latest:
                mutants = latest[name][1]
                for m in data["mutants"]:
                    if m["status"] != "Ignored" and key(m) in mutants:
                        mutants[key(m)] = m
            else:
                latest[name] = (path, {key(m): m for m in data["mutants"]})
    for path, mutants in (v for _, v in sorted(latest.items())):
        project, folder = where(path)
        for m in mutants.values():
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
