#pragma once

// How the engines' log lines and reasons name a version: "v5".

#include "wire/messages.hpp"

#include <string>

namespace treecast::sync {

inline std::string shown(const wire::VersionRef& v)
{
  return "v" + std::to_string(v.number);
}

} // namespace treecast::sync
