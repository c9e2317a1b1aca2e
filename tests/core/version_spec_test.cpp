#include "core/version_spec.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

using namespace treecast;

namespace {

class VersionSpecTest : public test::StoreTest
{
protected:
  void SetUp() override
  {
    StoreTest::SetUp();
    ASSERT_TRUE(m_store);
    for (std::uint64_t n = 1; n <= 4; ++n) {
      core::Manifest m;
      m.header = {"c", n, n - 1, 0, ""};
      m.entries = {core::Entry{
        "f" + std::to_string(n), core::EntryType::file, 0644, 0, 0, "", "", 0, {}, {}, 0}};
      core::finalize(m);
      ids.push_back(m.id);
      ASSERT_TRUE(m_store->add_version(m));
    }
  }

  util::Result<std::uint64_t> resolve(std::string_view spec)
  {
    return core::resolve_version(*m_store, "c", spec);
  }

  std::vector<util::Hash128> ids;
};

} // namespace

TEST_F(VersionSpecTest, NumbersLatestAndPrefixes)
{
  EXPECT_EQ(*resolve("v3"), 3u);
  EXPECT_EQ(*resolve("2"), 2u);
  EXPECT_EQ(*resolve("latest"), 4u);
  EXPECT_EQ(*resolve("latest~0"), 4u);
  EXPECT_EQ(*resolve("latest~3"), 1u);
  EXPECT_EQ(*resolve(ids[1].hex().substr(0, 8)), 2u);
  EXPECT_EQ(*resolve(ids[2].hex()), 3u);
}

TEST_F(VersionSpecTest, ErrorsSayWhatIsWrong)
{
  auto too_far = resolve("latest~4");
  ASSERT_FALSE(too_far);
  EXPECT_EQ(too_far.error().code, util::Errc::not_found);
  EXPECT_NE(too_far.error().message.find("not that many"), std::string::npos);

  auto missing = resolve("v9");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::Errc::not_found);

  auto junk = resolve("yesterday");
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().code, util::Errc::usage);

  auto bad_tilde = resolve("latest~x");
  ASSERT_FALSE(bad_tilde);
  EXPECT_EQ(bad_tilde.error().code, util::Errc::usage);

  auto unknown_id = resolve("ffffffffffff");
  if (!ids[0].hex().starts_with("ffff") && !ids[1].hex().starts_with("ffff") &&
      !ids[2].hex().starts_with("ffff") && !ids[3].hex().starts_with("ffff")) {
    ASSERT_FALSE(unknown_id);
    EXPECT_EQ(unknown_id.error().code, util::Errc::not_found);
  }
}
