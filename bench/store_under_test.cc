#include "bench/store_under_test.h"

namespace sessionwheel::bench {

std::string_view StoreName(StoreKind kind) {
  switch (kind) {
    case StoreKind::kSessionwheel:
      return "sessionwheel";
    case StoreKind::kMultimap:
      return "multimap";
    case StoreKind::kLazyHeap:
      return "lazy_heap";
    case StoreKind::kIndexedHeap:
      return "indexed_heap";
    case StoreKind::kLimit:
      return "limit";
  }
  return "";
}

bool SingleThreaded(StoreKind kind) { return kind == StoreKind::kLimit; }

std::unique_ptr<ExpiryStoreUnderTest> OpenStore(StoreKind kind,
                                                const StoreConfig& config) {
  switch (kind) {
    case StoreKind::kSessionwheel:
      return OpenSessionwheel(config);
    case StoreKind::kMultimap:
      return OpenMultimapBaseline(config);
    case StoreKind::kLazyHeap:
      return OpenLazyHeapBaseline(config);
    case StoreKind::kIndexedHeap:
      return OpenIndexedHeapBaseline(config);
    case StoreKind::kLimit:
      return OpenLimitBaseline(config);
  }
  return nullptr;
}

}  // namespace sessionwheel::bench
