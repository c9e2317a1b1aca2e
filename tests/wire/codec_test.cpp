// The protocol's codec: every message survives the trip, and anything
// malformed, truncated, oversized or unknown is refused with a message that
// names what is wrong, never a crash.

#include "util/bytes.hpp"
#include "wire/codec.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace treecast;
using namespace treecast::wire;

namespace {

util::Hash128 id(std::uint8_t seed)
{
  util::Hash128 h;
  for (std::size_t i = 0; i < h.bytes.size(); ++i) {
    h.bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
  }
  return h;
}

Prepare sample_prepare()
{
  Prepare p;
  p.channel = "nginx";
  p.txn = {0x1234567890abcdefULL, 17};
  p.version = {42, id(42)};
  p.prior = {40, id(40)};
  p.chain = {{42, id(42)}, {41, id(41)}, {40, id(40)}};
  p.delta_bytes = 1500;
  p.timeout_ms = 30000;
  p.one_phase = true;
  p.inline_delta = {1, 2, 3, 4, 5};
  p.signature.assign(64, 9);
  p.group = "canary";
  return p;
}

// One of each message, with every field set.
std::vector<Message> samples()
{
  Welcome welcome;
  welcome.channel = "nginx";
  welcome.epoch = 99;
  welcome.committed = {40, id(40)};
  welcome.last = {{99, 16}, Outcome::commit, {40, id(40)}};
  welcome.has_prepare = true;
  welcome.prepare = sample_prepare();
  welcome.canary = {"canary", {41, id(41)}, std::vector<std::uint8_t>(64, 4)};
  return {
    Heartbeat{"nginx",
              99,
              {40, id(40)},
              {99, 17},
              {{99, 16}, Outcome::abort, {39, id(39)}},
              std::vector<std::uint8_t>(64, 3),
              {"canary", {41, id(41)}, std::vector<std::uint8_t>(64, 4)}},
    sample_prepare(),
    Decision{"nginx", {99, 17}, Outcome::abort, {42, id(42)}, "web-3 refused: nginx -t failed"},
    Hello{"web-3", "nginx", {40, id(40)}, FollowerState::staged, {99, 17}, "canary"},
    Fetch{"nginx", {38, id(38)}, {42, id(42)}, 262144, 262144},
    Vote{"web-3", "nginx", {99, 17}, false, "check failed"},
    Ack{"web-3", "nginx", {99, 17}, AckResult::unhealthy, {42, id(42)}, "curl: 502"},
    Status{"nginx"},
    welcome,
    Chunk{"nginx", {38, id(38)}, {42, id(42)}, 10, 20, std::vector<std::uint8_t>(10, 7)},
    Ok{},
    StatusReply{R"({"channels":[]})"},
    Error{ErrorCode::unknown_version, "no version 7 of nginx"},
    Wait{250},
  };
}

std::string refusal(const std::vector<std::uint8_t>& bytes)
{
  auto m = decode(bytes);
  EXPECT_FALSE(m) << "decoded";
  return m ? std::string() : m.error().message;
}

TEST(WireCodec, EveryMessageSurvivesTheTripAndEncodesOneWay)
{
  for (const Message& m : samples()) {
    const auto bytes = encode(m);
    auto back = decode(bytes);
    ASSERT_TRUE(back) << command_name(command_of(m)) << ": " << back.error().message;
    EXPECT_EQ(*back, m) << command_name(command_of(m));
    EXPECT_EQ(encode(*back), bytes);
    EXPECT_EQ(bytes[3], static_cast<std::uint8_t>(command_of(m)));
  }
}

TEST(WireCodec, EveryTruncationAndAnyExtraByteIsRefused)
{
  for (const Message& m : samples()) {
    const auto bytes = encode(m);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(decode(std::span(bytes).first(n)))
        << command_name(command_of(m)) << " cut at " << n;
    }
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_NE(refusal(longer).find("trailing bytes"), std::string::npos);
  }
}

TEST(WireCodec, SignatureVersionAndCommandAreChecked)
{
  auto bytes = encode(Ok{});
  bytes[0] = 'X';
  EXPECT_EQ(refusal(bytes), "not a treecast message (no signature)");
  bytes = encode(Ok{});
  bytes[2] = 2;
  EXPECT_EQ(refusal(bytes), "protocol version 2 (this treecast speaks 1)");
  bytes = encode(Ok{});
  bytes[3] = 99;
  EXPECT_EQ(refusal(bytes), "unknown command 99");
  EXPECT_EQ(refusal(std::vector<std::uint8_t>(k_max_message + 1, 'T')),
            "message of 1048577 bytes, above the limit of 1048576");
}

