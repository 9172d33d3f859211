#!/usr/bin/env bash
# Installs RobotPG on a Raspberry Pi over SSH: binary, robot config, systemd unit, boot settings.
#   firmware-config/deploy/install.sh pi@robot.local firmware-config/balance-bot.json [artifacts-arm64/robotpg]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: install.sh USER@HOST CONFIG.json [BINARY]" >&2
  exit 2
fi
target="$1"; config="$2"
top="$(cd "$(dirname "$0")/../.." && pwd)"
binary="${3:-$top/artifacts-arm64/robotpg}"
[ -f "$config" ] || { echo "install.sh: config '$config' not found" >&2; exit 2; }
[ -x "$binary" ] || { echo "install.sh: binary '$binary' not found; run firmware-config/deploy/build-arm64.sh first" >&2; exit 2; }

# Refuse a config the controller itself refuses, before anything on the robot changes.
if command -v qemu-aarch64-static >/dev/null 2>&1 && [ "$(uname -m)" != aarch64 ]; then
  qemu-aarch64-static -L /usr/aarch64-linux-gnu "$binary" check-config "$config"
elif [ "$(uname -m)" = aarch64 ]; then
  "$binary" check-config "$config"
fi

staging="/tmp/robotpg-install.$$"
ssh "$target" "mkdir -p $staging"
scp "$binary" "$config" "$top/firmware-config/robotpg.service" "$top/firmware-config/pi/config.txt.append" "$target:$staging/"
ssh "$target" sudo bash -s "$staging" "$(basename "$config")" <<'REMOTE'
set -euo pipefail
staging="$1"; config="$2"
id robotpg >/dev/null 2>&1 || useradd --system --home-dir /var/lib/robotpg --shell /usr/sbin/nologin robotpg
for group in gpio i2c; do
  getent group "$group" >/dev/null || groupadd --system "$group"
  usermod -a -G "$group" robotpg
done
install -d -m 755 /opt/robotpg /etc/robotpg
install -m 755 "$staging/robotpg" /opt/robotpg/robotpg
install -m 644 "$staging/$config" /etc/robotpg/robot.json
install -m 644 "$staging/robotpg.service" /etc/systemd/system/robotpg.service
boot=/boot/firmware/config.txt; [ -f "$boot" ] || boot=/boot/config.txt
if ! grep -q '^dtparam=i2c_arm=on' "$boot"; then
  cat "$staging/config.txt.append" >> "$boot"
  echo "boot settings added to $boot: reboot once before starting the service"
fi
/opt/robotpg/robotpg check-config /etc/robotpg/robot.json
systemctl daemon-reload
systemctl enable robotpg.service
systemctl restart robotpg.service
rm -rf "$staging"
systemctl --no-pager status robotpg.service || true
REMOTE
