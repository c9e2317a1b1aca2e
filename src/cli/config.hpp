#pragma once

// treecast.toml (treecast.conf(5)): one file for serve and follow. Keys
// not described there are refused, with their place in the file, so a
// typo never goes unnoticed. Flags given on the command line win over it.

#include "util/result.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace treecast::cli {

struct ServeConfig
{
  std::optional<std::string> store;
  std::optional<std::string> bind;
  std::optional<bool> insecure;
  std::optional<unsigned> jobs;
  std::optional<std::string> level; // "auto" or 1 to 19
  std::optional<std::string> key;
  std::optional<std::string> authorized;
  std::optional<std::string> sign_key;
  std::optional<std::string> metrics;      // HOST:PORT of the HTTP endpoint
  std::optional<bool> xattrs;              // record extended attributes
  std::optional<bool> acls;                // record POSIX ACLs
  std::optional<std::string> metrics_file; // the file rewritten for node_exporter
  std::vector<std::string> exclude;
  std::map<std::string, std::string> channels; // name -> folder
};

struct FollowChannelConfig
{
  std::string name;
  std::string dir;
  std::string state;
  std::string check;
  std::string exec;
  std::string commit; // "" for follow's
  std::string health;
};

struct FollowConfig
{
  std::optional<std::string> master;
  std::optional<std::string> id;
  std::optional<std::string> commit;
  std::optional<std::string> key;
  std::optional<std::string> master_key;
  std::optional<std::string> exec_splay; // a duration, "30s"
  std::optional<std::string> group;      // push --canary's group
  std::vector<std::string> trust;
  std::vector<FollowChannelConfig> channels;
};

struct Config
{
  ServeConfig serve;
  FollowConfig follow;
};

[[nodiscard]] util::Result<Config> load_config(const std::string& path);

// The file serve and follow read when --config is not given:
// /etc/treecast/treecast.toml, if it exists ("" if not). --config ''
// reads none.
inline constexpr const char* k_default_config = "/etc/treecast/treecast.toml";
[[nodiscard]] std::string default_config(const std::string& given, bool was_given);

} // namespace treecast::cli
