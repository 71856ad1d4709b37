// Tests of the write-ahead journal (engine/persist/journal.h): the format,
// round trips across segments, every truncation and every flipped bit of a
// small journal under both recovery modes, LSN gaps, group commit, injected
// ENOSPC and EIO, Roll and RemoveSegmentsBefore, the sync policies.
//
// The exhaustive and fault tests run on FakeFiles, an in-memory JournalFiles
// that counts syncs, can make a sync wait, and can fail a write or a sync;
// the others on the real file system in a directory of their own. No test
// sleeps or waits for the background thread: Flush and the destructor make
// the writes happen.

#include "engine/persist/journal.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/persist/crc32c.h"
#include "engine/persist/crc32c_fast.h"
#include "engine/persist/journal_files.h"
#include "engine/persist/journal_format.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace sessionwheel::internal {
namespace {

using testing_util::Gate;

constexpr std::string_view kDir = "/j";

// An in-memory file system. Safe for concurrent use, like the real one.
class FakeFiles : public JournalFiles {
 public:
  FakeFiles() = default;
  explicit FakeFiles(std::map<std::string, std::string> files)
      : files_(std::move(files)) {}

  // Appends fail with ENOSPC once `bytes` more are written, after writing
  // what fits.
  void SetSpaceLeft(size_t bytes) {
    std::lock_guard<std::mutex> l(mu_);
    space_left_ = bytes;
  }
  // The `nth` Sync from now (1: the next) and every later one fail with EIO.
  void FailSyncsFrom(int nth) {
    std::lock_guard<std::mutex> l(mu_);
    fail_syncs_in_ = nth;
  }
  // Runs at the start of every Sync, without the fake's lock.
  void SetSyncGate(std::function<void()> gate) {
    std::lock_guard<std::mutex> l(mu_);
    sync_gate_ = std::move(gate);
  }

  int syncs() const {
    std::lock_guard<std::mutex> l(mu_);
    return syncs_;
  }
  std::map<std::string, std::string> files() const {
    std::lock_guard<std::mutex> l(mu_);
    return files_;
  }
  std::vector<std::string> reads() const {
    std::lock_guard<std::mutex> l(mu_);
    return reads_;
  }
  std::string Content(const std::string& path) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    return it == files_.end() ? "" : it->second;
  }
  void Put(const std::string& path, std::string content) {
    std::lock_guard<std::mutex> l(mu_);
    files_[path] = std::move(content);
  }

  absl::StatusOr<std::unique_ptr<AppendFile>> Create(
      const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    if (files_.count(path) != 0) {
      return absl::ErrnoToStatus(EEXIST, absl::StrCat("open ", path));
    }
    files_[path];
    return std::unique_ptr<AppendFile>(new File(this, path));
  }

  absl::StatusOr<std::string> ReadAll(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    reads_.push_back(path);
    auto it = files_.find(path);
    if (it == files_.end()) {
      return absl::ErrnoToStatus(ENOENT, absl::StrCat("open ", path));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<std::string>> List(
      const std::string& dir) override {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::string> names;
    for (const auto& [path, content] : files_) {
      if (absl::StartsWith(path, dir + "/")) {
        names.push_back(path.substr(dir.size() + 1));
      }
    }
    return names;
  }

  absl::Status Truncate(const std::string& path, uint64_t size) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) {
      return absl::ErrnoToStatus(ENOENT, absl::StrCat("open ", path));
    }
    it->second.resize(size);
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    if (files_.erase(path) == 0) {
      return absl::ErrnoToStatus(ENOENT, absl::StrCat("unlink ", path));
    }
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) {
      return absl::ErrnoToStatus(ENOENT, absl::StrCat("rename ", from));
    }
    std::string content = std::move(it->second);
    files_.erase(it);
    files_[to] = std::move(content);
    return absl::OkStatus();
  }

 private:
  class File : public AppendFile {
   public:
    File(FakeFiles* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
    absl::Status Append(std::string_view bytes) override {
      std::lock_guard<std::mutex> l(fs_->mu_);
      std::string& content = fs_->files_[path_];
      if (fs_->space_left_.has_value() && bytes.size() > *fs_->space_left_) {
        content.append(bytes.substr(0, *fs_->space_left_));
        *fs_->space_left_ = 0;
        return absl::ErrnoToStatus(ENOSPC, absl::StrCat("write ", path_));
      }
      if (fs_->space_left_.has_value()) *fs_->space_left_ -= bytes.size();
      content.append(bytes);
      return absl::OkStatus();
    }
    absl::Status Sync() override {
      std::function<void()> gate;
      {
        std::lock_guard<std::mutex> l(fs_->mu_);
        gate = fs_->sync_gate_;
      }
      if (gate) gate();
      std::lock_guard<std::mutex> l(fs_->mu_);
      ++fs_->syncs_;
      if (fs_->fail_syncs_in_ > 0 && --fs_->fail_syncs_in_ == 0) {
        fs_->fail_syncs_in_ = 1;  // And every later one.
        return absl::ErrnoToStatus(EIO, absl::StrCat("fdatasync ", path_));
      }
      return absl::OkStatus();
    }
    absl::Status Close() override { return absl::OkStatus(); }

   private:
    FakeFiles* const fs_;
    const std::string path_;
  };

  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::optional<size_t> space_left_;
  int fail_syncs_in_ = 0;
  std::function<void()> sync_gate_;
  int syncs_ = 0;
  std::vector<std::string> reads_;
};

struct Rec {
  uint8_t type;
  uint64_t lsn;
  std::string payload;
  bool operator==(const Rec& o) const {
    return type == o.type && lsn == o.lsn && payload == o.payload;
  }
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << "{type " << int{r.type} << ", LSN " << r.lsn << ", \""
            << r.payload << "\"}";
}

// A payload of a length and content that depend on `lsn`, sometimes empty.
std::string PayloadOf(uint64_t lsn) {
  std::string p;
  for (uint64_t i = 0; i < (lsn * 7) % 23; ++i) {
    p.push_back(static_cast<char>('a' + (lsn + i) % 26));
  }
  return p;
}

Rec RecordOf(uint64_t lsn) {
  return Rec{static_cast<uint8_t>(lsn % 5), lsn, PayloadOf(lsn)};
}

