#!/usr/bin/env bash
# Cross-builds the native-AOT binaries for a Raspberry Pi (linux-arm64) from an x64 (or arm64) Debian host.
# Output (default DIR: artifacts/arm64): DIR/robotpg (and DIR/robotpg-sim plus its robots/ physics files
# with --sim), stripped, self-contained (no .NET needed on the Pi).
# The binaries need glibc >= 2.34 on the target: 64-bit Raspberry Pi OS Bookworm or newer
# (Bullseye's glibc 2.31 is too old). Ship the binary, never the .dbg (symbols stay on the build host).
#   firmware-config/deploy/build-arm64.sh [--no-install] [--sim] [--out DIR]
# Fails (exit 1) on any IL2xxx/IL3xxx trim/AOT warning, which TreatWarningsAsErrors turns into errors.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
out="$top/artifacts/arm64"
install=1
sim=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0 ;;
    --sim) sim=1 ;;
    --out) [ $# -ge 2 ] || { echo "build-arm64.sh: --out needs a directory" >&2; exit 2; }; out="$2"; shift ;;
    *) echo "build-arm64.sh: unknown argument '$1' (expected --no-install, --sim, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

command -v dotnet >/dev/null 2>&1 || { echo "build-arm64.sh: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
host_arch="$(uname -m)"
if [ "$install" = 1 ] && [ "$host_arch" != aarch64 ]; then
  need=""
  for tool in clang aarch64-linux-gnu-objcopy qemu-aarch64-static; do
    command -v "$tool" >/dev/null 2>&1 || need=1
  done
  [ -f /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need=1
  if [ -n "$need" ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      clang llvm binutils-aarch64-linux-gnu libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user-static
  fi
elif [ "$install" = 1 ]; then
  command -v clang >/dev/null 2>&1 || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang llvm; }
fi

cross=()
if [ "$host_arch" != aarch64 ]; then
  # ILC passes --target to the linker, so gcc cannot link; clang finds the cross libraries by itself.
  cross=(-p:CppCompilerAndLinker=clang -p:ObjCopyName=aarch64-linux-gnu-objcopy)
fi

publish() {
  local project="$1" log
  log="$(mktemp)"
  echo "build-arm64.sh: dotnet publish $project -c Release -r linux-arm64"
  # Per-assembly trim warnings (not the one-line IL2104 summary), so a warning names its code.
  if ! dotnet publish "$top/$project" -c Release -r linux-arm64 "${cross[@]}" -p:TrimmerSingleWarn=false -o "$out" >"$log" 2>&1; then
    cat "$log" >&2
    echo "build-arm64.sh: publish of $project failed" >&2
    rm -f "$log"
    return 1
  fi
  if grep -qE '(warning|error) IL[23][0-9]{3}' "$log"; then
    grep -E '(warning|error) IL[23][0-9]{3}' "$log" | sort -u >&2
    echo "build-arm64.sh: $project has IL2xxx/IL3xxx trim or AOT warnings" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

publish src/RobotPG.Controller
if [ "$sim" = 1 ]; then publish sim/RobotPG.Sim; fi
# Ship the stripped binaries only: the .dbg (and the libraries' .pdb) files stay on the build host.
rm -f "$out"/*.dbg "$out"/*.pdb "$out"/*.runtimeconfig.json
for binary in robotpg robotpg-sim; do
  [ -f "$out/$binary" ] || continue
  bytes=$(stat -c %s "$out/$binary")
  echo "$out/$binary: $(awk -v b="$bytes" 'BEGIN { printf "%.1f MB (%d bytes)", b / 1e6, b }'), $(file -b "$out/$binary" 2>/dev/null | cut -d, -f1-2 || echo linux-arm64)"
done
