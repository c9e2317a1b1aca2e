#include "core/snapshot.hpp"
#include "support/objects.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "util/file.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace treecast;
using core::EntryType;

namespace {

class SnapshotTest : public test::StoreTest
{
protected:
  void SetUp() override
  {
    StoreTest::SetUp();
    ASSERT_TRUE(m_store);
    test::make_dir(tree());
  }

  std::string tree() const { return m_dir / "tree"; }

  // Waits (bounded) until the file system's clock has moved past path's
  // ctime, so a snapshot starting now sees the file as settled, not racy.
  void settle(const std::string& path)
  {
    struct stat st
    {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    const std::int64_t ctime = st.st_ctim.tv_sec * 1'000'000'000ll + st.st_ctim.tv_nsec;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto now = util::filesystem_now(m_dir / "clock");
      if (!now) {
        test::write_file(m_dir / "clock", "");
        continue;
      }
      if (*now > ctime) {
        return;
      }
    }
    FAIL() << "the file system clock did not move within 5 s";
  }
  std::string at(const std::string& rel) const { return tree() + "/" + rel; }

  util::Result<core::SnapshotReport> snap(core::SnapshotOptions options = {})
  {
    if (options.channel.empty()) {
      options.channel = "test";
    }
    util::ThreadPool pool(2);
    return core::snapshot(*m_store, tree(), options, pool);
  }

  core::SnapshotReport snap_ok(core::SnapshotOptions options = {})
  {
    auto r = snap(std::move(options));
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(*r) : core::SnapshotReport{};
  }

  std::string content(const util::Hash128& hash) const
  {
    std::string out;
    auto s = m_store->read_object(hash, [&](std::span<const std::uint8_t> d) -> util::Status {
      out.append(reinterpret_cast<const char*>(d.data()), d.size());
      return {};
    });
    EXPECT_TRUE(s) << s.error().message;
    return out;
  }

  std::size_t object_count() const { return test::object_count(*m_store); }
};

} // namespace

TEST_F(SnapshotTest, RecordsFilesFoldersAndSymlinksWithoutFollowingThem)
{
  test::write_file(at("etc/nginx.conf"), "worker_processes 4;\n", 0640);
  test::write_file(at("bin/reload"), "#!/bin/sh\n", 0755);
  test::make_dir(at("empty/nested"), 0700);
  test::make_dir(m_dir / "outside");
  test::write_file(m_dir / "outside/secret", "not in the tree");
  test::make_symlink(m_dir / "outside", at("escape"));
  test::make_symlink("etc/nginx.conf", at("current"));
  test::write_file(at("empty-file"), "");

  const auto r = snap_ok();
  ASSERT_TRUE(r.recorded);
  const auto& m = r.manifest;
  EXPECT_EQ(m.header.number, 1u);
  EXPECT_EQ(m.header.parent, 0u);
  ASSERT_TRUE(m.find("empty/nested"));
  EXPECT_EQ(m.find("empty/nested")->type, EntryType::directory);
  EXPECT_EQ(m.find("empty/nested")->mode, 0700u);
  EXPECT_EQ(m.find("etc/nginx.conf")->mode, 0640u);
  EXPECT_EQ(m.find("bin/reload")->mode, 0755u);
  EXPECT_EQ(content(m.find("etc/nginx.conf")->hash), "worker_processes 4;\n");
  ASSERT_TRUE(m.find("escape"));
  EXPECT_EQ(m.find("escape")->type, EntryType::symlink);
  EXPECT_EQ(m.find("escape")->target, m_dir / "outside");
  EXPECT_FALSE(m.find("escape/secret")); // never followed
  EXPECT_EQ(m.find("current")->target, "etc/nginx.conf");
  EXPECT_EQ(m.find("empty-file")->size, 0u);
  EXPECT_EQ(content(m.find("empty-file")->hash), "");
  EXPECT_EQ(r.changed, m.entries.size());
}

TEST_F(SnapshotTest, OddNamesAreRecordedByteForByte)
{
  const std::vector<std::string> names{"with space",    "new\nline", "\xff\xfe-latin1",
                                       "-leading-dash", "tab\there", "quote'\"",
                                       "ünïcode"};
  for (const auto& name : names) {
    test::write_file(at(name), name);
  }
  const auto r = snap_ok();
  for (const auto& name : names) {
    const auto* e = r.manifest.find(name);
    ASSERT_TRUE(e) << name;
    EXPECT_EQ(content(e->hash), name);
  }
}

