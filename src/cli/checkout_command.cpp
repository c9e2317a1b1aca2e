#include "commands.hpp"
#include "core/checkout.hpp"
#include "core/follower.hpp"
#include "output.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <iostream>
#include <unistd.h>

namespace treecast::cli {

namespace {

struct CheckoutArgs
{
  StoreOptions store;
  std::string version;
  std::string dir;
  std::string owners = "auto";
};

int run_checkout(const CheckoutArgs& args)
{
  auto store = open_store(args.store);
  if (!store) {
    return fail(store.error());
  }
  auto lock = store->lock_store(core::LockMode::shared);
  if (!lock) {
    return fail(lock.error());
  }
  auto m = load_version(*store, args.store.channel, args.version);
  if (!m) {
    return fail(m.error());
  }
  const bool restore = args.owners == "restore" || (args.owners == "auto" && ::geteuid() == 0);
  auto report =
    core::checkout(*store, *m, args.dir, restore ? core::Owners::restore : core::Owners::keep);
  if (!report) {
    return fail(report.error());
  }
  // The folder is now a follower's tree at this version: 'treecast apply'
  // and 'treecast verify' take it from here.
  auto follower = core::Follower::open(args.dir, "", core::Create::yes);
  if (!follower) {
    return fail(follower.error());
  }
  util::ThreadPool pool(0);
  if (auto s = follower->record(*m, restore ? core::Owners::restore : core::Owners::keep, pool);
      !s) {
    return fail(s.error());
  }
  std::cout << version_label(m->header.number, m->id) << " checked out into "
            << util::quote(args.dir) << " (" << count(report->files, "file", "files") << ", "
            << count(report->folders, "folder", "folders") << ", "
            << count(report->symlinks, "symlink", "symlinks") << ", "
            << util::human_size(report->bytes) << ")\n";
  return 0;
}

} // namespace

void add_checkout(CLI::App& app, Runner& selected)
{
  auto args = std::make_shared<CheckoutArgs>();
  auto* cmd =
    app.add_subcommand("checkout", "Write a version into an empty or new folder, verifying it");
  cmd->add_option("VERSION", args->version, "v3, 3, latest, latest~2 or an id prefix")->required();
  cmd->add_option("DIR", args->dir, "An empty or new folder")->required();
  add_store_options(*cmd, args->store);
  cmd
    ->add_option("--owners", args->owners,
                 "restore: recorded owners (by name, else number); keep: the caller's; "
                 "auto (default): restore when run as root")
    ->check(CLI::IsMember({"auto", "restore", "keep"}));
  cmd->callback([args, &selected] { selected = [args] { return run_checkout(*args); }; });
}

} // namespace treecast::cli
