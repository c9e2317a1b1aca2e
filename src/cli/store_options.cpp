#include "commands.hpp"
#include "core/version_spec.hpp"

#include <cstdlib>

namespace treecast::cli {

void add_store_options(CLI::App& command, StoreOptions& options, bool channel_required)
{
  const char* env = std::getenv("TREECAST_STORE");
  options.store = env != nullptr && *env != '\0' ? env : "/var/lib/treecast";
  command
    .add_option("--store", options.store,
                "The store folder (default: $TREECAST_STORE, else /var/lib/treecast)")
    ->type_name("PATH");
  auto* channel =
    command.add_option("--channel", options.channel, "The channel's name")->type_name("NAME");
  if (channel_required) {
    channel->required();
  }
}

util::Result<core::Store> open_store(const StoreOptions& options, core::Create create)
{
  // Every command that opens the store names a channel (an empty one too).
  if (auto s = core::validate_channel(options.channel); !s) {
    return s.error();
  }
  return core::Store::open(options.store, create);
}

util::Result<core::Manifest> load_version(const core::Store& store, const std::string& channel,
                                          const std::string& spec)
{
  auto number = core::resolve_version(store, channel, spec);
  if (!number) {
    return number.error();
  }
  return store.read_manifest(channel, *number);
}

} // namespace treecast::cli
