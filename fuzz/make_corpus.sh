#!/usr/bin/env bash
# Rebuild the seed corpora fuzz/corpus/<target>/ with fuzz/make_corpus.c against a built
# library (BUILD_DIR, default build). The seeds are committed; run this only to refresh them.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
cc -std=gnu11 -O1 -Iinclude -Isrc -Ifuzz fuzz/make_corpus.c -o "$B/make_corpus" "$B/libnnguard.a" \
   $(pkg-config --libs libsodium jansson libprotobuf-c zlib openblas libmicrohttpd sqlite3 libcurl libpng libjpeg $(pkg-config --exists libcrypto && echo libcrypto)) -lpthread -lm
"$B/make_corpus" "$PWD" fuzz/corpus
du -sh fuzz/corpus; find fuzz/corpus -type f | wc -l
