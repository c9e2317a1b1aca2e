#pragma once

// Packs: many small objects in one file, so that a snapshot of a tree of
// small files writes and renames a few files, not one per file (the way git
// packs its objects). Byte layouts in treecast-formats(5), PACK:
//
//   objects/packs/ID.pack  "TCPK" u8:version, then objects, each exactly the
//                          bytes an object file would hold (OBJECT)
//   objects/packs/ID.idx   "TCPX" u8:version u64le:count, then count records
//                          (hash128, u64le:offset, u64le:length) sorted by
//                          hash, then hash128: checksum of all the bytes before
//
// ID is the hex of the index's checksum. A pack is part of the store once its
// index is: the pack is renamed into objects/packs/ first, its index second.

#include "util/file.hpp"
#include "util/hash.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace treecast::core {

struct PackRecord
{
  util::Hash128 hash;
  std::uint64_t offset = 0; // where the object's bytes start in the pack
  std::uint64_t length = 0; // how many bytes they take
};

// Objects larger than this (stored bytes) are never packed; a reader refuses
// an index that says otherwise.
inline constexpr std::uint64_t k_max_packed_object = std::uint64_t{16} << 20;
inline constexpr std::size_t k_pack_header = 5; // "TCPK" u8:version

// A pack written to tmp/ and not yet visible; see Store::publish.
struct PendingPack
{
  std::string temp_path;
  std::vector<PackRecord> records; // in the order written
};

// Appends objects to a new pack file. Not thread-safe; one per worker.
class PackWriter
{
public:
  [[nodiscard]] static util::Result<PackWriter> create(std::string temp_path);

  // object: the bytes of an object file (header and zstd frame).
  [[nodiscard]] util::Status append(const util::Hash128& hash,
                                    std::span<const std::uint8_t> object);
  // Writes what is buffered and hands the file over; the writer is empty.
  [[nodiscard]] util::Result<PendingPack> finish();
  std::size_t count() const { return m_records.size(); }

private:
  PackWriter(util::Fd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}
  [[nodiscard]] util::Status flush();

  util::Fd m_fd;
  std::string m_path;
  std::vector<std::uint8_t> m_buffer;
  std::uint64_t m_written = 0; // bytes in the file, buffer excluded
  std::vector<PackRecord> m_records;
};

// The index file's bytes for records (sorted here by hash); the pack's id is
// the hash128 at their end.
[[nodiscard]] std::vector<std::uint8_t> encode_pack_index(std::vector<PackRecord>& records);

// A loaded index: where each object of one pack is.
class PackIndex
{
public:
  // Reads and checks ID.idx: its checksum, sorted unique hashes, records
  // inside a pack of pack_size bytes and no larger than k_max_packed_object.
  [[nodiscard]] static util::Result<PackIndex> load(const std::string& index_path,
                                                    const std::string& pack_path);

  const std::string& pack_path() const { return m_pack_path; }
  const std::string& index_path() const { return m_index_path; }
  const std::vector<PackRecord>& records() const { return m_records; }
  const PackRecord* find(const util::Hash128& hash) const;

private:
  std::string m_index_path;
  std::string m_pack_path;
  std::vector<PackRecord> m_records; // sorted by hash
};

} // namespace treecast::core
