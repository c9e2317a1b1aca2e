// Writing new objects: ObjectWriter streams one file's content through the
// hasher and a borrowed zstd context into a temporary file, or into memory
// for a small object bound for a pack; TempFolder gives each writing thread
// a folder of its own under tmp/. Store::publish() later makes the files
// durable and moves them into objects/.

#include "core/object_format.hpp"
#include "core/store.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace treecast::core {

using namespace object_format;

namespace {

// A small object held in memory that grows past this (a file that grew while
// read) moves to a file of its own.
constexpr std::size_t k_spill_at = 4 << 20;
static_assert(k_spill_at < k_max_packed_object);
constexpr std::size_t k_flush_at = 256 * 1024;

} // namespace

ObjectWriter::ObjectWriter(util::Fd fd, std::string temp_path, util::ZstdCompressor& compressor,
                           TempFolder& folder)
  : m_fd(std::move(fd)), m_spill_folder(&folder), m_temp_path(std::move(temp_path)),
    m_hasher(std::make_unique<util::Hasher>()), m_compressor(&compressor)
{
  m_buffer.reserve(m_fd ? k_flush_at : 16 * 1024);
  m_buffer.resize(k_object_header); // room for the header, filled in by finish()
}

ObjectWriter::ObjectWriter(ObjectWriter&&) noexcept = default;

ObjectWriter::~ObjectWriter()
{
  if (!m_temp_path.empty()) {
    ::unlink(m_temp_path.c_str());
  }
}

util::Status ObjectWriter::spill()
{
  std::string temp = m_spill_folder->next_name();
  util::Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd) {
    return util::io_error(temp, "cannot create temporary object", errno);
  }
  m_fd = std::move(fd);
  m_temp_path = std::move(temp);
  return {};
}

util::Status ObjectWriter::write(std::span<const std::uint8_t> data)
{
  m_hasher->update(data);
  m_raw_size += data.size();
  return m_compressor->update(data, [this](std::span<const std::uint8_t> out) -> util::Status {
    m_buffer.insert(m_buffer.end(), out.begin(), out.end());
    if (!m_fd && m_buffer.size() >= k_spill_at) {
      if (auto s = spill(); !s) {
        return s;
      }
    }
    if (m_fd && m_buffer.size() >= k_flush_at) {
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
  PendingObject object{m_hasher->digest(), m_raw_size, {}, {}};
  const auto header = object_header(object.raw_size, object.hash);
  if (!m_flushed) {
    // Header and body together: one write, or the bytes for a pack.
    std::copy(header.begin(), header.end(), m_buffer.begin());
  }
  if (!m_fd) {
    object.bytes = std::move(m_buffer);
    m_buffer = {};
    return object;
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
  object.temp_path = std::move(m_temp_path);
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
