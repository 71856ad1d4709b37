#include "engine/persist/snapshot.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/persist/crc32c.h"
#include "engine/persist/crc32c_fast.h"
#include "engine/persist/file_io.h"
#include "engine/util/str_cat.h"
#include "engine/util/utf8.h"

namespace sessionwheel::internal {
namespace {

// The layout (docs/snapshots.md): header, body, footer. Every version keeps
// the magic in front and the footer at the end, so a reader can tell a
// foreign file, a damaged one and a newer one apart.
constexpr std::string_view kMagic("SWHLSNAP", 8);
constexpr std::string_view kEndMarker("SWHLDONE", 8);
constexpr size_t kVersionOffset = 8;
constexpr size_t kHeaderBytes = 20;  // Magic, version, body length.
constexpr size_t kFooterBytes = 12;  // CRC-32C, end marker.
// The header and the body's fixed fields: account, next_seq, sids_minted,
// the two counts.
constexpr size_t kPrefixBytes = kHeaderBytes + 16 + 8 + 8 + 4 + 8;

// The smallest encodings, to check a count against the bytes left before
// it sizes an allocation.
constexpr size_t kMinServiceBytes = 16 + 4 * 8 + 4;
constexpr size_t kMinSessionBytes = 16 + 16 + 8 + 7 * 8 + 4 + 1;

constexpr uint8_t kFlagNamed = 1;
constexpr size_t kMaxParticipants = 2;
constexpr size_t kMaxReasonChars = 255;
// Times a snapshot may hold: within 9999 years of 1970 either way (the
// latest is the API's 9999-12-31T23:59:59.999Z), so that adding a ttl or a
// retention to one never overflows.
constexpr int64_t kMaxMs = 253402300799999;
constexpr int64_t kMaxTtl = kMaxMs / 1000;

void PutLe(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// Appends little-endian fixed-width fields and length-prefixed strings.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Sid(const Sid128& sid) {
    U64(sid.hi);
    U64(sid.lo);
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_->append(s);
  }

 private:
  void Fixed(uint64_t v, int bytes) {
    const size_t at = out_->size();
    out_->resize(at + static_cast<size_t>(bytes));
    PutLe(&(*out_)[at], v, bytes);
  }

  std::string* const out_;
};

// Reads what Writer wrote. A read past the end yields zeros and leaves the
// reader failed, so a caller checks ok() once after a run of reads.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool ok() const { return ok_; }
  size_t left() const { return rest_.size(); }

  uint8_t U8() { return static_cast<uint8_t>(Fixed(1)); }
  uint32_t U32() { return static_cast<uint32_t>(Fixed(4)); }
  uint64_t U64() { return Fixed(8); }
  int64_t I64() { return static_cast<int64_t>(Fixed(8)); }
  Sid128 Sid() {
    Sid128 sid;
    sid.hi = U64();
    sid.lo = U64();
    return sid;
  }
  std::string Str() { return std::string(Take(U32())); }

  // Whether `count` items of at least `min_bytes` each fit in what is left;
  // fails the reader if not.
  bool Fits(uint64_t count, size_t min_bytes) {
    if (count > rest_.size() / min_bytes) ok_ = false;
    return ok_;
  }

 private:
  std::string_view Take(size_t n) {
    if (!ok_ || n > rest_.size()) {
      ok_ = false;
      return {};
    }
    std::string_view taken = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return taken;
  }

  uint64_t Fixed(int bytes) {
    std::string_view p = Take(static_cast<size_t>(bytes));
    uint64_t v = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
    }
    return v;
  }

  std::string_view rest_;
  bool ok_ = true;
};

absl::Status Corrupted(std::string_view what) {
  return absl::DataLossError(Cat("snapshot is corrupted: ", what));
}

void WriteService(Writer& out, const ServiceImage& s) {
  out.Sid(s.sid);
  out.U64(s.seq);
  out.I64(s.created_ms);
  out.I64(s.updated_ms);
  out.I64(s.default_ttl);
  out.Str(s.unique_name);
}

void ReadService(Reader& in, ServiceImage* s) {
  s->sid = in.Sid();
  s->seq = in.U64();
  s->created_ms = in.I64();
  s->updated_ms = in.I64();
  s->default_ttl = in.I64();
  s->unique_name = in.Str();
}

