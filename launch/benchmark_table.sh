#!/usr/bin/env bash
# The train-step table of docs/performance.md: `python -m gans.benchmark` for every recipe, then the
# host-fed rows of the recipes with the shortest steps and the stream-fed rows of the MLP GAN and DCGAN.
#
#   launch/benchmark_table.sh [RECIPE ...]        (default: all 13 recipes, ~6 min on 2 cores)
#
# Steps and rounds per recipe keep each timing at about a second or more (the 3 ms steps need 9 rounds of
# 200 steps for a stable pipeline cost on a shared machine). JSON results go to runs/benchmark/.
set -euo pipefail
cd "$(dirname "$0")/.."
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] ||
  recipes=(gan vae ae gan_ring gan_grid gan_stacked cgan lsgan wgan wgan_gp dcgan infogan began)
timing() {
  case $1 in
    vae | ae | gan_ring | gan_grid) echo "--steps=1800 --warmup=20 --rounds=9" ;;
    gan | gan_stacked) echo "--steps=450 --warmup=5 --rounds=9" ;;
    dcgan | lsgan | infogan) echo "--steps=25 --warmup=2 --rounds=5" ;;
    wgan | wgan_gp) echo "--steps=10 --warmup=1 --rounds=5" ;;
    gancls) echo "--steps=20 --warmup=2 --rounds=5 --config.method.pretrain_steps=0" ;; # The game phase.
    *) echo "--steps=150 --warmup=3 --rounds=5" ;;
  esac
}
echo '| recipe | devices | dtype | batch | compile s | steps/s | images/s | pipeline cost | GFLOP/step | GFLOP/s | of matmul peak | host RSS MB |'
echo '|---|---|---|---|---|---|---|---|---|---|---|---|'
for recipe in "${recipes[@]}"; do
  # shellcheck disable=SC2046  # timing's words are separate flags.
  python -m gans.benchmark --config="configs/${recipe}.py" $(timing "$recipe") 2>/dev/null | tail -1
done
for recipe in "${recipes[@]}"; do
  case $recipe in
    gan | vae | ae | gan_ring | gan_grid)
      # shellcheck disable=SC2046
      python -m gans.benchmark --config="configs/${recipe}.py" $(timing "$recipe") \
        --config.train.feed=host --output="runs/benchmark/${recipe}_host_feed.json" 2>/dev/null |
        tail -1 | sed "s/^| ${recipe} /| ${recipe}, host feed /"
      ;;
  esac
done
for recipe in "${recipes[@]}"; do
  case $recipe in
    gan | dcgan)
      # shellcheck disable=SC2046
      python -m gans.benchmark --config="configs/${recipe}.py" $(timing "$recipe") \
        --config.train.feed=stream --output="runs/benchmark/${recipe}_stream_feed.json" 2>/dev/null |
        tail -1
      ;;
  esac
done
