#include "core/manifest.hpp"
#include "util/bytes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

using namespace treecast;
using core::Entry;
using core::EntryType;
using core::Manifest;

namespace {

util::Hash128 hash_of(std::string_view text)
{
  return util::hash_bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Manifest small_manifest()
{
  Manifest m;
  m.header = {"nginx", 3, 2, 1'700'000'000'000'000'000, "raise timeouts"};
  Entry dir{"conf.d", EntryType::directory, 0755, 0, 0, "root", "root", 0, {}, {}, 1000};
  Entry file{
    "conf.d/a.conf", EntryType::file, 0644, 0, 0, "root", "root", 6, hash_of("hello\n"), {}, -5};
  Entry link{"default", EntryType::symlink, 0777, 0, 0, "root", "root", 0, {}, "conf.d/a.conf", 7};
  m.entries = {link, file, dir};
  core::finalize(m);
  return m;
}

std::string hex(const std::vector<std::uint8_t>& bytes)
{
  std::string out;
  char b[3];
  for (auto c : bytes) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

// Encodes entries without any validation, as a hostile peer would.
std::vector<std::uint8_t> forge(std::vector<Entry> entries)
{
  Manifest m;
  m.header = {"nginx", 1, 0, 0, ""};
  m.entries = std::move(entries);
  return core::encode(m);
}

Entry file_entry(std::string path)
{
  return Entry{std::move(path), EntryType::file, 0644, 0, 0, "", "", 1, hash_of("x"), {}, 0};
}

Entry dir_entry(std::string path)
{
  return Entry{std::move(path), EntryType::directory, 0755, 0, 0, "", "", 0, {}, {}, 0};
}

void expect_rejected(const std::vector<std::uint8_t>& bytes, const std::string& words)
{
  auto r = core::decode(bytes, "hostile.manifest");
  ASSERT_FALSE(r) << "accepted a manifest that should fail with: " << words;
  EXPECT_EQ(r.error().code, util::Errc::data);
  EXPECT_NE(r.error().message.find("hostile.manifest"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

} // namespace

TEST(Manifest, ExactBytesArePinned)
{
  const Manifest m = small_manifest();
  // Any change here changes every version id: it is part of the format.
  EXPECT_EQ(hex(core::encode(m)),
            "54434d46011f056e67696e78030200002a36fe9c97170e72616973652074696d656f75747367030006636f"
            "6e662e6402ed030004726f6f740004726f6f7406072f612e636f6e6601a4030004726f6f740004726f6f74"
            "066bba86c7e069f56d5a10b435f1c8e49c000764656661756c7403ff030004726f6f740004726f6f740d63"
            "6f6e662e642f612e636f6e660503d00f090ecb9db1663059b5ae7075094bd3cf11fc");
  EXPECT_EQ(m.id.hex(), "121f385a0aaf99794b309cac3282181c");
}

TEST(Manifest, RoundTripKeepsEverything)
{
  const Manifest m = small_manifest();
  auto back = core::decode(core::encode(m), "test");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->header.channel, "nginx");
  EXPECT_EQ(back->header.number, 3u);
  EXPECT_EQ(back->header.parent, 2u);
  EXPECT_EQ(back->header.time_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(back->header.message, "raise timeouts");
  ASSERT_EQ(back->entries.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(back->entries[i].same_identity(m.entries[i]));
    EXPECT_EQ(back->entries[i].mtime_ns, m.entries[i].mtime_ns);
  }
  EXPECT_EQ(back->entries[1].mtime_ns, -5);
}

TEST(Manifest, SortedByPathBytes)
{
  Manifest m;
  m.header = {"c", 1, 0, 0, ""};
  m.entries = {dir_entry("a"),      file_entry("a/x"),      file_entry("a-b"),
               file_entry("a.txt"), file_entry("\xc3\xa9"), file_entry("B")};
  core::finalize(m);
  std::vector<std::string> paths;
  for (const auto& e : m.entries) {
    paths.push_back(e.path);
  }
  // Byte order: 'B' < 'a' < "a-b" < "a.txt" < "a/x" < 0xc3...
  EXPECT_EQ(paths, (std::vector<std::string>{"B", "a", "a-b", "a.txt", "a/x", "\xc3\xa9"}));
}

TEST(Manifest, EqualTreesHaveEqualIdsWhateverTheWalkOrderHeaderOrMtimes)
{
  std::vector<Entry> entries = small_manifest().entries;
  std::mt19937 rng(42);
  util::Hash128 first;
  for (int i = 0; i < 10; ++i) {
    std::shuffle(entries.begin(), entries.end(), rng);
    Manifest m;
    m.header = {"other", static_cast<std::uint64_t>(i + 1), 0, i * 1000,
                "msg " + std::to_string(i)};
    m.entries = entries;
    for (auto& e : m.entries) {
      e.mtime_ns += i;
    }
    core::finalize(m);
    if (i == 0) {
      first = m.id;
    }
    EXPECT_EQ(m.id, first);
  }
  // A change of content, mode or owner changes the id.
  Manifest changed;
  changed.entries = entries;
  changed.entries[0].mode ^= 1;
  core::finalize(changed);
  EXPECT_NE(changed.id, first);
}

TEST(Manifest, HostilePathsAreRejected)
{
  expect_rejected(forge({file_entry("../etc/passwd")}), "path component '..'");
  expect_rejected(forge({dir_entry("a"), file_entry("a/../../x")}), "'..'");
  expect_rejected(forge({file_entry("/etc/passwd")}), "absolute path");
  expect_rejected(forge({file_entry(std::string("a\0b", 3))}), "NUL");
  expect_rejected(forge({file_entry("x"), file_entry("x")}), "duplicate path");
  expect_rejected(forge({file_entry("b"), file_entry("a")}), "not sorted");
  expect_rejected(forge({file_entry("a//b")}), "empty path component");
  expect_rejected(forge({file_entry("./a")}), "path component '.'");
  expect_rejected(forge({file_entry("")}), "empty path");
  // Nothing is ever written under a symlink or a file.
  Entry link{"etc", EntryType::symlink, 0777, 0, 0, "", "", 0, {}, "/etc", 0};
  expect_rejected(forge({link, file_entry("etc/passwd")}), "not under a folder");
  expect_rejected(forge({file_entry("a"), file_entry("a/b")}), "not under a folder");
}

TEST(Manifest, TruncatedOrCorruptBytesAreRejected)
{
  const auto good = core::encode(small_manifest());
  for (std::size_t cut = 0; cut < good.size(); cut += 3) {
    auto r = core::decode(std::span(good).first(cut), "cut.manifest");
    ASSERT_FALSE(r) << "accepted a manifest cut at " << cut;
    EXPECT_EQ(r.error().code, util::Errc::data);
  }
  auto flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  expect_rejected(flipped, "checksum mismatch");
  auto wrong_magic = good;
  wrong_magic[0] = 'X';
  expect_rejected(wrong_magic, "not a treecast manifest");
}

TEST(Manifest, HugeSizeFieldsAndCountsAreRefused)
{
  Entry e = file_entry("big");
  e.size = std::uint64_t{1} << 63;
  expect_rejected(forge({e}), "size");

  // An entry count far beyond what the bytes could hold.
  util::ByteWriter entries;
  entries.varint(std::uint64_t{1} << 40);
  util::ByteWriter header;
  header.str("nginx");
  header.varint(1);
  header.varint(0);
  header.u64le(0);
  header.str("");
  util::ByteWriter out;
  out.raw("TCMF");
  out.u8(1);
  out.varint(header.size());
  out.bytes(header.data());
  out.varint(entries.size());
  out.bytes(entries.data());
  out.varint(1);
  out.u8(0);
  const auto sum = util::hash_bytes(out.data());
  out.bytes(sum.bytes);
  expect_rejected(out.data(), "entry count");
}

TEST(Manifest, PathValidationMessages)
{
  EXPECT_TRUE(core::validate_path("a/b c/\xff"));
  EXPECT_FALSE(core::validate_path(std::string(5000, 'a')));
  EXPECT_FALSE(core::validate_path(std::string(300, 'a')));
  EXPECT_TRUE(core::validate_channel("nginx-prod.eu_1"));
  EXPECT_FALSE(core::validate_channel("../x"));
  EXPECT_FALSE(core::validate_channel(""));
  EXPECT_FALSE(core::validate_channel("-x"));
}

TEST(Manifest, ExtendedAttributesRoundTripAndChangeTheIdOfTheirEntryOnly)
{
  Manifest plain = small_manifest();
  Manifest with = plain;
  with.entries[1].xattrs = {{"system.posix_acl_access", std::string("\x02\x00\x00\x00", 4)},
                            {"user.color", "blue"}};
  core::finalize(with);
  EXPECT_NE(with.id, plain.id);
  auto back = core::decode(core::encode(with), "test");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, with.id);
  EXPECT_EQ(back->entries[1].xattrs, with.entries[1].xattrs);
  EXPECT_TRUE(back->entries[0].xattrs.empty());
  EXPECT_EQ(core::xattr_scope(*back), core::k_record_xattrs | core::k_record_acls);
  // Without attributes, an entry encodes as it always did (the pinned bytes
  // above), so versions recorded before keep their ids.
  EXPECT_EQ(core::decode(core::encode(plain), "test")->id, plain.id);
}

TEST(Manifest, HostileExtendedAttributesAreRejected)
{
  Entry f = file_entry("a");
  f.xattrs = {{"user.b", "1"}, {"user.a", "2"}};
  expect_rejected(forge({f}), "extended attributes not sorted or repeated at user.a");
  f.xattrs = {{"user.a", "1"}, {"user.a", "2"}};
  expect_rejected(forge({f}), "extended attributes not sorted or repeated");
  f.xattrs = {{"security.selinux", "system_u:object_r:etc_t:s0"}};
  expect_rejected(forge({f}), "is not one treecast records");
  f.xattrs = {{"os2.name", "x"}};
  expect_rejected(forge({f}), "is not one treecast records");
  Entry link{"l", EntryType::symlink, 0777, 0, 0, "", "", 0, {}, "a", 0};
  link.xattrs = {{"user.a", "1"}};
  expect_rejected(forge({link}), "extended attributes on the symlink l");
}