std::vector<Rec> RecordsOf(uint64_t first, uint64_t end) {
  std::vector<Rec> out;
  for (uint64_t lsn = first; lsn < end; ++lsn) out.push_back(RecordOf(lsn));
  return out;
}

// What a read returned: its status or next LSN, and the records fn saw.
struct ReadResult {
  absl::StatusOr<uint64_t> next;
  std::vector<Rec> records;
};

ReadResult Read(const JournalOptions& options, uint64_t from,
                JournalRecovery mode, bool recover = false) {
  ReadResult result{absl::UnknownError("unset"), {}};
  auto fn = [&](const JournalRecord& r) {
    result.records.push_back(Rec{r.type, r.lsn, std::string(r.payload)});
    return absl::OkStatus();
  };
  result.next = recover ? RecoverJournal(options, from, mode, fn)
                        : ReadJournal(options, from, mode, fn);
  return result;
}

std::unique_ptr<JournalWriter> MustOpen(const JournalOptions& options,
                                        uint64_t next_lsn) {
  absl::StatusOr<std::unique_ptr<JournalWriter>> w =
      JournalWriter::Open(options, next_lsn);
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *std::move(w) : nullptr;
}

// Appends RecordOf(lsn) for the writer's next `count` LSNs.
void AppendRecords(JournalWriter* w, int count) {
  for (int i = 0; i < count; ++i) {
    const Rec r = RecordOf(w->next_lsn());
    ASSERT_EQ(w->Append(r.type, r.payload), r.lsn);
  }
}

std::string SegmentPath(uint64_t first_lsn, std::string_view dir = kDir) {
  return absl::StrCat(std::string(dir), "/", SegmentFileName(first_lsn));
}

// Options on `files` with a 100-byte segment limit, so a few records roll.
JournalOptions FakeOptions(FakeFiles* files,
                           JournalSync sync = JournalSync::kEveryWrite) {
  JournalOptions options;
  options.dir = std::string(kDir);
  options.sync = sync;
  options.segment_bytes = 100;
  options.files = files;
  return options;
}

// FakeOptions with segments of 1 MiB, so that a test's records stay in
// one segment and no roll adds a sync.
JournalOptions OneSegmentOptions(FakeFiles* files,
                                 JournalSync sync = JournalSync::kEveryWrite) {
  JournalOptions options = FakeOptions(files, sync);
  options.segment_bytes = 1 << 20;
  return options;
}

// The records wholly inside each segment file of a journal: its name, its
// byte ranges (header first), and their LSNs (0 for the header).
struct Layout {
  struct Piece {
    size_t begin, end;
    uint64_t lsn;
  };
  std::map<std::string, std::vector<Piece>> pieces;
};

Layout LayoutOf(const std::map<std::string, std::string>& files) {
  Layout layout;
  for (const auto& [path, bytes] : files) {
    std::vector<Layout::Piece>& pieces = layout.pieces[path];
    pieces.push_back({0, kSegmentHeaderBytes, 0});
    size_t at = kSegmentHeaderBytes;
    while (at < bytes.size()) {
      JournalRecord r;
      size_t size;
      EXPECT_EQ(DecodeRecord(std::string_view(bytes).substr(at), &r, &size),
                RecordCheck::kOk);
      pieces.push_back({at, at + size, r.lsn});
      at += size;
    }
  }
  return layout;
}

// The format ------------------------------------------------------------------

TEST(JournalFormatTest, FastCrcIsCrc32c) {
  EXPECT_EQ(Crc32cFast("123456789"), 0xe3069283u);
  std::string bytes;
  for (int n = 0; n < 300; ++n) {
    EXPECT_EQ(Crc32cFast(bytes), Crc32c(bytes)) << n << " bytes";
    bytes.push_back(static_cast<char>(n * 131 + 7));
  }
  // Any alignment of the 8-byte steps.
  for (size_t skip = 0; skip < 8; ++skip) {
    std::string_view v = std::string_view(bytes).substr(skip);
    EXPECT_EQ(Crc32cFast(v), Crc32c(v)) << skip;
  }
}

// The snapshot writer checksums a file whose header it writes last.
TEST(JournalFormatTest, CrcCombineIsTheCrcOfTheConcatenation) {
  std::string bytes;
  for (int n = 0; n < 700; ++n) bytes.push_back(static_cast<char>(n * 37 + 11));
  const std::string_view all(bytes);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{7}, size_t{64}, size_t{333},
                     size_t{699}, size_t{700}}) {
    const std::string_view a = all.substr(0, cut);
    const std::string_view b = all.substr(cut);
    EXPECT_EQ(Crc32cCombine(Crc32c(a), Crc32c(b), b.size()), Crc32c(all))
        << "cut at " << cut;
  }
}

TEST(JournalFormatTest, MaskRoundTrips) {
  for (uint32_t crc : {0u, 1u, 0xe3069283u, 0xffffffffu, 0x80000000u}) {
    EXPECT_EQ(UnmaskCrc(MaskCrc(crc)), crc);
    EXPECT_NE(MaskCrc(crc), crc);
  }
}

TEST(JournalFormatTest, SegmentFileNames) {
  EXPECT_EQ(SegmentFileName(1), "journal-0000000000000001.log");
  EXPECT_EQ(SegmentFileName(0xabcdef0123456789u),
            "journal-abcdef0123456789.log");
  EXPECT_EQ(ParseSegmentFileName("journal-abcdef0123456789.log"),
            0xabcdef0123456789u);
  EXPECT_EQ(ParseSegmentFileName(SegmentFileName(~uint64_t{0})), ~uint64_t{0});
  for (std::string_view bad :
       {"journal-ABCDEF0123456789.log", "journal-000000000000001.log",
        "journal-00000000000000001.log", "journal-000000000000000g.log",
        "journal-0000000000000001.log.corrupt", "journal-0000000000000001.lo",
        "x-0000000000000001.log", ""}) {
    EXPECT_EQ(ParseSegmentFileName(bad), std::nullopt) << bad;
  }
}

