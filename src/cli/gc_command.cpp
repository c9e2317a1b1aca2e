#include "commands.hpp"
#include "core/gc.hpp"
#include "output.hpp"
#include "util/human.hpp"

#include <iostream>

namespace treecast::cli {

namespace {

struct GcArgs
{
  StoreOptions store;
  std::int64_t keep = 0; // signed, so that -1 is refused rather than wrapped
};

int run_gc(const GcArgs& args)
{
  auto store = open_store(args.store);
  if (!store) {
    return fail(store.error());
  }
  if (args.keep < 1) {
    return fail(util::make_error(util::Errc::usage, "--keep must be at least 1"));
  }
  auto report = core::gc(*store, args.store.channel, static_cast<std::uint64_t>(args.keep));
  if (!report) {
    return fail(report.error());
  }
  std::cout << "dropped " << report->dropped.size() << " version"
            << (report->dropped.size() == 1 ? "" : "s");
  for (std::size_t i = 0; i < report->dropped.size(); ++i) {
    std::cout << (i == 0 ? " (" : ", ") << 'v' << report->dropped[i];
  }
  std::cout << (report->dropped.empty() ? "" : ")") << ", removed "
            << count(report->objects_removed, "object", "objects") << " ("
            << util::human_size(report->bytes_freed) << ")";
  if (report->deltas_removed > 0) {
    std::cout << ", " << count(report->deltas_removed, "cached delta", "cached deltas");
  }
  if (report->temp_removed > 0) {
    std::cout << " and "
              << count(report->temp_removed, "leftover temporary file", "leftover temporary files");
  }
  std::cout << '\n';
  return 0;
}

} // namespace

void add_gc(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<GcArgs>();
  auto* cmd = app.add_subcommand(
    "gc", "Drop all but the newest versions of a channel and the content nothing uses");
  add_store_options(*cmd, args->store);
  cmd->add_option("--keep", args->keep, "How many of the newest versions to keep (at least 1)")
    ->required();
  cmd->callback([args, &selected] { selected = [args] { return run_gc(*args); }; });
}

} // namespace treecast::cli
