#include "output.hpp"

#include "util/file.hpp"

#include <cstdio>
#include <iostream>

namespace treecast::cli {

Exit exit_for(const util::Error& error)
{
  switch (error.code) {
    case util::Errc::usage:
      return Exit::usage;
    case util::Errc::data:
      return Exit::data;
    case util::Errc::io:
      return Exit::io;
    case util::Errc::not_found:
      return Exit::not_found;
    case util::Errc::conflict:
      return Exit::conflict;
  }
  return Exit::internal;
}

void warn(std::string_view message)
{
  std::cerr << "treecast: warning: " << message << '\n';
}

int fail(const util::Error& error)
{
  std::cerr << "treecast: error: " << error.message << '\n';
  return static_cast<int>(exit_for(error));
}

std::string count(std::uint64_t n, std::string_view singular, std::string_view plural)
{
  return std::to_string(n) + " " + std::string(n == 1 ? singular : plural);
}

std::string version_label(std::uint64_t number, const util::Hash128& id)
{
  return "v" + std::to_string(number) + " " + id.short_hex();
}

void put_path(nlohmann::json& object, const char* key, const std::string& path)
{
  object[key] = path;
  if (!util::valid_utf8(path)) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string hex;
    for (const char c : path) {
      hex += k_digits[static_cast<unsigned char>(c) >> 4];
      hex += k_digits[static_cast<unsigned char>(c) & 0xf];
    }
    object[std::string(key) + "_hex"] = hex;
  }
}

nlohmann::json entry_json(const core::Entry& e)
{
  nlohmann::json j;
  put_path(j, "path", e.path);
  j["type"] = core::to_string(e.type);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", e.mode);
  j["mode"] = mode;
  j["uid"] = e.uid;
  j["user"] = e.user;
  j["gid"] = e.gid;
  j["group"] = e.group;
  if (e.type == core::EntryType::file) {
    j["size"] = e.size;
    j["hash"] = e.hash.hex();
  }
  if (e.type == core::EntryType::symlink) {
    put_path(j, "target", e.target);
  }
  j["mtime_ns"] = e.mtime_ns;
  if (!e.xattrs.empty()) {
    // Values as text (bytes that are not UTF-8 replaced when printed).
    nlohmann::json x = nlohmann::json::object();
    for (const auto& [name, value] : e.xattrs) {
      x[name] = value;
    }
    j["xattrs"] = std::move(x);
  }
  return j;
}

void print_json(const nlohmann::json& value)
{
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::string mode_string(const core::Entry& e)
{
  std::string s = e.type == core::EntryType::directory ? "d"
                  : e.type == core::EntryType::symlink ? "l"
                                                       : "-";
  static constexpr const char* k_rwx = "rwxrwxrwx";
  for (int bit = 0; bit < 9; ++bit) {
    s += (e.mode & (0400u >> bit)) != 0 ? k_rwx[bit] : '-';
  }
  if ((e.mode & 04000) != 0) {
    s[3] = (e.mode & 0100) != 0 ? 's' : 'S';
  }
  if ((e.mode & 02000) != 0) {
    s[6] = (e.mode & 0010) != 0 ? 's' : 'S';
  }
  if ((e.mode & 01000) != 0) {
    s[9] = (e.mode & 0001) != 0 ? 't' : 'T';
  }
  return s;
}

} // namespace treecast::cli
