#include "dry_run.hpp"

#include "core/delta.hpp"

namespace treecast::sync {

util::Result<DryRun> dry_run(const core::Store& store, const std::string& dir,
                             core::SnapshotOptions options, std::uint64_t committed,
                             std::map<std::uint64_t, std::vector<std::string>> held, int level,
                             util::Executor& executor)
{
  options.record = false;
  auto snap = core::snapshot(store, dir, options, executor);
  if (!snap) {
    return snap.error();
  }
  DryRun out;
  out.committed = committed;
  out.version = std::move(snap->manifest);
  core::Manifest before;
  before.header.channel = options.channel;
  if (committed != 0) {
    auto m = store.read_manifest(options.channel, committed);
    if (!m) {
      return m.error();
    }
    before = std::move(*m);
  }
  out.unchanged = committed != 0 && before.id == out.version.id;
  if (out.unchanged) {
    out.version = before;
    return out;
  }
  // The snapshot numbers it after the latest version, which may be one
  // that was rolled past; the push would make it the next one all the same.
  for (const core::Change& c : core::diff(before, out.version)) {
    const core::Entry* shown = c.after != nullptr ? c.after : c.before;
    out.changes.push_back(
      {c.kind, shown->path, c.kind == core::ChangeKind::renamed ? c.before->path : std::string()});
  }
  out.entries_before = before.entries.size();
  for (const core::Entry& e : before.entries) {
    out.deleted += out.version.find(e.path) == nullptr ? 1 : 0;
  }
  held.try_emplace(committed);
  for (auto& [from, followers] : held) {
    core::Manifest base;
    base.header.channel = options.channel;
    if (from == committed) {
      base = before;
    } else if (from != 0) {
      auto m = store.read_manifest(options.channel, from);
      if (!m) {
        out.deltas.push_back({from, 0, std::move(followers), m.error().message});
        continue;
      }
      base = std::move(*m);
    }
    std::uint64_t bytes = 0;
    const util::ByteSink count = [&](std::span<const std::uint8_t> data) -> util::Status {
      bytes += data.size();
      return {};
    };
    auto made =
      core::make_delta(store, base, out.version, core::DeltaOptions{level}, executor, count);
    if (!made) {
      return made.error();
    }
    out.deltas.push_back({from, bytes, std::move(followers), ""});
  }
  return out;
}

} // namespace treecast::sync
