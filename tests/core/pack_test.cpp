// Packs: small objects stored together (core/pack.hpp). What a user relies
// on: packed content reads back byte for byte through every reader, a pack
// is part of the store only once its index is, damage is reported naming
// the file, and gc drops exactly the content no version uses.

#include "core/gc.hpp"
#include "core/pack.hpp"
#include "core/snapshot.hpp"
#include "support/objects.hpp"
#include "support/store_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

using namespace treecast;
namespace fs = std::filesystem;

namespace {

std::span<const std::uint8_t> bytes(const std::string& s)
{
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class PackTest : public test::StoreTest
{
protected:
  // Writes contents as one pack in tmp/; returns their hashes.
  std::vector<util::Hash128> pack(const std::vector<std::string>& contents, core::PendingPack& out)
  {
    auto folder = m_store->temp_folder();
    EXPECT_TRUE(folder);
    m_folders.push_back(std::make_unique<core::TempFolder>(std::move(*folder)));
    util::ZstdCompressor compressor(3);
    auto writer = core::PackWriter::create(m_folders.back()->next_name() + ".pack");
    EXPECT_TRUE(writer);
    std::vector<util::Hash128> hashes;
    for (const std::string& c : contents) {
      auto object = m_store->new_object(compressor, c.size(), *m_folders.back(),
                                        core::Placement::pack_if_small);
      EXPECT_TRUE(object);
      EXPECT_TRUE(object->write(bytes(c)));
      auto pending = object->finish();
      EXPECT_TRUE(pending);
      EXPECT_TRUE(pending->temp_path.empty()) << "a small object stays in memory";
      EXPECT_TRUE(writer->append(pending->hash, pending->bytes));
      hashes.push_back(pending->hash);
    }
    auto finished = writer->finish();
    EXPECT_TRUE(finished);
    out = std::move(*finished);
    return hashes;
  }

  std::vector<util::Hash128> publish_pack(const std::vector<std::string>& contents)
  {
    core::PendingPack p;
    auto hashes = pack(contents, p);
    util::SerialExecutor serial;
    EXPECT_TRUE(m_store->publish({}, {p}, serial));
    return hashes;
  }

  std::string get(const core::Store& store, const util::Hash128& hash, util::Status* status)
  {
    std::string out;
    *status = store.read_object(hash, [&](std::span<const std::uint8_t> d) -> util::Status {
      out.append(reinterpret_cast<const char*>(d.data()), d.size());
      return {};
    });
    return out;
  }

  std::vector<fs::path> files_in(const fs::path& dir)
  {
    std::vector<fs::path> out;
    if (fs::exists(dir)) {
      for (const auto& e : fs::directory_iterator(dir)) {
        out.push_back(e.path());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::unique_ptr<core::TempFolder>> m_folders;
};

} // namespace

TEST_F(PackTest, PackedObjectsReadBackThroughEveryReader)
{
  std::mt19937_64 rng(1);
  std::string noise(50000, '\0');
  for (char& c : noise) {
    c = static_cast<char>(rng());
  }
  const std::vector<std::string> contents = {"", "one", std::string(100000, 'x'), noise};
  const auto hashes = publish_pack(contents);
  // A store opened afresh, as another process would.
  auto other = core::Store::open(m_dir / "store", core::Create::no);
  ASSERT_TRUE(other);
  for (const core::Store* store : {&*m_store, &*other}) {
    for (std::size_t i = 0; i < contents.size(); ++i) {
      EXPECT_TRUE(store->has_object(hashes[i]));
      util::Status status;
      EXPECT_EQ(get(*store, hashes[i], &status), contents[i]);
      EXPECT_TRUE(status) << status.error().message;
      auto size = store->object_size(hashes[i]);
      ASSERT_TRUE(size);
      EXPECT_EQ(*size, contents[i].size());
    }
  }
  auto listed = other->list_objects();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), contents.size());
  // One pack, one index, nothing loose.
  EXPECT_EQ(files_in(m_dir / "store/objects/packs").size(), 2u);
  EXPECT_EQ(test::object_bytes(*other, hashes[1]).packed, true);
}

TEST_F(PackTest, APackWithoutItsIndexIsNotPartOfTheStore)
{
  // A publish killed between the pack's rename and its index's: the pack
  // is there, its objects are not.
  core::PendingPack p;
  const auto hashes = pack({"orphaned content"}, p);
  fs::create_directories(m_dir / "store/objects/packs");
  fs::rename(p.temp_path, m_dir / "store/objects/packs/0123456789abcdef0123456789abcdef.pack");
  auto store = core::Store::open(m_dir / "store", core::Create::no);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->has_object(hashes[0]));
  util::Status status;
  (void)get(*store, hashes[0], &status);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("missing"), std::string::npos) << status.error().message;

