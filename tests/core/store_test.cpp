#include "core/store.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

using namespace treecast;

namespace {

std::span<const std::uint8_t> bytes(const std::string& s)
{
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::size_t files_under(const std::string& dir)
{
  std::size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    n += e.is_regular_file() ? 1 : 0;
  }
  return n;
}

core::Store open_store(const test::TempDir& dir)
{
  auto store = core::Store::open(dir / "store", core::Create::yes);
  EXPECT_TRUE(store) << store.error().message;
  return std::move(*store);
}

util::Hash128 put(const core::Store& store, const std::string& content)
{
  auto writer = store.new_object(3);
  EXPECT_TRUE(writer);
  EXPECT_TRUE(writer->write(bytes(content)));
  auto pending = writer->finish();
  EXPECT_TRUE(pending);
  EXPECT_TRUE(store.publish({*pending}));
  return pending->hash;
}

std::string get(const core::Store& store, const util::Hash128& hash, util::Status* status = nullptr)
{
  std::string out;
  auto s = store.read_object(hash, [&](std::span<const std::uint8_t> d) -> util::Status {
    out.append(reinterpret_cast<const char*>(d.data()), d.size());
    return {};
  });
  if (status != nullptr) {
    *status = s;
  }
  return out;
}

} // namespace

TEST(Store, ObjectsRoundTripKeyedByContentHash)
{
  test::TempDir dir;
  const auto store = open_store(dir);
  const std::string content(300000, 'q');
  const auto hash = put(store, content);
  EXPECT_EQ(hash, util::hash_bytes(bytes(content)));
  EXPECT_TRUE(store.has_object(hash));
  EXPECT_EQ(get(store, hash), content);
  auto size = store.object_size(hash);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, content.size());
  // Stored compressed.
  EXPECT_LT(std::filesystem::file_size(store.object_path(hash)), 10000u);
}

TEST(Store, AnUnpublishedObjectIsNeverVisible)
{
  test::TempDir dir;
  const auto store = open_store(dir);
  {
    auto writer = store.new_object(3);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->write(bytes("half written")));
    // Dropped without finish(): its temporary file goes too.
  }
  EXPECT_EQ(files_under(dir / "store/tmp"), 0u);
  EXPECT_FALSE(store.has_object(util::hash_bytes(bytes("half written"))));
}

TEST(Store, AProcessKilledBetweenWriteAndRenameLeavesNoVisibleObject)
{
  test::TempDir dir;
  const auto store = open_store(dir);
  const std::string content = "written, then killed before the rename";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto writer = store.new_object(3);
    if (!writer || !writer->write(bytes(content))) {
      ::_exit(2);
    }
    auto pending = writer->finish();
    ::kill(::getpid(), SIGKILL); // before publish()
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(store.has_object(util::hash_bytes(bytes(content))));
  EXPECT_EQ(files_under(dir / "store/objects"), 0u);
  EXPECT_EQ(files_under(dir / "store/tmp"), 1u); // gc's to remove
}

TEST(Store, ACorruptObjectIsAnErrorNamingIt)
{
  test::TempDir dir;
  const auto store = open_store(dir);
  std::string content;
  for (int i = 0; i < 20000; ++i) {
    content += std::to_string(i * 7919);
  }
  const auto hash = put(store, content);
  const std::string path = store.object_path(hash);
  std::string raw = test::read_file(path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);

  // A flipped byte in the compressed body.
  std::string flipped = raw;
  flipped[raw.size() / 2] = static_cast<char>(flipped[raw.size() / 2] ^ 0x10);
  test::write_file(path, flipped);
  util::Status status;
  (void)get(store, hash, &status);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, util::Errc::data);
  EXPECT_NE(status.error().message.find("object " + hash.hex()), std::string::npos);
  EXPECT_NE(status.error().message.find("corrupt"), std::string::npos);

  // Truncated.
  test::write_file(path, raw.substr(0, raw.size() - 10));
  (void)get(store, hash, &status);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("corrupt"), std::string::npos);

  // Another object's content under this name.
  const auto other = put(store, "other content");
  test::write_file(path, test::read_file(store.object_path(other)));
  (void)get(store, hash, &status);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("header names another object"), std::string::npos);

  // Missing.
  std::filesystem::remove(path);
  (void)get(store, hash, &status);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("missing"), std::string::npos);
}

TEST(Store, VersionsAndRefs)
{
  test::TempDir dir;
  const auto store = open_store(dir);
  auto none = store.latest("nginx");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  core::Manifest m;
  m.header = {"nginx", 1, 0, 5, "first"};
  core::finalize(m);
  ASSERT_TRUE(store.add_version(m));
  auto latest = store.latest("nginx");
  ASSERT_TRUE(latest && *latest);
  EXPECT_EQ((*latest)->number, 1u);
  EXPECT_EQ((*latest)->id, m.id);
  auto back = store.read_manifest("nginx", 1);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->header.message, "first");
  auto missing = store.read_manifest("nginx", 2);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::Errc::not_found);

  test::write_file(dir / "store/channels/nginx/latest", "garbage");
  auto bad = store.latest("nginx");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("malformed ref"), std::string::npos);
}

TEST(Store, ANewStoreIsPrivateToItsOwner)
{
  test::TempDir dir;
  const auto store = open_store(dir);
  EXPECT_EQ(std::filesystem::status(dir / "store").permissions(),
            std::filesystem::perms::owner_all);
}

TEST(Store, OpeningAFolderThatIsNotAStore)
{
  test::TempDir dir;
  test::make_dir(dir / "plain");
  auto r = core::Store::open(dir / "plain", core::Create::no);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::Errc::not_found);
  EXPECT_NE(r.error().message.find("not a treecast store"), std::string::npos);
}
