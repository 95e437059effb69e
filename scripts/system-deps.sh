#!/usr/bin/env bash
# System packages DropTurk needs beside its Python packages: Tesseract's trained data
# (the tesserocr wheel brings the library itself), the fonts and word list the synthetic
# training data is drawn with (ocr/synth/fonts.py names the families). Installs them when
# run as root.
set -euo pipefail

missing=()
if [ -z "${TESSDATA_PREFIX:-}" ] && ! { command -v tesseract >/dev/null && tesseract --list-langs 2>&1 | grep -qx eng; }; then
  missing+=(tesseract-ocr tesseract-ocr-eng)
fi
# Fonts for synthetic words: Courier/Arial/Times/Helvetica look-alikes, mono, condensed.
for package in fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 \
  fonts-crosextra-carlito fonts-crosextra-caladea fonts-inconsolata fonts-noto-mono wamerican; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}. Install them (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
