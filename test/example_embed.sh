#!/usr/bin/env bash
# Installs smtpcheck into a scratch prefix, builds examples/embed against it with
# find_package(smtpcheck CONFIG), and runs it (SPEC section 5).
set -euo pipefail
build_dir=$1 source_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source_dir/examples/embed" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$scratch/build" -j 2 >/dev/null
"$scratch/build/embed_example"
