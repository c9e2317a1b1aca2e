#pragma once

// A test with a fresh, empty store in a temporary folder.

#include "core/store.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <optional>

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

  TempDir m_dir;
  std::optional<core::Store> m_store;
};

} // namespace treecast::test
