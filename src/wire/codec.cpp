#include "codec.hpp"

#include "util/bytes.hpp"

#include <algorithm>
#include <type_traits>

namespace treecast::wire {

namespace {

// Each message's fields are listed once, in fields() below, and walked by
// a Writer to encode or a Reader to decode, so the two never disagree.

class Writer
{
public:
  void u64(const char*, const std::uint64_t& v) { m_w.varint(v); }
  void u32(const char*, const std::uint32_t& v) { m_w.varint(v); }
  void flag(const char*, const bool& v) { m_w.u8(v ? 1 : 0); }
  template <typename E>
  void code(const char*, const E& v, E /*max*/)
  {
    m_w.u8(static_cast<std::uint8_t>(v));
  }
  void hash(const char*, const util::Hash128& v) { m_w.bytes(v.bytes); }
  void name(const char*, const std::string& v) { m_w.str(v); }
  // Longer text than its bound is cut (at a character boundary when the
  // text is UTF-8), so that every message encoded decodes.
  void text(const char*, const std::string& v, std::size_t max)
  {
    std::size_t n = std::min(v.size(), max);
    while (n < v.size() && n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) {
      --n;
    }
    m_w.str(std::string_view(v).substr(0, n));
  }
  void blob(const char*, const std::vector<std::uint8_t>& v, std::size_t)
  {
    m_w.varint(v.size());
    m_w.bytes(v);
  }
  template <typename T, typename F>
  void list(const char*, const std::vector<T>& items, std::size_t, F each)
  {
    m_w.varint(items.size());
    for (const T& item : items) {
      each(item);
    }
  }
  util::ByteWriter m_w;
};

class Reader
{
public:
  explicit Reader(std::span<const std::uint8_t> bytes) : m_r(bytes) {}

  void u64(const char* field, std::uint64_t& v) { v = m_r.varint(field); }
  void u32(const char* field, std::uint32_t& v)
  {
    v = static_cast<std::uint32_t>(m_r.varint_max(field, UINT32_MAX));
  }
  void flag(const char* field, bool& v)
  {
    const auto b = m_r.u8(field);
    if (m_r.ok() && b > 1) {
      fail(field, "is " + std::to_string(b) + ", not 0 or 1");
    }
    v = b == 1;
  }
  template <typename E>
  void code(const char* field, E& v, E max)
  {
    const auto b = m_r.u8(field);
    if (m_r.ok() && b > static_cast<std::uint8_t>(max)) {
      fail(field,
           "is " + std::to_string(b) + ", above " + std::to_string(static_cast<unsigned>(max)));
    }
    v = static_cast<E>(b);
  }
  void hash(const char* field, util::Hash128& v)
  {
    const auto b = m_r.bytes(field, 16);
    if (m_r.ok()) {
      std::copy(b.begin(), b.end(), v.bytes.begin());
    }
  }
  void name(const char* field, std::string& v)
  {
    v = m_r.str(field, k_max_name);
    if (m_r.ok() && !valid_name(v)) {
      fail(field, "is not a valid name");
    }
  }
  void text(const char* field, std::string& v, std::size_t max) { v = m_r.str(field, max); }
  void blob(const char* field, std::vector<std::uint8_t>& v, std::size_t max)
  {
    const auto n = m_r.varint_max(field, std::min<std::uint64_t>(max, m_r.remaining()));
    const auto b = m_r.bytes(field, n);
    v.assign(b.begin(), b.end());
  }
  template <typename T, typename F>
  void list(const char* field, std::vector<T>& items, std::size_t max, F each)
  {
    // Every item takes a byte at least: the count is bounded by what is left.
    const auto n = m_r.varint_max(field, std::min<std::uint64_t>(max, m_r.remaining()));
    items.clear();
    for (std::uint64_t i = 0; i < n && m_r.ok(); ++i) {
      each(items.emplace_back());
    }
  }

