// sessionwheel-fake-memory: the most memory the Proxy fake holds with its
// default options, measured by filling it to its limits with the largest
// Services and Sessions a request can make.
//
// Every request goes through ProxyFake::Handle, as a test's would. The fake
// is filled to its default max_services (1,000), each with a UniqueName of
// 191 four-byte characters, then to its default max_sessions (100,000),
// each with a UniqueName of 191 four-byte characters, a Ttl, and two
// Participants whose Identifier, FriendlyName and ProxyIdentifier are at
// their bounds (191, 255, 191) in four-byte characters; the next create of
// each must be refused with 429. The Sessions go round-robin over the
// Services (--layout spread) or all into one (--layout one). Then it sends
// its default max_interactions (10,000) messages of 1,600 four-byte
// characters, one to the first Participant of each of the first Sessions,
// and the next must be refused with 429.
//
// Then it churns, --rounds times: every Session deleted and made again;
// every Session expired and purged on the fake's clock and made again;
// every Service deleted (its Sessions with it) and everything made again.
// The peak resident memory over the whole run is what the fake can reach:
// allocator caches and fragmentation included.
//
// It prints the heap in use (glibc mallinfo2) and the resident memory
// (/proc/self/status) at each step, and bytes a Service and a Session.
//
//   build/release/bench/sessionwheel-fake-memory --layout spread --rounds 2

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "bench/workload.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/proxy_fake.h"
#include "tools/flags.h"

ABSL_FLAG(std::string, layout, "spread",
          "spread: Sessions round-robin over every Service; one: all in one");
ABSL_FLAG(int64_t, rounds, 2, "churn rounds after the first fill, 0 to 100");

namespace sessionwheel {
namespace {

constexpr char kUsage[] =
    "usage: sessionwheel-fake-memory [--layout spread|one] [--rounds N]\n"
    "\n"
    "Fills a ProxyFake with default options to its limits with the largest\n"
    "Services and Sessions, churns it, and prints the memory it holds.\n";

constexpr int kNameChars = 191;
constexpr int kIdentifierChars = 191;
constexpr int kFriendlyNameChars = 255;
constexpr int kTtlSeconds = 3600;
constexpr int kBodyChars = 1600;

double MiB(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "sessionwheel-fake-memory: %s\n", what.c_str());
  std::exit(1);
}

// The UTF-8 of a code point from U+10000 on: four bytes.
std::string FourByteChar(uint32_t cp) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return out;
}

// `chars` four-byte characters, the last three spelling `n` (below 2^30)
// in base 1024, so names are distinct and all of the same length.
std::string LongText(int chars, uint32_t n) {
  std::string out;
  out.reserve(4 * chars);
  for (int i = 0; i < chars - 3; ++i) out += FourByteChar(0x1F600);
  for (int shift = 20; shift >= 0; shift -= 10) {
    out += FourByteChar(0x20000 + ((n >> shift) & 0x3FF));
  }
  return out;
}

class Filler {
 public:
  // The bookkeeping is reserved here, so that the heap grows by what the
  // fake keeps and nothing else.
  Filler() : fake_(Options()) {
    services_.reserve(static_cast<size_t>(defaults_.max_services));
    sessions_.reserve(static_cast<size_t>(defaults_.max_sessions));
  }

  static ProxyFakeOptions Options() {
    ProxyFakeOptions options;  // The default limits: what is measured.
    options.start_time = absl::FromUnixSeconds(1893456000);  // 2030-01-01
    return options;
  }

  const ProxyFakeOptions& defaults() const { return defaults_; }

  // Creates every Service the limit allows; the next is refused.
  void FillServices() {
    services_.clear();
    for (int64_t i = 0; i < defaults_.max_services; ++i) {
      const Response r =
          Ask("POST", "/v1/Services",
              "UniqueName=" + LongText(kNameChars, next_name_++), 201);
      services_.push_back(SidOf(r));
    }
    Ask("POST", "/v1/Services", "UniqueName=one-more", 429);
  }

  // Creates every Session the limit allows; the next is refused.
  void FillSessions(bool spread) {
    sessions_.clear();
    for (int64_t i = 0; i < defaults_.max_sessions; ++i) {
      const size_t service =
          spread ? static_cast<size_t>(i) % services_.size() : 0;
      const Response r =
          Ask("POST", SessionsPath(services_[service]), SessionBody(), 201);
      sessions_.push_back({service, SidOf(r)});
    }
    Ask("POST", SessionsPath(services_[0]), "", 429);
  }

  // Sends every message the store's limit allows, each to the first
  // Participant of a Session in turn; the next is refused.
  void FillInteractions() {
    const int64_t n = defaults_.max_interactions;
    for (int64_t i = 0; i < n; ++i) {
      const Held& held = sessions_[static_cast<size_t>(i) % sessions_.size()];
      const std::string participants = SessionsPath(services_[held.service]) +
                                       "/" + Text(held.kc) + "/Participants";
      const Response list = Ask("GET", participants + "?PageSize=1", "", 200);
      const std::string kp =
          nlohmann::json::parse(list.body)["participants"][0]["sid"];
      Ask("POST", participants + "/" + kp + "/MessageInteractions",
          "Body=" + LongText(kBodyChars, next_name_++), 201);
      if (i + 1 == n) {
        Ask("POST", participants + "/" + kp + "/MessageInteractions",
            "Body=one-more", 429);
      }
    }
  }

  void DeleteSessions() {
    for (const Held& held : sessions_) {
      Ask("DELETE", SessionsPath(services_[held.service]) + "/" + Text(held.kc),
          "", 204);
    }
    sessions_.clear();
  }

