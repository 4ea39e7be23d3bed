#!/usr/bin/env bash
# Prints line coverage of the libraries Engine, Analysis, Fixtures and Reports from coverlet's Cobertura file.
# Usage: ci/coverage.sh TestResults/<run>/coverage.cobertura.xml
set -euo pipefail
file=${1:?usage: ci/coverage.sh coverage.cobertura.xml}
# A line counts once per file and line number, covered when any class entry (lambdas, nested types) hit it.
awk '
  /<class / {
    match($0, /name="[^"]*"/); name = substr($0, RSTART + 6, RLENGTH - 7)
    match($0, /filename="[^"]*"/); file = substr($0, RSTART + 10, RLENGTH - 11)
    part = name ~ /^Verification\.Engine/ ? "Engine" : name ~ /^Verification\.Analysis/ ? "Analysis" : name ~ /^Verification\.Fixtures/ ? "Fixtures" : name ~ /^Verification\.Reports/ ? "Reports" : ""
  }
  /<line / && part != "" {
    match($0, /number="[0-9]+"/); n = substr($0, RSTART + 8, RLENGTH - 9)
    match($0, /hits="[0-9]+"/); h = substr($0, RSTART + 6, RLENGTH - 7)
    key = part SUBSEP file SUBSEP n
    if (!(key in seen)) { seen[key] = 1; total[part]++ }
    if (h > 0 && !(key in hit)) { hit[key] = 1; covered[part]++ }
  }
  END {
    printf "%-10s %8s %8s %9s\n", "project", "lines", "covered", "coverage"
    split("Engine Analysis Fixtures Reports", parts, " ")
    for (i = 1; i <= 4; i++) { p = parts[i]; if (total[p] > 0) printf "%-10s %8d %8d %8.1f%%\n", p, total[p], covered[p], 100 * covered[p] / total[p] }
  }' "$file"
