#include "core/delta.hpp"
#include "support/store_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

using namespace treecast;
using test::make_dir;
using test::noise;
using test::write_file;

namespace {

std::string text(const std::vector<std::uint8_t>& bytes)
{
  return {bytes.begin(), bytes.end()};
}

// Lines of text that change a little from one seed to the next.
std::string config(int lines, int seed)
{
  std::string out;
  for (int i = 0; i < lines; ++i) {
    out += "option_" + std::to_string(i) + " = " + std::to_string((i * 7919 + seed) % 1000) + "\n";
  }
  return out;
}

// The follower's side, in memory: A's contents from the store, B's new
// files collected.
class MemoryTarget final : public core::DeltaTarget
{
public:
  MemoryTarget(const core::Store& store, const core::Manifest& from) : m_store(store), m_from(from)
  {
  }

  util::Result<std::span<const std::uint8_t>> base(std::size_t index, std::uint64_t offset,
                                                   std::uint64_t length) override
  {
    m_base.clear();
    auto s = m_store.read_object(m_from.entries[index].hash, [&](std::span<const std::uint8_t> d) {
      m_base.insert(m_base.end(), d.begin(), d.end());
      return util::Status{};
    });
    if (!s) {
      return s.error();
    }
    return std::span<const std::uint8_t>(m_base).subspan(offset, length);
  }
  util::Status begin_file(std::size_t index) override
  {
    m_current = index;
    m_files[index].clear();
    return {};
  }
  util::Status write(std::span<const std::uint8_t> data) override
  {
    auto& out = m_files[m_current];
    out.insert(out.end(), data.begin(), data.end());
    return {};
  }
  util::Status end_file(std::size_t) override { return {}; }

  std::map<std::size_t, std::vector<std::uint8_t>> m_files;

private:
  const core::Store& m_store;
  const core::Manifest& m_from;
  std::vector<std::uint8_t> m_base;
  std::size_t m_current = 0;
};

class DeltaTest : public test::StoreTest
{
protected:
  std::vector<std::uint8_t> make(const core::Manifest& from, const core::Manifest& to,
                                 core::DeltaReport* report = nullptr)
  {
    std::vector<std::uint8_t> out;
    util::ThreadPool pool(2);
    auto r = core::make_delta(*m_store, from, to, {}, pool, [&](std::span<const std::uint8_t> d) {
      out.insert(out.end(), d.begin(), d.end());
      return util::Status{};
    });
    EXPECT_TRUE(r) << r.error().message;
    if (r && report != nullptr) {
      *report = *r;
    }
    if (r) {
      EXPECT_EQ(r->delta_bytes, out.size());
    }
    return out;
  }

  // Reads delta against from; on success the rebuilt manifest and files.
  util::Result<core::Manifest> apply(const std::vector<std::uint8_t>& delta,
                                     const core::Manifest& from, MemoryTarget& target,
                                     std::size_t read_size = 4093)
  {
    std::size_t at = 0;
    core::DeltaReader reader(
      [&](std::span<std::uint8_t> buffer) -> util::Result<std::size_t> {
        // Small reads, so records straddle them.
        const std::size_t n = std::min<std::size_t>({buffer.size(), delta.size() - at, read_size});
        std::copy_n(delta.begin() + static_cast<std::ptrdiff_t>(at), n, buffer.begin());
        at += n;
        return n;
      },
      "test.delta");
    auto header = reader.read_header();
    if (!header) {
      return header.error();
    }
    auto to = reader.read_manifest(from);
    if (!to) {
      return to.error();
    }
    if (auto s = reader.read_payload(from, *to, target); !s) {
      return s.error();
    }
    return to;
  }

