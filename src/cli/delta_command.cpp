#include "commands.hpp"
#include "core/delta.hpp"
#include "output.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <cerrno>
#include <fcntl.h>
#include <iostream>
#include <unistd.h>

namespace treecast::cli {

namespace {

struct DeltaArgs
{
  StoreOptions store;
  std::string from;
  std::string to = "latest";
  std::string output;
  std::string level = "auto";
  unsigned jobs = 0;
  bool json = false;
};

// Copies the cached delta to path (a copy, never a link: editing the
// output must not touch the cache), through a temporary name, so path
// never holds part of a delta.
util::Status deliver(const std::string& cached, const std::string& path)
{
  util::Fd in(::open(cached.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    return util::io_error(cached, "cannot open", errno);
  }
  if (path == "-") {
    std::vector<std::uint8_t> buffer(1 << 20);
    for (;;) {
      const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
      if (n < 0) {
        return util::io_error(cached, "cannot read", errno);
      }
      if (n == 0) {
        return {};
      }
      if (auto s = util::write_all(STDOUT_FILENO, std::span(buffer).first(n), "standard output");
          !s) {
        return s;
      }
    }
  }
  const std::string temp = path + ".treecast-tmp";
  ::unlink(temp.c_str());
  {
    util::Fd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out) {
      return util::io_error(temp, "cannot create", errno);
    }
    for (;;) {
      const ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
      if (n < 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        return util::io_error(path, "cannot write", err);
      }
      if (n == 0) {
        break;
      }
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return util::io_error(path, "cannot create", err);
  }
  return {};
}

int run_delta(const DeltaArgs& args)
{
  auto store = open_store(args.store);
  if (!store) {
    return fail(store.error());
  }
  auto lock = store->lock_store(core::LockMode::shared);
  if (!lock) {
    return fail(lock.error());
  }
  core::Manifest from;
  if (args.from != "0" && args.from != "none") {
    auto m = load_version(*store, args.store.channel, args.from);
    if (!m) {
      return fail(m.error());
    }
    from = std::move(*m);
  }
  auto to = load_version(*store, args.store.channel, args.to);
  if (!to) {
    return fail(to.error());
  }
  core::DeltaOptions options;
  options.level = args.level == "auto" ? 0 : std::stoi(args.level);
  util::ThreadPool pool(args.jobs);
  auto cached = core::cached_delta(*store, from, *to, options, pool);
  if (!cached) {
    return fail(cached.error());
  }
  if (auto s = deliver(cached->path, args.output); !s) {
    return fail(s.error());
  }
  const core::DeltaHeader& h = cached->report.header;
  if (args.json) {
    nlohmann::json j;
    j["channel"] = h.channel;
    j["from"] = {{"number", h.from_number}, {"id", h.from_id.hex()}};
    j["to"] = {{"number", h.to_number}, {"id", h.to_id.hex()}};
    j["delta_bytes"] = cached->report.delta_bytes;
    j["new_files"] = h.new_files;
    j["write_bytes"] = h.write_bytes;
    j["cached"] = !cached->made;
    if (args.output != "-") {
      print_json(j);
    }
  } else {
    std::ostream& out = args.output == "-" ? std::cerr : std::cout;
    out << (h.from_number == 0 ? std::string("nothing") : "v" + std::to_string(h.from_number))
        << " -> " << version_label(h.to_number, h.to_id) << ": "
        << util::human_size(cached->report.delta_bytes) << " delta ("
        << count(h.new_files, "new file", "new files") << ", " << util::human_size(h.write_bytes)
        << " to write" << (cached->made ? "" : "; from the cache") << ")\n";
  }
  return 0;
}

} // namespace

void add_delta(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<DeltaArgs>();
  auto* cmd = app.add_subcommand(
    "delta", "Write the delta that takes a follower from one version to another");
  cmd
    ->add_option("--from", args->from,
                 "The version the follower holds: v3, 3, latest~2, an id prefix, or 0 for "
                 "none (an empty folder)")
    ->required();
  cmd->add_option("--to", args->to, "The version to reach (default: latest)");
  cmd->add_option("-o,--output", args->output, "Where to write the delta; - for standard output")
    ->required()
    ->type_name("FILE");
  add_store_options(*cmd, args->store);
  cmd
    ->add_option("--level", args->level,
                 "zstd level of every frame, 1 to 19; auto (default): 19 for frames of up to "
                 "8 MiB when the delta's new content is at most 32 MiB, else 12")
    ->check(CLI::IsMember({"auto", "1",  "2",  "3",  "4",  "5",  "6",  "7",  "8",  "9",
                           "10",   "11", "12", "13", "14", "15", "16", "17", "18", "19"}));
  cmd->add_option("-j,--jobs", args->jobs, "Frames compressed at once (default: one per core)");
  cmd->add_flag("--json", args->json, "Print the result as JSON (not with -o -)");
  cmd->footer("Deltas are cached in the store: asking again for the same pair and level reads "
              "the cached one. Carry the file to a follower and run 'treecast apply FILE DIR'.");
  cmd->callback([args, &selected] { selected = [args] { return run_delta(*args); }; });
}

} // namespace treecast::cli
