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

} // namespace

TEST(StatCache, UnchangedFieldsHit)
{
  StatCache cache(k_start);
  const auto h = util::hash_bytes({});
  cache.insert("a", key(10, 10), h);
  EXPECT_EQ(cache.lookup("a", key(10, 10)), h);
  EXPECT_FALSE(cache.lookup("b", key(10, 10)));
}

TEST(StatCache, AnyChangedFieldMisses)
{
  StatCache cache(k_start);
  cache.insert("a", key(10, 10), {});
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
    EXPECT_FALSE(cache.lookup("a", k)) << "field " << field;
  }
}

TEST(StatCache, RacyEntriesAreNeverTrusted)
{
  // A file modified in the same tick the snapshot began (or later) may
  // change again without its mtime moving: it must be hashed again.
  StatCache cache(k_start);
  cache.insert("same-tick", key(k_start, k_start - 5), {});
  cache.insert("later", key(k_start + 1, k_start + 1), {});
  cache.insert("ctime-racy", key(k_start - 5, k_start), {});
  cache.insert("older", key(k_start - 1, k_start - 1), {});
  EXPECT_FALSE(cache.lookup("same-tick", key(k_start, k_start - 5)));
  EXPECT_FALSE(cache.lookup("later", key(k_start + 1, k_start + 1)));
  EXPECT_FALSE(cache.lookup("ctime-racy", key(k_start - 5, k_start)));
  EXPECT_TRUE(cache.lookup("older", key(k_start - 1, k_start - 1)));
}

TEST(StatCache, SaveLoadAndCorruptFiles)
{
  test::TempDir dir;
  StatCache cache(k_start);
  const auto h = util::hash_bytes({});
  cache.insert("x/y", key(5, 5), h);
  cache.insert("odd\nname", key(6, 6), h);
  ASSERT_TRUE(cache.save(dir / "statcache"));
  const StatCache back = StatCache::load(dir / "statcache");
  EXPECT_EQ(back.size(), 2u);
  EXPECT_EQ(back.start_ns(), k_start);
  EXPECT_EQ(back.lookup("odd\nname", key(6, 6)), h);

  std::string raw = test::read_file(dir / "statcache");
  raw[raw.size() / 2] = static_cast<char>(raw[raw.size() / 2] ^ 1);
  test::write_file(dir / "statcache", raw);
  EXPECT_EQ(StatCache::load(dir / "statcache").size(), 0u);
  EXPECT_EQ(StatCache::load(dir / "missing").size(), 0u);
}
