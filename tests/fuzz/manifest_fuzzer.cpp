// libFuzzer entry: the manifest decoder (tools/fuzz.sh).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  treecast::fuzz::manifest(data, size);
  return 0;
}