// The bytes of a one-record segment, pinned: a change to the format (or to
// the CRC or its mask) fails here and needs a new format version.
TEST(JournalFormatTest, WritesThePinnedBytesOfTheFormat) {
  const std::string file = EncodeSegmentHeader(1) + EncodeRecord(7, 1, "abc");
  std::string hex;
  for (char c : file) {
    absl::StrAppend(&hex, absl::Hex(static_cast<uint8_t>(c), absl::kZeroPad2));
  }
  EXPECT_EQ(hex,
            // "SWHLJRNL", version 2, first LSN 1, masked header CRC.
            "5357484c4a524e4c"
            "02000000"
            "0100000000000000"
            "188784f4"
            // Masked record CRC, length 3, type 7, LSN 1, "abc".
            "dff78c1d"
            "03000000"
            "07"
            "0100000000000000"
            "616263");
  JournalRecord r;
  size_t size = 0;
  ASSERT_EQ(DecodeRecord(std::string_view(file).substr(kSegmentHeaderBytes), &r,
                         &size),
            RecordCheck::kOk);
  EXPECT_EQ(size, kRecordHeaderBytes + 3);
  EXPECT_EQ(r.type, 7);
  EXPECT_EQ(r.lsn, 1u);
  EXPECT_EQ(r.payload, "abc");
  std::optional<SegmentHeader> header = DecodeSegmentHeader(file);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->version, kJournalVersion);
  EXPECT_EQ(header->first_lsn, 1u);
}

TEST(JournalFormatTest, DecodeRecordSaysWhatIsWrong) {
  const std::string record = EncodeRecord(1, 5, "payload");
  JournalRecord r;
  size_t size;
  for (size_t n = 0; n < record.size(); ++n) {
    EXPECT_EQ(DecodeRecord(std::string_view(record).substr(0, n), &r, &size),
              RecordCheck::kTruncated)
        << n;
  }
  std::string flipped = record;
  flipped[kRecordHeaderBytes] ^= 1;
  EXPECT_EQ(DecodeRecord(flipped, &r, &size), RecordCheck::kBadChecksum);
  std::string huge = record;
  huge[7] = 0x7f;  // The length's top byte.
  EXPECT_EQ(DecodeRecord(huge, &r, &size), RecordCheck::kBadLength);
}

// Round trips on the real file system
// -------------------------------------------

class JournalDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "journal_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    options_.dir = dir_;
    options_.segment_bytes = 1000;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
  JournalOptions options_;
};

TEST_F(JournalDiskTest, RoundTripsManyRecordsAcrossSegments) {
  options_.sync = JournalSync::kOs;
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 1);
    AppendRecords(w.get(), 2000);
    ASSERT_TRUE(w->Flush().ok());
    EXPECT_EQ(w->next_lsn(), 2001u);
  }
  EXPECT_GT(Names().size(), 10u);
  for (const std::string& name : Names()) {
    EXPECT_TRUE(ParseSegmentFileName(name).has_value()) << name;
    EXPECT_LE(std::filesystem::file_size(dir_ + "/" + name),
              options_.segment_bytes + kRecordHeaderBytes + 22);
  }
  for (JournalRecovery mode :
       {JournalRecovery::kTolerateTornTail, JournalRecovery::kPointInTime}) {
    ReadResult read = Read(options_, 1, mode);
    ASSERT_TRUE(read.next.ok()) << read.next.status();
    EXPECT_EQ(*read.next, 2001u);
    EXPECT_EQ(read.records, RecordsOf(1, 2001));
  }
}

TEST_F(JournalDiskTest, ReadsFromAMiddleLsn) {
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 1);
    AppendRecords(w.get(), 500);
  }
  ReadResult read = Read(options_, 321, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(*read.next, 501u);
  EXPECT_EQ(read.records, RecordsOf(321, 501));
  // Past the end: nothing, and the cursor stays where it was.
  read = Read(options_, 900, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 900u);
  EXPECT_TRUE(read.records.empty());
}

TEST_F(JournalDiskTest, AnEmptyDirectoryHoldsNothing) {
  ReadResult read = Read(options_, 42, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 42u);
  EXPECT_TRUE(read.records.empty());
}

TEST_F(JournalDiskTest, AppendWithWritesThePayloadInPlace) {
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 7);
    EXPECT_EQ(w->AppendWith(0, 3, [](std::string* out) { out->append("abc"); }),
              7u);
    EXPECT_EQ(w->AppendWith(0, 4, [](std::string*) {}), 8u);
    EXPECT_EQ(w->bytes_appended(), 2 * kRecordHeaderBytes + 3);
  }
  ReadResult read = Read(options_, 7, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(read.records, (std::vector<Rec>{{3, 7, "abc"}, {4, 8, ""}}));
}

TEST_F(JournalDiskTest, SegmentsAreCreatedPrivate) {
  std::unique_ptr<JournalWriter> w = MustOpen(options_, 1);
  const auto perms =
      std::filesystem::status(dir_ + "/" + SegmentFileName(1)).permissions();
  EXPECT_EQ(perms, std::filesystem::perms::owner_read |
                       std::filesystem::perms::owner_write);
}

TEST_F(JournalDiskTest, RecoverCutsATornTailAndAWriterContinues) {
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 1);
    AppendRecords(w.get(), 5);
  }
  const std::string path = dir_ + "/" + SegmentFileName(1);
  const uintmax_t whole = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, whole - 3);  // Record 5 torn.
  ReadResult read = Read(options_, 1, JournalRecovery::kTolerateTornTail,
                         /*recover=*/true);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(*read.next, 5u);
  EXPECT_EQ(read.records, RecordsOf(1, 5));
  EXPECT_EQ(std::filesystem::file_size(path),
            whole - kRecordHeaderBytes - PayloadOf(5).size());
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 5);
    AppendRecords(w.get(), 3);
  }
  read = Read(options_, 1, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(read.records, RecordsOf(1, 8));
}

TEST_F(JournalDiskTest, ATornHeaderInTheLastSegmentIsAnEmptySegment) {
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 1);
    AppendRecords(w.get(), 3);
  }
  // The crash came right after the next segment's file was created.
  std::ofstream(dir_ + "/" + SegmentFileName(4))
      << EncodeSegmentHeader(4).substr(0, 10);
  ReadResult read = Read(options_, 1, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(*read.next, 4u);
  EXPECT_EQ(read.records, RecordsOf(1, 4));
  // Opening there needs the recovery, which removes it.
  EXPECT_EQ(JournalWriter::Open(options_, 4).status().code(),
            absl::StatusCode::kFailedPrecondition);
  read = Read(options_, 1, JournalRecovery::kTolerateTornTail, true);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(Names(), std::vector<std::string>{SegmentFileName(1)});
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 4);
    AppendRecords(w.get(), 1);
  }
  read = Read(options_, 1, JournalRecovery::kTolerateTornTail);
  EXPECT_EQ(read.records, RecordsOf(1, 5));
}

