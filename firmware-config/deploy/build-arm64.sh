#!/usr/bin/env bash
# Cross-builds the native-AOT binaries for a Raspberry Pi (linux-arm64) from an x64 (or arm64) Debian host.
# Output: artifacts-arm64/robotpg (and robotpg-sim), stripped; needs glibc >= 2.34 on the target
# (Raspberry Pi OS Bookworm or newer; Bullseye's glibc 2.31 is too old).
#   firmware-config/deploy/build-arm64.sh [--no-install] [--sim] [--out DIR]
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
out="$top/artifacts-arm64"
install=1
sim=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0 ;;
    --sim) sim=1 ;;
    --out) out="$2"; shift ;;
    *) echo "build-arm64.sh: unknown argument '$1' (expected --no-install, --sim, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done

host_arch="$(uname -m)"
if [ "$install" = 1 ] && [ "$host_arch" != aarch64 ]; then
  need=""
  for tool in clang aarch64-linux-gnu-objcopy qemu-aarch64-static; do
    command -v "$tool" >/dev/null 2>&1 || need=1
  done
  [ -d /usr/aarch64-linux-gnu/lib ] || need=1
  if [ -n "$need" ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      clang llvm binutils-aarch64-linux-gnu libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user-static
  fi
fi

cross=()
if [ "$host_arch" != aarch64 ]; then
  # ILC passes --target to the linker, so gcc cannot link; clang finds the cross libraries by itself.
  cross=(-p:CppCompilerAndLinker=clang -p:ObjCopyName=aarch64-linux-gnu-objcopy)
fi

publish() {
  local project="$1"
  dotnet publish "$top/$project" -c Release -r linux-arm64 "${cross[@]}" -o "$out"
}
mkdir -p "$out"
publish src/RobotPG.Controller
[ "$sim" = 1 ] && publish sim/RobotPG.Sim
# Ship the stripped binaries only: the .dbg files stay on the build host.
rm -f "$out"/*.dbg
ls -l "$out"
