#!/usr/bin/env bash
# Creates the mosquitto password file and one 0600 credentials file per client (for the robot's
# config "mqtt.credentialsFile" and robotpg-sim --credentials). Usage:
#   make-passwords.sh OUT_DIR operator sim ROBOT_ID...
# Each user gets a random 24-byte password; the password file holds only salted hashes.
set -euo pipefail
out=${1:?usage: make-passwords.sh OUT_DIR USER...}; shift
mkdir -p "$out"
umask 077
: > "$out/passwd"
for user in "$@"; do
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  mosquitto_passwd -b "$out/passwd" "$user" "$password"
  printf 'username=%s\npassword=%s\n' "$user" "$password" > "$out/$user.credentials"
  echo "$out/$user.credentials"
done