TEST_F(JournalDiskTest, RecoveringAJournalWithAnEmptyLastSegmentRemovesIt) {
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options_, 1);
    AppendRecords(w.get(), 2);
    ASSERT_TRUE(w->Roll().ok());
  }
  ReadResult read = Read(options_, 1, JournalRecovery::kPointInTime, true);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(*read.next, 3u);
  EXPECT_EQ(Names(), std::vector<std::string>{SegmentFileName(1)});
  EXPECT_NE(MustOpen(options_, 3), nullptr);
}

TEST_F(JournalDiskTest, OpenRefusesBadOptionsAndLaterSegments) {
  JournalOptions bad = options_;
  bad.dir = "";
  EXPECT_EQ(JournalWriter::Open(bad, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = options_;
  bad.segment_bytes = 0;
  EXPECT_EQ(JournalWriter::Open(bad, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = options_;
  bad.sync = JournalSync::kInterval;
  bad.sync_interval_ms = 0;
  EXPECT_EQ(JournalWriter::Open(bad, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = options_;
  bad.dir = dir_ + "/missing";
  EXPECT_EQ(JournalWriter::Open(bad, 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      Read(bad, 1, JournalRecovery::kTolerateTornTail).next.status().code(),
      absl::StatusCode::kNotFound);

  { MustOpen(options_, 10); }
  absl::Status later = JournalWriter::Open(options_, 10).status();
  EXPECT_EQ(later.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(later.message(), SegmentFileName(10))) << later;
  EXPECT_EQ(JournalWriter::Open(options_, 5).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(MustOpen(options_, 11), nullptr);
}

// A segment header of format `version`, its CRC made right.
std::string HeaderOfVersion(uint32_t version) {
  std::string header = EncodeSegmentHeader(1);
  for (int i = 0; i < 4; ++i)
    header[8 + i] = static_cast<char>(version >> (8 * i));
  const uint32_t crc = MaskCrc(Crc32c(std::string_view(header).substr(0, 20)));
  for (int i = 0; i < 4; ++i)
    header[20 + i] = static_cast<char>(crc >> (8 * i));
  return header;
}

TEST_F(JournalDiskTest, ANewerFormatVersionIsFailedPrecondition) {
  for (uint32_t version : {kJournalVersion + 1, 0u}) {
    std::ofstream(dir_ + "/" + SegmentFileName(1)) << HeaderOfVersion(version);
    for (JournalRecovery mode :
         {JournalRecovery::kTolerateTornTail, JournalRecovery::kPointInTime}) {
      EXPECT_EQ(Read(options_, 1, mode).next.status().code(),
                absl::StatusCode::kFailedPrecondition)
          << "version " << version;
    }
  }
}

TEST_F(JournalDiskTest, VersionOneIsStillRead) {
  std::ofstream(dir_ + "/" + SegmentFileName(1)) << HeaderOfVersion(1);
  EXPECT_TRUE(
      Read(options_, 1, JournalRecovery::kTolerateTornTail).next.status().ok());
}

// Every truncation, every flipped bit
// -------------------------------------------

// A small journal in memory: segment 1 with records 1-3, segment 4 with
// records 4-7. Returns its files.
std::map<std::string, std::string> SmallJournal() {
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    AppendRecords(w.get(), 3);
    EXPECT_EQ(*w->Roll(), 4u);
    AppendRecords(w.get(), 4);
  }
  std::map<std::string, std::string> out = files.files();
  EXPECT_EQ(out.size(), 2u);
  return out;
}

// After RecoverJournal returned `next`, a writer opens there and appends two
// records; a strict read then sees the survivors and them, consecutively.
void ExpectAWriterContinues(FakeFiles* files, uint64_t next,
                            const std::vector<Rec>& survivors) {
  JournalOptions options = FakeOptions(files);
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, next);
    ASSERT_NE(w, nullptr);
    AppendRecords(w.get(), 2);
  }
  ReadResult read = Read(options, 1, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  std::vector<Rec> expected = survivors;
  for (const Rec& r : RecordsOf(next, next + 2)) expected.push_back(r);
  EXPECT_EQ(read.records, expected);
}

TEST(JournalDamageTest, EveryTruncationOfTheLastSegment) {
  const std::map<std::string, std::string> journal = SmallJournal();
  const std::string last_path = SegmentPath(4);
  const std::string last = journal.at(last_path);
  const Layout layout = LayoutOf(journal);
  for (size_t cut = 0; cut <= last.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut, " of ", last.size()));
    std::map<std::string, std::string> damaged = journal;
    damaged[last_path] = last.substr(0, cut);
    // The records wholly before the cut.
    uint64_t end = 4;
    for (const Layout::Piece& p : layout.pieces.at(last_path)) {
      if (p.lsn != 0 && p.end <= cut) end = p.lsn + 1;
    }
    for (JournalRecovery mode :
         {JournalRecovery::kTolerateTornTail, JournalRecovery::kPointInTime}) {
      FakeFiles files(damaged);
      ReadResult read = Read(FakeOptions(&files), 1, mode);
      ASSERT_TRUE(read.next.ok()) << read.next.status();
      EXPECT_EQ(*read.next, end);
      EXPECT_EQ(read.records, RecordsOf(1, end));
      EXPECT_EQ(files.files(), damaged) << "a read changed a file";

      read = Read(FakeOptions(&files), 1, mode, /*recover=*/true);
      ASSERT_TRUE(read.next.ok()) << read.next.status();
      EXPECT_EQ(*read.next, end);
      ExpectAWriterContinues(&files, end, RecordsOf(1, end));
    }
  }
}

// Flips every bit of the small journal in turn. A flipped bit never yields a
// wrong record: each read returns a prefix of the journal, or DataLoss, as
// the mode's rules say.
TEST(JournalDamageTest, EveryFlippedBit) {
  const std::map<std::string, std::string> journal = SmallJournal();
  const std::string last_path = SegmentPath(4);
  const Layout layout = LayoutOf(journal);
  for (const auto& [path, bytes] : journal) {
    const bool in_last = path == last_path;
    for (const Layout::Piece& piece : layout.pieces.at(path)) {
      // The first LSN the damage loses: the damaged record's, or the
      // segment's first for its header.
      const uint64_t lost = piece.lsn != 0 ? piece.lsn : (in_last ? 4 : 1);
      const bool torn_tail = in_last &&
                             piece.lsn == layout.pieces.at(path).back().lsn &&
                             piece.lsn != 0;
      for (size_t at = piece.begin; at < piece.end; ++at) {
        for (int bit = 0; bit < 8; ++bit) {
          SCOPED_TRACE(absl::StrCat(path, " byte ", at, " bit ", bit));
          std::map<std::string, std::string> damaged = journal;
          damaged[path][at] ^= static_cast<char>(1 << bit);

          FakeFiles strict_files(damaged);
          ReadResult strict = Read(FakeOptions(&strict_files), 1,
                                   JournalRecovery::kTolerateTornTail, true);
          if (torn_tail) {
            ASSERT_TRUE(strict.next.ok()) << strict.next.status();
            EXPECT_EQ(*strict.next, lost);
            EXPECT_EQ(strict.records, RecordsOf(1, lost));
            ExpectAWriterContinues(&strict_files, lost, RecordsOf(1, lost));
          } else {
            EXPECT_EQ(strict.next.status().code(), absl::StatusCode::kDataLoss)
                << strict.next.status();
            EXPECT_TRUE(absl::StrContains(strict.next.status().message(), path))
                << strict.next.status();
            EXPECT_EQ(strict_files.files(), damaged)
                << "a failed read repaired";
          }
          // Whatever it returned before failing is a prefix.
          EXPECT_EQ(strict.records, RecordsOf(1, 1 + strict.records.size()));

          FakeFiles pit_files(damaged);
          ReadResult pit = Read(FakeOptions(&pit_files), 1,
                                JournalRecovery::kPointInTime, true);
          ASSERT_TRUE(pit.next.ok()) << pit.next.status();
          EXPECT_EQ(*pit.next, lost);
          EXPECT_EQ(pit.records, RecordsOf(1, lost));
          ExpectAWriterContinues(&pit_files, lost, RecordsOf(1, lost));
        }
      }
    }
  }
}

TEST(JournalDamageTest, DamageFollowedByAValidRecordIsNotATornTail) {
  FakeFiles files;
  {
    std::unique_ptr<JournalWriter> w = MustOpen(FakeOptions(&files), 1);
    w->Append(1, "first");
    w->Append(1, "second");
    w->Append(1, "third");
  }
  std::string bytes = files.Content(SegmentPath(1));
  const size_t second = kSegmentHeaderBytes + kRecordHeaderBytes + 5;
  bytes[second + kRecordHeaderBytes] ^= 0x20;  // "second" -> "Second".
  files.Put(SegmentPath(1), bytes);
  absl::StatusOr<uint64_t> next =
      ReadJournal(FakeOptions(&files), 1, JournalRecovery::kTolerateTornTail,
                  [](const JournalRecord&) { return absl::OkStatus(); });
  EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(
      absl::StrContains(next.status().message(),
                        absl::StrCat(SegmentPath(1), " at offset ", second)))
      << next.status();
  EXPECT_TRUE(absl::StrContains(next.status().message(), "followed by valid"))
      << next.status();
}

TEST(JournalDamageTest, ADuplicateLsnIsDataLossEvenAtTheEnd) {
  FakeFiles files;
  files.Put(SegmentPath(1), EncodeSegmentHeader(1) + EncodeRecord(0, 1, "a") +
                                EncodeRecord(0, 2, "b") +
                                EncodeRecord(0, 2, "b"));
  ReadResult read =
      Read(FakeOptions(&files), 1, JournalRecovery::kTolerateTornTail);
  EXPECT_EQ(read.next.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(read.next.status().message(),
                                "a record of LSN 2 where LSN 3 was due"))
      << read.next.status();
  read = Read(FakeOptions(&files), 1, JournalRecovery::kPointInTime);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 3u);
  EXPECT_EQ(read.records.size(), 2u);
}

TEST(JournalDamageTest, AnLsnGapBetweenSegments) {
  FakeFiles files;
  JournalOptions options = FakeOptions(&files);
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    AppendRecords(w.get(), 3);
  }
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 10);  // 4-9 missing.
    AppendRecords(w.get(), 2);
  }
  ReadResult read = Read(options, 1, JournalRecovery::kTolerateTornTail);
  EXPECT_EQ(read.next.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(read.next.status().message(),
                                absl::StrCat(SegmentPath(10), " at offset 0")))
      << read.next.status();
  EXPECT_TRUE(absl::StrContains(read.next.status().message(),
                                "starts at LSN 10 where LSN 4 was due"))
      << read.next.status();

  read = Read(options, 1, JournalRecovery::kPointInTime);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 4u);
  EXPECT_EQ(read.records, RecordsOf(1, 4));

  // Reading from after the gap needs nothing before it.
  read = Read(options, 10, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(read.records, RecordsOf(10, 12));

  read = Read(options, 1, JournalRecovery::kPointInTime, /*recover=*/true);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 4u);
  std::vector<std::string> names;
  for (const auto& [path, content] : files.files()) names.push_back(path);
  EXPECT_EQ(names, (std::vector<std::string>{SegmentPath(1),
                                             SegmentPath(10) + ".corrupt"}));
  ExpectAWriterContinues(&files, 4, RecordsOf(1, 4));
}

