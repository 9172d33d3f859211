#!/usr/bin/env bash
# Mutation testing with Stryker.NET (pinned in .config/dotnet-tools.json). Not part of CI: Stryker builds the
# mutated assembly once, then re-runs the tests that cover each mutant, one mutant at a time.
#
#   tests/mutation/run.sh [scope] [file...]
#
#   algorithms | estimators | advantages   one folder of RobotPG.Learning (the note formulas)
#   learning-rest                          the other folders of RobotPG.Learning
#   rollouts                               its Rollouts folder alone (for files: learning-rest takes none)
#   numerics                               RobotPG.Numerics
#   safety | logging | checkpoints         the controller's safety supervisor, trajectory log, learner checkpoints
#   core        algorithms, estimators, advantages in turn
#   learning    core, then learning-rest
#   controller  safety, logging, checkpoints in turn
#   all         learning, numerics, controller in turn
#
# With files (e.g. `run.sh algorithms Ppo.cs PpoKl.cs`) only those files of the folder are mutated again, and
# their new results replace the older ones in the summary (after adding tests for survivors). With
# `--survivors` before the files, only the code of their surviving and uncovered mutants in the earlier
# reports is mutated again (much faster; the files' source must be unchanged since those reports), and a file
# no report has measured yet is mutated whole.
#
# One run per folder, so a partial run still leaves usable results: each run's JSON report (source text
# stripped) goes to tests/mutation/reports/<scope>.json, and score.py prints the score per project and folder
# over every report there. Stryker runs niced, one mutant at a time (MUTATION_CONCURRENCY, default 1: the
# machine is shared), with per-test coverage so each mutant runs only the tests that reach it.
#
# The score is measured against the fast tests only: Category=RealTime (timing says nothing about a formula)
# and Category=Slow (learning curves and many-batch statistics, seconds per mutant) are left out; the
# reference tests pin the same formulas to stated tolerances.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
scope="${1:-core}"
shift || true
survivors=""
if [ "${1:-}" = "--survivors" ]; then survivors=1; shift; fi
files=("$@")
concurrency="${MUTATION_CONCURRENCY:-1}"
filter="Category!=RealTime&Category!=Slow"
cd "$root"
summary="${MUTATION_NESTED:-}"
export MUTATION_NESTED=1
dotnet tool restore >/dev/null

run() { # name, project dir, test project, mutate globs...
  local name="$1" project="$2" tests="$3"; shift 3
  local partial=()
  if [ ${#files[@]} -gt 0 ]; then # only the named files of the folder
    local folder="${1%%/\*\**}" globs=()
    if [ -n "$survivors" ]; then
      mapfile -t globs < <(python3 "$root/tests/mutation/score.py" --spans "$root" "${folder#\*\*/}" "${files[@]}" -- \
          "$root"/tests/mutation/reports/*.json)
      partial=("${files[@]##*/}")
      name="$name-survivors"
    else
      for f in "${files[@]}"; do globs+=("$folder/$f"); done
    fi
    set -- "${globs[@]}"
    local stems=("${files[@]##*/}") # a file in a subfolder (Mcap/McapWriter.cs) names the report by its own name
    name="$name-$(IFS=-; echo "${stems[*]%.cs}")"
  fi
  local out="$root/tests/mutation/out/$name"
  local args=()
  for glob in "$@"; do args+=(--mutate "$glob"); done
  rm -rf "$out"
  mkdir -p "$root/tests/mutation/reports"
  local start=$SECONDS
  (cd "$root/$tests" && nice -n 10 dotnet stryker --config-file "$root/tests/mutation/stryker-config.json" \
      --project "$(basename "$project").csproj" --configuration Release \
      --concurrency "$concurrency" --reporter json --reporter html --reporter dots --log-to-file \
      --test-case-filter "$filter" --output "$out" "${args[@]}")
  local wall=$((SECONDS - start))
  echo "$name: $wall s wall time"
  python3 "$root/tests/mutation/score.py" --keep "$out/reports/mutation-report.json" \
      "$root/tests/mutation/reports/$name.json" "$wall" "${partial[@]}"
}

learning=(src/RobotPG.Learning tests/RobotPG.Learning.Tests)
controller=(src/RobotPG.Controller tests/RobotPG.Controller.Tests)
case "$scope" in
  algorithms) run algorithms "${learning[@]}" "**/Algorithms/**/*.cs" ;;
  estimators) run estimators "${learning[@]}" "**/Estimators/**/*.cs" ;;
  advantages) run advantages "${learning[@]}" "**/Advantages/**/*.cs" ;;
  learning-rest) run learning-rest "${learning[@]}" "**/*.cs" "!**/Algorithms/**/*.cs" "!**/Estimators/**/*.cs" \
      "!**/Advantages/**/*.cs" ;;
  rollouts) run rollouts "${learning[@]}" "**/Rollouts/**/*.cs" ;;
  numerics) run numerics src/RobotPG.Numerics tests/RobotPG.Numerics.Tests "**/*.cs" ;;
  safety) run safety "${controller[@]}" "**/Control/SafetySupervisor.cs" ;;
  logging) run logging "${controller[@]}" "**/Logging/**/*.cs" ;;
  checkpoints) run checkpoints "${controller[@]}" "**/Learning/LearnerCheckpoints.cs" ;;
  core) for s in algorithms estimators advantages; do "$0" "$s"; done ;;
  learning) "$0" core; "$0" learning-rest ;;
  controller) for s in safety logging checkpoints; do "$0" "$s"; done ;;
  all) for s in learning numerics controller; do "$0" "$s"; done ;;
  *) echo "run.sh: unknown scope '$scope' (algorithms, estimators, advantages, learning-rest, rollouts, numerics, safety," \
        "logging, checkpoints, core, learning, controller, all)" >&2; exit 2 ;;
esac
# The composite scopes run this script once per folder; only the outermost call prints the summary.
[ -n "$summary" ] || python3 "$root/tests/mutation/score.py" "$root"/tests/mutation/reports/*.json
