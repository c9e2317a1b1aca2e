// treecast log and treecast show: the channel's versions, and one version's
// header and entries.

#include "commands.hpp"
#include "output.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <cstdio>
#include <iostream>

namespace treecast::cli {

namespace {

struct LogArgs
{
  StoreOptions store;
  bool json = false;
};

struct ShowArgs
{
  StoreOptions store;
  std::string version;
  bool json = false;
};

nlohmann::json header_json(const core::Manifest& m)
{
  nlohmann::json j;
  j["channel"] = m.header.channel;
  j["number"] = m.header.number;
  j["id"] = m.id.hex();
  j["parent"] = m.header.parent;
  j["time"] = util::utc_time(m.header.time_ns);
  j["time_ns"] = m.header.time_ns;
  j["message"] = m.header.message;
  j["entries"] = m.entries.size();
  j["files"] = m.file_count();
  j["bytes"] = m.content_bytes();
  return j;
}

int run_log(const LogArgs& args)
{
  auto store = open_store(args.store);
  if (!store) {
    return fail(store.error());
  }
  auto numbers = store->versions(args.store.channel);
  if (!numbers) {
    return fail(numbers.error());
  }
  if (numbers->empty()) {
    return fail(util::make_error(util::Errc::not_found, "channel " + args.store.channel +
                                                          " has no versions in " +
                                                          util::quote(store->root())));
  }
  nlohmann::json all = nlohmann::json::array();
  for (auto it = numbers->rbegin(); it != numbers->rend(); ++it) {
    auto m = store->read_manifest(args.store.channel, *it);
    if (!m) {
      return fail(m.error());
    }
    if (args.json) {
      all.push_back(header_json(*m));
      continue;
    }
    std::cout << version_label(m->header.number, m->id) << "  " << util::utc_time(m->header.time_ns)
              << "  " << count(m->file_count(), "file", "files") << ", "
              << util::human_size(m->content_bytes());
    if (!m->header.message.empty()) {
      // One line per version: the message's first line, marked when cut.
      const auto newline = m->header.message.find('\n');
      std::cout << "  " << m->header.message.substr(0, newline)
                << (newline == std::string::npos ? "" : " [...]");
    }
    std::cout << '\n';
  }
  if (args.json) {
    print_json(all);
  }
  return 0;
}

int run_show(const ShowArgs& args)
{
  auto store = open_store(args.store);
  if (!store) {
    return fail(store.error());
  }
  auto m = load_version(*store, args.store.channel, args.version);
  if (!m) {
    return fail(m.error());
  }
  if (args.json) {
    nlohmann::json j = header_json(*m);
    j["entries"] = nlohmann::json::array();
    for (const core::Entry& e : m->entries) {
      j["entries"].push_back(entry_json(e));
    }
    print_json(j);
    return 0;
  }
  std::size_t folders = 0;
  std::size_t links = 0;
  for (const core::Entry& e : m->entries) {
    folders += e.type == core::EntryType::directory ? 1 : 0;
    links += e.type == core::EntryType::symlink ? 1 : 0;
  }
  std::cout << "version  v" << m->header.number << '\n'
            << "id       " << m->id.hex() << '\n'
            << "channel  " << m->header.channel << '\n'
            << "parent   " << (m->header.parent ? "v" + std::to_string(m->header.parent) : "none")
            << '\n'
            << "time     " << util::utc_time(m->header.time_ns) << '\n'
            << "message  " << m->header.message << '\n'
            << "entries  " << m->entries.size() << " (" << count(m->file_count(), "file", "files")
            << ", " << count(folders, "folder", "folders") << ", "
            << count(links, "symlink", "symlinks") << "), " << util::human_size(m->content_bytes())
            << "\n\n";
  for (const core::Entry& e : m->entries) {
    char line[128];
    std::snprintf(line, sizeof line, "%s %-8s %-8s %12llu  ", mode_string(e).c_str(),
                  e.user.empty() ? std::to_string(e.uid).c_str() : e.user.c_str(),
                  e.group.empty() ? std::to_string(e.gid).c_str() : e.group.c_str(),
                  static_cast<unsigned long long>(e.size));
    std::cout << line;
    if (e.type == core::EntryType::file) {
      std::cout << e.hash.short_hex() << "  ";
    } else {
      std::cout << std::string(14, ' ');
    }
    std::cout << util::quote(e.path);
    if (e.type == core::EntryType::symlink) {
      std::cout << " -> " << util::quote(e.target);
    }
    std::cout << '\n';
  }
  return 0;
}

} // namespace

void add_log(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<LogArgs>();
  auto* cmd = app.add_subcommand("log", "List the channel's versions, newest first");
  add_store_options(*cmd, args->store);
  cmd->add_flag("--json", args->json, "Print the versions as a JSON array");
  cmd->callback([args, &selected] { selected = [args] { return run_log(*args); }; });
}

void add_show(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<ShowArgs>();
  auto* cmd = app.add_subcommand("show", "Print one version's header and entries");
  cmd->add_option("VERSION", args->version, "v3, 3, latest, latest~2 or an id prefix")->required();
  add_store_options(*cmd, args->store);
  cmd->add_flag("--json", args->json, "Print the version as JSON");
  cmd->callback([args, &selected] { selected = [args] { return run_show(*args); }; });
}

} // namespace treecast::cli
