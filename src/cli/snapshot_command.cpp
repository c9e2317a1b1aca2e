#include "commands.hpp"
#include "core/snapshot.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <iostream>

namespace treecast::cli {

namespace {

struct SnapshotArgs
{
  StoreOptions store;
  std::string dir;
  std::string message;
  std::vector<std::string> excludes;
  int level = 3;
  unsigned jobs = 0;
  bool json = false;
  bool xattrs = false;
  bool acls = false;
};

int run_snapshot(const SnapshotArgs& args)
{
  auto store = open_store(args.store, core::Create::yes);
  if (!store) {
    return fail(store.error());
  }
  core::SnapshotOptions options;
  options.channel = args.store.channel;
  options.message = args.message;
  options.excludes = args.excludes;
  options.level = args.level;
  options.xattrs =
    (args.xattrs ? core::k_record_xattrs : 0U) | (args.acls ? core::k_record_acls : 0U);
  util::ThreadPool pool(args.jobs);
  Progress progress("reading");
  if (progress.shown()) {
    options.progress = [&](std::uint64_t n, std::uint64_t total) { progress.add(n, total); };
  }
  auto report = core::snapshot(*store, args.dir, options, pool);
  progress.finish();
  if (!report) {
    return fail(report.error());
  }
  for (const std::string& warning : report->warnings) {
    warn(warning);
  }
  const core::Manifest& m = report->manifest;
  if (args.json) {
    nlohmann::json j;
    j["recorded"] = report->recorded;
    j["channel"] = m.header.channel;
    j["number"] = m.header.number;
    j["id"] = m.id.hex();
    j["changed"] = report->changed;
    j["files_read"] = report->files_read;
    j["bytes_read"] = report->bytes_read;
    j["new_objects"] = report->new_objects;
    j["new_bytes"] = report->new_bytes;
    print_json(j);
  } else if (report->recorded) {
    std::cout << version_label(m.header.number, m.id) << " (" << report->changed << " changed, "
              << util::human_size(report->new_bytes) << " new)\n";
  } else {
    std::cout << version_label(m.header.number, m.id) << " unchanged, nothing recorded\n";
  }
  return 0;
}

} // namespace

void add_snapshot(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<SnapshotArgs>();
  auto* cmd = app.add_subcommand("snapshot", "Record DIR as the channel's next version");
  cmd->add_option("DIR", args->dir, "The tree to record")->required();
  add_store_options(*cmd, args->store);
  cmd->add_option("-m,--message", args->message, "A message stored with the version");
  cmd
    ->add_option("--exclude", args->excludes,
                 "Leave out paths matching this glob (repeatable): 'NAME' at any depth, "
                 "'a/b' from the root, 'dir/' folders only")
    ->type_name("PATTERN");
  cmd->add_option("--level", args->level, "zstd level for new content (default 3)")
    ->check(CLI::Range(1, 19));
  cmd->add_option("-j,--jobs", args->jobs, "Files read at once (default: one per core)");
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->add_flag("--xattrs", args->xattrs,
                "Record extended attributes too (user.*, trusted.*, security.* but selinux)");
  cmd->add_flag("--acls", args->acls, "Record POSIX ACLs too (system.posix_acl_*)");
  cmd->footer("Prints e.g. 'v3 3f9a0c1d2b4e (12 changed, 1.2 MiB new)', or 'unchanged' when DIR "
              "equals the latest version, which records nothing.");
  cmd->callback([args, &selected] { selected = [args] { return run_snapshot(*args); }; });
}

} // namespace treecast::cli
