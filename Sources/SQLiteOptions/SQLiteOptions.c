#include "SQLiteOptions.h"

// SQLiteNIO's build of SQLite, whose symbols carry the sqlite_nio_ prefix; declared here rather than through its
// header, which is not a product of that package.
int sqlite_nio_sqlite3_db_config(void *db, int op, ...);

#define SQLITE_DBCONFIG_ENABLE_QPSG 1007

int switchboard_sqlite_enable_qpsg(void *db) {
    int enabled = 0;
    return sqlite_nio_sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, &enabled);
}
