#include "commands.hpp"
#include "core/diff.hpp"
#include "output.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <array>
#include <cstdio>
#include <iostream>

namespace treecast::cli {

namespace {

struct DiffArgs
{
  StoreOptions store;
  std::string from;
  std::string to;
  bool stat = false;
  bool json = false;
};

char letter(core::ChangeKind kind)
{
  switch (kind) {
    case core::ChangeKind::added:
      return 'A';
    case core::ChangeKind::removed:
      return 'D';
    case core::ChangeKind::modified:
      return 'M';
    case core::ChangeKind::renamed:
      return 'R';
    case core::ChangeKind::mode:
      return 'P';
    case core::ChangeKind::type:
      return 'T';
  }
  return '?';
}

std::string octal(std::uint32_t mode)
{
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", mode);
  return buffer;
}

std::string owner(const core::Entry& e)
{
  return (e.user.empty() ? std::to_string(e.uid) : e.user) + ":" +
         (e.group.empty() ? std::to_string(e.gid) : e.group);
}

int run_diff(const DiffArgs& args)
{
  auto store = open_store(args.store);
  if (!store) {
    return fail(store.error());
  }
  auto a = load_version(*store, args.store.channel, args.from);
  if (!a) {
    return fail(a.error());
  }
  auto b = load_version(*store, args.store.channel, args.to);
  if (!b) {
    return fail(b.error());
  }
  const auto changes = core::diff(*a, *b);

  if (args.json) {
    nlohmann::json j;
    j["from"] = {{"number", a->header.number}, {"id", a->id.hex()}};
    j["to"] = {{"number", b->header.number}, {"id", b->id.hex()}};
    j["changes"] = nlohmann::json::array();
    for (const core::Change& c : changes) {
      nlohmann::json item;
      item["kind"] = core::to_string(c.kind);
      put_path(item, "path", (c.after ? c.after : c.before)->path);
      if (c.kind == core::ChangeKind::renamed) {
        put_path(item, "old_path", c.before->path);
      }
      if (c.before) {
        item["before"] = entry_json(*c.before);
      }
      if (c.after) {
        item["after"] = entry_json(*c.after);
      }
      j["changes"].push_back(std::move(item));
    }
    print_json(j);
    return 0;
  }

  if (args.stat) {
    std::array<std::size_t, 6> counts{};
    std::uint64_t added_bytes = 0;
    std::uint64_t removed_bytes = 0;
    for (const core::Change& c : changes) {
      counts[static_cast<std::size_t>(c.kind)] += 1;
      if (c.kind != core::ChangeKind::renamed) {
        added_bytes += c.after ? c.after->size : 0;
        removed_bytes += c.before ? c.before->size : 0;
      }
    }
    std::cout << counts[0] << " added, " << counts[1] << " removed, " << counts[2] << " modified, "
              << counts[3] << " renamed, " << counts[4] << " mode, " << counts[5] << " type; "
              << util::human_size(removed_bytes) << " -> " << util::human_size(added_bytes)
              << " in changed files\n";
    return 0;
  }

  for (const core::Change& c : changes) {
    std::cout << letter(c.kind) << "  ";
    switch (c.kind) {
      case core::ChangeKind::renamed:
        std::cout << util::quote(c.before->path) << " -> " << util::quote(c.after->path);
        break;
      case core::ChangeKind::mode:
        std::cout << util::quote(c.after->path) << " (";
        if (c.before->mode != c.after->mode) {
          std::cout << octal(c.before->mode) << " -> " << octal(c.after->mode);
        } else if (owner(*c.before) != owner(*c.after)) {
          std::cout << owner(*c.before) << " -> " << owner(*c.after);
        } else {
          std::cout << "extended attributes";
        }
        std::cout << ")";
        break;
      case core::ChangeKind::type:
        std::cout << util::quote(c.after->path) << " (" << core::to_string(c.before->type) << " -> "
                  << core::to_string(c.after->type) << ")";
        break;
      default:
        std::cout << util::quote((c.after ? c.after : c.before)->path);
    }
    std::cout << '\n';
  }
  return 0;
}

} // namespace

void add_diff(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand("diff", "Show what changed from version A to version B");
  cmd->add_option("A", args->from, "The older version")->required();
  cmd->add_option("B", args->to, "The newer version")->required();
  add_store_options(*cmd, args->store);
  cmd->add_flag("--stat", args->stat, "Print counts and sizes only");
  cmd->add_flag("--json", args->json, "Print the changes as JSON");
  cmd->footer("One line per change: A added, D removed, M modified, R renamed (same content, "
              "new path), P permission bits, owner or extended attributes, T type (file, "
              "folder, symlink).");
  cmd->callback([args, &selected] { selected = [args] { return run_diff(*args); }; });
}

} // namespace treecast::cli