  // Applies the delta and checks that every file of to is either held by
  // from or was written with exactly its content.
  void expect_round_trip(const core::Manifest& from, const core::Manifest& to,
                         const std::vector<std::uint8_t>& delta)
  {
    MemoryTarget target(*m_store, from);
    auto built = apply(delta, from, target);
    ASSERT_TRUE(built) << built.error().message;
    EXPECT_EQ(built->id, to.id);
    EXPECT_EQ(core::encode(*built), core::encode(to));
    for (auto& [index, bytes] : target.m_files) {
      EXPECT_EQ(util::hash_bytes(bytes), to.entries[index].hash) << to.entries[index].path;
    }
  }
};

TEST_F(DeltaTest, SmallEditsRenamesAndRemovalsRoundTrip)
{
  const std::string tree = m_dir / "tree";
  write_file(tree + "/nginx/nginx.conf", config(300, 1));
  write_file(tree + "/nginx/sites/a.conf", config(100, 2));
  write_file(tree + "/nginx/sites/b.conf", config(120, 3));
  write_file(tree + "/certs/site.pem", std::string(2000, 'p'));
  write_file(tree + "/old-name.txt", config(50, 9));
  make_dir(tree + "/empty");
  const core::Manifest a = snapshot_of(tree);

  write_file(tree + "/nginx/nginx.conf", config(300, 1) + "worker_processes 4;\n");
  write_file(tree + "/nginx/sites/a.conf", config(100, 5));
  make_dir(tree + "/moved");
  std::filesystem::rename(tree + "/old-name.txt", tree + "/moved/new-name.txt");
  std::filesystem::remove(tree + "/certs/site.pem");
  std::filesystem::permissions(tree + "/nginx/sites/b.conf", std::filesystem::perms(0600));
  write_file(tree + "/nginx/sites/c.conf", config(110, 4));
  write_file(tree + "/empty.txt", "");
  const core::Manifest b = snapshot_of(tree);

  core::DeltaReport report;
  const auto delta = make(a, b, &report);
  expect_round_trip(a, b, delta);
  // The rename, the mode change and the removal cost no payload; the three
  // edited or new files share one frame.
  EXPECT_EQ(report.header.new_files, 3U);
  EXPECT_EQ(report.frames, 1U);
  EXPECT_EQ(report.copies, 0U);
  EXPECT_LT(delta.size(), 2000U);
}

TEST_F(DeltaTest, AMovedFolderCostsItsNewPathsOnly)
{
  // 200 files of distinct content and 20 symlinks, moved to another
  // folder: each new path starts from the entry it was moved from, so no
  // content hash (16 bytes a file) is sent, and no payload.
  const std::string tree = m_dir / "tree";
  for (int i = 0; i < 200; ++i) {
    write_file(tree + "/app/conf.d/site-" + std::to_string(i) + ".conf", config(20, i));
  }
  for (int i = 0; i < 20; ++i) {
    std::filesystem::create_symlink("site-" + std::to_string(i) + ".conf",
                                    tree + "/app/conf.d/link-" + std::to_string(i));
  }
  const core::Manifest a = snapshot_of(tree);
  make_dir(tree + "/srv");
  std::filesystem::rename(tree + "/app/conf.d", tree + "/srv/conf.d");
  const core::Manifest b = snapshot_of(tree);

  core::DeltaReport report;
  const auto delta = make(a, b, &report);
  expect_round_trip(a, b, delta);
  EXPECT_EQ(report.header.new_files, 0U);
  EXPECT_EQ(report.frames, 0U);
  EXPECT_LT(delta.size(), 220U * 4) << "a moved entry costs more than its path";
}

TEST_F(DeltaTest, SameInputsGiveTheSameBytes)
{
  const std::string tree = m_dir / "tree";
  std::mt19937_64 rng(7);
  test::random_tree(tree, rng, 60);
  const core::Manifest a = snapshot_of(tree);
  write_file(tree + "/added.bin", text(noise(100000, 3)));
  const core::Manifest b = snapshot_of(tree);
  EXPECT_EQ(make(a, b), make(a, b));
}

TEST_F(DeltaTest, FromNothingBuildsTheWholeVersion)
{
  const std::string tree = m_dir / "tree";
  std::mt19937_64 rng(11);
  test::random_tree(tree, rng, 80);
  const core::Manifest b = snapshot_of(tree);
  const auto delta = make(core::Manifest{}, b);
  expect_round_trip(core::Manifest{}, b, delta);
}

TEST_F(DeltaTest, LargeFileIsChunkedAndMostlyCopied)
{
  const std::string tree = m_dir / "tree";
  std::string big = text(noise(40 << 20, 5));
  write_file(tree + "/disk.img", big);
  const core::Manifest a = snapshot_of(tree);
  // An insertion near the start and scattered edits.
  big.insert(1000, "inserted bytes");
  for (std::size_t at = 3 << 20; at < big.size(); at += 7 << 20) {
    big[at] ^= 0x55;
  }
  write_file(tree + "/disk.img", big);
  const core::Manifest b = snapshot_of(tree);

  core::DeltaReport report;
  const auto delta = make(a, b, &report);
  expect_round_trip(a, b, delta);
  // The unchanged parts are copied from the base, inside the frames that
  // hold the edits.
  EXPECT_GT(report.copied_bytes, std::uint64_t{35} << 20);
  EXPECT_EQ(report.frames, 1U);
  EXPECT_LT(delta.size(), 64U * 1024);
}

TEST_F(DeltaTest, ContentFromSeveralOldFilesIsPatchedAgainstThemAll)
{
  // Two bundles merged into one under a new name: its bases are found by
  // content, not by name.
  const std::string tree = m_dir / "tree";
  const std::string one = text(noise(700 * 1024, 1));
  const std::string two = text(noise(900 * 1024, 2));
  write_file(tree + "/lib/server.js", one);
  write_file(tree + "/lib/compiler.js", two);
  const core::Manifest a = snapshot_of(tree);
  write_file(tree + "/lib/bundle.js", two.substr(0, 500 * 1024) + "// glue\n" + one);
  const core::Manifest b = snapshot_of(tree);

  const auto delta = make(a, b);
  expect_round_trip(a, b, delta);
  EXPECT_LT(delta.size(), 8U * 1024);
}

TEST_F(DeltaTest, RefusesADeltaForAnotherBase)
{
  const std::string tree = m_dir / "tree";
  write_file(tree + "/f", "one");
  const core::Manifest a = snapshot_of(tree);
  write_file(tree + "/f", "two");
  const core::Manifest b = snapshot_of(tree);
  write_file(tree + "/f", "three");
  const core::Manifest c = snapshot_of(tree);
  const auto delta = make(b, c);
  MemoryTarget target(*m_store, a);
  auto built = apply(delta, a, target);
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().code, util::Errc::conflict);
  EXPECT_NE(built.error().message.find("goes from v2"), std::string::npos) << built.error().message;
}

