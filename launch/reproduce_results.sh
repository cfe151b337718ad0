#!/usr/bin/env bash
# Trains and evaluates the recipes of README's results table, then prints the table.
#
#   launch/reproduce_results.sh [RECIPE ...]        (default: every recipe of the table, ~2 h on 2 cores)
#
# Each recipe trains with its default config into runs/<recipe> (resuming if already there), is evaluated
# with `--mode=eval` (10,000 samples; the evaluation classifier is trained once and cached), draws its
# figures with `--mode=sample` into runs/<recipe>/samples/ (InfoGAN and CGAN: code/class traversals;
# DCGAN: latent walks), and `python -m gans.results` collects the rows. gan_grid_pac2 and gan_grid_pac4
# are PacGAN's rows, `configs/gan_grid.py:pac2` and `:pac4`, trained into runs/gan_grid_pac2 and _pac4.
set -euo pipefail
cd "$(dirname "$0")/.."
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(gan vae gan_ring gan_grid gan_grid_pac2 gan_grid_pac4 gan_stacked cgan infogan began dcgan lsgan wgan wgan_gp biggan lapgan cyclegan stylegan)
for recipe in "${recipes[@]}"; do
  case "$recipe" in
    gan_grid_pac*) config="configs/gan_grid.py:${recipe#gan_grid_}" ;;
    *) config="configs/${recipe}.py" ;;
  esac
  python -m gans.main --config="$config" --workdir="runs/${recipe}"
  python -m gans.main --config="$config" --workdir="runs/${recipe}" --mode=eval
  case "$recipe" in
    cgan | infogan | biggan | stylegan) kinds=(traverse) ;;
    dcgan) kinds=(interpolate) ;;
    *) kinds=() ;;
  esac
  for kind in "${kinds[@]}"; do
    python -m gans.main --config="$config" --workdir="runs/${recipe}" --mode=sample \
      --config.sample.kind="$kind"
  done
done
python -m gans.results "${recipes[@]/#/runs/}"