TEST_F(SnapshotTest, SpecialFilesAreSkippedWithAWarningNamingEach)
{
  test::write_file(at("real"), "x");
  ASSERT_EQ(::mkfifo(at("fifo").c_str(), 0644), 0);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string socket_path = at("sock");
  ASSERT_LT(socket_path.size(), sizeof addr.sun_path);
  std::copy(socket_path.begin(), socket_path.end(), addr.sun_path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  const auto r = snap_ok();
  ::close(fd);
  EXPECT_TRUE(r.manifest.find("real"));
  EXPECT_FALSE(r.manifest.find("fifo"));
  EXPECT_FALSE(r.manifest.find("sock"));
  ASSERT_EQ(r.warnings.size(), 2u);
  const std::string all = r.warnings[0] + r.warnings[1];
  EXPECT_NE(all.find("skipping FIFO"), std::string::npos) << all;
  EXPECT_NE(all.find("fifo"), std::string::npos);
  EXPECT_NE(all.find("skipping socket"), std::string::npos) << all;
}

TEST_F(SnapshotTest, UnchangedTreeRecordsNothingAndReadsNothing)
{
  test::write_file(at("a"), "1");
  test::write_file(at("b/c"), "2");
  // Files older than the snapshot start, so the stat cache trusts them.
  for (const char* p : {"a", "b/c"}) {
    const timespec old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, at(p).c_str(), old, 0), 0);
  }
  settle(at("b/c"));
  const auto first = snap_ok();
  const auto again = snap_ok();
  EXPECT_FALSE(again.recorded);
  EXPECT_EQ(again.manifest.header.number, 1u);
  EXPECT_EQ(again.manifest.id, first.manifest.id);
  EXPECT_EQ(again.files_read, 0u); // all from the stat cache
  auto versions = m_store->versions("test");
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->size(), 1u);

  // touch: every file hashed again, nothing new stored, no version.
  for (const char* p : {"a", "b/c"}) {
    const timespec newer[2] = {{1'600'000'100, 0}, {1'600'000'100, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, at(p).c_str(), newer, 0), 0);
  }
  const auto objects = object_count();
  const auto touched = snap_ok();
  EXPECT_FALSE(touched.recorded);
  EXPECT_EQ(touched.files_read, 2u);
  EXPECT_EQ(touched.new_objects, 0u);
  EXPECT_EQ(object_count(), objects);
}

TEST_F(SnapshotTest, AStatCacheOfAnotherVersionIsNeverTrusted)
{
  // The cache's records are by position in the manifest they follow: used
  // with another version, "b" would get the fields and hash of "c".
  const timespec old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
  for (const char* p : {"a", "c"}) {
    test::write_file(at(p), p);
    ASSERT_EQ(::utimensat(AT_FDCWD, at(p).c_str(), old, 0), 0);
  }
  settle(at("c"));
  (void)snap_ok();
  const std::string cache = m_dir / "store/channels/test/statcache";
  const std::string v1_cache = test::read_file(cache);
  test::write_file(at("b"), "b");
  ASSERT_EQ(::utimensat(AT_FDCWD, at("b").c_str(), old, 0), 0);
  settle(at("b"));
  const auto v2 = snap_ok();
  ASSERT_TRUE(v2.recorded);

  test::write_file(cache, v1_cache);
  const auto again = snap_ok();
  EXPECT_FALSE(again.recorded);
  EXPECT_EQ(again.manifest.id, v2.manifest.id);
  EXPECT_EQ(again.files_read, 3u) << "a cache of v1 says nothing about v2";
  EXPECT_EQ(snap_ok().files_read, 0u) << "the cache follows v2 again";
}

TEST_F(SnapshotTest, RacyFilesAreHashedEveryTime)
{
  // A file whose mtime is not older than the snapshot's start could change
  // within the same tick unnoticed: the stat cache must not vouch for it.
  test::write_file(at("racy"), "aaaa");
  test::write_file(at("settled"), "bbbb");
  const auto future = std::chrono::system_clock::now() + std::chrono::hours(1);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(future.time_since_epoch());
  const timespec t[2] = {{secs.count(), 0}, {secs.count(), 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, at("racy").c_str(), t, 0), 0);
  const timespec old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, at("settled").c_str(), old, 0), 0);
  settle(at("settled"));
  (void)snap_ok();
  const auto again = snap_ok();
  EXPECT_EQ(again.files_read, 1u); // the racy one only
  const auto third = snap_ok();
  EXPECT_EQ(third.files_read, 1u);
}

