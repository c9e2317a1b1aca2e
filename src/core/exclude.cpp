#include "exclude.hpp"

#include <fnmatch.h>

namespace treecast::core {

ExcludeList::ExcludeList(const std::vector<std::string>& patterns)
{
  for (std::string glob : patterns) {
    Pattern p;
    while (glob.size() > 1 && glob.back() == '/') {
      glob.pop_back();
      p.folders_only = true;
    }
    if (glob.find('/') != std::string::npos) {
      p.anchored = true;
      while (!glob.empty() && glob.front() == '/') {
        glob.erase(0, 1);
      }
    }
    if (!glob.empty()) {
      p.glob = std::move(glob);
      m_patterns.push_back(std::move(p));
    }
  }
}

bool ExcludeList::excluded(std::string_view relative_path, bool is_folder) const
{
  const std::string path(relative_path);
  const auto slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  for (const Pattern& p : m_patterns) {
    if (p.folders_only && !is_folder) {
      continue;
    }
    const std::string& subject = p.anchored ? path : name;
    if (::fnmatch(p.glob.c_str(), subject.c_str(), FNM_PATHNAME) == 0) {
      return true;
    }
  }
  return false;
}

} // namespace treecast::core