TEST_F(DeltaTest, ReadsOfAnySizeGiveTheSameResult)
{
  // A pipe or a socket may hand over one byte at a time, splitting every
  // header and frame.
  const std::string tree = m_dir / "tree";
  write_file(tree + "/a.conf", config(300, 1));
  write_file(tree + "/big.bin", text(noise(700 * 1024, 8)));
  const core::Manifest a = snapshot_of(tree);
  write_file(tree + "/a.conf", config(300, 2));
  write_file(tree + "/big.bin", text(noise(700 * 1024, 8)) + "tail");
  const core::Manifest b = snapshot_of(tree);
  const auto delta = make(a, b);
  for (const std::size_t read_size : {std::size_t{1}, std::size_t{2}, std::size_t{17}}) {
    MemoryTarget target(*m_store, a);
    auto built = apply(delta, a, target, read_size);
    ASSERT_TRUE(built) << "reads of " << read_size << ": " << built.error().message;
    EXPECT_EQ(built->id, b.id);
  }
}

TEST_F(DeltaTest, ALengthNotInItsShortestFormIsRefused)
{
  const std::string tree = m_dir / "tree";
  write_file(tree + "/f", "one");
  const core::Manifest a = snapshot_of(tree);
  write_file(tree + "/f", "two");
  const core::Manifest b = snapshot_of(tree);
  auto delta = make(a, b);
  // The HEADER's length (one byte at offset 6) written as two.
  ASSERT_LT(delta[6], 0x80);
  delta[6] |= 0x80;
  delta.insert(delta.begin() + 7, 0x00);
  MemoryTarget target(*m_store, a);
  auto built = apply(delta, a, target);
  ASSERT_FALSE(built);
  EXPECT_NE(built.error().message.find("malformed varint"), std::string::npos)
    << built.error().message;
}

TEST_F(DeltaTest, EveryFlippedOrTruncatedByteIsRefused)
{
  const std::string tree = m_dir / "tree";
  write_file(tree + "/a.conf", config(200, 1));
  write_file(tree + "/b.conf", config(200, 2));
  const core::Manifest a = snapshot_of(tree);
  write_file(tree + "/a.conf", config(200, 3));
  write_file(tree + "/c.conf", config(50, 4));
  const core::Manifest b = snapshot_of(tree);
  const auto delta = make(a, b);
  ASSERT_GT(delta.size(), 100U);

  for (std::size_t at = 0; at < delta.size(); ++at) {
    auto flipped = delta;
    flipped[at] ^= 0x10;
    MemoryTarget target(*m_store, a);
    auto built = apply(flipped, a, target);
    ASSERT_FALSE(built) << "flipping byte " << at << " went unnoticed";
    EXPECT_TRUE(built.error().code == util::Errc::data ||
                built.error().code == util::Errc::conflict)
      << built.error().message;
  }
  for (std::size_t size = 0; size < delta.size(); size += 7) {
    const std::vector<std::uint8_t> cut(delta.begin(),
                                        delta.begin() + static_cast<std::ptrdiff_t>(size));
    MemoryTarget target(*m_store, a);
    auto built = apply(cut, a, target);
    ASSERT_FALSE(built) << "a delta cut to " << size << " bytes was accepted";
    EXPECT_EQ(built.error().code, util::Errc::data) << built.error().message;
  }
}

} // namespace
