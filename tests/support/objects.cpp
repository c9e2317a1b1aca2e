#include "support/objects.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::test {

ObjectBytes object_bytes(const core::Store& store, const util::Hash128& hash)
{
  const std::string loose = store.object_path(hash);
  struct stat st
  {};
  if (::stat(loose.c_str(), &st) == 0) {
    return {loose, 0, static_cast<std::uint64_t>(st.st_size), false};
  }
  for (const auto& index : store.packs(true)->indexes) {
    if (const core::PackRecord* record = index->find(hash)) {
      return {index->pack_path(), record->offset, record->length, true};
    }
  }
  ADD_FAILURE() << "object " << hash.hex() << " is not in the store";
  return {};
}

std::size_t object_count(const core::Store& store)
{
  auto objects = store.list_objects();
  EXPECT_TRUE(objects) << objects.error().message;
  return objects ? objects->size() : 0;
}

void corrupt_object(const core::Store& store, const util::Hash128& hash)
{
  const ObjectBytes at = object_bytes(store, hash);
  ASSERT_FALSE(at.file.empty());
  ASSERT_GT(at.length, 0u);
  // Object files are read-only: a fault does not ask.
  ASSERT_EQ(::chmod(at.file.c_str(), 0644), 0);
  const int fd = ::open(at.file.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const auto where = static_cast<off_t>(at.offset + at.length / 2);
  std::uint8_t byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, where), 1);
  byte ^= 0x20;
  ASSERT_EQ(::pwrite(fd, &byte, 1, where), 1);
  ::close(fd);
  ASSERT_EQ(::chmod(at.file.c_str(), 0444), 0);
}

void remove_object(const core::Store& store, const util::Hash128& hash)
{
  const ObjectBytes at = object_bytes(store, hash);
  ASSERT_FALSE(at.file.empty());
  std::filesystem::remove(at.file);
  if (at.packed) {
    std::filesystem::remove(at.file.substr(0, at.file.size() - 5) + ".idx");
  }
}

} // namespace treecast::test
