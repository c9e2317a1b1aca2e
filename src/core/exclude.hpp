#pragma once

// --exclude patterns, shell globs in the manner of rsync and .gitignore:
//   - a pattern without '/' matches an entry's name at any depth ("*.swp");
//   - a pattern with '/' matches the path from the tree's root ("logs/*.gz",
//     "/cache"; a leading '/' is optional);
//   - a trailing '/' matches folders only ("tmp/");
//   - '*' and '?' never match '/'; an excluded folder excludes all it holds.

#include <string>
#include <string_view>
#include <vector>

namespace treecast::core {

class ExcludeList
{
public:
  ExcludeList() = default;
  explicit ExcludeList(const std::vector<std::string>& patterns);

  bool excluded(std::string_view relative_path, bool is_folder) const;
  bool empty() const { return m_patterns.empty(); }

private:
  struct Pattern
  {
    std::string glob;
    bool anchored = false;
    bool folders_only = false;
  };
  std::vector<Pattern> m_patterns;
};

} // namespace treecast::core
