#pragma once

// The fuzz targets: the decoders that read untrusted bytes. Each runs
// under libFuzzer (tools/fuzz.sh, built with clang) and, as an ordinary
// test, over the committed corpus and its mutations (corpus_test.cpp).

#include "core/manifest.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace treecast::fuzz {

// The version a fuzzed delta applies to, with its files' contents (empty
// for folders and symlinks): fixed, so that corpus deltas made against it
// (make_corpus.cpp) reach the payload.
struct Base
{
  core::Manifest manifest;
  std::vector<std::string> contents;
};
const Base& base();

// Reads data as a delta from base() (or from nothing) to the end; true
// when it was whole and valid.
bool delta(const std::uint8_t* data, std::size_t size);
// Decodes data as a manifest; true when valid.
bool manifest(const std::uint8_t* data, std::size_t size);
// Decodes data as a protocol message; true when valid. A message that
// decodes must encode back to the same bytes (aborts otherwise).
bool wire(const std::uint8_t* data, std::size_t size);

} // namespace treecast::fuzz
