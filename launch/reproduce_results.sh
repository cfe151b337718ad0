#!/usr/bin/env bash
# Trains and evaluates the recipes of README's results table, then prints the table.
#
#   launch/reproduce_results.sh [RECIPE ...]        (default: gan vae gan_ring gan_grid gan_stacked)
#
# Each recipe trains with its default config into runs/<recipe> (resuming if already there), is evaluated
# with `--mode=eval` (10,000 samples; the evaluation classifier is trained once and cached), and
# `python -m gans.results` collects the rows.
set -euo pipefail
cd "$(dirname "$0")/.."
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(gan vae gan_ring gan_grid gan_stacked)
for recipe in "${recipes[@]}"; do
  python -m gans.main --config="configs/${recipe}.py" --workdir="runs/${recipe}"
  python -m gans.main --config="configs/${recipe}.py" --workdir="runs/${recipe}" --mode=eval
done
python -m gans.results "${recipes[@]/#/runs/}"
