#pragma once

// Finding and damaging a store's objects, loose or packed, the way a disk
// fault or a careless operator would.

#include "core/store.hpp"

#include <cstdint>
#include <string>

namespace treecast::test {

// Where an object's stored bytes are: its own file, or a range of a pack.
struct ObjectBytes
{
  std::string file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool packed = false;
};

// Fails the test (and returns an empty file name) when the store lacks it.
ObjectBytes object_bytes(const core::Store& store, const util::Hash128& hash);
// Objects in the store, loose and packed, each counted once.
std::size_t object_count(const core::Store& store);
// Flips one bit in the middle of the object's stored bytes.
void corrupt_object(const core::Store& store, const util::Hash128& hash);
// Removes the object's file, or the whole pack (and index) holding it.
void remove_object(const core::Store& store, const util::Hash128& hash);

} // namespace treecast::test
