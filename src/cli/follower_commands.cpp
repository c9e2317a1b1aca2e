// The follower's commands: apply a delta to a tree, verify a tree against
// the version it holds, undo the last apply.

#include "commands.hpp"
#include "core/follower.hpp"
#include "output.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <cerrno>
#include <fcntl.h>
#include <iostream>
#include <unistd.h>

namespace treecast::cli {

namespace {

struct FollowerArgs
{
  std::string file;
  std::string dir;
  std::string state;
  std::string commit = "atomic";
  std::string owners = "auto";
  unsigned jobs = 0;
  bool json = false;
};

util::Result<core::Follower> open_follower(const FollowerArgs& args, core::Create create)
{
  auto follower = core::Follower::open(args.dir, args.state, create);
  if (follower && !follower->recovered().empty()) {
    warn(util::quote(args.dir) + ": " + follower->recovered());
  }
  return follower;
}

std::string held(const core::Manifest& m)
{
  return m.header.number == 0 ? std::string("no version")
                              : version_label(m.header.number, m.id) + " of " + m.header.channel;
}

int run_apply(const FollowerArgs& args)
{
  util::Fd fd(args.file == "-" ? ::dup(STDIN_FILENO)
                               : ::open(args.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return fail(util::io_error(args.file, "cannot open", errno));
  }
  auto source = core::file_source(fd);
  core::DeltaReader reader(std::move(*source), args.file);
  auto header = reader.read_header();
  if (!header) {
    return fail(header.error());
  }
  auto follower = open_follower(args, core::Create::yes);
  if (!follower) {
    return fail(follower.error());
  }
  const bool restore = args.owners == "restore" || (args.owners == "auto" && ::geteuid() == 0);
  util::ThreadPool pool(args.jobs);
  auto report = follower->apply(
    reader, *header, restore ? core::Owners::restore : core::Owners::keep,
    args.commit == "inplace" ? core::CommitMode::inplace : core::CommitMode::atomic, pool);
  if (!report) {
    return fail(report.error());
  }
  const core::Manifest& to = report->to;
  if (args.json) {
    nlohmann::json j;
    j["dir"] = args.dir;
    j["from"] = report->from.header.number;
    j["to"] = {{"number", to.header.number}, {"id", to.id.hex()}};
    j["channel"] = to.header.channel;
    j["written"] = report->written;
    j["bytes_written"] = report->bytes_written;
    j["linked"] = report->linked;
    j["copied"] = report->copied;
    print_json(j);
  } else {
    std::cout << util::quote(args.dir) << " is at " << version_label(to.header.number, to.id)
              << " (" << count(report->written, "file", "files") << " written, "
              << util::human_size(report->bytes_written) << "; "
              << count(report->linked, "file", "files") << " unchanged)\n";
  }
  return 0;
}

int run_verify(const FollowerArgs& args)
{
  auto follower = open_follower(args, core::Create::no);
  if (!follower) {
    return fail(follower.error());
  }
  const core::Manifest& m = follower->current();
  if (m.header.number == 0) {
    return fail(util::make_error(util::Errc::not_found,
                                 util::quote(args.dir) + " holds no version recorded by treecast"));
  }
  util::ThreadPool pool(args.jobs);
  auto drift = follower->drift(pool);
  if (!drift) {
    return fail(drift.error());
  }
  if (args.json) {
    nlohmann::json j;
    j["dir"] = args.dir;
    j["channel"] = m.header.channel;
    j["number"] = m.header.number;
    j["id"] = m.id.hex();
    j["drift"] = nlohmann::json::array();
    for (const core::Drift& d : *drift) {
      nlohmann::json one;
      put_path(one, "path", d.path);
      one["what"] = d.what;
      j["drift"].push_back(one);
    }
    print_json(j);
  } else if (drift->empty()) {
    std::cout << util::quote(args.dir) << " is at " << held(m) << ", unchanged\n";
  } else {
    std::cout << core::drift_message(args.dir, m, *drift) << '\n';
    for (const core::Drift& d : *drift) {
      std::cout << "  " << d.what << ' ' << util::quote(d.path.empty() ? "." : d.path) << '\n';
    }
  }
  return drift->empty() ? 0 : static_cast<int>(Exit::conflict);
}

int run_undo(const FollowerArgs& args)
{
  auto follower = open_follower(args, core::Create::no);
  if (!follower) {
    return fail(follower.error());
  }
  const std::string before = held(follower->current());
  auto now = follower->undo();
  if (!now) {
    return fail(now.error());
  }
  std::cout << util::quote(args.dir) << " is back at " << held(*now) << " (was " << before << ")\n";
  return 0;
}

void add_dir_options(CLI::App& cmd, FollowerArgs& args)
{
  cmd.add_option("DIR", args.dir, "The follower's tree")->required();
  cmd
    .add_option("--state", args.state,
                "The state folder (default: .DIR.treecast beside DIR, on its file system)")
    ->type_name("PATH");
}

} // namespace

void add_follower_commands(CLI::App& app, Runner& selected)
{
  {
    auto args = std::make_shared<FollowerArgs>();
    auto* cmd = app.add_subcommand(
      "apply", "Bring DIR to a new version with a delta, all at once or not at all");
    cmd->add_option("FILE", args->file, "The delta ('treecast delta'); - for standard input")
      ->required();
    add_dir_options(*cmd, *args);
    cmd
      ->add_option("--commit", args->commit,
                   "atomic (default): build the new tree beside DIR and swap it in at once, "
                   "keeping the old one for 'treecast undo'; inplace: stage only what changes "
                   "and rename it into place (huge trees, mount points; no undo)")
      ->check(CLI::IsMember({"atomic", "inplace"}));
    cmd
      ->add_option("--owners", args->owners,
                   "restore: recorded owners (by name, else number); keep: the caller's; "
                   "auto (default): restore when run as root")
      ->check(CLI::IsMember({"auto", "restore", "keep"}));
    cmd->add_option("-j,--jobs", args->jobs, "Threads for checking DIR (default: one per core)");
    cmd->add_flag("--json", args->json, "Print the result as JSON");
    cmd->footer("Refuses a delta made for another version than DIR's, and a DIR that was "
                "changed by hand (see 'treecast verify'); DIR is then left as it was.");
    cmd->callback([args, &selected] { selected = [args] { return run_apply(*args); }; });
  }
  {
    auto args = std::make_shared<FollowerArgs>();
    auto* cmd = app.add_subcommand(
      "verify", "Check that DIR is exactly the version it holds; list what differs");
    add_dir_options(*cmd, *args);
    cmd->add_option("-j,--jobs", args->jobs, "Files hashed at once (default: one per core)");
    cmd->add_flag("--json", args->json, "Print the result as JSON");
    cmd->footer("Exits 0 when DIR is unchanged, 6 when it has drifted.");
    cmd->callback([args, &selected] { selected = [args] { return run_verify(*args); }; });
  }
  {
    auto args = std::make_shared<FollowerArgs>();
    auto* cmd = app.add_subcommand("undo", "Swap back the tree DIR held before the last apply");
    add_dir_options(*cmd, *args);
    cmd->footer("A local action on this machine; undo again to return.");
    cmd->callback([args, &selected] { selected = [args] { return run_undo(*args); }; });
  }
}

} // namespace treecast::cli
