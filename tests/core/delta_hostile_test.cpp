// Hostile deltas: built record by record (support/raw_delta), each one
// refused with a clear error, the follower's tree left exactly as it was,
// and nothing written outside it.

#include "core/follower.hpp"
#include "support/raw_delta.hpp"
#include "support/store_fixture.hpp"
#include "support/tree.hpp"
#include "util/bytes.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>

using namespace treecast;
namespace fs = std::filesystem;
using test::write_file;

namespace {

class HostileDeltaTest : public test::StoreTest
{
protected:
  void SetUp() override
  {
    StoreTest::SetUp();
    const std::string tree = m_dir / "tree";
    write_file(tree + "/etc/app.conf", "mode = one\n");
    write_file(tree + "/etc/other.conf", "other\n");
    m_a = snapshot_of(tree);
    fs::copy(tree, m_dir / "pristine", fs::copy_options::recursive);
    m_follower = m_dir / "follower";
    auto done = core::checkout(*m_store, m_a, m_follower, core::Owners::keep);
    ASSERT_TRUE(done) << done.error().message;
    auto f = core::Follower::open(m_follower, "", core::Create::yes);
    ASSERT_TRUE(f) << f.error().message;
    util::SerialExecutor serial;
    ASSERT_TRUE(f->record(m_a, core::Owners::keep, serial));
  }

  // B's header after A, with the given entries.
  core::Manifest next(std::vector<core::Entry> entries) const
  {
    core::Manifest b;
    b.header = m_a.header;
    b.header.number = m_a.header.number + 1;
    b.header.parent = m_a.header.number;
    b.entries = std::move(entries);
    b.id = core::compute_id(b.entries);
    return b;
  }

  // A with one more file, etc/zzz (entry 3: etc, etc/app.conf,
  // etc/other.conf, etc/zzz), which the payload is to write.
  core::Manifest with_zzz(const std::string& content) const
  {
    core::Manifest b = m_a;
    b.header.number += 1;
    b.header.parent = m_a.header.number;
    b.entries.push_back(file("etc/zzz", content));
    core::finalize(b);
    return b;
  }

