#!/usr/bin/env bash
# Static analysis. Findings we judged false positives are suppressed inline with a reason
# (// cppcheck-suppress <id> -- why). Exits non-zero on any other finding.
set -euo pipefail
cd "$(dirname "$0")/.."
cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
  --enable=warning,performance,portability --suppress=missingIncludeSystem \
  -D__GNUC__ -D__x86_64__ -I include -I src -I cli \
  src cli fuzz