  // Past every Ttl and the 90 days of retention: all expire and are purged.
  void ExpireAndPurge() {
    if (!fake_.Advance(absl::Seconds(kTtlSeconds) + absl::Hours(24 * 91))
             .ok()) {
      Die("Advance failed");
    }
    if (fake_.store().Stats().sessions != 0) Die("Sessions left after purge");
    sessions_.clear();
  }

  void DeleteServices() {
    for (const SidText& ks : services_) {
      Ask("DELETE", "/v1/Services/" + Text(ks), "", 204);
    }
    services_.clear();
    sessions_.clear();
  }

 private:
  // A SID's 34 characters, kept without a heap allocation of their own.
  using SidText = std::array<char, 34>;

  static std::string Text(const SidText& sid) {
    return std::string(sid.data(), sid.size());
  }

  static SidText SidOf(const Response& r) {
    const std::string sid = nlohmann::json::parse(r.body)["sid"];
    SidText out{};
    if (sid.size() != out.size()) Die("a SID of " + sid);
    std::copy(sid.begin(), sid.end(), out.begin());
    return out;
  }

  static std::string SessionsPath(const SidText& ks) {
    return "/v1/Services/" + Text(ks) + "/Sessions";
  }

  // A create with every stored field at its longest. The form is raw
  // UTF-8: the fake keeps bytes other than '%', '+', '&' and '=' as they
  // are, and what is stored is the same however it was spelled.
  std::string SessionBody() {
    std::string body = "UniqueName=" + LongText(kNameChars, next_name_++) +
                       "&Ttl=" + std::to_string(kTtlSeconds);
    for (int p = 0; p < 2; ++p) {
      nlohmann::json person = {
          {"Identifier", LongText(kIdentifierChars, next_name_)},
          {"FriendlyName", LongText(kFriendlyNameChars, next_name_)},
          {"ProxyIdentifier", LongText(kIdentifierChars, next_name_)}};
      body += "&Participants=" + person.dump();
    }
    return body;
  }

  Response Ask(std::string_view method, const std::string& target,
               const std::string& body, int want) {
    Response r = fake_.Handle(method, target, body);
    if (r.status != want) {
      Die(std::string(method) + " " + target + ": want " +
          std::to_string(want) + ", got " + std::to_string(r.status) + " " +
          r.body.substr(0, 300));
    }
    return r;
  }

  const ProxyFakeOptions defaults_;
  ProxyFake fake_;
  uint32_t next_name_ = 0;
  std::vector<SidText> services_;
  struct Held {
    size_t service;  // In services_.
    SidText kc;
  };
  std::vector<Held> sessions_;
};

void Report(const char* step, int64_t heap) {
  std::printf("%-44s heap %8.1f MiB  rss %8.1f MiB  peak rss %8.1f MiB\n", step,
              MiB(heap), MiB(bench::ResidentBytes()),
              MiB(bench::PeakResidentBytes()));
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  tools::ParseFlagsOrExit(argc, argv, "sessionwheel-fake-memory", kUsage,
                          {&FLAGS_layout, &FLAGS_rounds});
  const std::string layout = absl::GetFlag(FLAGS_layout);
  const int64_t rounds = absl::GetFlag(FLAGS_rounds);
  if (layout != "spread" && layout != "one") {
    tools::UsageError("--layout is spread or one, not '" + layout + "'");
  }
  if (rounds < 0 || rounds > 100) tools::UsageError("--rounds is 0 to 100");
  const bool spread = layout == "spread";

  const int64_t start = bench::HeapBytesInUse();
  Report("start", start);
  Filler filler;
  const int64_t empty = bench::HeapBytesInUse();
  Report("an empty fake", empty);
  filler.FillServices();
  const int64_t with_services = bench::HeapBytesInUse();
  Report("the Services", with_services);
  filler.FillSessions(spread);
  const int64_t with_sessions = bench::HeapBytesInUse();
  Report("the Sessions", with_sessions);
  filler.FillInteractions();
  const int64_t full = bench::HeapBytesInUse();
  Report("the Interactions (full)", full);
  int64_t most = full;
  for (int64_t round = 1; round <= rounds; ++round) {
    filler.DeleteSessions();
    filler.FillSessions(spread);
    filler.FillInteractions();
    most = std::max(most, bench::HeapBytesInUse());
    Report("  Sessions deleted and made again", bench::HeapBytesInUse());
    filler.ExpireAndPurge();
    filler.FillSessions(spread);
    filler.FillInteractions();
    most = std::max(most, bench::HeapBytesInUse());
    Report("  Sessions purged and made again", bench::HeapBytesInUse());
    filler.DeleteServices();
    filler.FillServices();
    filler.FillSessions(spread);
    filler.FillInteractions();
    most = std::max(most, bench::HeapBytesInUse());
    Report("  Services deleted and all made again", bench::HeapBytesInUse());
  }

  const ProxyFakeOptions& d = filler.defaults();
  std::printf(
      "\nlayout %s, %lld Services, %lld Sessions, %lld churn rounds\n"
      "bytes a Service (heap):  %lld\n"
      "bytes a Session (heap):  %lld\n"
      "bytes an Interaction (heap): %lld\n"
      "heap of a full fake:     %.1f MiB (%.1f MiB most in churn)\n"
      "peak resident memory:    %.1f MiB\n",
      layout.c_str(), static_cast<long long>(d.max_services),
      static_cast<long long>(d.max_sessions), static_cast<long long>(rounds),
      static_cast<long long>((with_services - empty) / d.max_services),
      static_cast<long long>((with_sessions - with_services) / d.max_sessions),
      static_cast<long long>((full - with_sessions) / d.max_interactions),
      MiB(full - start), MiB(most - start), MiB(bench::PeakResidentBytes()));
  return 0;
}

}  // namespace
}  // namespace sessionwheel

int main(int argc, char** argv) { return sessionwheel::Main(argc, argv); }
