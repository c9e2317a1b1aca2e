#pragma once

// A test with a fresh, empty store in a temporary folder.

#include "core/snapshot.hpp"
#include "core/store.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace treecast::test {

class StoreTest : public ::testing::Test
{
protected:
  void SetUp() override
  {
    auto store = core::Store::open(m_dir / "store", core::Create::yes);
    ASSERT_TRUE(store) << store.error().message;
    m_store.emplace(std::move(*store));
  }

  // A snapshot of tree into channel, on two threads; a failure fails the
  // test and gives an empty manifest.
  core::Manifest snapshot_of(const std::string& tree, const std::string& channel = "c")
  {
    core::SnapshotOptions options;
    options.channel = channel;
    util::ThreadPool pool(2);
    auto r = core::snapshot(*m_store, tree, options, pool);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(r->manifest) : core::Manifest{};
  }

  TempDir m_dir;
  std::optional<core::Store> m_store;
};

} // namespace treecast::test
