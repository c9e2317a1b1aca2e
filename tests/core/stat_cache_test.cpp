#include "core/stat_cache.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

using namespace treecast;
using core::StatCache;
using core::StatKey;

namespace {

constexpr std::int64_t k_start = 1'000'000;

StatKey key(std::int64_t mtime, std::int64_t ctime)
{
  return StatKey{1, 2, 3, mtime, ctime, 0100644};
}

util::Hash128 manifest_id(std::string_view text)
{
  return util::hash_bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

} // namespace

TEST(StatCache, UnchangedFieldsHit)
{
  const StatCache cache(manifest_id("v1"), k_start, {key(10, 10), key(20, 20)});
  EXPECT_TRUE(cache.trusted(0, key(10, 10)));
  EXPECT_TRUE(cache.trusted(1, key(20, 20)));
  EXPECT_FALSE(cache.trusted(1, key(10, 10))) << "another entry's fields";
  EXPECT_FALSE(cache.trusted(2, key(10, 10))) << "past the end";
}

TEST(StatCache, FollowsOnlyItsOwnManifest)
{
  const StatCache cache(manifest_id("v1"), k_start, {key(10, 10), key(20, 20)});
  EXPECT_TRUE(cache.follows(manifest_id("v1"), 2));
  EXPECT_FALSE(cache.follows(manifest_id("v2"), 2));
  EXPECT_FALSE(cache.follows(manifest_id("v1"), 3));
  EXPECT_FALSE(StatCache().follows(util::Hash128{}, 0)) << "an empty cache follows nothing";
}

TEST(StatCache, AnyChangedFieldMisses)
{
  const StatCache cache(manifest_id("v1"), k_start, {key(10, 10)});
  for (int field = 0; field < 6; ++field) {
    StatKey k = key(10, 10);
    switch (field) {
      case 0:
        k.dev += 1;
        break;
      case 1:
        k.ino += 1;
        break;
      case 2:
        k.size += 1;
        break;
      case 3:
        k.mtime_ns += 1;
        break;
      case 4:
        k.ctime_ns += 1;
        break;
      case 5:
        k.mode = 0100755;
        break;
    }
    EXPECT_FALSE(cache.trusted(0, k)) << "field " << field;
  }
}

TEST(StatCache, RacyEntriesAreNeverTrusted)
{
  // A file modified in the same tick the snapshot began (or later) may
  // change again without its mtime moving: it must be hashed again.
  const StatCache cache(manifest_id("v1"), k_start,
                        {key(k_start, k_start - 5), key(k_start + 1, k_start + 1),
                         key(k_start - 5, k_start), key(k_start - 1, k_start - 1)});
  EXPECT_FALSE(cache.trusted(0, key(k_start, k_start - 5))) << "same tick";
  EXPECT_FALSE(cache.trusted(1, key(k_start + 1, k_start + 1))) << "later";
  EXPECT_FALSE(cache.trusted(2, key(k_start - 5, k_start))) << "ctime racy";
  EXPECT_TRUE(cache.trusted(3, key(k_start - 1, k_start - 1))) << "older";
}

TEST(StatCache, SaveLoadAndCorruptFiles)
{
  test::TempDir dir;
  const StatCache cache(manifest_id("v7"), k_start, {key(5, 5), key(6, 6)});
  ASSERT_TRUE(cache.save(dir / "statcache"));
  const StatCache back = StatCache::load(dir / "statcache");
  EXPECT_EQ(back.size(), 2u);
  EXPECT_EQ(back.start_ns(), k_start);
  EXPECT_TRUE(back.follows(manifest_id("v7"), 2));
  EXPECT_TRUE(back.trusted(1, key(6, 6)));

  std::string raw = test::read_file(dir / "statcache");
  raw[raw.size() / 2] = static_cast<char>(raw[raw.size() / 2] ^ 1);
  test::write_file(dir / "statcache", raw);
  EXPECT_EQ(StatCache::load(dir / "statcache").size(), 0u);
  EXPECT_EQ(StatCache::load(dir / "missing").size(), 0u);
  test::write_file(dir / "statcache", "TCSC");
  EXPECT_EQ(StatCache::load(dir / "statcache").size(), 0u);
}
