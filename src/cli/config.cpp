#include "config.hpp"

#include "util/file.hpp"

#include <filesystem>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace treecast::cli {

namespace {

class Reader
{
public:
  explicit Reader(std::string path) : m_path(std::move(path)) {}

  util::Error bad(const toml::node* node, const std::string& what) const
  {
    std::string where = m_path;
    if (node != nullptr && node->source().begin) {
      where += ":" + std::to_string(node->source().begin.line);
    }
    return util::make_error(util::Errc::usage, where + ": " + what);
  }

  // Refuses keys of table that are not in known.
  util::Status only(const toml::table& table, const std::string& prefix,
                    const std::set<std::string>& known) const
  {
    for (const auto& [key, node] : table) {
      if (!known.contains(std::string(key.str()))) {
        return bad(&node, "unknown key " + prefix + std::string(key.str()));
      }
    }
    return {};
  }

  template <typename T>
  util::Status get(const toml::table& table, const char* key, const std::string& prefix,
                   std::optional<T>& out) const
  {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return {};
    }
    const auto value = node->value<T>();
    if (!value) {
      return bad(node, prefix + key + " has the wrong type");
    }
    out = *value;
    return {};
  }

  util::Status strings(const toml::table& table, const char* key, const std::string& prefix,
                       std::vector<std::string>& out) const
  {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      return {};
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return bad(node, prefix + key + " must be a list of strings");
    }
    for (const toml::node& item : *array) {
      const auto s = item.value<std::string>();
      if (!s) {
        return bad(&item, prefix + key + " must be a list of strings");
      }
      out.push_back(*s);
    }
    return {};
  }

private:
  std::string m_path;
};

util::Status read_serve(const Reader& r, const toml::table& t, ServeConfig& c)
{
  if (auto s = r.only(t, "serve.",
                      {"store", "bind", "insecure", "jobs", "level", "exclude", "channels", "key",
                       "authorized", "sign_key", "metrics", "metrics_file", "xattrs", "acls"});
      !s) {
    return s;
  }
  if (const toml::node* level = t.get("level")) {
    if (const auto n = level->value<std::int64_t>()) {
      c.level = std::to_string(*n);
    } else if (const auto text = level->value<std::string>()) {
      c.level = *text;
    } else {
      return r.bad(level, "serve.level must be a number or \"auto\"");
    }
  }
  std::optional<std::int64_t> jobs;
  for (auto s : {r.get(t, "key", "serve.", c.key), r.get(t, "authorized", "serve.", c.authorized),
                 r.get(t, "sign_key", "serve.", c.sign_key), r.get(t, "store", "serve.", c.store),
                 r.get(t, "bind", "serve.", c.bind), r.get(t, "insecure", "serve.", c.insecure),
                 r.get(t, "jobs", "serve.", jobs), r.strings(t, "exclude", "serve.", c.exclude),
                 r.get(t, "metrics", "serve.", c.metrics),
                 r.get(t, "metrics_file", "serve.", c.metrics_file),
                 r.get(t, "xattrs", "serve.", c.xattrs), r.get(t, "acls", "serve.", c.acls)}) {
    if (!s) {
      return s;
    }
  }
  if (jobs) {
    if (*jobs < 1 || *jobs > 256) {
      return r.bad(t.get("jobs"), "serve.jobs must be 1 to 256");
    }
    c.jobs = static_cast<unsigned>(*jobs);
  }
  if (const toml::node* node = t.get("channels")) {
    const toml::table* channels = node->as_table();
    if (channels == nullptr) {
      return r.bad(node, "serve.channels must be a table of NAME = \"DIR\"");
    }
    for (const auto& [key, dir] : *channels) {
      const auto d = dir.value<std::string>();
      if (!d) {
        return r.bad(&dir, "serve.channels." + std::string(key.str()) + " must be a folder");
      }
      c.channels[std::string(key.str())] = *d;
    }
  }
  return {};
}

util::Status read_follow(const Reader& r, const toml::table& t, FollowConfig& c)
{
  if (auto s = r.only(
        t, "follow.",
        {"master", "id", "commit", "channel", "key", "master_key", "trust", "exec_splay", "group"});
      !s) {
    return s;
  }
  for (auto s :
       {r.strings(t, "trust", "follow.", c.trust), r.get(t, "key", "follow.", c.key),
        r.get(t, "master_key", "follow.", c.master_key), r.get(t, "master", "follow.", c.master),
        r.get(t, "id", "follow.", c.id), r.get(t, "commit", "follow.", c.commit),
        r.get(t, "exec_splay", "follow.", c.exec_splay), r.get(t, "group", "follow.", c.group)}) {
    if (!s) {
      return s;
    }
  }
  const toml::node* node = t.get("channel");
  if (node == nullptr) {
    return {};
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    return r.bad(node, "follow.channel must be a list of tables ([[follow.channel]])");
  }
  for (const toml::node& item : *array) {
    const toml::table* ch = item.as_table();
    if (ch == nullptr) {
      return r.bad(&item, "each [[follow.channel]] must be a table");
    }
    if (auto s = r.only(*ch, "follow.channel.",
                        {"name", "dir", "state", "check", "exec", "health", "commit"});
        !s) {
      return s;
    }
    FollowChannelConfig f;
    std::optional<std::string> name, dir, state, check, exec, health, commit;
    for (auto s :
         {r.get(*ch, "name", "follow.channel.", name), r.get(*ch, "dir", "follow.channel.", dir),
          r.get(*ch, "state", "follow.channel.", state),
          r.get(*ch, "check", "follow.channel.", check),
          r.get(*ch, "exec", "follow.channel.", exec),
          r.get(*ch, "health", "follow.channel.", health),
          r.get(*ch, "commit", "follow.channel.", commit)}) {
      if (!s) {
        return s;
      }
    }
    if (!name || !dir) {
      return r.bad(&item, "a [[follow.channel]] needs a name and a dir");
    }
    f.name = *name;
    f.dir = *dir;
    f.state = state.value_or("");
    f.check = check.value_or("");
    f.exec = exec.value_or("");
    f.health = health.value_or("");
    f.commit = commit.value_or("");
    c.channels.push_back(std::move(f));
  }
  return {};
}

} // namespace

util::Result<Config> load_config(const std::string& path)
{
  auto bytes = util::read_file(path, 1 << 20);
  if (!bytes) {
    return bytes.error();
  }
  const std::string text(bytes->begin(), bytes->end());
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return util::make_error(util::Errc::usage, path + ":" + std::to_string(e.source().begin.line) +
                                                 ": " + std::string(e.description()));
  }
  Reader r(path);
  if (auto s = r.only(root, "", {"serve", "follow"}); !s) {
    return s.error();
  }
  Config c;
  if (const toml::node* serve = root.get("serve")) {
    if (!serve->is_table()) {
      return r.bad(serve, "serve must be a table");
    }
    if (auto s = read_serve(r, *serve->as_table(), c.serve); !s) {
      return s.error();
    }
  }
  if (const toml::node* follow = root.get("follow")) {
    if (!follow->is_table()) {
      return r.bad(follow, "follow must be a table");
    }
    if (auto s = read_follow(r, *follow->as_table(), c.follow); !s) {
      return s.error();
    }
  }
  return c;
}

std::string default_config(const std::string& given, bool was_given)
{
  if (was_given) {
    return given;
  }
  std::error_code ec;
  return std::filesystem::exists(k_default_config, ec) ? k_default_config : "";
}

} // namespace treecast::cli