void WriteSession(Writer& out, const SessionImage& s) {
  out.Sid(s.sid);
  out.Sid(s.service);
  out.U64(s.seq);
  for (int64_t v : {s.created_ms, s.updated_ms, s.base_ms, s.ended_ms,
                    s.last_interaction_ms, s.date_expiry_ms, s.ttl}) {
    out.I64(v);
  }
  out.U8(static_cast<uint8_t>(s.status));
  out.U8(static_cast<uint8_t>(s.mode));
  out.U8(static_cast<uint8_t>(s.end_reason));
  out.U8(s.unique_name.has_value() ? kFlagNamed : 0);
  if (s.unique_name.has_value()) out.Str(*s.unique_name);
  if (s.end_reason == SessionImage::EndReason::kHost) out.Str(s.host_reason);
  out.U8(static_cast<uint8_t>(s.participants.size()));
  for (const ParticipantImage& p : s.participants) {
    out.Sid(p.sid);
    out.Str(p.identifier);
    out.Str(p.friendly_name);
    out.Str(p.proxy_identifier);
  }
}

// Reads one Session; the enums are checked later, by CheckSession.
absl::Status ReadSession(Reader& in, SessionImage* s) {
  s->sid = in.Sid();
  s->service = in.Sid();
  s->seq = in.U64();
  for (int64_t* v : {&s->created_ms, &s->updated_ms, &s->base_ms, &s->ended_ms,
                     &s->last_interaction_ms, &s->date_expiry_ms, &s->ttl}) {
    *v = in.I64();
  }
  s->status = static_cast<SessionImage::Status>(in.U8());
  s->mode = static_cast<SessionImage::Mode>(in.U8());
  s->end_reason = static_cast<SessionImage::EndReason>(in.U8());
  const uint8_t flags = in.U8();
  if ((flags & ~kFlagNamed) != 0) return Corrupted("unknown Session flags");
  if ((flags & kFlagNamed) != 0) s->unique_name = in.Str();
  if (s->end_reason == SessionImage::EndReason::kHost) {
    s->host_reason = in.Str();
  }
  const uint8_t participants = in.U8();
  if (participants > kMaxParticipants) {
    return Corrupted("a Session has more than 2 Participants");
  }
  for (int i = 0; i < participants; ++i) {
    ParticipantImage p;
    p.sid = in.Sid();
    p.identifier = in.Str();
    p.friendly_name = in.Str();
    p.proxy_identifier = in.Str();
    s->participants.push_back(std::move(p));
  }
  return absl::OkStatus();
}

bool IsTime(int64_t ms) { return ms >= -kMaxMs && ms <= kMaxMs; }
bool IsTimeOrNull(int64_t ms) { return ms == kNullMs || IsTime(ms); }

// The rules a Session obeys on its own; CheckImage checks those between
// records.
absl::Status CheckSession(const SessionImage& s, const SnapshotRules& rules) {
  auto bad = [&s](std::string_view what) {
    return Corrupted(Cat("Session ", FormatSid("KC", s.sid), " ", what));
  };
  if (s.status > SessionImage::Status::kUnknown ||
      s.mode > SessionImage::Mode::kVoiceAndMessage ||
      s.end_reason > SessionImage::EndReason::kHost) {
    return bad("has an unknown status, mode or end reason");
  }
  if (!IsTime(s.created_ms) || !IsTime(s.updated_ms) || !IsTime(s.base_ms) ||
      !IsTimeOrNull(s.ended_ms) || !IsTimeOrNull(s.last_interaction_ms) ||
      !IsTimeOrNull(s.date_expiry_ms) || s.ttl < 0 || s.ttl > kMaxTtl) {
    return bad("has a time or ttl out of range");
  }
  const bool ended = s.status == SessionImage::Status::kClosed ||
                     s.status == SessionImage::Status::kFailed;
  if (ended != (s.ended_ms != kNullMs) ||
      ended != (s.end_reason != SessionImage::EndReason::kNone)) {
    return bad("has an end date or reason that disagrees with its status");
  }
  if (s.end_reason == SessionImage::EndReason::kHost &&
      (s.host_reason.empty() || !IsValidUtf8(s.host_reason) ||
       Utf8Length(s.host_reason) > kMaxReasonChars)) {
    return bad("has an invalid closed_reason");
  }
  if (s.unique_name.has_value()) {
    if (!rules.IsValidName(*s.unique_name)) {
      return bad("has an invalid unique_name");
    }
    // The restored store finds a name in the shard its hash picks.
    if (rules.NameShardByte(s.service, *s.unique_name) != ShardByte(s.sid)) {
      return bad("does not carry its unique_name's shard byte");
    }
  }
  return absl::OkStatus();
}