TEST(WireCodec, FieldsOutOfTheirRangeAreRefusedByName)
{
  Prepare big = sample_prepare();
  big.inline_delta.assign(k_max_inline_delta + 1, 0);
  EXPECT_NE(refusal(encode(big)).find("inline delta"), std::string::npos);

  Prepare chain = sample_prepare();
  chain.chain.assign(k_max_chain + 1, {1, id(1)});
  EXPECT_NE(refusal(encode(chain)).find("chain"), std::string::npos);

  Chunk chunk{"nginx", {}, {1, id(1)}, 0, k_max_chunk + 1, {}};
  chunk.data.assign(k_max_chunk + 1, 0);
  EXPECT_NE(refusal(encode(chunk)).find("data"), std::string::npos);

  EXPECT_EQ(refusal(encode(Chunk{"nginx", {}, {1, id(1)}, 15, 20, std::vector<std::uint8_t>(6)})),
            "CHUNK of 6 bytes at 15 of 20");
  EXPECT_EQ(refusal(encode(Fetch{"nginx", {}, {1, id(1)}, 0, 0})), "FETCH length 0 (1 to 262144)");

  for (const std::string& name :
       std::vector<std::string>{"", "../etc", ".hidden", "a b", std::string(129, 'a')}) {
    EXPECT_NE(
      refusal(encode(Hello{name, "nginx", {}, FollowerState::idle, {}, ""})).find("follower"),
      std::string::npos)
      << name;
  }

  auto flag = encode(Vote{"web-3", "nginx", {1, 1}, true, ""});
  flag[4 + 6 + 6 + 2] = 2; // after the follower, channel and transaction: "yes"
  EXPECT_EQ(refusal(flag), "VOTE: yes is 2, not 0 or 1");

  auto code = encode(Error{ErrorCode::busy, "x"});
  code[4] = 0;
  EXPECT_EQ(refusal(code), "ERROR without a code");

  auto outcome = encode(Decision{"nginx", {1, 1}, Outcome::commit, {1, id(1)}, ""});
  outcome[4 + 6 + 2] = 3;
  EXPECT_EQ(refusal(outcome), "DECISION: outcome is 3, above 2");
  outcome[4 + 6 + 2] = 0;
  EXPECT_EQ(refusal(outcome), "DECISION without an outcome");
}

TEST(WireCodec, TextBeyondItsBoundIsCutSoTheMessageStillDecodes)
{
  // 5000 bytes of two-byte characters: cut to 4096 at a character boundary.
  std::string reason;
  for (int i = 0; i < 2500; ++i) {
    reason += "\xc3\xa9";
  }
  auto back = decode(encode(Vote{"web-3", "nginx", {1, 1}, false, reason}));
  ASSERT_TRUE(back) << back.error().message;
  const std::string& cut = std::get<Vote>(*back).reason;
  EXPECT_EQ(cut.size(), 4096U);
  EXPECT_EQ(cut, reason.substr(0, 4096));
}

TEST(WireCodec, ACountBeyondTheBytesPresentAllocatesNothing)
{
  // A PREPARE whose chain claims 60 versions and holds none.
  util::ByteWriter w;
  w.bytes(k_signature);
  w.u8(k_protocol_version);
  w.u8(static_cast<std::uint8_t>(Command::prepare));
  w.str("nginx");
  w.varint(1);
  w.varint(1);
  w.varint(1);
  w.bytes(id(1).bytes);
  w.varint(0);
  w.bytes(util::Hash128{}.bytes);
  w.varint(60);
  EXPECT_NE(refusal(w.data()).find("chain"), std::string::npos);
}

TEST(WireCodec, RandomBytesNeverCrashAndWhatDecodesEncodesBack)
{
  std::mt19937_64 rng(5);
  std::size_t decoded = 0;
  for (const Message& m : samples()) {
    const auto bytes = encode(m);
    for (int round = 0; round < 2000; ++round) {
      auto mutated = bytes;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        mutated[rng() % mutated.size()] = static_cast<std::uint8_t>(rng());
      }
      if (auto back = decode(mutated)) {
        ++decoded;
        EXPECT_EQ(encode(*back), mutated);
      }
    }
  }
  EXPECT_GT(decoded, 0U);
}

} // namespace

TEST(WireCodec, AGroupIsEmptyOrAName)
{
  Hello hello{"web-3", "nginx", {}, FollowerState::idle, {}, "bad group/"};
  EXPECT_EQ(refusal(encode(hello)), "HELLO group is not a valid name");
  hello.group = "";
  EXPECT_TRUE(decode(encode(hello)));
  Heartbeat beat;
  beat.channel = "nginx";
  beat.canary.group = "..";
  EXPECT_EQ(refusal(encode(beat)), "HEARTBEAT canary group is not a valid name");
}
