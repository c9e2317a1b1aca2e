#include "xattrs.hpp"

#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/xattr.h>

namespace treecast::core {

namespace {

bool starts_with(const std::string& s, const char* prefix)
{
  return s.rfind(prefix, 0) == 0;
}

bool in_scope(const std::string& name, unsigned scope)
{
  if ((scope & k_record_acls) != 0 &&
      (name == "system.posix_acl_access" || name == "system.posix_acl_default")) {
    return true;
  }
  return (scope & k_record_xattrs) != 0 &&
         (starts_with(name, "user.") || starts_with(name, "trusted.") ||
          (starts_with(name, "security.") && name != "security.selinux"));
}

bool unsupported(int error)
{
  return error == ENOTSUP || error == ENODATA;
}

} // namespace

bool recordable_xattr(const std::string& name)
{
  return in_scope(name, k_record_xattrs | k_record_acls);
}

util::Result<Xattrs> read_xattrs(const std::string& path, unsigned scope)
{
  Xattrs out;
  if (scope == 0) {
    return out;
  }
  std::string names;
  for (int attempt = 0;; ++attempt) {
    const ssize_t size = ::llistxattr(path.c_str(), nullptr, 0);
    if (size < 0) {
      if (unsupported(errno)) {
        return out;
      }
      return util::io_error(path, "cannot list the extended attributes of", errno);
    }
    names.resize(static_cast<std::size_t>(size));
    const ssize_t got = size == 0 ? 0 : ::llistxattr(path.c_str(), names.data(), names.size());
    if (got >= 0) {
      names.resize(static_cast<std::size_t>(got));
      break;
    }
    if (errno != ERANGE || attempt == 3) {
      return util::io_error(path, "cannot list the extended attributes of", errno);
    }
  }
  for (std::size_t at = 0; at < names.size();) {
    const std::string name = names.c_str() + at;
    at += name.size() + 1;
    if (!in_scope(name, scope)) {
      continue;
    }
    std::string value(k_max_xattr_value, '\0');
    const ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (n < 0) {
      if (errno == ENODATA) {
        continue; // removed meanwhile
      }
      return util::io_error(path, "cannot read the extended attribute " + name + " of", errno);
    }
    value.resize(static_cast<std::size_t>(n));
    out.emplace_back(name, std::move(value));
  }
  std::sort(out.begin(), out.end());
  if (out.size() > k_max_xattrs) {
    return util::make_error(util::Errc::data, util::quote(path) + " has more than " +
                                                std::to_string(k_max_xattrs) +
                                                " extended attributes to record");
  }
  return out;
}

util::Status apply_xattrs(const std::string& path, const Xattrs& from, const Xattrs& to)
{
  // Each is set, alike or not: the file may be new.
  for (const auto& [name, value] : to) {
    if (::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) != 0) {
      return util::io_error(path, "cannot set the extended attribute " + name + " of", errno);
    }
  }
  for (const auto& [name, value] : from) {
    const bool kept =
      std::any_of(to.begin(), to.end(), [&](const auto& x) { return x.first == name; });
    if (!kept && ::lremovexattr(path.c_str(), name.c_str()) != 0 && errno != ENODATA) {
      return util::io_error(path, "cannot remove the extended attribute " + name + " of", errno);
    }
  }
  return {};
}

std::string xattrs_differ(const std::string& path, const Xattrs& expected, unsigned scope)
{
  auto actual = read_xattrs(path, scope);
  if (!actual) {
    return actual.error().message;
  }
  for (const auto& [name, value] : expected) {
    const auto it =
      std::find_if(actual->begin(), actual->end(), [&](const auto& x) { return x.first == name; });
    if (it == actual->end()) {
      return "extended attribute " + name + " missing";
    }
    if (it->second != value) {
      return "extended attribute " + name + " differs";
    }
  }
  for (const auto& [name, value] : *actual) {
    if (std::none_of(expected.begin(), expected.end(),
                     [&](const auto& x) { return x.first == name; })) {
      return "extended attribute " + name + " added";
    }
  }
  return "";
}

void write_xattrs(util::ByteWriter& w, const Xattrs& xattrs)
{
  w.varint(xattrs.size());
  for (const auto& [name, value] : xattrs) {
    w.str(name);
    w.str(value);
  }
}

Xattrs read_xattrs(util::ByteReader& r, bool allow_empty)
{
  Xattrs out;
  const auto count = r.varint_max("extended attribute count", k_max_xattrs);
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    std::string name = r.str("extended attribute name", k_max_xattr_name);
    std::string value = r.str("extended attribute value", k_max_xattr_value);
    if (!r.ok()) {
      break;
    }
    if (!recordable_xattr(name)) {
      r.fail("extended attribute " + util::quote(name) + " is not one treecast records");
    } else if (!out.empty() && !(out.back().first < name)) {
      r.fail("extended attributes not sorted or repeated at " + util::quote(name));
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  if (r.ok() && count == 0 && !allow_empty) {
    r.fail("an empty list of extended attributes");
  }
  return out;
}

} // namespace treecast::core