// The rules between records: unique SIDs, names and sequence numbers, and
// every Session under a Service of the snapshot.
//
// Two Sessions of one Service with one unique_name are not damage: a
// snapshot is copied a slice at a time while the store runs, so a Session
// deleted after its slice was copied and the Session that took its name
// after, in a slice copied later, are both there. The newer (by creation
// order) is kept; the older was gone before it was created.
absl::Status CheckImage(StoreImage* image_out, const SnapshotRules& rules) {
  const StoreImage& image = *image_out;
  std::vector<uint64_t> seqs;
  seqs.reserve(image.services.size() + image.sessions.size());
  absl::flat_hash_set<Sid128> services;
  absl::flat_hash_set<std::string> service_names;
  for (const ServiceImage& s : image.services) {
    if (!services.insert(s.sid).second) {
      return Corrupted(
          Cat("two Services have the SID ", FormatSid("KS", s.sid)));
    }
    if (!rules.IsValidName(s.unique_name) ||
        !service_names.insert(s.unique_name).second) {
      return Corrupted("a Service's unique_name is invalid or not unique");
    }
    if (!IsTime(s.created_ms) || !IsTime(s.updated_ms) || s.default_ttl < 0 ||
        s.default_ttl > kMaxTtl) {
      return Corrupted("a Service has a time or default_ttl out of range");
    }
    seqs.push_back(s.seq);
  }
  absl::flat_hash_set<Sid128> sessions;
  // Names as (Service, name), viewing the image's strings.
  absl::flat_hash_map<std::pair<Sid128, absl::string_view>, size_t> names;
  std::vector<size_t> superseded;
  sessions.reserve(image.sessions.size());
  for (size_t i = 0; i < image.sessions.size(); ++i) {
    const SessionImage& s = image.sessions[i];
    if (!sessions.insert(s.sid).second) {
      return Corrupted(
          Cat("two Sessions have the SID ", FormatSid("KC", s.sid)));
    }
    if (!services.contains(s.service)) {
      return Corrupted("a Session belongs to no Service of the snapshot");
    }
    if (absl::Status status = CheckSession(s, rules); !status.ok()) {
      return status;
    }
    if (s.unique_name.has_value()) {
      auto [held, fresh] = names.emplace(
          std::make_pair(s.service, absl::string_view(s.unique_name->data(),
                                                      s.unique_name->size())),
          i);
      if (!fresh) {
        if (image.sessions[held->second].seq < s.seq) {
          superseded.push_back(held->second);
          held->second = i;
        } else {
          superseded.push_back(i);
        }
      }
    }
    seqs.push_back(s.seq);
  }
  std::sort(seqs.begin(), seqs.end());
  if (!seqs.empty() && (seqs.front() == 0 || seqs.back() >= image.next_seq)) {
    return Corrupted("a sequence number is out of range");
  }
  if (std::adjacent_find(seqs.begin(), seqs.end()) != seqs.end()) {
    return Corrupted("two records have the same sequence number");
  }
  if (!superseded.empty()) {
    std::sort(superseded.begin(), superseded.end());
    std::vector<SessionImage>& all = image_out->sessions;
    size_t next = 0;
    size_t to = 0;
    for (size_t from = 0; from < all.size(); ++from) {
      if (next < superseded.size() && superseded[next] == from) {
        ++next;
        continue;
      }
      if (to != from) all[to] = std::move(all[from]);
      ++to;
    }
    all.resize(to);
  }
  return absl::OkStatus();
}