TEST(JournalDamageTest, ABadHeaderInAMiddleSegmentStopsThePointInTime) {
  std::map<std::string, std::string> journal = SmallJournal();
  FakeFiles files(journal);
  JournalOptions options = FakeOptions(&files);
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 8);
    AppendRecords(w.get(), 1);
  }
  std::string middle = files.Content(SegmentPath(4));
  middle[0] = 'X';
  files.Put(SegmentPath(4), middle);
  EXPECT_EQ(
      Read(options, 1, JournalRecovery::kTolerateTornTail).next.status().code(),
      absl::StatusCode::kDataLoss);
  ReadResult read = Read(options, 1, JournalRecovery::kPointInTime, true);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 4u);
  EXPECT_EQ(files.files().count(SegmentPath(4) + ".corrupt"), 1u);
  EXPECT_EQ(files.files().count(SegmentPath(8) + ".corrupt"), 1u);
  ExpectAWriterContinues(&files, 4, RecordsOf(1, 4));
}

TEST(JournalDamageTest, RecordsRemovedBeforeFromLsnAreOutOfRange) {
  FakeFiles files;
  JournalOptions options = FakeOptions(&files);
  { MustOpen(options, 5); }
  ReadResult read = Read(options, 2, JournalRecovery::kTolerateTornTail);
  EXPECT_EQ(read.next.status().code(), absl::StatusCode::kOutOfRange)
      << read.next.status();
  read = Read(options, 2, JournalRecovery::kPointInTime, true);
  EXPECT_EQ(read.next.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(files.files().size(), 1u);
}

TEST(JournalDamageTest, SegmentsWhollyBeforeFromLsnAreNotRead) {
  FakeFiles files;
  JournalOptions options = FakeOptions(&files);  // 100-byte segments.
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    AppendRecords(w.get(), 60);
  }
  std::vector<uint64_t> firsts;
  for (const auto& [path, content] : files.files()) {
    firsts.push_back(*ParseSegmentFileName(path.substr(kDir.size() + 1)));
  }
  ASSERT_GT(firsts.size(), 4u);
  const uint64_t from = firsts[3] + 1;
  ReadResult read = Read(options, from, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(read.records, RecordsOf(from, 61));
  std::vector<std::string> expected;
  for (size_t i = 3; i < firsts.size(); ++i) {
    expected.push_back(SegmentPath(firsts[i]));
  }
  EXPECT_EQ(files.reads(), expected);
}

TEST(JournalDamageTest, AnErrorFromFnStopsTheReadingAndRepairsNothing) {
  std::map<std::string, std::string> journal = SmallJournal();
  journal[SegmentPath(4)].resize(journal[SegmentPath(4)].size() - 1);
  FakeFiles files(journal);
  int calls = 0;
  absl::StatusOr<uint64_t> next = RecoverJournal(
      FakeOptions(&files), 1, JournalRecovery::kTolerateTornTail,
      [&](const JournalRecord& r) {
        ++calls;
        return r.lsn == 2 ? absl::AbortedError("stop") : absl::OkStatus();
      });
  EXPECT_EQ(next.status(), absl::AbortedError("stop"));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(files.files(), journal);
}

// The writer
// ---------------------------------------------------------------------

// N threads append and wait under kEveryWrite; the first sync waits until
// every thread has appended, so the records after the first leader's share
// one more sync. Deterministic: at most 2 syncs for N records.
TEST(JournalWriterTest, WaitingThreadsShareSyncs) {
  constexpr int kThreads = 8;
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);

  std::mutex mu;
  std::condition_variable all_appended;
  int appended = 0;
  files.SetSyncGate([&] {
    std::unique_lock<std::mutex> l(mu);
    all_appended.wait(l, [&] { return appended == kThreads; });
  });
  const int syncs_before = files.syncs();

  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const uint64_t lsn = w->Append(1, absl::StrCat("thread ", t));
      {
        std::lock_guard<std::mutex> l(mu);
        ++appended;
      }
      all_appended.notify_all();
      results[t] = w->WaitDurable(lsn);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  const int syncs = files.syncs() - syncs_before;
  EXPECT_GE(syncs, 1);
  EXPECT_LE(syncs, 2);
  EXPECT_LT(syncs, kThreads);

  ReadResult read = Read(options, 1, JournalRecovery::kTolerateTornTail);
  ASSERT_TRUE(read.next.ok());
  EXPECT_EQ(*read.next, 1u + kThreads);
}

