// The fuzz targets as ordinary tests: every corpus file, then seeded
// mutations of it (flipped bytes, cut ends, spliced pieces). Nothing may
// crash, hang or trip the sanitizers; errors are the expected outcome.

#include "fuzz_targets.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace treecast;

namespace {

struct File
{
  std::string name;
  std::vector<std::uint8_t> bytes;
};

// The corpus: files made by fuzz_make_corpus, which must decode whole, and
// "regression-*" inputs that once broke a limit, which must fail cleanly.
std::vector<File> corpus(const std::string& name)
{
  std::vector<File> files;
  std::vector<std::filesystem::path> paths;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(TREECAST_CORPUS) + "/" + name)) {
    paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    files.push_back({path.filename().string(),
                     {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}});
  }
  return files;
}

void run_mutations(const std::vector<File>& files, bool (*target)(const std::uint8_t*, std::size_t))
{
  std::mt19937_64 rng(42);
  for (const auto& [name, file] : files) {
    const bool valid = target(file.data(), file.size());
    if (name.starts_with("regression-")) {
      EXPECT_FALSE(valid) << name;
    } else {
      EXPECT_TRUE(valid) << name << " is not valid: remake the corpus (fuzz_make_corpus)";
    }
    for (int round = 0; round < 300 && !file.empty(); ++round) {
      auto mutated = file;
      switch (round % 3) {
        case 0: // a few bytes changed
          for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
            mutated[rng() % mutated.size()] = static_cast<std::uint8_t>(rng());
          }
          break;
        case 1: // cut short
          mutated.resize(rng() % mutated.size());
          break;
        default: { // a piece repeated elsewhere
          const std::size_t from = rng() % mutated.size();
          const std::size_t length = std::min<std::size_t>(rng() % 64, mutated.size() - from);
          const std::size_t to = rng() % mutated.size();
          mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(to),
                         file.begin() + static_cast<std::ptrdiff_t>(from),
                         file.begin() + static_cast<std::ptrdiff_t>(from + length));
        }
      }
      (void)target(mutated.data(), mutated.size());
    }
  }
}

TEST(FuzzCorpus, DeltaReaderSurvivesTheCorpusAndItsMutations)
{
  const auto files = corpus("delta");
  ASSERT_GE(files.size(), 3U);
  run_mutations(files, &fuzz::delta);
}

TEST(FuzzCorpus, WireDecoderSurvivesTheCorpusAndItsMutations)
{
  const auto files = corpus("wire");
  ASSERT_GE(files.size(), 10U);
  run_mutations(files, &fuzz::wire);
}

TEST(FuzzCorpus, ManifestDecoderSurvivesTheCorpusAndItsMutations)
{
  const auto files = corpus("manifest");
  ASSERT_GE(files.size(), 3U);
  run_mutations(files, &fuzz::manifest);
}

} // namespace
