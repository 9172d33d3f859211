#!/usr/bin/env bash
# Installs RobotPG on a Raspberry Pi (64-bit Raspberry Pi OS Bookworm or newer) over SSH: the stripped
# arm64 binary, the robot config, a pre-trained policy, the systemd unit and, once, the boot settings (I2C, PWM).
#   firmware-config/deploy/install.sh USER@HOST CONFIG.json [POLICY.rpgp] [BINARY]
#   e.g. firmware-config/deploy/install.sh pi@robot.local firmware-config/balance-bot.json runs/balance-bot/policy.rpgp
# POLICY (a file ending in .rpgp or .ckpt, e.g. from robotpg-sim train) goes to /etc/robotpg/policy.rpgp and the
# installed config's policy.checkpoint names it. BINARY defaults to artifacts/arm64/robotpg
# (firmware-config/deploy/build-arm64.sh). USER needs sudo on the Pi.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  echo "usage: install.sh USER@HOST CONFIG.json [POLICY.rpgp] [BINARY]" >&2
  exit 2
fi
target="$1"; config="$2"; shift 2
policy=""
case "${1:-}" in *.rpgp|*.ckpt) policy="$1"; shift ;; esac
top="$(cd "$(dirname "$0")/../.." && pwd)"
binary="${1:-$top/artifacts/arm64/robotpg}"
[ -f "$config" ] || { echo "install.sh: config '$config' not found" >&2; exit 2; }
if [ -n "$policy" ]; then
  [ -f "$policy" ] || { echo "install.sh: policy '$policy' not found" >&2; exit 2; }
  # The installed config names the policy next to it; the original file stays as it is.
  local_stage="$(mktemp -d)"; trap 'rm -rf "$local_stage"' EXIT
  cp "$policy" "$local_stage/policy.rpgp"
  python3 - "$config" "$local_stage/$(basename "$config")" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("policy", {})["checkpoint"] = "policy.rpgp"
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
  config="$local_stage/$(basename "$config")"
fi
[ -x "$binary" ] || { echo "install.sh: binary '$binary' not found; run firmware-config/deploy/build-arm64.sh first" >&2; exit 2; }
if command -v file >/dev/null 2>&1 && ! file -b "$binary" | grep -q 'ARM aarch64'; then
  echo "install.sh: '$binary' is not a linux-arm64 binary ($(file -b "$binary" | cut -d, -f1-2)); build it with build-arm64.sh" >&2
  exit 2
fi
case "$binary" in *.dbg) echo "install.sh: '$binary' is the debug-symbol file; ship the stripped binary" >&2; exit 2 ;; esac

# Refuse a config the controller itself refuses, before anything on the robot changes.
if [ "$(uname -m)" = aarch64 ]; then
  "$binary" check-config "$config"
elif command -v qemu-aarch64-static >/dev/null 2>&1 && [ -d /usr/aarch64-linux-gnu ]; then
  qemu-aarch64-static -L /usr/aarch64-linux-gnu "$binary" check-config "$config"
else
  echo "install.sh: qemu-aarch64-static not found, the config is checked on the Pi instead"
fi

staging="$(ssh "$target" mktemp -d /tmp/robotpg-install.XXXXXX)"
scp -q "$binary" "$config" ${policy:+"$local_stage/policy.rpgp"} "$top/firmware-config/robotpg.service" "$top/firmware-config/pi/config.txt.append" "$target:$staging/"
# shellcheck disable=SC2087 # the script runs on the Pi; its variables are expanded there
ssh "$target" sudo bash -s "$staging" "$(basename "$config")" <<'REMOTE'
set -euo pipefail
staging="$1"; config="$2"
trap 'rm -rf "$staging"' EXIT
glibc="$(ldd --version 2>&1 | sed -n 1p)"
echo "$glibc" | grep -qE ' 2\.(3[4-9]|[4-9][0-9])$' \
  || { echo "robotpg needs glibc >= 2.34 (Raspberry Pi OS Bookworm or newer); this Pi has: $glibc" >&2; exit 1; }
[ "$(uname -m)" = aarch64 ] || { echo "robotpg is a 64-bit (aarch64) binary; this Pi runs $(uname -m): install the 64-bit Raspberry Pi OS" >&2; exit 1; }
# The GPIO driver is libgpiod's v1 API (libgpiod.so.2, Debian package libgpiod2).
dpkg -s libgpiod2 >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgpiod2
id robotpg >/dev/null 2>&1 || useradd --system --home-dir /var/lib/robotpg --no-create-home --shell /usr/sbin/nologin robotpg
for group in gpio i2c; do
  getent group "$group" >/dev/null || groupadd --system "$group"
  usermod -a -G "$group" robotpg
done
# Stop first: the running binary is replaced below (ExecStopPost turns the motors off).
systemctl stop robotpg.service 2>/dev/null || true
install -d -m 755 /opt/robotpg /etc/robotpg
install -m 755 "$staging/robotpg" /opt/robotpg/robotpg
install -m 644 "$staging/$config" /etc/robotpg/robot.json
[ -f "$staging/policy.rpgp" ] && install -m 644 "$staging/policy.rpgp" /etc/robotpg/policy.rpgp
install -m 644 "$staging/robotpg.service" /etc/systemd/system/robotpg.service
/opt/robotpg/robotpg check-config /etc/robotpg/robot.json
systemctl daemon-reload
systemctl enable robotpg.service
boot=/boot/firmware/config.txt; [ -f "$boot" ] || boot=/boot/config.txt
if ! grep -q '^dtparam=i2c_arm=on' "$boot"; then
  cat "$staging/config.txt.append" >> "$boot"
  echo "boot settings (I2C, PWM) added to $boot: reboot the Pi once (sudo reboot); the service starts at boot"
else
  systemctl restart robotpg.service
  systemctl --no-pager status robotpg.service || true
fi
REMOTE