  core::Entry file(const std::string& path, const std::string& content) const
  {
    core::Entry e = *m_a.find("etc/app.conf");
    e.path = path;
    e.size = content.size();
    e.hash =
      util::hash_bytes({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
    return e;
  }

  // Applies bytes to the follower; the error it gives.
  util::Error refused(const std::vector<std::uint8_t>& bytes)
  {
    const std::string path = m_dir / "hostile.delta";
    write_file(path, std::string(bytes.begin(), bytes.end()));
    util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    core::DeltaReader reader(std::move(*core::file_source(fd)), path);
    auto header = reader.read_header();
    if (!header) {
      return header.error();
    }
    auto f = core::Follower::open(m_follower, "", core::Create::yes);
    EXPECT_TRUE(f);
    util::SerialExecutor serial;
    auto r = f->apply(reader, *header, core::Owners::keep, core::CommitMode::atomic, serial);
    EXPECT_FALSE(r) << "the hostile delta was applied";
    return r ? util::make_error(util::Errc::usage, "applied") : r.error();
  }

  void expect_untouched()
  {
    EXPECT_EQ(test::compare_trees(m_dir / "pristine", m_follower), "");
    EXPECT_FALSE(fs::exists(m_dir / "escape"));
    EXPECT_FALSE(fs::exists(m_dir / "outside/evil"));
    EXPECT_FALSE(fs::exists(m_dir / ".follower.treecast/stage"));
  }

  core::Manifest m_a;
  std::string m_follower;
};

void expect_data_error(const util::Error& error, const std::string& says)
{
  EXPECT_EQ(error.code, util::Errc::data) << error.message;
  EXPECT_NE(error.message.find(says), std::string::npos) << error.message;
}

TEST_F(HostileDeltaTest, PathsThatLeaveTheTreeAreRefused)
{
  for (const std::string path : {"../escape", "/tmp/treecast-escape", "etc/../../escape"}) {
    core::Manifest changed = next({file(path, "evil\n")});
    test::RawDelta raw(m_a, changed, 5, 1);
    raw.manifest(m_a, changed);
    expect_data_error(refused(raw.finish()), "path");
    expect_untouched();
  }
}

TEST_F(HostileDeltaTest, WritingThroughASymlinkIsRefused)
{
  fs::create_directories(m_dir / "outside");
  core::Entry link = *m_a.find("etc/app.conf");
  link.path = "out";
  link.type = core::EntryType::symlink;
  link.size = 0;
  link.hash = {};
  link.target = m_dir / "outside";
  core::Manifest changed = next({link, file("out/evil", "evil\n")});
  test::RawDelta raw(m_a, changed, 5, 1);
  raw.manifest(m_a, changed);
  expect_data_error(refused(raw.finish()), "is not under a folder of the manifest");
  expect_untouched();
}

TEST_F(HostileDeltaTest, ASymlinkPutInTheTreeByHandIsDriftNotAPath)
{
  // etc/ replaced by a symlink to a folder outside: apply must not follow it.
  fs::create_directories(m_dir / "outside");
  fs::rename(m_follower + "/etc", m_dir / "moved-etc");
  fs::create_directory_symlink(m_dir / "outside", m_follower + "/etc");
  core::Manifest b = m_a;
  b.header.number += 1;
  b.header.parent = m_a.header.number;
  b.entries[1] = file("etc/app.conf", "evil\n");
  b.id = core::compute_id(b.entries);
  test::RawDelta raw(m_a, b, 5, 1);
  raw.manifest(m_a, b, {"etc/app.conf"});
  raw.frame({{1, 5}}, util::zstd_compress(std::vector<std::uint8_t>{'e', 'v', 'i', 'l', '\n'}, 3));
  const util::Error error = refused(raw.finish());
  EXPECT_EQ(error.code, util::Errc::conflict) << error.message;
  EXPECT_NE(error.message.find("has drifted"), std::string::npos) << error.message;
  EXPECT_TRUE(fs::is_empty(m_dir / "outside"));
}

TEST_F(HostileDeltaTest, DuplicatePathsAreRefused)
{
  // A path A holds is named by its index, which only grows: a duplicate
  // can only be a new path.
  core::Manifest changed = m_a;
  changed.header.number += 1;
  changed.header.parent = m_a.header.number;
  changed.entries.push_back(file("etc/new", "one\n"));
  changed.entries.push_back(file("etc/new", "two\n"));
  changed.id = core::compute_id(changed.entries);
  test::RawDelta raw(m_a, changed, 8, 2);
  raw.manifest(m_a, changed);
  expect_data_error(refused(raw.finish()), "duplicate path");
  expect_untouched();
}

TEST_F(HostileDeltaTest, AnImpossibleSizeIsRefused)
{
  core::Entry huge = file("etc/huge", "x");
  huge.size = std::uint64_t{1} << 63;
  core::Manifest changed = next({m_a.entries[0], huge});
  // In the header's byte count, and in a manifest entry.
  test::RawDelta counted(m_a, changed, huge.size, 1);
  counted.manifest(m_a, changed);
  expect_data_error(refused(counted.finish()), "bytes to write is 9223372036854775808");
  expect_untouched();
  test::RawDelta listed(m_a, changed, 1, 1);
  listed.manifest(m_a, changed);
  expect_data_error(refused(listed.finish()), "size");
  expect_untouched();
}

TEST_F(HostileDeltaTest, ADecompressionBombIsRefusedBeforeItExpands)
{
  // One new file of 1000 bytes, and a frame that would decode to 64 MiB.
  const std::string content(1000, 'z');
  const core::Manifest b = with_zzz(content);
  const std::size_t index = 3; // etc, etc/app.conf, etc/other.conf, etc/zzz
  ASSERT_EQ(b.entries[index].path, "etc/zzz");
  const auto bomb = util::zstd_compress(std::vector<std::uint8_t>(64 << 20, 0), 19);
  ASSERT_LT(bomb.size(), 64U * 1024);

  test::RawDelta lying(m_a, b, 1000, 1);
  lying.manifest(m_a, b, {"etc/zzz"});
  lying.frame({{index, 1000}}, bomb);
  expect_data_error(refused(lying.finish()), "does not declare its 1000 bytes");
  expect_untouched();

  test::RawDelta greedy(m_a, b, 64 << 20, 1);
  greedy.manifest(m_a, b, {"etc/zzz"});
  greedy.frame({{index, 64 << 20}}, bomb);
  expect_data_error(refused(greedy.finish()), "FRAME output of");
  expect_untouched();
}

TEST_F(HostileDeltaTest, EditsMustBeCanonicalAndNotContradictory)
{
  // The MANIFEST section by hand: removed entries, B's header, edits. An
  // edit names an entry of A (ref 2 + places after the last one named), or
  // gives a path A lacks (ref 0, then prefix and suffix); each sets the
  // mode only.
  struct RawEdit
  {
    std::uint64_t ref;
    std::uint64_t shared = 0;
    std::string suffix;
  };
  auto section = [&](const std::vector<std::uint64_t>& removed, const std::vector<RawEdit>& edits) {
    util::ByteWriter w;
    w.varint(removed.size());
    std::uint64_t next_index = 0;
    for (const std::uint64_t index : removed) {
      w.varint(index - next_index);
      next_index = index + 1;
    }
    w.str(m_a.header.channel);
    w.varint(m_a.header.number + 1);
    w.varint(m_a.header.number);
    w.u64le(static_cast<std::uint64_t>(m_a.header.time_ns));
    w.str("");
    w.varint(edits.size());
    for (const RawEdit& e : edits) {
      w.varint(e.ref);
      if (e.ref < 2) {
        w.varint(e.shared);
        w.str(e.suffix);
      }
      w.u8(0x02); // mode
      w.varint(0600);
    }
    return w.take();
  };
  const core::Manifest b = with_zzz("unused");
  ASSERT_EQ(m_a.entries[1].path, "etc/app.conf");
  const std::pair<std::vector<std::uint8_t>, std::string> cases[] = {
    {section({1}, {{3, 0, ""}}), "both removed and edited"},
    {section({}, {{3, 0, ""}, {0, 0, "etc/new"}}), "is not the longest shared one"},
    {section({}, {{0, 0, "etc/app.conf"}}), "gives the path etc/app.conf, which the version"},
    {section({}, {{2 + 100, 0, ""}}), "edits entry 100 of a version of 3"},
    {section({7}, {}), "removed entry is 7, above the limit of 3"},
    {section({}, {{0, 0, "etc/new"}}), "new path etc/new without all its fields"},
  };
  for (const auto& [bytes, says] : cases) {
    test::RawDelta raw(m_a, b, 0, 0);
    raw.manifest_raw(m_a, bytes);
    expect_data_error(refused(raw.finish()), says);
    expect_untouched();
  }
}

TEST_F(HostileDeltaTest, AnEditFromAnEntryANeverHadIsRefused)
{
  // A new path that starts from entry 9 of A, which has 3.
  util::ByteWriter w;
  w.varint(0); // nothing removed
  w.str(m_a.header.channel);
  w.varint(m_a.header.number + 1);
  w.varint(m_a.header.number);
  w.u64le(static_cast<std::uint64_t>(m_a.header.time_ns));
  w.str("");
  w.varint(1);
  w.varint(1); // a path A lacks, from an entry of A:
  w.varint(9);
  w.varint(0);
  w.str("etc/copy");
  w.u8(0);
  const core::Manifest b = with_zzz("unused");
  test::RawDelta raw(m_a, b, 0, 0);
  raw.manifest_raw(m_a, w.take());
  expect_data_error(refused(raw.finish()), "edit source is 9, above the limit of 3");
  expect_untouched();
}

TEST_F(HostileDeltaTest, AFrameMetaOutsideItsFilesIsRefused)
{
  // A: etc, etc/app.conf (11 bytes), etc/other.conf; B adds etc/zzz (entry
  // 3, 1000 bytes). Each meta below is a prefix count and ranges, then an
  // output count and outputs; a range's or output's first varint is the
  // zigzag index step shifted past its flags (range: 1 whole; output: 1
  // copied, 2 the rest of the file).
  const std::string content(1000, 'z');
  const core::Manifest b = with_zzz(content);
  const auto frame =
    util::zstd_compress(std::vector<std::uint8_t>(content.begin(), content.end()), 3);
  const std::pair<std::vector<std::uint64_t>, std::string> cases[] = {
    {{1, 2 << 1, 11, 0, 1, 6 << 2 | 2}, "FRAME prefix range of no bytes of etc/app.conf"},
    {{1, 0 << 1 | 1, 1, 6 << 2 | 2}, "FRAME prefix 0 is not a file"},
    {{1, 2 << 1, 5, 10, 1, 6 << 2 | 2}, "range 5+10 beyond the 11 bytes of etc/app.conf"},
    {{0, 1, 1 << 2 | 2}, "FRAME output 18446744073709551615 is not a file"},
    {{0, 2, 6 << 2 | 2, 0 << 2 | 2}, "FRAME output for etc/zzz, which has its 1000 bytes"},
    {{0, 1, 6 << 2, 1001}, "FRAME output of 1001 bytes for etc/zzz"},
    {{0, 2, 6 << 2 | 3, 9, 0, 0 << 2 | 2}, "FRAME output source 9 is not a file"},
  };
  for (const auto& [fields, says] : cases) {
    util::ByteWriter meta;
    for (const std::uint64_t v : fields) {
      meta.varint(v);
    }
    util::ByteWriter body;
    body.varint(meta.size());
    body.bytes(meta.data());
    body.bytes(frame);
    test::RawDelta raw(m_a, b, 1000, 1);
    raw.manifest(m_a, b, {"etc/zzz"});
    raw.record(core::RecordType::frame, body.data());
    expect_data_error(refused(raw.finish()), says);
    expect_untouched();
  }
}

TEST_F(HostileDeltaTest, AFileWithoutContentIsRefusedBeforeAnyIsWritten)
{
  // etc/zzz is neither in A nor left to the payload.
  const core::Manifest b = with_zzz("nowhere\n");
  test::RawDelta raw(m_a, b, 0, 0);
  raw.manifest(m_a, b);
  expect_data_error(refused(raw.finish()), "no content for etc/zzz");
  expect_untouched();
}

TEST_F(HostileDeltaTest, AHeaderThatMiscountsTheNewFilesIsRefused)
{
  const std::string content(1000, 'z');
  const core::Manifest b = with_zzz(content);
  test::RawDelta raw(m_a, b, 1000, 2);
  raw.manifest(m_a, b, {"etc/zzz"});
  raw.frame({{3, 1000}},
            util::zstd_compress(std::vector<std::uint8_t>(content.begin(), content.end()), 3));
  expect_data_error(refused(raw.finish()), "wrote 1 files, the header says 2");
  expect_untouched();
}

TEST_F(HostileDeltaTest, AFrameWithExtraBytesAfterItIsRefused)
{
  const std::string content(1000, 'z');
  const core::Manifest b = with_zzz(content);
  auto frame = util::zstd_compress(std::vector<std::uint8_t>(content.begin(), content.end()), 3);
  // A skippable frame (magic 0x184D2A50, 4 bytes of length, then nothing).
  const std::uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0};
  frame.insert(frame.end(), std::begin(skippable), std::end(skippable));
  test::RawDelta raw(m_a, b, 1000, 1);
  raw.manifest(m_a, b, {"etc/zzz"});
  raw.frame({{3, 1000}}, frame);
  expect_data_error(refused(raw.finish()), "after the end of the frame");
  expect_untouched();
}

} // namespace