absl::Status ReadBody(Reader& in, StoreImage* image) {
  image->account = in.Sid();
  image->next_seq = in.U64();
  image->sids_minted = in.U64();
  const uint32_t services = in.U32();
  const uint64_t sessions = in.U64();
  if (!in.Fits(services, kMinServiceBytes) ||
      !in.Fits(sessions, kMinSessionBytes)) {
    return Corrupted("a count exceeds the bytes that follow");
  }
  image->services.resize(services);
  for (ServiceImage& s : image->services) ReadService(in, &s);
  image->sessions.resize(sessions);
  for (SessionImage& s : image->sessions) {
    if (!in.ok()) break;
    if (absl::Status status = ReadSession(in, &s); !status.ok()) return status;
  }
  if (!in.ok()) return Corrupted("a record runs past the end");
  if (in.left() != 0) return Corrupted("bytes follow the last record");
  return absl::OkStatus();
}

}  // namespace

SnapshotWriter::SnapshotWriter(Sink* sink, const Sid128& account)
    : sink_(sink), account_(account) {
  // The header and the body's fixed fields, with the counts, the body
  // length and the numbers known only at Finish() left zero.
  Writer w(&buffer_);
  buffer_.append(kMagic);
  w.U32(kSnapshotVersion);
  w.U64(0);  // The body length.
  w.Sid(account);
  w.U64(0);  // next_seq
  w.U64(0);  // sids_minted
  w.U32(0);  // Services.
  w.U64(0);  // Sessions.
  records_from_ = buffer_.size();
}

absl::Status SnapshotWriter::AddService(const ServiceImage& image) {
  if (!status_.ok()) return status_;
  if (sessions_ != 0) {
    return status_ = absl::InternalError(
               "SnapshotWriter: a Service after the first Session");
  }
  Writer w(&buffer_);
  WriteService(w, image);
  ++services_;
  return FlushIfFull();
}

absl::Status SnapshotWriter::AddSession(const SessionImage& image) {
  if (!status_.ok()) return status_;
  Writer w(&buffer_);
  WriteSession(w, image);
  ++sessions_;
  return FlushIfFull();
}

absl::Status SnapshotWriter::FlushIfFull() {
  return buffer_.size() < kFlushBytes ? absl::OkStatus() : Flush();
}

absl::Status SnapshotWriter::Flush() {
  const std::string_view records =
      std::string_view(buffer_).substr(records_from_);
  records_crc_ =
      Crc32cCombine(records_crc_, Crc32cFast(records), records.size());
  records_bytes_ += records.size();
  if (absl::Status s = sink_->Append(buffer_); !s.ok()) return status_ = s;
  buffer_.clear();
  records_from_ = 0;
  return absl::OkStatus();
}

absl::Status SnapshotWriter::Finish(uint64_t next_seq, uint64_t sids_minted) {
  if (!status_.ok()) return status_;
  if (absl::Status s = Flush(); !s.ok()) return s;
  std::string prefix;
  Writer w(&prefix);
  prefix.append(kMagic);
  w.U32(kSnapshotVersion);
  w.U64(kPrefixBytes - kHeaderBytes + records_bytes_);
  w.Sid(account_);
  w.U64(next_seq);
  w.U64(sids_minted);
  w.U32(services_);
  w.U64(sessions_);
  if (absl::Status s = sink_->WriteAt(0, prefix); !s.ok()) return status_ = s;
  std::string footer;
  Writer f(&footer);
  f.U32(Crc32cCombine(Crc32cFast(prefix), records_crc_, records_bytes_));
  footer.append(kEndMarker);
  if (absl::Status s = sink_->Append(footer); !s.ok()) return status_ = s;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WriteSnapshotFile(
    const std::string& path, const Sid128& account,
    absl::FunctionRef<absl::Status(SnapshotWriter&)> fill) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> file =
      AtomicFileWriter::Create(path);
  if (!file.ok()) return file.status();
  class FileSink final : public SnapshotWriter::Sink {
   public:
    explicit FileSink(AtomicFileWriter* file) : file_(file) {}
    absl::Status Append(std::string_view bytes) override {
      return file_->Append(bytes);
    }
    absl::Status WriteAt(uint64_t offset, std::string_view bytes) override {
      return file_->WriteAt(offset, bytes);
    }

   private:
    AtomicFileWriter* const file_;
  } sink(file->get());
  SnapshotWriter writer(&sink, account);
  if (absl::Status s = fill(writer); !s.ok()) return s;
  if (absl::Status s = (*file)->Commit(); !s.ok()) return s;
  return (*file)->size();
}

