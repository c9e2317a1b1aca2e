#pragma once

// The project's result type: errors a caller must handle travel as values.
// libstdc++ 12's std::expected does not compile under Debian's clang 14, so
// this is a small stand-in with the same spirit. Fatal conditions (a broken
// invariant) are thrown as std::logic_error and caught once in main.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace treecast::util {

// Broad classes of failure. The command line maps each to an exit code
// (treecast(1), EXIT STATUS), so keep this list short.
enum class Errc : std::uint8_t
{
  usage,     // the request itself is wrong: bad flag, unknown version
  data,      // stored or received data is malformed or corrupt
  io,        // the operating system refused: permissions, disk, missing file
  not_found, // a channel, version or object that does not exist
  conflict,  // the target is not in the state the operation needs
};

struct Error
{
  Errc code;
  std::string message; // names the path, field or peer concerned
};

[[nodiscard]] inline Error make_error(Errc code, std::string message)
{
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result
{
public:
  Result(T value) : m_value(std::move(value)) {}
  Result(Error error) : m_value(std::move(error)) {}

  explicit operator bool() const { return m_value.index() == 0; }
  bool ok() const { return m_value.index() == 0; }

  T& value() & { return std::get<0>(m_value); }
  const T& value() const& { return std::get<0>(m_value); }
  T&& value() && { return std::get<0>(std::move(m_value)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(m_value); }

private:
  std::variant<T, Error> m_value;
};

template <>
class [[nodiscard]] Result<void>
{
public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)), m_ok(false) {}

  explicit operator bool() const { return m_ok; }
  bool ok() const { return m_ok; }
  const Error& error() const { return m_error; }

private:
  Error m_error{Errc::io, {}};
  bool m_ok = true;
};

using Status = Result<void>;

} // namespace treecast::util
