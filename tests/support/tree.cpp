#include "support/tree.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace treecast::test {

namespace {

void check(bool ok, const std::string& what)
{
  if (!ok) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }
}

std::vector<std::string> list(const std::string& dir)
{
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  check(d != nullptr, "opendir " + dir);
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Compares two files of equal size in 1 MiB blocks.
bool same_content(const std::string& a, const std::string& b)
{
  std::ifstream fa(a, std::ios::binary);
  std::ifstream fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20);
  std::vector<char> bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() ||
        std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(fa.gcount())) != 0) {
      return false;
    }
  }
  return fa.eof() && fb.eof();
}

std::string compare_at(const std::string& a, const std::string& b, const std::string& rel)
{
  struct stat sa
  {};
  struct stat sb
  {};
  const std::string pa = rel.empty() ? a : a + "/" + rel;
  const std::string pb = rel.empty() ? b : b + "/" + rel;
  if (::lstat(pa.c_str(), &sa) != 0) {
    return "missing in first: " + rel;
  }
  if (::lstat(pb.c_str(), &sb) != 0) {
    return "missing in second: " + rel;
  }
  if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
    return "type differs: " + rel;
  }
  if (!S_ISLNK(sa.st_mode) && !rel.empty() && (sa.st_mode & 07777) != (sb.st_mode & 07777)) {
    std::ostringstream s;
    s << "mode differs: " << rel << " " << std::oct << (sa.st_mode & 07777) << " vs "
      << (sb.st_mode & 07777);
    return s.str();
  }
  if (S_ISLNK(sa.st_mode)) {
    char ta[4096];
    char tb[4096];
    const ssize_t na = ::readlink(pa.c_str(), ta, sizeof ta);
    const ssize_t nb = ::readlink(pb.c_str(), tb, sizeof tb);
    if (na != nb || std::string(ta, static_cast<std::size_t>(std::max<ssize_t>(na, 0))) !=
                      std::string(tb, static_cast<std::size_t>(std::max<ssize_t>(nb, 0)))) {
      return "symlink target differs: " + rel;
    }
    return "";
  }
  if (S_ISREG(sa.st_mode)) {
    if (sa.st_size != sb.st_size) {
      return "size differs: " + rel;
    }
    return same_content(pa, pb) ? "" : "content differs: " + rel;
  }
  if (S_ISDIR(sa.st_mode)) {
    const auto la = list(pa);
    const auto lb = list(pb);
    if (la != lb) {
      std::vector<std::string> only;
      std::set_symmetric_difference(la.begin(), la.end(), lb.begin(), lb.end(),
                                    std::back_inserter(only));
      return "folder contents differ at '" + rel + "': " + (only.empty() ? "?" : only.front());
    }
    for (const std::string& name : la) {
      if (auto d = compare_at(a, b, rel.empty() ? name : rel + "/" + name); !d.empty()) {
        return d;
      }
    }
  }
  return "";
}

} // namespace

void write_file(const std::string& path, const std::string& content, unsigned mode)
{
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(fd >= 0, "open " + path);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    check(n > 0, "write " + path);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  check(::chmod(path.c_str(), mode) == 0, "chmod " + path);
}

std::string read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void make_dir(const std::string& path, unsigned mode)
{
  std::filesystem::create_directories(path);
  check(::chmod(path.c_str(), mode) == 0, "chmod " + path);
}

void make_symlink(const std::string& target, const std::string& path)
{
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  check(::symlink(target.c_str(), path.c_str()) == 0, "symlink " + path);
}

std::string compare_trees(const std::string& a, const std::string& b)
{
  return compare_at(a, b, "");
}

void random_tree(const std::string& root, std::mt19937_64& rng, int entries)
{
  static const char* k_names[] = {"a",        "conf.d",    "nginx.conf", "with space",
                                  "-dash",    "new\nline", "\xff\xfe",   "ünïcode",
                                  "x.tar.gz", "data",      "README",     ".hidden"};
  static const unsigned k_modes[] = {0644, 0600, 0755, 0444, 0640, 04755, 0700};
  make_dir(root);
  std::vector<std::string> folders{root};
  std::uniform_int_distribution<int> kind(0, 9);
  for (int i = 0; i < entries; ++i) {
    const std::string& parent = folders[rng() % folders.size()];
    const std::string name =
      std::string(k_names[rng() % std::size(k_names)]) + "_" + std::to_string(i);
    const std::string path = parent + "/" + name;
    const int k = kind(rng);
    if (k < 2) {
      make_dir(path, k == 0 ? 0755 : 0700);
      folders.push_back(path);
    } else if (k < 3) {
      make_symlink(k_names[rng() % std::size(k_names)], path);
    } else {
      std::size_t size = rng() % 2000;
      if (k == 9) {
        size = rng() % (3 << 20);
      }
      std::string content(size, '\0');
      for (std::size_t j = 0; j < size; ++j) {
        content[j] = static_cast<char>(j % 7 == 0 ? rng() : 'a' + (j % 13));
      }
      write_file(path, content, k_modes[rng() % std::size(k_modes)]);
    }
  }
}

std::vector<std::uint8_t> noise(std::size_t n, std::uint64_t seed)
{
  std::vector<std::uint8_t> out(n);
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1; // xorshift64
  for (auto& b : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

} // namespace treecast::test
