// libFuzzer entry: the protocol's message decoder (tools/fuzz.sh).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  treecast::fuzz::wire(data, size);
  return 0;
}
