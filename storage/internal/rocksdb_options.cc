#include "storage/internal/rocksdb_options.h"

#include <memory>

#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"

namespace budstikke::storage::internal {

rocksdb::Options StoreRocksDbOptions(size_t block_cache_bytes) {
  rocksdb::Options o;
  o.max_background_jobs = 2;
  // A damaged WAL record refuses the open (Store::Open names the file)
  // instead of RocksDB's default kPointInTimeRecovery, which stops replaying
  // at the damaged record and opens without it and every record after it:
  // acknowledged writes gone without a word. A record cut short at the end
  // of the last WAL (power lost mid-append: never acknowledged) and zeroed
  // trailing bytes are still tolerated. storage/corruption_test.cc
  // (WalCorruptionTest) measures both; tests/power_loss_test.cc still passes.
  // paranoid_checks, force_consistency_checks and ReadOptions::
  // verify_checksums stay at their defaults (on): every SST block read is
  // checked against its CRC32c, a damaged block is DATA_LOSS naming the file.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // No background auto-resume after a write error: the next write attempt
  // resumes (Store::Impl::BeforeWrite), so recovery follows the caller's
  // retries. Caveat (RocksDB 7.8): after a failed *WAL* append, Resume() does
  // not switch to a new WAL and the next write trips an assertion in the WAL
  // writer (Debian builds RocksDB with assertions: the process aborts and
  // recovers on restart). SST / manifest write errors resume cleanly.
  o.max_bgerror_resume_count = 0;
  // Concurrent writers join one write group; with pipelining the next
  // group's WAL write overlaps this group's memtable inserts instead of
  // waiting for them. storage_bench, 2 threads, together with the insert hints
  // below: Store put 240-250k -> 264-277k values/s, raw put 237-252k ->
  // 273-279k (docs/PERFORMANCE.md, Storage, third round). RocksDB's adaptive
  // yield stays on: without it a follower blocks at once, and two-thread puts
  // fell to 118-144k/s.
  o.enable_pipelined_write = true;
  // Memory and WAL bounded whatever the number of column families (a server
  // opens 15). RocksDB's defaults give every family its own 64 MiB memtable
  // (two while one flushes) and keep WAL files until every family with data
  // in them has flushed, up to 4x the sum of all memtables: the families
  // written rarely (keys, directory, consents) pinned the first WAL file for
  // the life of the process. bench/scale.py, --no-sync-writes, before this:
  // server RSS 182 MiB at 10k records and 360 MiB at 100k, data dir 1.7x and
  // 2.4x the plaintext, 30+ WAL files. Now all memtables share one 64 MiB
  // budget (the oldest is flushed when it is exceeded) and WAL beyond 256 MiB
  // flushes the families that hold the oldest file (docs/PERFORMANCE.md, At
  // scale).
  o.db_write_buffer_size = 64u << 20;
  o.max_total_wal_size = 256u << 20;

  // One block cache for every column family, and bloom filters so point
  // reads of absent keys (idempotency checks) and of scattered keys (audit
  // proofs) touch one data block at most.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks stay in each table reader's memory, outside the
  // cache: they grow with the data (one index entry per 4 KiB sealed record;
  // moving them into the cache took 66 MiB off the RSS at 1M records), but in
  // the 64 MiB cache they were evicted by data blocks and reread:
  // bench/scale.py at 1M records, --no-sync-writes,
  // RSS 285 -> 219 MiB but Ask p99 4.7 -> 7.8 ms, audit query p99 3.9 -> 18
  // ms, inclusion proof p99 1.0 -> 11 ms (docs/PERFORMANCE.md, At scale).
  // Index entries share their key prefixes within runs of 16 (the default
  // stores every separator key whole): a lookup binary-searches the restart
  // points, then steps through at most 16 entries. bench/scale.py at 1M
  // records: table readers 54.6 -> 24.9 MiB; audit_bench's query at 10M
  // events unchanged within its noise (docs/PERFORMANCE.md, At scale, second
  // run).
  table.index_block_restart_interval = 16;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The memtable keeps an insert hint per first two bytes of the key. Most
  // record keys start with a one-letter kind and '/' ("m/<id>", "s/<agency>/
  // <time>/<id>", "e/<agency>/<cursor>"); sequence-numbered keys (audit
  // outbox, Merkle leaves) start with the high bytes of the number. A key that
  // lands next to the previous key with the same two bytes (index entries,
  // inbox events, sequence numbers) is inserted without a search from the top
  // of the skip list. BM_DomainAsk, 1 thread:
  // 29.1 -> 26.9 us. (Ignored by RocksDB when several writers insert into a
  // memtable in parallel.)
  o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewCappedPrefixTransform(2));
  return o;
}

}  // namespace budstikke::storage::internal