  void fail(const char* field, const std::string& what)
  {
    if (m_r.ok()) {
      m_r.fail(std::string(field) + " " + what);
    }
  }
  util::ByteReader m_r;
};

template <typename Io, typename V>
void version(Io& io, V& v)
{
  io.u64("version number", v.number);
  io.hash("version id", v.id);
}

template <typename Io, typename T>
void txn(Io& io, T& t)
{
  io.u64("epoch", t.epoch);
  io.u64("transaction", t.number);
}

template <typename Io, typename L>
void last_decision(Io& io, L& l)
{
  txn(io, l.txn);
  io.code("outcome", l.outcome, Outcome::abort);
  version(io, l.version);
}

template <typename Io, typename P>
void prepare_fields(Io& io, P& m)
{
  io.name("channel", m.channel);
  txn(io, m.txn);
  version(io, m.version);
  version(io, m.prior);
  io.list("chain", m.chain, k_max_chain, [&](auto& v) { version(io, v); });
  io.u64("delta bytes", m.delta_bytes);
  io.u32("timeout", m.timeout_ms);
  io.flag("one-phase", m.one_phase);
  io.blob("inline delta", m.inline_delta, k_max_inline_delta);
  io.blob("signature", m.signature, k_max_signature);
  io.text("group", m.group, k_max_name);
}

template <typename Io, typename C>
void canary_fields(Io& io, C& c)
{
  io.text("canary group", c.group, k_max_name);
  version(io, c.version);
  io.blob("canary signature", c.signature, k_max_signature);
}

// The fields of each message, in order (protocol).
template <typename Io, typename M>
void fields(Io& io, M& m)
{
  using T = std::remove_const_t<M>;
  if constexpr (std::is_same_v<T, Heartbeat>) {
    io.name("channel", m.channel);
    io.u64("epoch", m.epoch);
    version(io, m.committed);
    txn(io, m.pending);
    last_decision(io, m.last);
    io.blob("signature", m.signature, k_max_signature);
    canary_fields(io, m.canary);
  } else if constexpr (std::is_same_v<T, Prepare>) {
    prepare_fields(io, m);
  } else if constexpr (std::is_same_v<T, Decision>) {
    io.name("channel", m.channel);
    txn(io, m.txn);
    io.code("outcome", m.outcome, Outcome::abort);
    version(io, m.version);
    io.text("reason", m.reason, k_max_reason);
  } else if constexpr (std::is_same_v<T, Hello>) {
    io.name("follower", m.follower);
    io.name("channel", m.channel);
    version(io, m.version);
    io.code("state", m.state, FollowerState::leaving);
    txn(io, m.txn);
    io.text("group", m.group, k_max_name);
  } else if constexpr (std::is_same_v<T, Fetch>) {
    io.name("channel", m.channel);
    version(io, m.from);
    version(io, m.to);
    io.u64("offset", m.offset);
    io.u32("length", m.length);
  } else if constexpr (std::is_same_v<T, Vote>) {
    io.name("follower", m.follower);
    io.name("channel", m.channel);
    txn(io, m.txn);
    io.flag("yes", m.yes);
    io.text("reason", m.reason, k_max_reason);
  } else if constexpr (std::is_same_v<T, Ack>) {
    io.name("follower", m.follower);
    io.name("channel", m.channel);
    txn(io, m.txn);
    io.code("result", m.result, AckResult::unhealthy);
    version(io, m.version);
    io.text("reason", m.reason, k_max_reason);
  } else if constexpr (std::is_same_v<T, Status>) {
    io.text("channel", m.channel, k_max_name);
  } else if constexpr (std::is_same_v<T, Welcome>) {
    io.name("channel", m.channel);
    io.u64("epoch", m.epoch);
    version(io, m.committed);
    last_decision(io, m.last);
    io.flag("in flight", m.has_prepare);
    if (m.has_prepare) {
      prepare_fields(io, m.prepare);
    }
    io.blob("signature", m.signature, k_max_signature);
    canary_fields(io, m.canary);
  } else if constexpr (std::is_same_v<T, Chunk>) {
    io.name("channel", m.channel);
    version(io, m.from);
    version(io, m.to);
    io.u64("offset", m.offset);
    io.u64("total", m.total);
    io.blob("data", m.data, k_max_chunk);
  } else if constexpr (std::is_same_v<T, Ok>) {
  } else if constexpr (std::is_same_v<T, StatusReply>) {
    io.text("status", m.json, k_max_status);
  } else if constexpr (std::is_same_v<T, Error>) {
    io.code("error code", m.code, ErrorCode::internal);
    io.text("message", m.message, k_max_reason);
  } else if constexpr (std::is_same_v<T, Wait>) {
    io.u32("retry", m.retry_ms);
  }
}

// The checks a field's range alone cannot make.
std::string semantic_error(const Message& message)
{
  if (const auto* f = std::get_if<Fetch>(&message)) {
    if (f->length == 0 || f->length > k_max_chunk) {
      return "FETCH length " + std::to_string(f->length) + " (1 to " + std::to_string(k_max_chunk) +
             ")";
    }
  } else if (const auto* c = std::get_if<Chunk>(&message)) {
    if (c->offset > c->total || c->data.size() > c->total - c->offset) {
      return "CHUNK of " + std::to_string(c->data.size()) + " bytes at " +
             std::to_string(c->offset) + " of " + std::to_string(c->total);
    }
  } else if (const auto* d = std::get_if<Decision>(&message)) {
    if (d->outcome == Outcome::none) {
      return "DECISION without an outcome";
    }
  } else if (const auto* a = std::get_if<Ack>(&message)) {
    if (static_cast<std::uint8_t>(a->result) == 0) {
      return "ACK without a result";
    }
  } else if (const auto* e = std::get_if<Error>(&message)) {
    if (static_cast<std::uint8_t>(e->code) == 0) {
      return "ERROR without a code";
    }
  } else if (const auto* s = std::get_if<Status>(&message)) {
    if (!s->channel.empty() && !valid_name(s->channel)) {
      return "STATUS channel is not a valid name";
    }
  }
  // A group, where there is one, is a name.
  const auto group_error = [](const std::string& group, const char* where) {
    return group.empty() || valid_name(group) ? std::string()
                                              : std::string(where) + " group is not a valid name";
  };
  std::string why;
  if (const auto* h = std::get_if<Hello>(&message)) {
    why = group_error(h->group, "HELLO");
  } else if (const auto* p = std::get_if<Prepare>(&message)) {
    why = group_error(p->group, "PREPARE");
  } else if (const auto* b = std::get_if<Heartbeat>(&message)) {
    why = group_error(b->canary.group, "HEARTBEAT canary");
  } else if (const auto* w = std::get_if<Welcome>(&message)) {
    why = group_error(w->canary.group, "WELCOME canary");
    if (why.empty() && w->has_prepare) {
      why = group_error(w->prepare.group, "WELCOME's PREPARE");
    }
  }
  if (!why.empty()) {
    return why;
  }
  return {};
}

template <typename T>
Message read_as(Reader& r)
{
  T m{};
  fields(r, m);
  return m;
}

} // namespace

bool valid_name(std::string_view name)
{
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  return !name.empty() && name.size() <= k_max_name &&
         std::all_of(name.begin(), name.end(), ok_char) && name.front() != '.' &&
         name.front() != '-' && name.front() != '_';
}

Command command_of(const Message& m)
{
  static constexpr Command commands[] = {
    Command::heartbeat, Command::prepare,      Command::decision, Command::hello,   Command::fetch,
    Command::vote,      Command::ack,          Command::status,   Command::welcome, Command::chunk,
    Command::ok,        Command::status_reply, Command::error,    Command::wait,
  };
  static_assert(std::size(commands) == std::variant_size_v<Message>);
  return commands[m.index()];
}

const char* command_name(Command c)
{
  switch (c) {
    case Command::heartbeat:
      return "HEARTBEAT";
    case Command::prepare:
      return "PREPARE";
    case Command::decision:
      return "DECISION";
    case Command::hello:
      return "HELLO";
    case Command::fetch:
      return "FETCH";
    case Command::vote:
      return "VOTE";
    case Command::ack:
      return "ACK";
    case Command::status:
      return "STATUS";
    case Command::welcome:
      return "WELCOME";
    case Command::chunk:
      return "CHUNK";
    case Command::ok:
      return "OK";
    case Command::status_reply:
      return "STATUS-REPLY";
    case Command::error:
      return "ERROR";
    case Command::wait:
      return "WAIT";
  }
  return "unknown";
}

std::vector<std::uint8_t> encode(const Message& message)
{
  Writer w;
  w.m_w.bytes(k_signature);
  w.m_w.u8(k_protocol_version);
  w.m_w.u8(static_cast<std::uint8_t>(command_of(message)));
  std::visit([&](const auto& m) { fields(w, m); }, message);
  return w.m_w.take();
}

util::Result<Message> decode(std::span<const std::uint8_t> bytes)
{
  auto bad = [](const std::string& what) { return util::make_error(util::Errc::data, what); };
  if (bytes.size() > k_max_message) {
    return bad("message of " + std::to_string(bytes.size()) + " bytes, above the limit of " +
               std::to_string(k_max_message));
  }
  if (bytes.size() < 4 || bytes[0] != k_signature[0] || bytes[1] != k_signature[1]) {
    return bad("not a treecast message (no signature)");
  }
  if (bytes[2] != k_protocol_version) {
    return bad("protocol version " + std::to_string(bytes[2]) + " (this treecast speaks " +
               std::to_string(k_protocol_version) + ")");
  }
  const auto command = static_cast<Command>(bytes[3]);
  Reader r(bytes.subspan(4));
  Message m;
  switch (command) {
    case Command::heartbeat:
      m = read_as<Heartbeat>(r);
      break;
    case Command::prepare:
      m = read_as<Prepare>(r);
      break;
    case Command::decision:
      m = read_as<Decision>(r);
      break;
    case Command::hello:
      m = read_as<Hello>(r);
      break;
    case Command::fetch:
      m = read_as<Fetch>(r);
      break;
    case Command::vote:
      m = read_as<Vote>(r);
      break;
    case Command::ack:
      m = read_as<Ack>(r);
      break;
    case Command::status:
      m = read_as<Status>(r);
      break;
    case Command::welcome:
      m = read_as<Welcome>(r);
      break;
    case Command::chunk:
      m = read_as<Chunk>(r);
      break;
    case Command::ok:
      m = read_as<Ok>(r);
      break;
    case Command::status_reply:
      m = read_as<StatusReply>(r);
      break;
    case Command::error:
      m = read_as<Error>(r);
      break;
    case Command::wait:
      m = read_as<Wait>(r);
      break;
    default:
      return bad("unknown command " + std::to_string(bytes[3]));
  }
  const char* name = command_name(command);
  if (r.m_r.ok() && !r.m_r.at_end()) {
    r.m_r.fail("trailing bytes");
  }
  if (!r.m_r.ok()) {
    return bad(std::string(name) + ": " + r.m_r.error());
  }
  if (auto e = semantic_error(m); !e.empty()) {
    return bad(e);
  }
  return m;
}

} // namespace treecast::wire