std::string EncodeSnapshot(const StoreImage& image) {
  // The bytes in memory, through the same writer a file gets.
  class StringSink final : public SnapshotWriter::Sink {
   public:
    absl::Status Append(std::string_view bytes) override {
      out.append(bytes);
      return absl::OkStatus();
    }
    absl::Status WriteAt(uint64_t offset, std::string_view bytes) override {
      out.replace(offset, bytes.size(), bytes);
      return absl::OkStatus();
    }
    std::string out;
  } sink;
  sink.out.reserve(kPrefixBytes + kFooterBytes + 64 * image.services.size() +
                   160 * image.sessions.size());
  SnapshotWriter writer(&sink, image.account);
  for (const ServiceImage& s : image.services) (void)writer.AddService(s);
  for (const SessionImage& s : image.sessions) (void)writer.AddSession(s);
  (void)writer.Finish(image.next_seq, image.sids_minted);  // Never fails.
  return std::move(sink.out);
}

absl::StatusOr<StoreImage> DecodeSnapshot(std::string_view bytes,
                                          const SnapshotRules& rules) {
  // A prefix of the magic is a truncated snapshot, not a foreign file.
  const size_t magic = std::min(bytes.size(), kMagic.size());
  if (bytes.substr(0, magic) != kMagic.substr(0, magic)) {
    return absl::InvalidArgumentError(
        "not a sessionwheel snapshot (wrong magic)");
  }
  if (bytes.size() < kHeaderBytes + kFooterBytes ||
      bytes.substr(bytes.size() - kEndMarker.size()) != kEndMarker) {
    return absl::DataLossError("snapshot is truncated (no end marker)");
  }
  const std::string_view covered = bytes.substr(0, bytes.size() - kFooterBytes);
  if (Reader(bytes.substr(covered.size())).U32() != Crc32cFast(covered)) {
    return Corrupted("checksum mismatch");
  }
  Reader header(covered.substr(kVersionOffset));
  const uint32_t version = header.U32();
  if (version != kSnapshotVersion) {
    return absl::FailedPreconditionError(
        Cat("snapshot format version ", std::to_string(version),
            " is not supported; this build reads version ",
            std::to_string(kSnapshotVersion)));
  }
  if (header.U64() != covered.size() - kHeaderBytes) {
    return Corrupted("the body length disagrees with the file size");
  }
  StoreImage image;
  Reader body(covered.substr(kHeaderBytes));
  if (absl::Status s = ReadBody(body, &image); !s.ok()) return s;
  if (absl::Status s = CheckImage(&image, rules); !s.ok()) return s;
  return image;
}

void AppendServiceImage(const ServiceImage& image, std::string* out) {
  Writer w(out);
  WriteService(w, image);
}

void AppendSessionImage(const SessionImage& image, std::string* out) {
  Writer w(out);
  WriteSession(w, image);
}

absl::Status ParseServiceImage(std::string_view bytes,
                               const SnapshotRules& rules, ServiceImage* out) {
  Reader in(bytes);
  ReadService(in, out);
  if (!in.ok() || in.left() != 0) {
    return Corrupted("a Service record has the wrong length");
  }
  if (!IsTime(out->created_ms) || !IsTime(out->updated_ms) ||
      out->default_ttl < 0 || out->default_ttl > kMaxTtl) {
    return Corrupted("a Service has a time or ttl out of range");
  }
  if (!rules.IsValidName(out->unique_name)) {
    return Corrupted("a Service has an invalid unique_name");
  }
  return absl::OkStatus();
}

absl::Status ParseSessionImage(std::string_view bytes,
                               const SnapshotRules& rules, SessionImage* out) {
  Reader in(bytes);
  *out = SessionImage();
  if (absl::Status s = ReadSession(in, out); !s.ok()) return s;
  if (!in.ok() || in.left() != 0) {
    return Corrupted("a Session record has the wrong length");
  }
  return CheckSession(*out, rules);
}

}  // namespace sessionwheel::internal
