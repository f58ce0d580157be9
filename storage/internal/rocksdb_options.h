// The RocksDB settings of every Store, in one place. bench/storage_bench opens
// its raw-RocksDB baseline with the same function, so the encrypted/raw
// comparison is like with like. Only storage/*.cc and the benchmarks include
// this header (RocksDB stays behind Store's pimpl everywhere else).
#ifndef BUDSTIKKE_STORAGE_INTERNAL_ROCKSDB_OPTIONS_H_
#define BUDSTIKKE_STORAGE_INTERNAL_ROCKSDB_OPTIONS_H_

#include <cstddef>

#include "rocksdb/options.h"

namespace budstikke::storage::internal {

// DB-wide options plus the column-family defaults (one shared LRU block cache
// of `block_cache_bytes`, bloom filters, memtable insert hints). Every column
// family is opened with rocksdb::ColumnFamilyOptions(result), which shares
// the table factory and its cache.
rocksdb::Options StoreRocksDbOptions(size_t block_cache_bytes);

}  // namespace budstikke::storage::internal

#endif  // BUDSTIKKE_STORAGE_INTERNAL_ROCKSDB_OPTIONS_H_
