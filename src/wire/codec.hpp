#pragma once

// Messages to bytes and back (man/treecast-protocol.7, MESSAGES). Decoding
// is strict and bounded: an unknown signature, version or command, a field
// out of its range, a length beyond its bound, a varint not in its shortest
// form or a byte left over is refused with a message that names the field,
// and nothing is allocated beyond the bytes present.

#include "util/result.hpp"
#include "wire/messages.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace treecast::wire {

[[nodiscard]] std::vector<std::uint8_t> encode(const Message& message);
[[nodiscard]] util::Result<Message> decode(std::span<const std::uint8_t> bytes);

// A channel name or a follower id: 1 to 128 letters, digits, '.', '_' or
// '-', starting with a letter or a digit (what names a folder safely).
[[nodiscard]] bool valid_name(std::string_view name);

} // namespace treecast::wire
