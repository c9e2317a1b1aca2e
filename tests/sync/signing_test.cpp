// Signed versions: what the master signs, a follower verifies, and nothing
// else passes: another key, another version, another channel, no signature.

#include "support/temp_dir.hpp"
#include "sync/signing.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace treecast;
using namespace treecast::sync;

namespace {

wire::VersionRef version(std::uint64_t n)
{
  util::Hash128 id;
  id.bytes[0] = static_cast<std::uint8_t>(n);
  return {n, id};
}

TEST(Signing, OnlyTheTrustedKeysSignatureOfThatVersionPasses)
{
  test::TempDir dir;
  auto master = write_signing_key(dir / "keys", "master");
  auto other = write_signing_key(dir / "keys", "other");
  ASSERT_TRUE(master) << master.error().message;
  ASSERT_TRUE(other);
  auto read = read_signing_key(dir / "keys/master.sign");
  ASSERT_TRUE(read) << read.error().message;
  auto trusted = read_verify_key(dir / "keys/master.verify");
  ASSERT_TRUE(trusted);
  EXPECT_EQ(*trusted, master->pub);

  const auto sig = sign_version(*read, "nginx", version(7));
  EXPECT_EQ(sig.size(), 64U);
  EXPECT_TRUE(verify_version({*trusted}, "nginx", version(7), sig));
  EXPECT_TRUE(verify_version({other->pub, *trusted}, "nginx", version(7), sig)) << "rotation";
  EXPECT_FALSE(verify_version({other->pub}, "nginx", version(7), sig));
  EXPECT_FALSE(verify_version({*trusted}, "nginx", version(8), sig));
  EXPECT_FALSE(verify_version({*trusted}, "certs", version(7), sig));
  EXPECT_FALSE(verify_version({*trusted}, "nginx", version(7), {}));

  EXPECT_FALSE(write_signing_key(dir / "keys", "master")) << "never overwritten";
  std::filesystem::permissions(dir / "keys/master.sign", std::filesystem::perms(0644));
  auto loose = read_signing_key(dir / "keys/master.sign");
  ASSERT_FALSE(loose);
  EXPECT_NE(loose.error().message.find("must be mode 0600"), std::string::npos);
}

} // namespace
