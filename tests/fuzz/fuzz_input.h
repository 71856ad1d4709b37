// What the fuzz targets share: reading an input as a stream of choices, and
// failing loudly when a checked property breaks.
//
// The targets build without libFuzzer too (see tests/fuzz/CMakeLists.txt), so
// this stands in for clang's FuzzedDataProvider, which g++ cannot include.
//
// Example:
//
//   FuzzInput in(data, size);
//   while (!in.empty()) {
//     const uint64_t deadline = in.Integer(8);
//     const char* method = in.Pick(kMethods);
//     SW_FUZZ_CHECK(wheel.size() == model.size(), "size differs from model");
//   }

#ifndef SESSIONWHEEL_TESTS_FUZZ_FUZZ_INPUT_H_
#define SESSIONWHEEL_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sessionwheel::fuzz {

// Reads a fuzz input front to back, one choice at a time. Past the end every
// read gives zero or empty, so every input, the empty one included, decodes
// to a finite sequence of valid choices. Each choice takes whole bytes, so a
// mutation of one byte changes one choice.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return size_ == 0; }

  uint8_t Byte() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }

  bool Bool() { return (Byte() & 1) != 0; }

  // An unsigned integer from `bytes` (at most 8) bytes, little-endian.
  uint64_t Integer(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{Byte()} << (8 * i);
    return v;
  }

  // A number in [0, n), n > 0: one byte for n <= 256, else two.
  size_t Index(size_t n) { return (n <= 256 ? Byte() : Integer(2)) % n; }

  // One element of a non-empty array.
  template <typename T, size_t N>
  const T& Pick(const T (&options)[N]) {
    return options[Index(N)];
  }

  // A length byte, then up to that many bytes (fewer at the end of input).
  std::string_view Bytes() {
    const size_t wanted = Byte();
    const size_t n = wanted < size_ ? wanted : size_;
    const std::string_view out(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return out;
  }

  // Everything left.
  std::string_view Rest() {
    const std::string_view out(reinterpret_cast<const char*>(data_), size_);
    data_ += size_;
    size_ = 0;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// Reports a broken property and aborts, which libFuzzer records as a crash
// and the replay driver as a failed test.
[[noreturn]] inline void FailCheck(const char* file, int line,
                                   const char* condition,
                                   const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n  %s\n", file, line,
               condition, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace sessionwheel::fuzz

// Aborts with `detail` (any expression convertible to std::string, evaluated
// only on failure) unless `condition` holds.
#define SW_FUZZ_CHECK(condition, detail)                                       \
  do {                                                                         \
    if (!(condition)) {                                                        \
      ::sessionwheel::fuzz::FailCheck(__FILE__, __LINE__, #condition, detail); \
    }                                                                          \
  } while (0)

#endif  // SESSIONWHEEL_TESTS_FUZZ_FUZZ_INPUT_H_