// Threads waiting in WaitDurable behind a leader whose sync fails: the
// round covers none of them, yet each returns the journal's error, and none
// is left waiting for a round that will never come.
TEST(JournalWriterTest, AFailedSyncWakesEveryWaiter) {
  constexpr int kWaiters = 6;
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);

  Gate leader_syncing;
  Gate release_sync;
  files.SetSyncGate([&] {
    leader_syncing.Open();
    release_sync.Wait();
  });
  files.FailSyncsFrom(1);
  absl::Status leader_result;
  std::thread leader(
      [&] { leader_result = w->WaitDurable(w->Append(1, "a")); });
  leader_syncing.Wait();

  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kWaiters);
  for (int t = 0; t < kWaiters; ++t) {
    threads.emplace_back([&, t] {
      results[t] = w->WaitDurable(w->Append(1, absl::StrCat("waiter ", t)));
    });
  }
  release_sync.Open();
  leader.join();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(leader_result.code(), absl::StatusCode::kUnknown) << leader_result;
  for (const absl::Status& s : results) EXPECT_EQ(s, leader_result);
}

TEST(JournalWriterTest, WaitDurableSyncsUnderEveryWriteOnly) {
  for (JournalSync sync :
       {JournalSync::kEveryWrite, JournalSync::kInterval, JournalSync::kOs}) {
    FakeFiles files;
    JournalOptions options = FakeOptions(&files, sync);
    options.sync_interval_ms = 1000000;  // The thread never syncs here.
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    const int syncs = files.syncs();
    const uint64_t lsn = w->Append(1, "x");
    ASSERT_TRUE(w->WaitDurable(lsn).ok());
    if (sync == JournalSync::kEveryWrite) {
      EXPECT_EQ(files.syncs(), syncs + 1);
      EXPECT_EQ(Read(options, 1, JournalRecovery::kTolerateTornTail).records,
                (std::vector<Rec>{{1, 1, "x"}}));
      ASSERT_TRUE(w->WaitDurable(lsn).ok());
      EXPECT_EQ(files.syncs(), syncs + 1);  // Already durable.
    } else {
      EXPECT_EQ(files.syncs(), syncs);
    }
    EXPECT_EQ(w->WaitDurable(lsn + 1).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// kInterval and kOs: the records reach the file on Flush, or when the
// writer is destroyed, whatever the background thread did meanwhile.
TEST(JournalWriterTest, BackgroundPoliciesWriteOnFlushAndDestruction) {
  for (JournalSync sync : {JournalSync::kInterval, JournalSync::kOs}) {
    FakeFiles files;
    JournalOptions options = OneSegmentOptions(&files, sync);
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    AppendRecords(w.get(), 10);
    const int syncs = files.syncs();
    ASSERT_TRUE(w->Flush().ok());
    EXPECT_GT(files.syncs(), syncs);  // Flush syncs whatever the policy.
    EXPECT_EQ(Read(options, 1, JournalRecovery::kTolerateTornTail).records,
              RecordsOf(1, 11));
    AppendRecords(w.get(), 5);
    w.reset();
    EXPECT_EQ(Read(options, 1, JournalRecovery::kTolerateTornTail).records,
              RecordsOf(1, 16));
  }
}

TEST(JournalWriterTest, FlushWithNothingAppendedDoesNotSync) {
  FakeFiles files;
  std::unique_ptr<JournalWriter> w = MustOpen(FakeOptions(&files), 1);
  const int syncs = files.syncs();
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(files.syncs(), syncs);
}

TEST(JournalWriterTest, SegmentsRollAtTheSizeLimit) {
  FakeFiles files;
  JournalOptions options = FakeOptions(&files);
  options.segment_bytes = 100;
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    for (int i = 0; i < 10; ++i) w->Append(0, std::string(20, 'x'));
  }
  // Header 24, records 37 each: a segment passes 100 bytes with its third
  // record, and the next record starts a new one.
  std::vector<std::string> names;
  for (const auto& [path, content] : files.files()) {
    names.push_back(path);
    EXPECT_EQ(content.size(),
              kSegmentHeaderBytes + (path == SegmentPath(10) ? 1 : 3) * 37);
  }
  EXPECT_EQ(names, (std::vector<std::string>{SegmentPath(1), SegmentPath(4),
                                             SegmentPath(7), SegmentPath(10)}));
}

TEST(JournalWriterTest, RollStartsASegmentAtTheNextLsn) {
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
  AppendRecords(w.get(), 3);
  absl::StatusOr<uint64_t> rolled = w->Roll();
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(*rolled, 4u);
  EXPECT_EQ(files.Content(SegmentPath(4)), EncodeSegmentHeader(4));
  EXPECT_EQ(files.Content(SegmentPath(1)).size(),
            kSegmentHeaderBytes + 3 * kRecordHeaderBytes + PayloadOf(1).size() +
                PayloadOf(2).size() + PayloadOf(3).size());
  // A segment with no record is not rolled again.
  EXPECT_EQ(*w->Roll(), 4u);
  EXPECT_EQ(files.files().size(), 2u);
  AppendRecords(w.get(), 2);
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(files.Content(SegmentPath(4)).size(),
            kSegmentHeaderBytes + 2 * kRecordHeaderBytes + PayloadOf(4).size() +
                PayloadOf(5).size());
  EXPECT_EQ(Read(options, 1, JournalRecovery::kTolerateTornTail).records,
            RecordsOf(1, 6));
}

TEST(JournalWriterTest, RemoveSegmentsBeforeRemovesExactlyTheOlderOnes) {
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  // Segments 1 (1-3) and 4 (4-6) from an earlier writer, recovered.
  {
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    AppendRecords(w.get(), 3);
    ASSERT_TRUE(w->Roll().ok());
    AppendRecords(w.get(), 3);
  }
  ASSERT_TRUE(
      Read(options, 1, JournalRecovery::kTolerateTornTail, true).next.ok());
  std::unique_ptr<JournalWriter> w = MustOpen(options, 7);
  AppendRecords(w.get(), 3);
  ASSERT_TRUE(w->Roll().ok());  // Segment 7 (7-9), then 10.
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& [path, content] : files.files()) out.push_back(path);
    return out;
  };
  ASSERT_TRUE(w->RemoveSegmentsBefore(4).ok());  // 1-3 are all below 4.
  EXPECT_EQ(names(), (std::vector<std::string>{SegmentPath(4), SegmentPath(7),
                                               SegmentPath(10)}));
  ASSERT_TRUE(w->RemoveSegmentsBefore(6).ok());  // 6 is in segment 4.
  EXPECT_EQ(names().size(), 3u);
  ASSERT_TRUE(w->RemoveSegmentsBefore(9).ok());
  EXPECT_EQ(names(),
            (std::vector<std::string>{SegmentPath(7), SegmentPath(10)}));
  ASSERT_TRUE(w->RemoveSegmentsBefore(1000).ok());  // Never the current one.
  EXPECT_EQ(names(), std::vector<std::string>{SegmentPath(10)});
  AppendRecords(w.get(), 1);
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(Read(options, 10, JournalRecovery::kTolerateTornTail).records,
            RecordsOf(10, 11));
}

