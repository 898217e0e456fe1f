#!/usr/bin/env bash
# Makes sure the Python tools `make run` and `make test` need are there. A tool on PATH is used
# as it is; a missing one is installed, with the others, at the pinned versions below into a
# virtual environment of the project's own (.local/venv, ignored by git), which the Makefile
# puts at the END of PATH, so it never shadows a tool the machine already has.
#   scripts/tools.sh run    moto_server
#   scripts/tools.sh test   moto_server and cfn-lint
set -euo pipefail
cd "$(dirname "$0")/.."

# The versions these pins name are the ones the project is tested with.
PINS=("moto[server]==5.2.1" "cfn-lint==1.51.0" "aws-sam-translator==1.110.0")
VENV=.local/venv

need=(moto_server)
[ "${1:-run}" = test ] && need+=(cfn-lint)
missing=()
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "tools: ${missing[*]} not on PATH: installing ${PINS[*]} into $VENV (once)"
command -v python3 >/dev/null 2>&1 || { echo "tools: python3 not found: install Python 3 (3.9 or later)" >&2; exit 1; }
if [ ! -x "$VENV/bin/pip" ]; then
  python3 -m venv "$VENV" || {
    echo "tools: python3 -m venv failed: install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2
    rm -rf "$VENV"; exit 1; }
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" || {
  echo "tools: pip could not install ${PINS[*]}; or install them yourself: pip install ${PINS[*]}" >&2; exit 1; }
for tool in "${missing[@]}"; do
  [ -x "$VENV/bin/$tool" ] || { echo "tools: $tool is still missing after the install" >&2; exit 1; }
done
