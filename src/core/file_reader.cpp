#include "file_reader.hpp"

#include "core/stat_cache.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace treecast::core {

namespace {

constexpr std::size_t k_block = 256 * 1024;

bool same_file_state(const struct stat& a, const struct stat& b)
{
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         timestamp_ns(a.st_mtim) == timestamp_ns(b.st_mtim) &&
         timestamp_ns(a.st_ctim) == timestamp_ns(b.st_ctim);
}

} // namespace

FileReader::FileReader(const Store& store, const SnapshotOptions& options, KnownContent& known)
  : m_store(store), m_options(options), m_known(known), m_compressor(options.level),
    m_buffer(k_block)
{
}

util::Result<FileOutcome> FileReader::read(const std::string& root, const std::string& path,
                                           bool probably_stored)
{
  const std::string full = util::join(root, path);
  for (int attempt = 0; attempt < m_options.read_tries; ++attempt) {
    auto outcome = read_once(full, path, attempt, probably_stored);
    if (!outcome) {
      return outcome.error();
    }
    if (*outcome) {
      return std::move(**outcome);
    }
  }
  return util::make_error(util::Errc::io,
                          util::quote(full) + ": the file changed while it was read, " +
                            std::to_string(m_options.read_tries) + " times; try again when " +
                            "it is quiet, or --exclude it");
}

util::Result<std::optional<PendingPack>> FileReader::finish_pack()
{
  if (!m_pack) {
    return std::optional<PendingPack>();
  }
  auto pack = m_pack->finish();
  m_pack.reset();
  if (!pack) {
    return pack.error();
  }
  return std::optional<PendingPack>(std::move(*pack));
}

util::Result<std::optional<FileOutcome>> FileReader::read_once(const std::string& full,
                                                               const std::string& path, int attempt,
                                                               bool hash_first)
{
  util::Fd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return util::io_error(full, "cannot open", errno);
  }
  FileOutcome outcome;
  if (::fstat(fd.get(), &outcome.st) != 0) {
    return util::io_error(full, "cannot stat", errno);
  }
  if (!S_ISREG(outcome.st.st_mode)) {
    return std::optional<FileOutcome>(); // replaced by something else: walk again
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

  std::optional<ObjectWriter> writer;
  if (!hash_first) {
    auto w = new_object(static_cast<std::uint64_t>(outcome.st.st_size));
    if (!w) {
      return w.error();
    }
    writer.emplace(std::move(*w));
  }
  util::Hasher hasher;
  auto pass = [&](bool first_pass) -> util::Result<bool> {
    std::uint64_t total = 0;
    for (bool first_block = true;; first_block = false) {
      const ssize_t n = ::read(fd.get(), m_buffer.data(), m_buffer.size());
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return util::io_error(full, "read failed", errno);
      }
      if (n == 0) {
        break;
      }
      const std::span<const std::uint8_t> block(m_buffer.data(), static_cast<std::size_t>(n));
      total += block.size();
      if (writer) {
        if (auto s = writer->write(block); !s) {
          return s.error();
        }
      } else {
        hasher.update(block);
      }
      if (m_options.progress) {
        m_options.progress(block.size(), 0);
      }
      if (first_block && first_pass && m_options.after_first_block) {
        m_options.after_first_block(path, attempt);
      }
    }
    outcome.bytes_read += total;
    struct stat after
    {};
    if (::fstat(fd.get(), &after) != 0) {
      return util::io_error(full, "cannot stat", errno);
    }
    return same_file_state(outcome.st, after) && total == static_cast<std::uint64_t>(after.st_size);
  };

  auto steady = pass(true);
  if (!steady) {
    return steady.error();
  }
  if (!*steady) {
    return std::optional<FileOutcome>();
  }
  if (!writer) {
    outcome.hash = hasher.digest();
    if (m_known.known_or_claim(outcome.hash)) {
      return std::optional<FileOutcome>(std::move(outcome));
    }
    // New content after all: a second pass compresses it.
    auto w = new_object(static_cast<std::uint64_t>(outcome.st.st_size));
    if (!w) {
      return w.error();
    }
    writer.emplace(std::move(*w));
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
      return util::io_error(full, "seek failed", errno);
    }
    const util::Hash128 first_hash = outcome.hash;
    steady = pass(false);
    if (!steady) {
      return steady.error();
    }
    auto object = writer->finish();
    if (!object) {
      return object.error();
    }
    if (!*steady || object->hash != first_hash) {
      drop(*object);
      m_known.release(first_hash);
      return std::optional<FileOutcome>();
    }
    if (auto s = keep(std::move(*object), outcome); !s) {
      return s.error();
    }
    return std::optional<FileOutcome>(std::move(outcome));
  }
  auto object = writer->finish();
  if (!object) {
    return object.error();
  }
  outcome.hash = object->hash;
  if (m_known.known_or_claim(outcome.hash)) {
    drop(*object);
  } else if (auto s = keep(std::move(*object), outcome); !s) {
    return s.error();
  }
  return std::optional<FileOutcome>(std::move(outcome));
}

void FileReader::drop(const PendingObject& object)
{
  if (!object.temp_path.empty()) {
    ::unlink(object.temp_path.c_str());
  }
}

util::Status FileReader::keep(PendingObject&& object, FileOutcome& outcome)
{
  outcome.new_bytes = object.raw_size;
  if (!object.temp_path.empty()) {
    outcome.object = std::move(object);
    return {};
  }
  if (!m_pack) {
    auto pack = PackWriter::create(m_folder->next_name() + ".pack");
    if (!pack) {
      return pack.error();
    }
    m_pack.emplace(std::move(*pack));
  }
  outcome.packed = true;
  return m_pack->append(object.hash, object.bytes);
}

util::Result<ObjectWriter> FileReader::new_object(std::uint64_t size_hint)
{
  if (!m_folder) {
    auto folder = m_store.temp_folder();
    if (!folder) {
      return folder.error();
    }
    m_folder.emplace(std::move(*folder));
  }
  return m_store.new_object(m_compressor, size_hint, *m_folder, Placement::pack_if_small);
}

} // namespace treecast::core
