#!/usr/bin/env bash
# Mutation testing with Stryker.NET (pinned in .config/dotnet-tools.json). Not part of CI: it rebuilds and
# re-runs the tests once per mutant, so it takes tens of minutes on two cores.
#
#   tests/mutation/run.sh [core|learning|numerics|controller|all] [concurrency]
#
#   formulas    the return, baseline, importance-weight and advantage formulas and REINFORCE, with the fast
#               reference tests only (about 20 minutes on two busy cores)
#   core        RobotPG.Learning's Algorithms, Estimators and Advantages (the note formulas)
#   learning    all of RobotPG.Learning
#   numerics    RobotPG.Numerics
#   controller  the controller's safety supervisor, trajectory log and learner checkpoints
#   all         numerics, learning, controller in turn
#
# Reports (HTML + JSON) go to tests/mutation/reports/<scope>/; the script prints the score per folder.
# Tests marked Category=RealTime are left out (timing tests say nothing about a changed formula); the
# learning-curve tests (PPO training, the bandit statistics) too: minutes per mutant, and the reference
# tests pin the same formulas exactly.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
scope="${1:-core}"
concurrency="${2:-1}"
cd "$root"
dotnet tool restore >/dev/null

run() { # name, project dir, test project, mutate globs...
  local name="$1" project="$2" tests="$3"; shift 3
  local out="$root/tests/mutation/reports/$name"
  local args=()
  for glob in "$@"; do args+=(--mutate "$glob"); done
  rm -rf "$out"
  local start=$SECONDS
  (cd "$root/$tests" && dotnet stryker --project "$(basename "$project").csproj" --configuration Release \
      --concurrency "$concurrency" --reporter json --reporter html --reporter progress \
      --test-case-filter "${filter:-Category!=RealTime&FullyQualifiedName!~PpoTrainingTests&FullyQualifiedName!~BanditUnbiasednessTests}" \
      --output "$out" "${args[@]}")
  echo "$name: $((SECONDS - start)) s wall time"
  python3 "$root/tests/mutation/score.py" "$out/reports/mutation-report.json"
}

case "$scope" in
  formulas) filter="FullyQualifiedName~References|FullyQualifiedName~HandChecked|FullyQualifiedName~PolicyGradientBatch|FullyQualifiedName~GaeEstimator|FullyQualifiedName~PpoLoss" \
      run formulas src/RobotPG.Learning tests/RobotPG.Learning.Tests "Advantages/*.cs" "Estimators/ReturnWeighting.cs" \
      "Estimators/Baselines.cs" "Estimators/ImportanceSampling.cs" "Algorithms/PolicyGradientBatch.cs" "Algorithms/Reinforce.cs" ;;
  core) run core src/RobotPG.Learning tests/RobotPG.Learning.Tests "Algorithms/*.cs" "Estimators/*.cs" "Advantages/*.cs" ;;
  learning) run learning src/RobotPG.Learning tests/RobotPG.Learning.Tests "**/*.cs" ;;
  numerics) run numerics src/RobotPG.Numerics tests/RobotPG.Numerics.Tests "**/*.cs" ;;
  controller) run controller src/RobotPG.Controller tests/RobotPG.Controller.Tests \
      "**/Control/SafetySupervisor.cs" "**/Logging/**/*.cs" "**/Learning/LearnerCheckpoints.cs" ;;
  all) "$0" numerics "$concurrency"; "$0" learning "$concurrency"; "$0" controller "$concurrency" ;;
  *) echo "run.sh: unknown scope '$scope' (formulas, core, learning, numerics, controller, all)" >&2; exit 2 ;;
esac
