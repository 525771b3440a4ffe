#!/usr/bin/env bash
# A second PyTorch fixture set from the same script with other sizes, to prove the parity tests derive every
# size from the files: student WRN-10-1, teacher WRN-16-1.5, 7 classes, batch 5, β 500, T 2, α 0.6, seed 7.
#   apt-get install python3-torch && bash tools/make_fixture_variant.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-tests/fixtures/variant}
mkdir -p "$out"
script=$(mktemp --suffix=.py)
trap 'rm -f "$script"' EXIT
sed -e 's/f_s, p_s = wrn(16, 1, 10)/f_s, p_s = wrn(10, 1, 7)/' \
  -e 's/f_t, p_t = wrn(16, 2, 10)/f_t, p_t = wrn(16, 1.5, 7)/' \
  -e 's/x = rnd(8, 3, 32, 32)/x = rnd(5, 3, 32, 32)/' \
  -e 's/labels = torch.randint(0, 10, (8,))/labels = torch.randint(0, 7, (5,))/' \
  -e 's/beta, T, alpha = 1e3, 4.0, 0.0/beta, T, alpha = 500.0, 2.0, 0.6/' \
  -e 's/"student": "WRN-16-1", "teacher": "WRN-16-2"/"student": "WRN-10-1", "teacher": "WRN-16-1.5"/' \
  -e 's/"batch": 8,/"batch": 5,/' tools/make_fixtures.py >"$script"
for change in "wrn(10, 1, 7)" "wrn(16, 1.5, 7)" "rnd(5, 3, 32, 32)" "500.0, 2.0, 0.6" '"WRN-10-1"'; do
  grep -qF "$change" "$script" || { echo "make_fixtures.py changed: could not apply $change" >&2; exit 1; }
done
/usr/bin/python3 "$script" "$out" 7