TEST(JournalWriterTest, AFailedRemovalIsRetriedLater) {
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
  AppendRecords(w.get(), 1);
  ASSERT_TRUE(w->Roll().ok());
  AppendRecords(w.get(), 1);
  ASSERT_TRUE(w->Roll().ok());
  const std::string gone = files.Content(SegmentPath(1));
  ASSERT_TRUE(files.Remove(SegmentPath(1)).ok());  // Someone else's doing.
  EXPECT_EQ(w->RemoveSegmentsBefore(3).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(w->status().ok());  // Not a journal failure.
  files.Put(SegmentPath(1), gone);
  ASSERT_TRUE(w->RemoveSegmentsBefore(3).ok());
  EXPECT_EQ(files.files().size(), 1u);
}

TEST(JournalWriterTest, AFullDiskFailsTheJournalForGood) {
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
  const uint64_t first = w->Append(1, "fits");
  ASSERT_TRUE(w->WaitDurable(first).ok());
  files.SetSpaceLeft(10);
  const uint64_t second = w->Append(1, "does not fit");
  absl::Status s = w->WaitDurable(second);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "No space left on device")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), SegmentPath(1))) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "no record from LSN 2 on")) << s;
  const std::string on_disk = files.Content(SegmentPath(1));

  files.SetSpaceLeft(1 << 20);  // Space again: the journal stays failed.
  const uint64_t third = w->Append(1, "after");
  EXPECT_EQ(w->WaitDurable(third), s);
  EXPECT_EQ(w->WaitDurable(first), s);
  EXPECT_EQ(w->Flush(), s);
  EXPECT_EQ(w->Roll().status(), s);
  EXPECT_EQ(w->status(), s);
  EXPECT_EQ(w->next_lsn(), 4u);
  w.reset();
  EXPECT_EQ(files.Content(SegmentPath(1)), on_disk);
  EXPECT_EQ(files.files().size(), 1u);

  // The half-written record is a torn tail.
  ReadResult read =
      Read(options, 1, JournalRecovery::kTolerateTornTail, /*recover=*/true);
  ASSERT_TRUE(read.next.ok()) << read.next.status();
  EXPECT_EQ(*read.next, 2u);
  EXPECT_EQ(read.records, (std::vector<Rec>{{1, 1, "fits"}}));
}