TEST_F(SnapshotTest, ChangesAreCountedAndNumbersRise)
{
  test::write_file(at("keep"), "same");
  test::write_file(at("edit"), "old");
  test::write_file(at("gone"), "bye");
  (void)snap_ok();
  test::write_file(at("edit"), "new content");
  std::filesystem::remove(at("gone"));
  test::write_file(at("added"), "hi");
  core::SnapshotOptions options;
  options.message = "second";
  const auto r = snap_ok(options);
  ASSERT_TRUE(r.recorded);
  EXPECT_EQ(r.manifest.header.number, 2u);
  EXPECT_EQ(r.manifest.header.parent, 1u);
  EXPECT_EQ(r.manifest.header.message, "second");
  EXPECT_EQ(r.changed, 3u);
  EXPECT_EQ(r.new_bytes, std::string("new content").size() + 2);
}

TEST_F(SnapshotTest, EqualNewContentIsStoredOnce)
{
  for (int i = 0; i < 20; ++i) {
    test::write_file(at("copy" + std::to_string(i)), std::string(100000, 'z'));
  }
  const auto r = snap_ok();
  EXPECT_EQ(r.new_objects, 1u);
  EXPECT_EQ(object_count(), 1u);
}

TEST_F(SnapshotTest, AFileChangingWhileReadIsReadAgain)
{
  test::write_file(at("busy"), std::string(600000, 'a'));
  core::SnapshotOptions options;
  options.after_first_block = [&](const std::string& path, int attempt) {
    if (path == "busy" && attempt < 2) {
      test::write_file(at("busy"), std::string(600000 + attempt + 1, 'b'));
    }
  };
  const auto r = snap_ok(options);
  const auto* e = r.manifest.find("busy");
  ASSERT_TRUE(e);
  // What is recorded is what was stored, and it is the final content.
  EXPECT_EQ(e->size, 600002u);
  EXPECT_EQ(content(e->hash), std::string(600002, 'b'));
}

TEST_F(SnapshotTest, AFileThatNeverSettlesFailsTheSnapshotNamingIt)
{
  test::write_file(at("steady"), "fine");
  test::write_file(at("log/busy.log"), std::string(600000, 'a'));
  core::SnapshotOptions options;
  options.read_tries = 3;
  int writes = 0;
  options.after_first_block = [&](const std::string& path, int) {
    if (path == "log/busy.log") {
      test::write_file(at("log/busy.log"), std::string(600000 + ++writes, 'c'));
    }
  };
  auto r = snap(options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::Errc::io);
  EXPECT_NE(r.error().message.find("log/busy.log"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("changed while it was read"), std::string::npos);
  // All or nothing: no version, no objects, no temporary files.
  auto latest = m_store->latest("test");
  ASSERT_TRUE(latest);
  EXPECT_FALSE(*latest);
  EXPECT_EQ(object_count(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(m_dir / "store/tmp"));
}

TEST_F(SnapshotTest, OfSeveralFailingFilesTheErrorNamesTheFirstByPath)
{
  // Files are read largest first; the error a user sees must not depend on
  // that order, nor on which thread got there first.
  test::write_file(at("a-small.log"), std::string(1000, 'a'));
  test::write_file(at("z-large.log"), std::string(900000, 'z'));
  core::SnapshotOptions options;
  options.read_tries = 2;
  std::mutex mutex;
  int writes = 0;
  options.after_first_block = [&](const std::string& path, int) {
    std::lock_guard lock(mutex);
    test::write_file(at(path), std::string(path == "a-small.log" ? 1000 : 900000, 'x') +
                                 std::string(static_cast<std::size_t>(++writes), 'y'));
  };
  for (int round = 0; round < 3; ++round) {
    auto r = snap(options);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("a-small.log"), std::string::npos) << r.error().message;
  }
}

TEST_F(SnapshotTest, RewrittenSameSizeFileIsStoredAfterItsHashTurnsOutNew)
{
  test::write_file(at("conf"), "value=1\n");
  (void)snap_ok();
  test::write_file(at("conf"), "value=2\n"); // same size: hashed first, then stored
  const auto r = snap_ok();
  ASSERT_TRUE(r.recorded);
  EXPECT_EQ(r.new_objects, 1u);
  EXPECT_EQ(content(r.manifest.find("conf")->hash), "value=2\n");
}

TEST_F(SnapshotTest, ExcludesAndStoresInsideTheTreeAreLeftOut)
{
  test::write_file(at("a.conf"), "a");
  test::write_file(at("a.conf.swp"), "junk");
  test::write_file(at("cache/x"), "junk");
  test::write_file(at("state/.treecast-state"), "");
  test::write_file(at("state/current"), "v1");
  auto inner = core::Store::open(at("inner-store"), core::Create::yes);
  ASSERT_TRUE(inner);
  core::SnapshotOptions options;
  options.excludes = {"*.swp", "cache/"};
  const auto r = snap_ok(options);
  EXPECT_TRUE(r.manifest.find("a.conf"));
  EXPECT_FALSE(r.manifest.find("a.conf.swp"));
  EXPECT_FALSE(r.manifest.find("cache"));
  EXPECT_FALSE(r.manifest.find("cache/x"));
  EXPECT_FALSE(r.manifest.find("state"));
  EXPECT_FALSE(r.manifest.find("inner-store"));
}

TEST_F(SnapshotTest, SparseGigabyteFileIsRecordedWithoutHoldingItInMemory)
{
  const std::string path = at("sparse.img");
  {
    test::write_file(path, "");
    ASSERT_EQ(::truncate(path.c_str(), 1ll << 30), 0);
  }
  const auto r = snap_ok();
  const auto* e = r.manifest.find("sparse.img");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->size, 1ull << 30);
  auto size = m_store->object_size(e->hash);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 1ull << 30);
  EXPECT_LT(test::object_bytes(*m_store, e->hash).length, 1u << 20);
}

