#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>

using namespace treecast;

TEST(Quote, PrintableNamesPassOddOnesAreEscaped)
{
  EXPECT_EQ(util::quote("conf.d/nginx.conf"), "conf.d/nginx.conf");
  EXPECT_EQ(util::quote("with space"), "'with space'");
  EXPECT_EQ(util::quote("new\nline"), "'new\\nline'");
  EXPECT_EQ(util::quote("\xff\xfe"), "'\\xff\\xfe'");
  EXPECT_EQ(util::quote("-dash"), "'-dash'");
  EXPECT_EQ(util::quote("ünïcode"), "ünïcode");
  EXPECT_TRUE(util::valid_utf8("ünïcode"));
  EXPECT_FALSE(util::valid_utf8("\xff"));
}

TEST(AtomicWrite, ReplacesWholeAndLeavesNoTemporary)
{
  test::TempDir dir;
  const std::string path = dir / "ref";
  const std::string a = "1 aaaa\n";
  const std::string b = "2 bbbb\n";
  ASSERT_TRUE(util::write_file_atomic(
    path, {reinterpret_cast<const std::uint8_t*>(a.data()), a.size()}, util::Durability::fsync));
  ASSERT_TRUE(util::write_file_atomic(
    path, {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()}, util::Durability::fsync));
  EXPECT_EQ(test::read_file(path), b);
  auto listing = util::read_file(path, 100);
  ASSERT_TRUE(listing);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(OpenBeneath, RefusesToLeaveTheFolderOrFollowSymlinks)
{
  test::TempDir dir;
  test::make_dir(dir / "root/sub");
  test::write_file(dir / "outside", "secret");
  test::make_symlink("..", dir / "root/up");
  test::make_symlink("sub", dir / "root/link");
  util::Fd root(::open((dir / "root").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(root);
  EXPECT_TRUE(util::open_beneath(root.get(), "sub", O_RDONLY | O_DIRECTORY));
  EXPECT_FALSE(util::open_beneath(root.get(), "../outside", O_RDONLY));
  EXPECT_FALSE(util::open_beneath(root.get(), "up/outside", O_RDONLY));
  EXPECT_FALSE(util::open_beneath(root.get(), "link", O_RDONLY | O_DIRECTORY));
  EXPECT_FALSE(util::open_beneath(root.get(), "/etc/passwd", O_RDONLY));
}

TEST(ReadFile, BoundedAndNamesThePath)
{
  test::TempDir dir;
  test::write_file(dir / "big", std::string(1000, 'x'));
  auto r = util::read_file(dir / "big", 999);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::Errc::data);
  EXPECT_NE(r.error().message.find("big"), std::string::npos);
  auto missing = util::read_file(dir / "nope", 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::Errc::not_found);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos);
}