TEST(JournalWriterTest, ASyncErrorFailsTheJournalForGood) {
  for (JournalSync sync : {JournalSync::kEveryWrite, JournalSync::kOs}) {
    FakeFiles files;
    JournalOptions options = OneSegmentOptions(&files, sync);
    std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
    AppendRecords(w.get(), 2);
    ASSERT_TRUE(w->Flush().ok());
    files.FailSyncsFrom(1);
    AppendRecords(w.get(), 1);
    absl::Status s = w->Flush();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnknown) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "Input/output error")) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), SegmentPath(1))) << s;
    const std::string on_disk = files.Content(SegmentPath(1));
    AppendRecords(w.get(), 3);
    EXPECT_EQ(w->WaitDurable(w->next_lsn() - 1), s);
    EXPECT_EQ(w->Flush(), s);
    w.reset();
    EXPECT_EQ(files.Content(SegmentPath(1)), on_disk);
  }
}

TEST(JournalWriterTest, AFailedRollFailsTheJournal) {
  FakeFiles files;
  JournalOptions options = OneSegmentOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
  AppendRecords(w.get(), 2);
  files.Put(SegmentPath(3), "in the way");
  absl::StatusOr<uint64_t> rolled = w->Roll();
  EXPECT_EQ(rolled.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(w->status(), rolled.status());
}

TEST(JournalWriterTest, AnOversizedPayloadFailsTheJournal) {
  FakeFiles files;
  std::unique_ptr<JournalWriter> w = MustOpen(FakeOptions(&files), 1);
  const uint64_t lsn = w->AppendWith(0, 1, [](std::string* out) {
    out->append(kMaxJournalPayloadBytes + 1, 'x');
  });
  EXPECT_EQ(lsn, 1u);
  EXPECT_EQ(w->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w->Flush().code(), absl::StatusCode::kInvalidArgument);
  w.reset();
  EXPECT_EQ(files.Content(SegmentPath(1)), EncodeSegmentHeader(1));
}

TEST(JournalWriterTest, APayloadAtTheLimitIsWritten) {
  FakeFiles files;
  JournalOptions options = FakeOptions(&files);
  std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
  w->Append(1, std::string(kMaxJournalPayloadBytes, 'x'));
  ASSERT_TRUE(w->Flush().ok());
  ReadResult read = Read(options, 1, JournalRecovery::kTolerateTornTail);
  ASSERT_EQ(read.records.size(), 1u);
  EXPECT_EQ(read.records[0].payload.size(), kMaxJournalPayloadBytes);
}

// Many threads append under each policy, sharing one lane, each with a
// lane of its own, or two to a lane, while another rolls and removes old
// segments; from the oldest segment left on, every record is read back
// once, with consecutive LSNs, and each thread's in the order it appended
// them: the write rounds merge the lanes in LSN order.
TEST(JournalWriterTest, ConcurrentAppendsRollsAndRemovals) {
#ifdef SESSIONWHEEL_TSAN
  constexpr int kPerThread = 100;
#else
  constexpr int kPerThread = 1000;
#endif
  constexpr int kThreads = 4;
  for (size_t lanes : {size_t{1}, size_t{kThreads}, size_t{2}}) {
    for (JournalSync sync :
         {JournalSync::kEveryWrite, JournalSync::kInterval, JournalSync::kOs}) {
      SCOPED_TRACE(
          absl::StrCat("sync ", static_cast<int>(sync), ", lanes ", lanes));
      FakeFiles files;
      JournalOptions options = FakeOptions(&files, sync);
      options.segment_bytes = 4096;
      options.sync_interval_ms = 1;
      options.lanes = lanes;
      std::unique_ptr<JournalWriter> w = MustOpen(options, 1);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < kPerThread; ++i) {
            const uint64_t lsn =
                w->Append(static_cast<uint8_t>(t), absl::StrCat(i), t);
            if (i % 10 == 0) {
              EXPECT_TRUE(w->WaitDurable(lsn).ok());
            }
          }
        });
      }
      threads.emplace_back([&] {
        uint64_t previous = 1;
        for (int i = 0; i < 20; ++i) {
          absl::StatusOr<uint64_t> rolled = w->Roll();
          ASSERT_TRUE(rolled.ok()) << rolled.status();
          EXPECT_TRUE(w->RemoveSegmentsBefore(previous).ok());
          previous = *rolled;
        }
      });
      for (std::thread& t : threads) t.join();
      ASSERT_TRUE(w->Flush().ok());
      const uint64_t end = w->next_lsn();
      EXPECT_EQ(end, 1u + kThreads * kPerThread);
      w.reset();

      uint64_t oldest = end;
      for (const auto& [path, content] : files.files()) {
        oldest = std::min(oldest,
                          *ParseSegmentFileName(path.substr(kDir.size() + 1)));
      }
      ReadResult read =
          Read(options, oldest, JournalRecovery::kTolerateTornTail);
      ASSERT_TRUE(read.next.ok()) << read.next.status();
      EXPECT_EQ(*read.next, end);
      ASSERT_EQ(read.records.size(), end - oldest);
      std::vector<int> next_i(kThreads, -1);
      for (size_t i = 0; i < read.records.size(); ++i) {
        const Rec& r = read.records[i];
        EXPECT_EQ(r.lsn, oldest + i);
        ASSERT_LT(r.type, kThreads);
        const int appended_as = std::stoi(r.payload);
        if (next_i[r.type] >= 0) {
          EXPECT_EQ(appended_as, next_i[r.type]);
        }
        next_i[r.type] = appended_as + 1;
      }
      // A thread whose records all went with the removed segments shows none.
      for (int t = 0; t < kThreads; ++t) {
        if (next_i[t] >= 0) {
          EXPECT_EQ(next_i[t], kPerThread) << "thread " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace sessionwheel::internal
