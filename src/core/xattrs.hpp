#pragma once

// Extended attributes and POSIX ACLs, recorded on request (snapshot
// --xattrs, --acls) with the entries of files and folders, and applied on
// followers. Which names are recorded:
//   - xattrs: user.*, trusted.*, and security.* except security.selinux
//     (a host's own label, which its policy sets);
//   - acls: system.posix_acl_access and system.posix_acl_default, the
//     kernel's form of POSIX ACLs (their ids are numbers, as on the host
//     that recorded them).
// Symlinks carry none. A follower sets the attributes a version records,
// and removes those the version it leaves recorded and the new one does
// not; attributes never recorded are left as they are.

#include "util/bytes.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace treecast::core {

// Sorted by name, names unique.
using Xattrs = std::vector<std::pair<std::string, std::string>>;

// Bounds (format): a name as the kernel allows, a value, a count per entry.
inline constexpr std::size_t k_max_xattr_name = 255;
inline constexpr std::size_t k_max_xattr_value = 65536;
inline constexpr std::size_t k_max_xattrs = 128;

enum XattrScope : unsigned
{
  k_record_xattrs = 1,
  k_record_acls = 2,
};

// Whether name is one that some scope records (a decoder refuses others).
[[nodiscard]] bool recordable_xattr(const std::string& name);

// path's attributes that scope records, without following a symlink.
// Attributes not supported by the file system: none.
[[nodiscard]] util::Result<Xattrs> read_xattrs(const std::string& path, unsigned scope);

// Makes path's recorded attributes those of `to`, from `from` (what the
// version it held recorded): sets what differs, removes what `to` lacks.
[[nodiscard]] util::Status apply_xattrs(const std::string& path, const Xattrs& from,
                                        const Xattrs& to);

// path's attributes of scope against `expected`: "" when they are exactly
// those, else what differs first (verify, drift).
[[nodiscard]] std::string xattrs_differ(const std::string& path, const Xattrs& expected,
                                        unsigned scope);

// The encoding (format): varint count, then per attribute string name,
// string value; names sorted and unique. A manifest writes a list only
// when there is one (allow_empty false); a delta's edit may empty it.
void write_xattrs(util::ByteWriter& w, const Xattrs& xattrs);
[[nodiscard]] Xattrs read_xattrs(util::ByteReader& r, bool allow_empty);

} // namespace treecast::core
