// Writing new objects: ObjectWriter streams one file's content through the
// hasher and a borrowed zstd context into a temporary file; TempFolder gives
// each writing thread a folder of its own under tmp/. Store::publish() later
// makes the files durable and moves them into objects/.

#include "core/object_format.hpp"
#include "core/store.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace treecast::core {

using namespace object_format;

ObjectWriter::ObjectWriter(util::Fd fd, std::string temp_path, util::ZstdCompressor& compressor,
                           std::unique_ptr<util::ZstdCompressor> owned)
  : m_fd(std::move(fd)), m_temp_path(std::move(temp_path)),
    m_hasher(std::make_unique<util::Hasher>()), m_owned(std::move(owned)), m_compressor(&compressor)
{
  m_buffer.reserve(256 * 1024);
  m_buffer.resize(k_object_header); // room for the header, filled in by finish()
}

ObjectWriter::ObjectWriter(ObjectWriter&&) noexcept = default;

ObjectWriter::~ObjectWriter()
{
  if (!m_temp_path.empty()) {
    ::unlink(m_temp_path.c_str());
  }
}

util::Status ObjectWriter::write(std::span<const std::uint8_t> data)
{
  m_hasher->update(data);
  m_raw_size += data.size();
  return m_compressor->update(data, [this](std::span<const std::uint8_t> out) -> util::Status {
    m_buffer.insert(m_buffer.end(), out.begin(), out.end());
    if (m_buffer.size() >= 256 * 1024) {
      auto s = util::write_all(m_fd.get(), m_buffer, m_temp_path);
      m_buffer.clear();
      m_flushed = true;
      return s;
    }
    return {};
  });
}

util::Result<PendingObject> ObjectWriter::finish()
{
  auto s = m_compressor->finish([this](std::span<const std::uint8_t> out) -> util::Status {
    m_buffer.insert(m_buffer.end(), out.begin(), out.end());
    return {};
  });
  if (!s) {
    return s.error();
  }
  PendingObject object{m_hasher->digest(), m_raw_size, m_temp_path};
  const auto header = object_header(object.raw_size, object.hash);
  if (!m_flushed) {
    // A small object: header and body in one write.
    std::copy(header.begin(), header.end(), m_buffer.begin());
  }
  if (s = util::write_all(m_fd.get(), m_buffer, m_temp_path); !s) {
    return s.error();
  }
  m_buffer.clear();
  if (m_flushed && ::pwrite(m_fd.get(), header.data(), header.size(), 0) !=
                     static_cast<ssize_t>(header.size())) {
    return util::io_error(m_temp_path, "write failed", errno);
  }
  m_fd.reset();
  m_temp_path.clear(); // handed over
  return object;
}

// ---- TempFolder

util::Result<TempFolder> Store::temp_folder() const
{
  std::string path = m_root + "/tmp/objects.XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    return util::io_error(path, "cannot create temporary folder", errno);
  }
  return TempFolder(std::move(path));
}

TempFolder::~TempFolder()
{
  if (!m_path.empty()) {
    (void)util::remove_tree(m_path);
  }
}

std::string TempFolder::next_name()
{
  return m_path + "/" + std::to_string(m_next++);
}

} // namespace treecast::core
