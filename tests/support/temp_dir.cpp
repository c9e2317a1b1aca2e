#include "support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace treecast::test {

TempDir::TempDir()
{
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
    std::string(base != nullptr && *base ? base : "/tmp") + "/treecast-test.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_path = pattern;
}

TempDir::~TempDir()
{
  namespace fs = std::filesystem;
  std::error_code ec;
  // Make every folder writable first, so read-only ones can be emptied.
  for (auto it = fs::recursive_directory_iterator(
         m_path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
  fs::permissions(m_path, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(m_path, ec);
}

} // namespace treecast::test
