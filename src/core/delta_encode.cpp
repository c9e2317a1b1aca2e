// Pieces of making a delta: contents read from the store, the record
// framing, and the MANIFEST section (delta_encode.hpp).

#include "delta_encode.hpp"

#include "util/bytes.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <cstdlib>
#include <unistd.h>

namespace treecast::core {

// A file's content from the store: in memory when small, else decompressed
// into an unlinked temporary file and mapped.
util::Result<std::shared_ptr<const util::Content>> load_content(const Store& store,
                                                                const Entry& entry)
{
  if (entry.size <= k_in_memory) {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(entry.size);
    auto s = store.read_object(entry.hash, [&](std::span<const std::uint8_t> data) -> util::Status {
      if (bytes.size() + data.size() > entry.size) {
        return util::make_error(util::Errc::data, "object " + entry.hash.hex() + " is larger " +
                                                    "than the " + std::to_string(entry.size) +
                                                    " bytes of " + util::quote(entry.path));
      }
      bytes.insert(bytes.end(), data.begin(), data.end());
      return {};
    });
    if (!s) {
      return s.error();
    }
    return std::make_shared<const util::Content>(std::move(bytes));
  }
  std::string temp = store.root() + "/tmp/delta-input.XXXXXX";
  util::Fd fd(::mkstemp(temp.data()));
  if (!fd) {
    return util::io_error(temp, "cannot create temporary file", errno);
  }
  ::unlink(temp.c_str());
  auto s = store.read_object(entry.hash, [&](std::span<const std::uint8_t> data) {
    return util::write_all(fd.get(), data, temp);
  });
  if (!s) {
    return s.error();
  }
  return std::make_shared<const util::Content>(std::move(fd), entry.size, temp);
}

std::vector<std::uint8_t> encode_header(const DeltaHeader& h)
{
  util::ByteWriter w;
  w.str(h.channel);
  w.varint(h.from_number);
  w.bytes(h.from_id.bytes);
  w.varint(h.to_number);
  w.bytes(h.to_id.bytes);
  w.varint(h.write_bytes);
  w.varint(h.new_files);
  w.varint(h.level);
  return w.take();
}

util::Status RecordWriter::start()
{
  util::ByteWriter w;
  w.bytes(k_delta_magic);
  w.u8(k_delta_format);
  return emit(w.data());
}

util::Status RecordWriter::record(RecordType type, std::span<const std::uint8_t> body)
{
  util::ByteWriter head;
  head.u8(static_cast<std::uint8_t>(type));
  head.varint(body.size());
  util::Hasher check;
  check.update(head.data());
  check.update(body);
  const util::Hash128 sum = check.digest();
  m_records += 1;
  if (auto s = emit(head.data()); !s) {
    return s;
  }
  if (auto s = emit(body); !s) {
    return s;
  }
  return emit(sum.bytes);
}

util::Status RecordWriter::end()
{
  util::ByteWriter count;
  count.varint(m_records);
  util::ByteWriter head;
  head.u8(static_cast<std::uint8_t>(RecordType::end));
  head.varint(count.size() + 16);
  if (auto s = emit(head.data()); !s) {
    return s;
  }
  util::ByteWriter body;
  body.bytes(count.data());
  body.bytes(m_all.digest().bytes);
  util::Hasher check;
  check.update(head.data());
  check.update(body.data());
  if (auto s = emit(body.data()); !s) {
    return s;
  }
  return emit(check.digest().bytes);
}

util::Status RecordWriter::emit(std::span<const std::uint8_t> data)
{
  m_all.update(data);
  m_bytes += data.size();
  return m_out(data);
}

} // namespace treecast::core