TEST_F(SnapshotTest, SerialAndParallelSnapshotsAgree)
{
  std::mt19937_64 rng(7);
  test::random_tree(tree() + "/r", rng, 150);
  util::SerialExecutor serial;
  core::SnapshotOptions options;
  options.channel = "serial";
  auto a = core::snapshot(*m_store, tree(), options, serial);
  ASSERT_TRUE(a) << a.error().message;
  options.channel = "parallel";
  util::ThreadPool pool(2);
  auto b = core::snapshot(*m_store, tree(), options, pool);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->manifest.id, b->manifest.id);
  options.channel = "more-threads-than-cores";
  util::ThreadPool wide(5);
  auto wider = core::snapshot(*m_store, tree(), options, wide);
  ASSERT_TRUE(wider);
  EXPECT_EQ(wider->manifest.id, a->manifest.id);
  // Every recorded hash matches the stored content.
  for (const auto& e : b->manifest.entries) {
    if (e.type == EntryType::file) {
      const std::string c = content(e.hash);
      EXPECT_EQ(c.size(), e.size);
      EXPECT_EQ(util::hash_bytes({reinterpret_cast<const std::uint8_t*>(c.data()), c.size()}),
                e.hash);
    }
  }
}

TEST_F(SnapshotTest, InvalidChannelOrMissingTree)
{
  core::SnapshotOptions options;
  options.channel = "../evil";
  auto r = snap(options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::Errc::usage);

  util::SerialExecutor serial;
  options.channel = "ok";
  auto missing = core::snapshot(*m_store, m_dir / "nope", options, serial);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::Errc::io);
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
}

TEST_F(SnapshotTest, ASnapshotThatRecordsNothingShowsTheVersionTheTreeWouldBe)
{
  test::write_file(at("a"), "1");
  const auto first = snap_ok();
  test::write_file(at("a"), "2");
  test::write_file(at("new"), "3");
  core::SnapshotOptions dry;
  dry.record = false;
  const auto would = snap_ok(dry);
  EXPECT_FALSE(would.recorded);
  EXPECT_EQ(would.manifest.header.number, 2u);
  EXPECT_NE(would.manifest.id, first.manifest.id);
  EXPECT_EQ(would.changed, 2u);
  // Its content is stored (a delta to it can be made) ...
  ASSERT_NE(would.manifest.find("new"), nullptr);
  EXPECT_EQ(content(would.manifest.find("new")->hash), "3");
  // ... but the channel still ends at version 1.
  auto versions = m_store->versions("test");
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->size(), 1u);
  // The real snapshot afterwards records the same tree as version 2.
  const auto real = snap_ok();
  EXPECT_TRUE(real.recorded);
  EXPECT_EQ(real.manifest.id, would.manifest.id);
  EXPECT_EQ(real.manifest.header.number, 2u);
}
