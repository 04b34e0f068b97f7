#!/usr/bin/env bash
# Static analysis. Findings we judged false positives are suppressed inline with a reason
# (/* cppcheck-suppress <id> ; why */ on the line before). Exits non-zero on any other finding.
# Suppressed everywhere:
#   invalidPointerCast - ng_param.data is the raw bytes of a little-endian float tensor by design
#                        (nnguard/weights.h); reading an F32 parameter through a float * is intended.
# jansson.h is pre-included so that cppcheck knows its iteration macros (json_object_foreach).
set -euo pipefail
cd "$(dirname "$0")/.."
cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
  --enable=warning,performance,portability --suppress=missingIncludeSystem \
  --suppress=invalidPointerCast --include=/usr/include/jansson.h \
  -D__GNUC__ -D__x86_64__ -I include -I src -I cli \
  src cli fuzz
