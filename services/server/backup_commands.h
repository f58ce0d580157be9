// The operator's offline backup commands of budstikke-server (no TLS, no
// master key): `restore`, `verify-backup` and `purge-shredded-keys`
// (docs/OPERATIONS.md, "Backup and restore"). Each prints one line per result
// to stdout, each failure as one line "budstikke-server: ..." to stderr, and
// returns the process's exit code: 0, or 1 if anything failed.
#ifndef BUDSTIKKE_SERVICES_SERVER_BACKUP_COMMANDS_H_
#define BUDSTIKKE_SERVICES_SERVER_BACKUP_COMMANDS_H_

#include "services/server/config.h"

namespace budstikke::server {

// Restores the latest backup of config.backup_dir into config.data_dir,
// which must not exist or be empty.
int RunRestore(const ServerConfig& config);
// Verifies every backup in config.backup_dir (Store::VerifyBackups).
int RunVerifyBackup(const ServerConfig& config);
// For each of config.purge_backup_dirs (the others still when one fails):
// removes the wrapped keys of the versions shredded in config.data_dir
// (config.purge_agency's only, if set).
int RunPurgeShreddedKeys(const ServerConfig& config);

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_BACKUP_COMMANDS_H_
