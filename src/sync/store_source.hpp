#pragma once

// The master's Source on a treecast store: committed versions and the
// transaction log from each channel's log (core/txlog.hpp), versions from
// the store, deltas from its cache (STORE/deltas/). Making a delta is the
// daemon's, on another thread (core::cached_delta); this class is used
// from the daemon's loop only.

#include "core/delta.hpp"
#include "core/store.hpp"
#include "core/txlog.hpp"
#include "sync/signing.hpp"
#include "sync/source.hpp"

#include <map>
#include <memory>

namespace treecast::sync {

class StoreSource final : public Source
{
public:
  // Reads the logs of these channels (and draws the store's epoch the
  // first time).
  [[nodiscard]] static util::Result<std::unique_ptr<StoreSource>> open(
    const core::Store& store, const std::vector<std::string>& channels,
    core::DeltaOptions options = {});

  std::uint64_t epoch() const override { return m_epoch; }
  std::vector<wire::VersionRef> committed(const std::string& channel, std::size_t n) const override;
  bool has_version(const std::string& channel, const wire::VersionRef& v) const override;
  std::optional<LoggedTxn> last_txn(const std::string& channel) const override;
  util::Status log_canary(const std::string& channel, const wire::TxnRef& txn,
                          const wire::VersionRef& version, const std::string& group) override;
  wire::Canary canary(const std::string& channel) const override;
  util::Status log_begin(const std::string& channel, const wire::TxnRef& txn,
                         const wire::VersionRef& version) override;
  util::Status log_decision(const std::string& channel, const wire::TxnRef& txn,
                            wire::Outcome outcome, const wire::VersionRef& version) override;
  std::optional<std::uint64_t> delta_size(const std::string& channel, const wire::VersionRef& from,
                                          const wire::VersionRef& to) const override;
  util::Result<std::vector<std::uint8_t>> read_delta(const std::string& channel,
                                                     const wire::VersionRef& from,
                                                     const wire::VersionRef& to,
                                                     std::uint64_t offset,
                                                     std::size_t length) const override;

  // The manifest of a version the store holds (number 0: the empty tree).
  [[nodiscard]] util::Result<core::Manifest> manifest(const std::string& channel,
                                                      const wire::VersionRef& v) const;
  // Where the delta from -> to is, or will be, cached.
  [[nodiscard]] util::Result<std::string> delta_path(const std::string& channel,
                                                     const wire::VersionRef& from,
                                                     const wire::VersionRef& to) const;
  const core::DeltaOptions& options() const { return m_options; }
  // Signs every version it gives out with key (serve --sign-key).
  void sign_with(SigningKey key) { m_signing = key; }
  std::vector<std::uint8_t> signature(const std::string& channel,
                                      const wire::VersionRef& v) const override;

private:
  StoreSource(const core::Store& store, core::DeltaOptions options)
    : m_store(store), m_options(options)
  {
  }
  util::Status log(const std::string& channel, core::TxnEvent::Kind kind, const wire::TxnRef& txn,
                   const wire::VersionRef& version);

  const core::Store& m_store;
  core::DeltaOptions m_options;
  std::uint64_t m_epoch = 0;
  std::optional<SigningKey> m_signing;
  std::map<std::string, core::TxnLog> m_logs;
  static constexpr std::size_t k_max_cached_manifests = 32;
  mutable std::map<std::pair<std::string, std::uint64_t>, core::Manifest> m_manifests;
};

// A version as the protocol names it.
[[nodiscard]] wire::VersionRef version_of(const core::Manifest& m);

} // namespace treecast::sync
