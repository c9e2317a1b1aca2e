#pragma once

// A fresh folder for one test, removed with everything in it (read-only
// folders included) when the test ends.

#include <string>

namespace treecast::test {

class TempDir
{
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return m_path; }
  // path()/relative
  std::string operator/(const std::string& relative) const { return m_path + "/" + relative; }

private:
  std::string m_path;
};

} // namespace treecast::test
