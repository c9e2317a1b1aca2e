#pragma once

// Building trees on disk and comparing them the way a user would: bytes,
// permission bits, symlink targets, empty folders.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace treecast::test {

// Creates parent folders as needed.
void write_file(const std::string& path, const std::string& content, unsigned mode = 0644);
[[nodiscard]] std::string read_file(const std::string& path);
void make_dir(const std::string& path, unsigned mode = 0755);
void make_symlink(const std::string& target, const std::string& path);

// "" when equal; otherwise the first difference found, named by path.
[[nodiscard]] std::string compare_trees(const std::string& a, const std::string& b);

// A random tree under root: nested folders (some empty), files of random
// sizes and modes (a few large), symlinks, names with odd bytes.
void random_tree(const std::string& root, std::mt19937_64& rng, int entries);

// n bytes that do not compress, the same for the same seed.
std::vector<std::uint8_t> noise(std::size_t n, std::uint64_t seed);

} // namespace treecast::test
