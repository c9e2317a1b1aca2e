// libFuzzer entry: the delta reader (tools/fuzz.sh).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  treecast::fuzz::delta(data, size);
  return 0;
}
