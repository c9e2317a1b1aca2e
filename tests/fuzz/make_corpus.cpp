// Writes the fuzz corpus (run by hand when the formats change):
//   fuzz_make_corpus tests/fuzz/corpus
// Deltas from fuzz::base() (and from nothing) to a few next versions, and
// those versions' manifests; each exercises other records and checks. And
// one protocol message of each command.

#include "core/delta.hpp"
#include "core/store.hpp"
#include "fuzz_targets.hpp"
#include "util/file.hpp"
#include "wire/codec.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace treecast;

namespace {

void check(const util::Status& s)
{
  if (!s) {
    std::fprintf(stderr, "fuzz_make_corpus: %s\n", s.error().message.c_str());
    std::exit(1);
  }
}

void put(const core::Store& store, const std::string& content)
{
  auto writer = store.new_object(3);
  check(writer ? util::Status{} : util::Status(writer.error()));
  check(writer->write({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()}));
  auto object = writer->finish();
  check(object ? util::Status{} : util::Status(object.error()));
  check(store.publish({*object}));
}

core::Manifest next(std::vector<core::Entry> entries)
{
  core::Manifest m;
  m.header = fuzz::base().manifest.header;
  m.header.number = 2;
  m.header.parent = 1;
  m.entries = std::move(entries);
  core::finalize(m);
  return m;
}

core::Entry with_content(core::Entry e, const core::Store& store, const std::string& content)
{
  put(store, content);
  e.size = content.size();
  e.hash =
    util::hash_bytes({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
  return e;
}

void write(const std::string& path, const std::vector<std::uint8_t>& bytes)
{
  check(util::write_file_atomic(path, bytes, util::Durability::none));
}

// One message of each command, every field set.
void write_messages(const std::string& folder)
{
  using namespace wire;
  const VersionRef v40{40, util::hash_bytes({})};
  const VersionRef v42{42, util::hash_bytes(std::vector<std::uint8_t>{42})};
  const TxnRef txn{0x5eed, 17};
  const std::vector<std::uint8_t> sig(64, 0x5a);
  const Canary canary{"canary", v42, sig};
  Prepare prepare{"nginx", txn, v42, v40, {v42, v40}, 1500, 30000, false, {1, 2, 3}, sig, "canary"};
  Welcome welcome{"nginx", 0x5eed,  v40, {{0x5eed, 16}, Outcome::commit, v40},
                  true,    prepare, sig, canary};
  const Message messages[] = {
    Heartbeat{"nginx", 0x5eed, v40, txn, {{0x5eed, 16}, Outcome::abort, v40}, sig, canary},
    prepare,
    Decision{"nginx", txn, Outcome::abort, v42, "web-3 refused"},
    Hello{"web-3", "nginx", v40, FollowerState::staged, txn, "canary"},
    Fetch{"nginx", v40, v42, 0, 262144},
    Vote{"web-3", "nginx", txn, false, "check failed"},
    Ack{"web-3", "nginx", txn, AckResult::committed, v42, ""},
    Status{""},
    welcome,
    Chunk{"nginx", v40, v42, 0, 3, {7, 7, 7}},
    Ok{},
    StatusReply{"{}"},
    Error{ErrorCode::busy, "busy"},
    Wait{250},
  };
  std::filesystem::create_directories(folder);
  for (const Message& m : messages) {
    std::string name = command_name(command_of(m));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    write(folder + "/" + name + ".msg", encode(m));
  }
}

void delta(const core::Store& store, const core::Manifest& from, const core::Manifest& to,
           const std::string& path)
{
  std::vector<std::uint8_t> out;
  util::SerialExecutor serial;
  auto r = core::make_delta(store, from, to, {}, serial, [&](std::span<const std::uint8_t> d) {
    out.insert(out.end(), d.begin(), d.end());
    return util::Status{};
  });
  check(r ? util::Status{} : util::Status(r.error()));
  write(path, out);
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus CORPUS_FOLDER\n");
    return 2;
  }
  const std::string out = argv[1];
  std::filesystem::create_directories(out + "/delta");
  std::filesystem::create_directories(out + "/manifest");
  const std::string scratch = std::filesystem::temp_directory_path() / "treecast-corpus-store";
  std::filesystem::remove_all(scratch);
  auto store = core::Store::open(scratch, core::Create::yes);
  check(store ? util::Status{} : util::Status(store.error()));
  const fuzz::Base& base = fuzz::base();
  for (const std::string& content : base.contents) {
    if (!content.empty()) {
      put(*store, content);
    }
  }
  const auto& a = base.manifest.entries;

  // Edits: a.conf and big.js changed (patches), b.conf gone, c.conf new.
  std::string big = base.contents[5];
  big.insert(1000, "// inserted\n");
  big[150000] = '#';
  std::vector<core::Entry> edited = {a[0],
                                     with_content(a[1], *store, base.contents[1] + "more;\n"),
                                     with_content(a[2], *store, "brand new\n"),
                                     a[3],
                                     a[4],
                                     with_content(a[5], *store, big)};
  edited[2].path = "etc/c.conf";
  const core::Manifest edits = next(edited);
  delta(*store, base.manifest, edits, out + "/delta/edits.delta");

  // Only a rename and a mode change: no payload at all.
  std::vector<core::Entry> renamed = {a[0], a[1], a[2], a[3], a[4], a[5]};
  renamed[2].path = "etc/b-renamed.conf";
  renamed[1].mode = 0600;
  const core::Manifest moved = next(renamed);
  delta(*store, base.manifest, moved, out + "/delta/rename.delta");

  // From nothing.
  delta(*store, core::Manifest{}, edits, out + "/delta/from-nothing.delta");

  write(out + "/manifest/base.manifest", core::encode(base.manifest));
  write(out + "/manifest/edits.manifest", core::encode(edits));
  write(out + "/manifest/rename.manifest", core::encode(moved));
  write_messages(out + "/wire");
  std::filesystem::remove_all(scratch);
  return 0;
}
