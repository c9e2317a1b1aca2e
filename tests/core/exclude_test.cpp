#include "core/exclude.hpp"

#include <gtest/gtest.h>

using treecast::core::ExcludeList;

TEST(Exclude, NamesMatchAtAnyDepth)
{
  const ExcludeList list({"*.swp"});
  EXPECT_TRUE(list.excluded("a.swp", false));
  EXPECT_TRUE(list.excluded("conf.d/deep/b.swp", false));
  EXPECT_FALSE(list.excluded("a.swp.bak", false));
}

TEST(Exclude, PathsWithSlashAreAnchored)
{
  const ExcludeList list({"logs/*.gz", "/cache"});
  EXPECT_TRUE(list.excluded("logs/a.gz", false));
  EXPECT_FALSE(list.excluded("x/logs/a.gz", false));
  EXPECT_FALSE(list.excluded("logs/sub/a.gz", false)); // '*' does not cross '/'
  EXPECT_TRUE(list.excluded("cache", true));
  EXPECT_FALSE(list.excluded("x/cache", true));
}

TEST(Exclude, TrailingSlashMeansFoldersOnly)
{
  const ExcludeList list({"tmp/"});
  EXPECT_TRUE(list.excluded("tmp", true));
  EXPECT_TRUE(list.excluded("a/tmp", true));
  EXPECT_FALSE(list.excluded("tmp", false));
}
