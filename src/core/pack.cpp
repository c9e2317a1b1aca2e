#include "pack.hpp"

#include "util/bytes.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

namespace {

constexpr std::uint8_t k_pack_magic[4] = {'T', 'C', 'P', 'K'};
constexpr std::uint8_t k_index_magic[4] = {'T', 'C', 'P', 'X'};
constexpr std::uint8_t k_pack_version = 1;
constexpr std::size_t k_index_header = 4 + 1 + 8;
constexpr std::size_t k_index_record = 16 + 8 + 8;
constexpr std::size_t k_write_buffer = 1 << 20;

} // namespace

util::Result<PackWriter> PackWriter::create(std::string temp_path)
{
  util::Fd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd) {
    return util::io_error(temp_path, "cannot create pack", errno);
  }
  PackWriter writer(std::move(fd), std::move(temp_path));
  writer.m_buffer.reserve(k_write_buffer);
  writer.m_buffer.insert(writer.m_buffer.end(), std::begin(k_pack_magic), std::end(k_pack_magic));
  writer.m_buffer.push_back(k_pack_version);
  return writer;
}

util::Status PackWriter::append(const util::Hash128& hash, std::span<const std::uint8_t> object)
{
  if (object.size() > k_max_packed_object) {
    return util::make_error(util::Errc::data, "object " + hash.hex() + " is too large to pack");
  }
  m_records.push_back({hash, m_written + m_buffer.size(), object.size()});
  m_buffer.insert(m_buffer.end(), object.begin(), object.end());
  return m_buffer.size() >= k_write_buffer ? flush() : util::Status();
}

util::Status PackWriter::flush()
{
  auto s = util::write_all(m_fd.get(), m_buffer, m_path);
  m_written += m_buffer.size();
  m_buffer.clear();
  return s;
}

util::Result<PendingPack> PackWriter::finish()
{
  if (auto s = flush(); !s) {
    return s.error();
  }
  m_fd.reset();
  PendingPack pack{std::move(m_path), std::move(m_records)};
  m_path.clear();
  m_records.clear();
  return pack;
}

std::vector<std::uint8_t> encode_pack_index(std::vector<PackRecord>& records)
{
  std::sort(records.begin(), records.end(),
            [](const PackRecord& a, const PackRecord& b) { return a.hash < b.hash; });
  util::ByteWriter w;
  w.bytes(k_index_magic);
  w.u8(k_pack_version);
  w.u64le(records.size());
  for (const PackRecord& r : records) {
    w.bytes(r.hash.bytes);
    w.u64le(r.offset);
    w.u64le(r.length);
  }
  const auto checksum = util::hash_bytes(w.data());
  w.bytes(checksum.bytes);
  return w.take();
}

util::Result<PackIndex> PackIndex::load(const std::string& index_path, const std::string& pack_path)
{
  auto corrupt = [&](const std::string& what) {
    return util::make_error(util::Errc::data,
                            "pack index " + util::quote(index_path) + " is corrupt: " + what);
  };
  auto bytes = util::read_file(index_path, std::size_t{1} << 31);
  if (!bytes) {
    return bytes.error();
  }
  if (bytes->size() < k_index_header + 16) {
    return corrupt("too short");
  }
  const auto body = std::span(*bytes).first(bytes->size() - 16);
  util::Hash128 stored;
  std::copy_n(bytes->end() - 16, 16, stored.bytes.begin());
  if (util::hash_bytes(body) != stored) {
    return corrupt("checksum mismatch");
  }
  util::ByteReader r(body);
  const auto magic = r.bytes("magic", 4);
  const auto version = r.u8("version");
  if (!std::equal(magic.begin(), magic.end(), std::begin(k_index_magic)) ||
      version != k_pack_version) {
    return corrupt("bad magic or version");
  }
  const auto count = r.u64le("count");
  if (count != (body.size() - k_index_header) / k_index_record ||
      (body.size() - k_index_header) % k_index_record != 0) {
    return corrupt("its count does not match its size");
  }
  struct stat st
  {};
  if (::stat(pack_path.c_str(), &st) != 0) {
    return util::make_error(util::Errc::data, "pack " + util::quote(pack_path) +
                                                " is missing or unreadable (" +
                                                std::string(std::strerror(errno)) + ")");
  }
  const auto pack_size = static_cast<std::uint64_t>(st.st_size);
  PackIndex index;
  index.m_index_path = index_path;
  index.m_pack_path = pack_path;
  index.m_records.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    PackRecord record;
    const auto hash = r.bytes("hash", 16);
    std::copy(hash.begin(), hash.end(), record.hash.bytes.begin());
    record.offset = r.u64le("offset");
    record.length = r.u64le("length");
    if (!index.m_records.empty() && !(index.m_records.back().hash < record.hash)) {
      return corrupt("hashes out of order or repeated");
    }
    if (record.offset < k_pack_header || record.length > k_max_packed_object ||
        record.length > pack_size || record.offset > pack_size - record.length) {
      return corrupt("object " + record.hash.hex() + " lies outside the pack");
    }
    index.m_records.push_back(record);
  }
  return index;
}

const PackRecord* PackIndex::find(const util::Hash128& hash) const
{
  auto it =
    std::lower_bound(m_records.begin(), m_records.end(), hash,
                     [](const PackRecord& r, const util::Hash128& h) { return r.hash < h; });
  return it != m_records.end() && it->hash == hash ? &*it : nullptr;
}

} // namespace treecast::core
