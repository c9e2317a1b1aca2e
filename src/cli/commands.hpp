#pragma once

// The subcommands of treecast. Each add_* function declares one subcommand on
// the CLI11 app; when that subcommand is chosen, `selected` is set to the
// function that runs it and returns the exit code.

#include "core/store.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

namespace treecast::cli {

using Runner = std::function<int()>;

// --store and --channel, shared by every command that reads the store.
struct StoreOptions
{
  std::string store;
  std::string channel;
};

// Declares --store (default: $TREECAST_STORE, else /var/lib/treecast) and,
// when channel_required, --channel.
void add_store_options(CLI::App& command, StoreOptions& options, bool channel_required = true);
// Opens the store for reading (it must exist) and checks the channel name.
[[nodiscard]] util::Result<core::Store> open_store(const StoreOptions& options,
                                                   core::Create create = core::Create::no);
// Resolves a VERSION argument and reads its manifest.
[[nodiscard]] util::Result<core::Manifest> load_version(const core::Store& store,
                                                        const std::string& channel,
                                                        const std::string& spec);

void add_snapshot(CLI::App& app, Runner& selected);
void add_log(CLI::App& app, Runner& selected);
void add_show(CLI::App& app, Runner& selected);
void add_diff(CLI::App& app, Runner& selected);
void add_checkout(CLI::App& app, Runner& selected);
void add_delta(CLI::App& app, Runner& selected);
void add_follower_commands(CLI::App& app, Runner& selected);
void add_gc(CLI::App& app, Runner& selected);
void add_daemon_commands(CLI::App& app, Runner& selected);
void add_follow_commands(CLI::App& app, Runner& selected);
void add_fleet_commands(CLI::App& app, Runner& selected);

} // namespace treecast::cli
