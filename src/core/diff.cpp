#include "diff.hpp"

#include <algorithm>
#include <unordered_map>

namespace treecast::core {

const char* to_string(ChangeKind kind)
{
  switch (kind) {
    case ChangeKind::added:
      return "added";
    case ChangeKind::removed:
      return "removed";
    case ChangeKind::modified:
      return "modified";
    case ChangeKind::renamed:
      return "renamed";
    case ChangeKind::mode:
      return "mode";
    case ChangeKind::type:
      return "type";
  }
  return "unknown";
}

std::vector<Change> diff(const Manifest& a, const Manifest& b)
{
  std::vector<Change> changes;
  std::vector<const Entry*> removed;
  std::vector<const Entry*> added;
  const auto& x = a.entries;
  const auto& y = b.entries;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < x.size() || j < y.size()) {
    if (j == y.size() || (i < x.size() && x[i].path < y[j].path)) {
      removed.push_back(&x[i++]);
    } else if (i == x.size() || y[j].path < x[i].path) {
      added.push_back(&y[j++]);
    } else {
      const Entry& before = x[i++];
      const Entry& after = y[j++];
      if (before.type != after.type) {
        changes.push_back({ChangeKind::type, &before, &after});
      } else if (before.hash != after.hash || before.size != after.size ||
                 before.target != after.target) {
        changes.push_back({ChangeKind::modified, &before, &after});
      } else if (!before.same_identity(after)) {
        changes.push_back({ChangeKind::mode, &before, &after});
      }
    }
  }

  // Renames: an added file whose content a removed file had. Each removed
  // file pairs once, in path order, so the result is deterministic.
  std::unordered_map<util::Hash128, std::vector<const Entry*>> by_hash;
  for (auto it = removed.rbegin(); it != removed.rend(); ++it) {
    if ((*it)->type == EntryType::file) {
      by_hash[(*it)->hash].push_back(*it);
    }
  }
  std::vector<const Entry*> renamed_from;
  for (const Entry* e : added) {
    auto found = e->type == EntryType::file ? by_hash.find(e->hash) : by_hash.end();
    if (found != by_hash.end() && !found->second.empty()) {
      changes.push_back({ChangeKind::renamed, found->second.back(), e});
      renamed_from.push_back(found->second.back());
      found->second.pop_back();
    } else {
      changes.push_back({ChangeKind::added, nullptr, e});
    }
  }
  std::sort(renamed_from.begin(), renamed_from.end());
  for (const Entry* e : removed) {
    if (!std::binary_search(renamed_from.begin(), renamed_from.end(), e)) {
      changes.push_back({ChangeKind::removed, e, nullptr});
    }
  }
  std::sort(changes.begin(), changes.end(), [](const Change& p, const Change& q) {
    const std::string& l = (p.after ? p.after : p.before)->path;
    const std::string& r = (q.after ? q.after : q.before)->path;
    return l < r;
  });
  return changes;
}

} // namespace treecast::core
