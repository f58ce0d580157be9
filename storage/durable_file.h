// Small files that must survive a power loss once written (the audit log's
// anchor): written to a temporary file, fsynced, renamed over the old one
// and the directory fsynced, so a reader sees the old or the new content,
// never a mix or nothing.
#ifndef BUDSTIKKE_STORAGE_DURABLE_FILE_H_
#define BUDSTIKKE_STORAGE_DURABLE_FILE_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace budstikke::storage {

// Replaces `path` with `content` (mode `mode`). UNAVAILABLE naming the path
// and the system error if any step fails.
absl::Status WriteFileDurably(const std::string& path, std::string_view content,
                              mode_t mode = 0600);

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_DURABLE_FILE_H_