  // gc removes the leftover.
  test::write_file(m_dir / "tree/a", "a");
  (void)snapshot_of(m_dir / "tree");
  auto r = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(fs::exists(m_dir / "store/objects/packs/0123456789abcdef0123456789abcdef.pack"));
}

TEST_F(PackTest, DamageIsReportedNamingTheFile)
{
  const auto hashes = publish_pack({"first object", std::string(5000, 'y')});
  // A flipped bit in a packed object: that object fails, naming the pack.
  test::corrupt_object(*m_store, hashes[1]);
  util::Status status;
  (void)get(*m_store, hashes[1], &status);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, util::Errc::data);
  EXPECT_NE(status.error().message.find("corrupt"), std::string::npos) << status.error().message;
  EXPECT_NE(status.error().message.find(".pack"), std::string::npos) << status.error().message;
  EXPECT_EQ(get(*m_store, hashes[0], &status), "first object");

  // A damaged index: the pack's objects cannot be found, and the error
  // says which index is at fault.
  const auto indexes = files_in(m_dir / "store/objects/packs");
  const auto index = std::find_if(indexes.begin(), indexes.end(),
                                  [](const fs::path& p) { return p.extension() == ".idx"; });
  ASSERT_NE(index, indexes.end());
  fs::permissions(*index, fs::perms::owner_write, fs::perm_options::add);
  std::string raw = test::read_file(*index);
  raw[10] = static_cast<char>(raw[10] ^ 1);
  test::write_file(*index, raw);
  auto fresh = core::Store::open(m_dir / "store", core::Create::no);
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->has_object(hashes[0]));
  (void)get(*fresh, hashes[0], &status);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, util::Errc::data);
  EXPECT_NE(status.error().message.find(index->string()), std::string::npos)
    << status.error().message;
}

TEST_F(PackTest, AnIndexPointingOutsideItsPackIsRefused)
{
  // A well-formed index (its checksum is right) whose record runs past the
  // end of the pack: refused, never read past the pack.
  core::PendingPack p;
  const auto hashes = pack({"short"}, p);
  std::vector<core::PackRecord> records = {{hashes[0], 5, 1u << 20}};
  const auto index = core::encode_pack_index(records);
  const std::string pack_path = m_dir / "pack.pack";
  fs::rename(p.temp_path, pack_path);
  test::write_file(m_dir / "pack.idx", std::string(index.begin(), index.end()));
  auto loaded = core::PackIndex::load(m_dir / "pack.idx", pack_path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, util::Errc::data);
  EXPECT_NE(loaded.error().message.find("outside the pack"), std::string::npos)
    << loaded.error().message;

  records = {{hashes[0], 5, core::k_max_packed_object + 1}};
  const auto huge = core::encode_pack_index(records);
  test::write_file(m_dir / "pack.idx", std::string(huge.begin(), huge.end()));
  EXPECT_FALSE(core::PackIndex::load(m_dir / "pack.idx", pack_path));
}

TEST_F(PackTest, GcRepacksKeepingExactlyTheContentVersionsUse)
{
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/kept", "kept by both versions");
  test::write_file(tree + "/changed", "v1 content");
  const auto v1 = snapshot_of(tree);
  test::write_file(tree + "/changed", "v2 content");
  const auto v2 = snapshot_of(tree);
  ASSERT_TRUE(test::object_bytes(*m_store, v1.find("kept")->hash).packed);
  ASSERT_EQ(test::object_count(*m_store), 3u);

  auto r = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->objects_removed, 1u);
  EXPECT_EQ(test::object_count(*m_store), 2u);
  EXPECT_FALSE(m_store->has_object(v1.find("changed")->hash));
  auto fresh = core::Store::open(m_dir / "store", core::Create::no);
  ASSERT_TRUE(fresh);
  for (const char* path : {"kept", "changed"}) {
    util::Status status;
    const std::string content = get(*fresh, v2.find(path)->hash, &status);
    EXPECT_TRUE(status) << status.error().message;
    EXPECT_EQ(content, test::read_file(tree + "/" + path));
  }
  // Again: nothing left to drop, nothing rewritten.
  const auto before = files_in(m_dir / "store/objects/packs");
  auto again = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->objects_removed, 0u);
  EXPECT_EQ(files_in(m_dir / "store/objects/packs"), before);
}

TEST_F(PackTest, ManyPacksAreMergedByGc)
{
  const std::string tree = m_dir / "tree";
  for (int i = 0; i < 20; ++i) {
    test::write_file(tree + "/f" + std::to_string(i), "content " + std::to_string(i));
    (void)snapshot_of(tree);
  }
  EXPECT_GT(files_in(m_dir / "store/objects/packs").size(), 32u);
  auto r = core::gc(*m_store, "c", 100);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->objects_removed, 0u);
  EXPECT_EQ(files_in(m_dir / "store/objects/packs").size(), 2u) << "one pack and its index";
  EXPECT_EQ(test::object_count(*m_store), 20u);
}
