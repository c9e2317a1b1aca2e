#include "core/diff.hpp"

#include <gtest/gtest.h>

using namespace treecast;
using core::ChangeKind;
using core::Entry;
using core::EntryType;

namespace {

util::Hash128 h(const std::string& s)
{
  return util::hash_bytes({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

Entry file(std::string path, const std::string& content, std::uint32_t mode = 0644)
{
  return Entry{std::move(path), EntryType::file, mode,       0,  0, "root",
               "root",          content.size(),  h(content), {}, 0};
}

core::Manifest manifest(std::vector<Entry> entries)
{
  core::Manifest m;
  m.entries = std::move(entries);
  core::finalize(m);
  return m;
}

std::string render(const std::vector<core::Change>& changes)
{
  std::string out;
  for (const auto& c : changes) {
    out += std::string(core::to_string(c.kind)) + " ";
    if (c.kind == ChangeKind::renamed) {
      out += c.before->path + "->";
    }
    out += (c.after ? c.after : c.before)->path + ";";
  }
  return out;
}

} // namespace

TEST(Diff, EveryKindOfChange)
{
  Entry link{"swap", EntryType::symlink, 0777, 0, 0, "root", "root", 0, {}, "x", 0};
  const auto a = manifest({file("same", "s"), file("edit", "old"), file("gone", "g"),
                           file("old-name", "moved content"), file("chmod", "c"),
                           file("swap", "was a file"), file("chown", "o")});
  Entry owned = file("chown", "o");
  owned.user = "www-data";
  owned.uid = 33;
  const auto b =
    manifest({file("same", "s"), file("edit", "new"), file("added", "fresh"),
              file("new-name", "moved content"), file("chmod", "c", 0755), link, owned});
  EXPECT_EQ(render(core::diff(a, b)),
            "added added;mode chmod;mode chown;modified edit;removed gone;"
            "renamed old-name->new-name;type swap;");
}

TEST(Diff, CopiesAndRevertsPairEachRemovedFileOnce)
{
  const auto a = manifest({file("a", "X"), file("b", "Y")});
  const auto b = manifest({file("c", "X"), file("d", "X"), file("e", "Y")});
  EXPECT_EQ(render(core::diff(a, b)), "renamed a->c;added d;renamed b->e;");
  EXPECT_TRUE(core::diff(a, a).empty());
}
