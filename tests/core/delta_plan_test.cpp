#include "core/delta_plan.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace treecast;
using core::FileSource;

namespace {

util::Hash128 content(const std::string& text)
{
  return util::hash_bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

core::Entry file(const std::string& path, const std::string& text, std::uint64_t size = 0)
{
  core::Entry e;
  e.path = path;
  e.type = core::EntryType::file;
  e.mode = 0644;
  e.size = size != 0 ? size : text.size();
  e.hash = content(text);
  return e;
}

core::Entry folder(const std::string& path)
{
  core::Entry e;
  e.path = path;
  e.type = core::EntryType::directory;
  e.mode = 0755;
  return e;
}

core::Manifest manifest(std::vector<core::Entry> entries)
{
  core::Manifest m;
  m.entries = std::move(entries);
  core::finalize(m);
  return m;
}

// The plan of B's file at path, and the path of its base in A ("" for none).
std::pair<FileSource, std::string> plan_of(const core::Manifest& a, const core::Manifest& b,
                                           const core::DeltaPlan& plan, const std::string& path)
{
  for (const auto& f : plan.files) {
    if (b.entries[f.entry].path == path) {
      return {f.source, f.base == core::k_no_base ? "" : a.entries[f.base].path};
    }
  }
  ADD_FAILURE() << path << " is not in the plan";
  return {FileSource::whole, ""};
}

} // namespace

TEST(DeltaPlan, ContentAnywhereInTheOldVersionCostsAReference)
{
  const auto a = manifest({folder("etc"), file("etc/a.conf", "alpha"), file("etc/b.conf", "beta"),
                           file("etc/old.conf", "gamma")});
  auto b_entries = std::vector<core::Entry>{
    folder("etc"), file("etc/a.conf", "alpha"), // unchanged
    file("etc/b.conf", "alpha"),                // now a copy of a.conf
    file("etc/new.conf", "gamma"),              // old.conf renamed
  };
  b_entries[1].mode = 0600; // a permission change is not new content
  const auto b = manifest(b_entries);
  const auto plan = core::plan_delta(a, b);
  ASSERT_EQ(plan.files.size(), 3u);
  EXPECT_EQ(plan_of(a, b, plan, "etc/a.conf"),
            std::pair(FileSource::same, std::string("etc/a.conf")));
  EXPECT_EQ(plan_of(a, b, plan, "etc/b.conf"),
            std::pair(FileSource::copy, std::string("etc/a.conf")));
  EXPECT_EQ(plan_of(a, b, plan, "etc/new.conf"),
            std::pair(FileSource::copy, std::string("etc/old.conf")));
  EXPECT_EQ(plan.new_bytes, 0u);
}

TEST(DeltaPlan, NewContentIsPatchedAgainstTheMostSimilarOldFile)
{
  const auto a = manifest({
    file("app/config.json", "{\"v\": 1}", 1000),
    file("app/data.bin", "data v1", 5000),
    file("docs/guide.md", "guide", 4000),
    file("docs/notes.md", "notes", 900),
    file("nginx/sites/example.org", "site", 300),
  });
  const auto b = manifest({
    file("app/config.json", "{\"v\": 2}", 1100),        // same path
    file("app/data.bin", "data v2", 5200),              // same path
    file("conf/config.json", "moved and edited", 1000), // same name elsewhere
    file("docs/intro.md", "new page", 1000),            // same extension: the closest size
    file("huge.md", "far too large a change", 100000),  // no base within the size factor
    file("nginx/sites/example.net", "site 2", 310),     // no name or extension match
  });
  const auto plan = core::plan_delta(a, b);
  EXPECT_EQ(plan_of(a, b, plan, "app/config.json"),
            std::pair(FileSource::patch, std::string("app/config.json")));
  EXPECT_EQ(plan_of(a, b, plan, "app/data.bin"),
            std::pair(FileSource::patch, std::string("app/data.bin")));
  EXPECT_EQ(plan_of(a, b, plan, "conf/config.json"),
            std::pair(FileSource::patch, std::string("app/config.json")));
  EXPECT_EQ(plan_of(a, b, plan, "docs/intro.md"),
            std::pair(FileSource::patch, std::string("docs/notes.md")));
  EXPECT_EQ(plan_of(a, b, plan, "huge.md"), std::pair(FileSource::whole, std::string()));
  EXPECT_EQ(plan_of(a, b, plan, "nginx/sites/example.net"),
            std::pair(FileSource::whole, std::string()));
  EXPECT_EQ(plan.new_bytes, 1100u + 5200 + 1000 + 1000 + 100000 + 310);
}

TEST(DeltaPlan, CompressedContentIsSentWhole)
{
  const auto a = manifest({file("logo.png", "png v1"), file("pkg/tool.tar.GZ", "gz v1")});
  const auto b = manifest({file("logo.png", "png v2"), file("pkg/tool.tar.GZ", "gz v2")});
  const auto plan = core::plan_delta(a, b);
  EXPECT_EQ(plan_of(a, b, plan, "logo.png").first, FileSource::whole);
  EXPECT_EQ(plan_of(a, b, plan, "pkg/tool.tar.GZ").first, FileSource::whole);
  EXPECT_TRUE(core::compressed_name("a/b.ZST"));
  EXPECT_FALSE(core::compressed_name("a/gz"));
  EXPECT_FALSE(core::compressed_name(".png"));
  EXPECT_FALSE(core::compressed_name("nginx.conf"));
}

TEST(DeltaPlan, APathThatWasAFolderGetsABaseByName)
{
  // "x" was a folder in A and is a file in B: no same-path base.
  const auto a = manifest({folder("x"), file("x/inner", "i"), file("y/x", "old x", 100)});
  const auto b = manifest({file("x", "new x", 120)});
  const auto plan = core::plan_delta(a, b);
  EXPECT_EQ(plan_of(a, b, plan, "x"), std::pair(FileSource::patch, std::string("y/x")));
}

TEST(DeltaPlan, TiesGoToTheFirstPathWhateverTheOrderOfTheEntries)
{
  // Equal content at two paths, equal sizes for a base: always the first
  // path in byte order, so the delta is the same on every run.
  std::vector<core::Entry> a_entries = {file("z/same", "shared"), file("a/same", "shared"),
                                        file("m/one.txt", "x", 50), file("b/two.txt", "y", 50)};
  const auto a = manifest(a_entries);
  std::reverse(a_entries.begin(), a_entries.end());
  const auto a_reversed = manifest(a_entries);
  const auto b = manifest({file("copy", "shared"), file("three.txt", "z", 50)});
  for (const auto* from : {&a, &a_reversed}) {
    const auto plan = core::plan_delta(*from, b);
    EXPECT_EQ(plan_of(*from, b, plan, "copy"), std::pair(FileSource::copy, std::string("a/same")));
    EXPECT_EQ(plan_of(*from, b, plan, "three.txt"),
              std::pair(FileSource::patch, std::string("b/two.txt")));
  }
}

TEST(DeltaPlan, FromNothingEveryFileIsWhole)
{
  const auto b = manifest({file("a", "1"), folder("d"), file("d/b", "2")});
  const auto plan = core::plan_delta(core::Manifest{}, b);
  ASSERT_EQ(plan.files.size(), 2u);
  for (const auto& f : plan.files) {
    EXPECT_EQ(f.source, FileSource::whole);
    EXPECT_EQ(f.base, core::k_no_base);
  }
  EXPECT_EQ(plan.new_bytes, 2u);
}
