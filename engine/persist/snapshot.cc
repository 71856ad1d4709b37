#include "engine/persist/snapshot.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
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
// Version 2: the Participants' dates and the next Interaction's seq follow
// the Participants.
constexpr uint8_t kFlagHistory = 2;
// Version 2: the Interactions follow (a journal record leaves them out).
constexpr uint8_t kFlagInteractions = 4;
// An Interaction's SIDs, seq and time, and its body's length.
constexpr size_t kMinInteractionBytes = 16 + 16 + 8 + 8 + 4;
// A message body's bound, in characters (the store's too).
constexpr size_t kMaxBodyChars = 1600;
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

  // Fixed-width fields written into one block grown at once: a Session's
  // first 100 bytes cost one resize, not sixteen (every journal record of
  // a create or an update writes them: measured, performance.md).
  class Block {
   public:
    Block(std::string* out, size_t bytes) : at_(Grow(out, bytes)) {}
    void U8(uint8_t v) { *at_++ = static_cast<char>(v); }
    void U64(uint64_t v) {
      PutLe(at_, v, 8);
      at_ += 8;
    }
    void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
    void Sid(const Sid128& sid) {
      U64(sid.hi);
      U64(sid.lo);
    }

   private:
    static char* Grow(std::string* out, size_t bytes) {
      const size_t at = out->size();
      out->resize(at + bytes);
      return &(*out)[at];
    }
    char* at_;
  };
  Block FixedBlock(size_t bytes) { return Block(out_, bytes); }

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

void WriteInteraction(Writer& out, const InteractionImage& i) {
  out.Sid(i.sid);
  out.Sid(i.participant);
  out.U64(i.seq);
  out.I64(i.created_ms);
  out.Str(i.body);
}

void ReadInteraction(Reader& in, InteractionImage* i) {
  i->sid = in.Sid();
  i->participant = in.Sid();
  i->seq = in.U64();
  i->created_ms = in.I64();
  i->body = in.Str();
}

void WriteSession(Writer& out, const SessionImage& s) {
  // Two SIDs, the seq, seven times and four bytes.
  Writer::Block fixed = out.FixedBlock(16 + 16 + 8 + 7 * 8 + 4);
  fixed.Sid(s.sid);
  fixed.Sid(s.service);
  fixed.U64(s.seq);
  for (int64_t v : {s.created_ms, s.updated_ms, s.base_ms, s.ended_ms,
                    s.last_interaction_ms, s.date_expiry_ms, s.ttl}) {
    fixed.I64(v);
  }
  fixed.U8(static_cast<uint8_t>(s.status));
  fixed.U8(static_cast<uint8_t>(s.mode));
  fixed.U8(static_cast<uint8_t>(s.end_reason));
  fixed.U8((s.unique_name.has_value() ? kFlagNamed : 0) | kFlagHistory |
           (s.has_interactions ? kFlagInteractions : 0));
  if (s.unique_name.has_value()) out.Str(*s.unique_name);
  if (s.end_reason == SessionImage::EndReason::kHost) out.Str(s.host_reason);
  out.U8(static_cast<uint8_t>(s.participants.size()));
  for (const ParticipantImage& p : s.participants) {
    out.Sid(p.sid);
    out.Str(p.identifier);
    out.Str(p.friendly_name);
    out.Str(p.proxy_identifier);
  }
  for (const ParticipantImage& p : s.participants) {
    out.I64(p.created_ms);
    out.I64(p.updated_ms);
    out.I64(p.deleted_ms);
  }
  out.U64(s.next_interaction_seq);
  if (!s.has_interactions) return;
  out.U32(static_cast<uint32_t>(s.interactions.size()));
  for (const InteractionImage& i : s.interactions) WriteInteraction(out, i);
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
  if ((flags & ~(kFlagNamed | kFlagHistory | kFlagInteractions)) != 0 ||
      ((flags & kFlagInteractions) != 0 && (flags & kFlagHistory) == 0)) {
    return Corrupted("unknown Session flags");
  }
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
    // A version 1 record: added with the Session, never deleted.
    p.created_ms = p.updated_ms = s->created_ms;
    s->participants.push_back(std::move(p));
  }
  s->has_interactions =
      (flags & kFlagHistory) == 0 || (flags & kFlagInteractions) != 0;
  if ((flags & kFlagHistory) == 0) return absl::OkStatus();
  for (ParticipantImage& p : s->participants) {
    p.created_ms = in.I64();
    p.updated_ms = in.I64();
    p.deleted_ms = in.I64();
  }
  s->next_interaction_seq = in.U64();
  if (!s->has_interactions) return absl::OkStatus();
  const uint32_t interactions = in.U32();
  if (interactions > in.left() / kMinInteractionBytes) {
    return Corrupted("a Session counts more Interactions than the file holds");
  }
  s->interactions.resize(interactions);
  for (InteractionImage& i : s->interactions) ReadInteraction(in, &i);
  return absl::OkStatus();
}

