// treecast: mirrors a directory tree from one master to a fleet.
//
// main parses the command line, runs the chosen subcommand, and turns its
// outcome into an exit code (treecast(1), EXIT STATUS). It is the one place
// that catches exceptions: they mean a bug, and exit 1.

#include "commands.hpp"
#include "log.hpp"
#include "output.hpp"

#include <algorithm>
#include <exception>
#include <iostream>
#include <malloc.h>

int main(int argc, char** argv)
{
  using namespace treecast::cli;

  // Memory stays bounded: two malloc arenas, not one per thread (each costs
  // resident memory; workers allocate little), and large buffers as their
  // own mappings, returned to the system when freed.
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);

  CLI::App app("treecast: mirror a directory tree to a fleet, one whole version at a time.",
               "treecast");
  app.set_version_flag("--version", "treecast " TREECAST_VERSION);
  app.require_subcommand(1);
  // -v and -q anywhere on the line: before the command, or after it, where
  // an option the command does not know falls through to here.
  app.fallthrough();
  int verbose = 0;
  int quiet = 0;
  app.add_flag("-v,--verbose", verbose, "Log one level more, up to debug (repeatable)");
  app.add_flag("-q,--quiet", quiet, "Log one level less; errors always show (repeatable)");
  app.footer("Run 'treecast COMMAND --help' for a command's options; man treecast for more.");

  Runner selected;
  add_snapshot(app, selected);
  add_log(app, selected);
  add_show(app, selected);
  add_diff(app, selected);
  add_checkout(app, selected);
  add_delta(app, selected);
  add_follower_commands(app, selected);
  add_gc(app, selected);
  add_daemon_commands(app, selected);
  add_follow_commands(app, selected);
  add_fleet_commands(app, selected);

  // A first word that is neither an option nor a command is a typo.
  const auto commands = app.get_subcommands([](CLI::App*) { return true; });
  const bool known = argc > 1 && std::any_of(commands.begin(), commands.end(),
                                             [&](CLI::App* c) { return c->get_name() == argv[1]; });
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::cerr << "treecast: error: unknown command '" << argv[1]
              << "'\nRun 'treecast --help' for the list of commands.\n";
    return static_cast<int>(Exit::usage);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "treecast: error: " << e.what()
              << "\nRun 'treecast --help', or 'treecast COMMAND --help', for usage.\n";
    return static_cast<int>(Exit::usage);
  }
  set_verbosity(verbose - quiet);
  try {
    return selected ? selected() : static_cast<int>(Exit::usage);
  } catch (const std::exception& e) {
    std::cerr << "treecast: internal error: " << e.what() << '\n';
    return static_cast<int>(Exit::internal);
  }
}