bool IsTime(int64_t ms);

absl::Status CheckInteraction(const InteractionImage& i) {
  if (!IsTime(i.created_ms) || i.body.empty() || !IsValidUtf8(i.body) ||
      Utf8Length(i.body) > kMaxBodyChars) {
    return Corrupted("an Interaction has a time or body out of range");
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
  for (const ParticipantImage& p : s.participants) {
    if (!IsTime(p.created_ms) || !IsTime(p.updated_ms) ||
        !IsTimeOrNull(p.deleted_ms)) {
      return bad("has a Participant with a time out of range");
    }
  }
  uint64_t last_seq = 0;
  for (const InteractionImage& i : s.interactions) {
    if (absl::Status st = CheckInteraction(i); !st.ok()) return st;
    if (i.seq < last_seq || i.seq >= s.next_interaction_seq) {
      return bad("has Interactions out of order");
    }
    last_seq = i.seq + 1;
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

// The rules a Service obeys on its own; the reader checks those between
// Services.
absl::Status CheckService(const ServiceImage& s, const SnapshotRules& rules) {
  if (!rules.IsValidName(s.unique_name)) {
    return Corrupted("a Service's unique_name is invalid or not unique");
  }
  if (!IsTime(s.created_ms) || !IsTime(s.updated_ms) || s.default_ttl < 0 ||
      s.default_ttl > kMaxTtl) {
    return Corrupted("a Service has a time or default_ttl out of range");
  }
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

// The sequence numbers read, to find two records with one: a bitmap over
// [0, next_seq) when that costs at most 8 bytes a record (a store that has
// not created many times what it holds), else the numbers themselves,
// sorted at the end. Either way at most 8 bytes a record, where a hash set
// took about 30.
class SnapshotReader::SeqSet {
 public:
  SeqSet(uint64_t next_seq, uint64_t records) {
    if (next_seq / 64 <= records + 1024) {
      bits_.resize(static_cast<size_t>(next_seq / 64 + 1));
    } else {
      seqs_.reserve(static_cast<size_t>(records));
    }
  }

  // False if `seq` (below next_seq) was added before and the set can tell
  // now; Unique() tells otherwise.
  bool Add(uint64_t seq) {
    if (bits_.empty()) {
      seqs_.push_back(seq);
      return true;
    }
    uint64_t& word = bits_[static_cast<size_t>(seq / 64)];
    const uint64_t bit = uint64_t{1} << (seq % 64);
    if ((word & bit) != 0) return false;
    word |= bit;
    return true;
  }

  bool Unique() {
    std::sort(seqs_.begin(), seqs_.end());
    return std::adjacent_find(seqs_.begin(), seqs_.end()) == seqs_.end();
  }

 private:
  std::vector<uint64_t> bits_;
  std::vector<uint64_t> seqs_;
};

SnapshotReader::SnapshotReader(std::unique_ptr<FileReader> file,
                               std::string_view bytes, uint64_t size,
                               const SnapshotRules& rules)
    : file_(std::move(file)), bytes_(bytes), size_(size), rules_(rules) {}

SnapshotReader::~SnapshotReader() = default;

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::OpenFile(
    const std::string& path, const SnapshotRules& rules) {
  absl::StatusOr<std::unique_ptr<FileReader>> file = FileReader::Open(path);
  if (!file.ok()) return file.status();
  const uint64_t size = (*file)->size();
  std::unique_ptr<SnapshotReader> reader(
      new SnapshotReader(*std::move(file), {}, size, rules));
  if (absl::Status s = reader->ReadHeader(); !s.ok()) return reader->Named(s);
  return reader;
}

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::OpenBytes(
    std::string_view bytes, const SnapshotRules& rules) {
  std::unique_ptr<SnapshotReader> reader(
      new SnapshotReader(nullptr, bytes, bytes.size(), rules));
  if (absl::Status s = reader->ReadHeader(); !s.ok()) return s;
  return reader;
}

absl::StatusOr<bool> SnapshotReader::Refill(size_t want) {
  if (read_to_ >= body_end_) return false;
  buffer_.erase(0, at_);
  at_ = 0;
  const size_t kept = buffer_.size();
  const size_t n = static_cast<size_t>(
      std::min<uint64_t>(std::max(want, kPieceBytes), body_end_ - read_to_));
  buffer_.resize(kept + n);
  size_t got = n;
  if (file_ == nullptr) {
    bytes_.copy(&buffer_[kept], n, static_cast<size_t>(read_to_));
  } else {
    absl::StatusOr<size_t> read = file_->ReadAt(read_to_, n, &buffer_[kept]);
    if (!read.ok()) return read.status();
    got = *read;
    // The file shrank since it was opened: what is missing reads as a
    // truncation, which the checksum then names.
    if (got < n) body_end_ = read_to_ + got;
    buffer_.resize(kept + got);
  }
  const std::string_view piece(&buffer_[kept], got);
  crc_ = Crc32cCombine(crc_, Crc32cFast(piece), piece.size());
  read_to_ += got;
  return got > 0;
}

bool SnapshotReader::ChecksumHolds() {
  if (file_ == nullptr) {
    const std::string_view rest =
        bytes_.substr(static_cast<size_t>(read_to_),
                      static_cast<size_t>(size_ - kFooterBytes - read_to_));
    crc_ = Crc32cCombine(crc_, Crc32cFast(rest), rest.size());
  } else {
    std::string piece(kPieceBytes, '\0');
    while (read_to_ < size_ - kFooterBytes) {
      const size_t n = static_cast<size_t>(
          std::min<uint64_t>(kPieceBytes, size_ - kFooterBytes - read_to_));
      absl::StatusOr<size_t> got = file_->ReadAt(read_to_, n, piece.data());
      if (!got.ok() || *got != n) return false;
      crc_ =
          Crc32cCombine(crc_, Crc32cFast(std::string_view(piece.data(), n)), n);
      read_to_ += n;
    }
  }
  read_to_ = size_ - kFooterBytes;
  return crc_ == stored_crc_;
}

absl::Status SnapshotReader::Checked(absl::Status status) {
  if (!ChecksumHolds()) return Corrupted("checksum mismatch");
  return status;
}

absl::Status SnapshotReader::Named(const absl::Status& status) const {
  if (status.ok() || file_ == nullptr) return status;
  return absl::Status(
      status.code(),
      Cat(file_->path(), ": ",
          std::string_view(status.message().data(), status.message().size())));
}

absl::Status SnapshotReader::Refuse(absl::Status status) {
  return Named(Checked(std::move(status)));
}

absl::Status SnapshotReader::ReadHeader() {
  // The first and the last bytes, to tell a foreign file, a truncated one
  // and a damaged one apart before anything else.
  std::string ends(kPrefixBytes + kFooterBytes, '\0');
  const size_t head =
      static_cast<size_t>(std::min<uint64_t>(size_, kPrefixBytes));
  const size_t tail =
      static_cast<size_t>(std::min<uint64_t>(size_, kFooterBytes));
  if (file_ == nullptr) {
    bytes_.copy(ends.data(), head, 0);
    bytes_.copy(&ends[kPrefixBytes], tail, static_cast<size_t>(size_ - tail));
  } else {
    for (auto [offset, n, out] :
         {std::make_tuple(uint64_t{0}, head, ends.data()),
          std::make_tuple(size_ - tail, tail, &ends[kPrefixBytes])}) {
      absl::StatusOr<size_t> got = file_->ReadAt(offset, n, out);
      if (!got.ok()) return got.status();
      if (*got != n) return absl::DataLossError("snapshot is truncated");
    }
  }
  const std::string_view prefix = std::string_view(ends).substr(0, head);
  const std::string_view footer =
      std::string_view(ends).substr(kPrefixBytes, tail);
  // A prefix of the magic is a truncated snapshot, not a foreign file.
  const size_t magic = std::min(prefix.size(), kMagic.size());
  if (prefix.substr(0, magic) != kMagic.substr(0, magic)) {
    return absl::InvalidArgumentError(
        "not a sessionwheel snapshot (wrong magic)");
  }
  if (size_ < kHeaderBytes + kFooterBytes ||
      footer.substr(footer.size() - kEndMarker.size()) != kEndMarker) {
    return absl::DataLossError("snapshot is truncated (no end marker)");
  }
  stored_crc_ = Reader(footer).U32();
  body_end_ = size_ - kFooterBytes;
  Reader header(prefix.substr(kVersionOffset));
  const uint32_t version = header.U32();
  if (version < kOldestSnapshotVersion || version > kSnapshotVersion) {
    return Checked(absl::FailedPreconditionError(
        Cat("snapshot format version ", std::to_string(version),
            " is not supported; this build reads version ",
            std::to_string(kSnapshotVersion))));
  }
  if (header.U64() != body_end_ - kHeaderBytes) {
    return Checked(Corrupted("the body length disagrees with the file size"));
  }
  if (absl::Status s = ReadServices(); !s.ok()) return Checked(s);
  return absl::OkStatus();
}

absl::Status SnapshotReader::ReadServices() {
  if (absl::StatusOr<bool> more = Refill(kPrefixBytes); !more.ok()) {
    return more.status();
  }
  Reader fixed(std::string_view(buffer_).substr(kHeaderBytes));
  account_ = fixed.Sid();
  next_seq_ = fixed.U64();
  sids_minted_ = fixed.U64();
  const uint32_t services = fixed.U32();
  sessions_ = fixed.U64();
  const uint64_t left = body_end_ - std::min<uint64_t>(body_end_, kPrefixBytes);
  if (!fixed.ok()) return Corrupted("a record runs past the end");
  if (services > left / kMinServiceBytes ||
      sessions_ > left / kMinSessionBytes) {
    return Corrupted("a count exceeds the bytes that follow");
  }
  at_ = kPrefixBytes;
  seqs_ = std::make_unique<SeqSet>(next_seq_, services + sessions_);
  absl::flat_hash_set<std::string> names;
  services_.resize(services);
  for (ServiceImage& s : services_) {
    for (;;) {
      Reader in(std::string_view(buffer_).substr(at_));
      ReadService(in, &s);
      if (in.ok()) {
        at_ = buffer_.size() - in.left();
        break;
      }
      absl::StatusOr<bool> more = Refill(buffer_.size() - at_ + 1);
      if (!more.ok()) return more.status();
      if (!*more) return Corrupted("a record runs past the end");
    }
    if (!service_sids_.insert(s.sid).second) {
      return Corrupted(
          Cat("two Services have the SID ", FormatSid("KS", s.sid)));
    }
    if (!names.insert(s.unique_name).second) {
      return Corrupted("a Service's unique_name is invalid or not unique");
    }
    if (absl::Status status = CheckService(s, rules_); !status.ok()) {
      return status;
    }
    if (s.seq == 0 || s.seq >= next_seq_) {
      return Corrupted("a sequence number is out of range");
    }
    if (!seqs_->Add(s.seq)) {
      return Corrupted("two records have the same sequence number");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SnapshotReader::ReadNext(SessionImage* out) {
  if (sessions_read_ == sessions_) return false;
  *out = SessionImage();
  for (;;) {
    Reader in(std::string_view(buffer_).substr(at_));
    if (absl::Status s = ReadSession(in, out); !s.ok()) return Checked(s);
    if (in.ok()) {
      at_ = buffer_.size() - in.left();
      break;
    }
    // The record goes on past what was read: read more (a whole piece, or
    // as much as the record needs) and parse it again.
    absl::StatusOr<bool> more = Refill(2 * (buffer_.size() - at_) + 1);
    if (!more.ok()) return more.status();
    if (!*more) return Checked(Corrupted("a record runs past the end"));
    *out = SessionImage();
  }
  ++sessions_read_;
  if (!service_sids_.contains(out->service)) {
    return Checked(
        Corrupted("a Session belongs to no Service of the snapshot"));
  }
  if (absl::Status s = CheckSession(*out, rules_); !s.ok()) return Checked(s);
  if (out->seq == 0 || out->seq >= next_seq_) {
    return Checked(Corrupted("a sequence number is out of range"));
  }
  if (!seqs_->Add(out->seq)) {
    return Checked(Corrupted("two records have the same sequence number"));
  }
  return true;
}

absl::StatusOr<bool> SnapshotReader::Next(SessionImage* out) {
  absl::StatusOr<bool> more = ReadNext(out);
  if (!more.ok()) return Named(more.status());
  return more;
}

absl::Status SnapshotReader::Finish() { return Named(CheckEnd()); }

absl::Status SnapshotReader::CheckEnd() {
  const bool trailing = at_ < buffer_.size() || read_to_ < body_end_;
  if (!ChecksumHolds()) return Corrupted("checksum mismatch");
  if (sessions_read_ != sessions_) {
    return absl::InternalError("SnapshotReader: Finish() before the end");
  }
  if (trailing) return Corrupted("bytes follow the last record");
  if (!seqs_->Unique()) {
    return Corrupted("two records have the same sequence number");
  }
  return absl::OkStatus();
}

absl::StatusOr<StoreImage> DecodeSnapshot(std::string_view bytes,
                                          const SnapshotRules& rules) {
  absl::StatusOr<std::unique_ptr<SnapshotReader>> reader =
      SnapshotReader::OpenBytes(bytes, rules);
  if (!reader.ok()) return reader.status();
  StoreImage image;
  image.account = (*reader)->account();
  image.next_seq = (*reader)->next_seq();
  image.sids_minted = (*reader)->sids_minted();
  image.services = (*reader)->services();
  for (;;) {
    SessionImage session;
    absl::StatusOr<bool> more = (*reader)->Next(&session);
    if (!more.ok()) return more.status();
    if (!*more) break;
    image.sessions.push_back(std::move(session));
  }
  if (absl::Status s = (*reader)->Finish(); !s.ok()) return s;
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

void AppendInteractionImage(const InteractionImage& image, std::string* out) {
  Writer w(out);
  WriteInteraction(w, image);
}

absl::Status ParseInteractionImage(std::string_view bytes,
                                   InteractionImage* out) {
  Reader in(bytes);
  ReadInteraction(in, out);
  if (!in.ok() || in.left() != 0) {
    return Corrupted("an Interaction record has the wrong length");
  }
  return CheckInteraction(*out);
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
