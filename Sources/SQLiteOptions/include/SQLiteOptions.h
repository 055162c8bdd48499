#ifndef SWITCHBOARD_SQLITE_OPTIONS_H
#define SWITCHBOARD_SQLITE_OPTIONS_H

/// Turns on SQLite's query planner stability guarantee for a connection (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it
/// SQLite marks a statement to be prepared again whenever certain bound values change, so a kept statement whose
/// binds differ on every run (a time, an id) is compiled afresh each time. `sqlite3_db_config` takes variable
/// arguments, which Swift cannot pass: hence this C function. Returns SQLite's result code.
int switchboard_sqlite_enable_qpsg(void *db);

#endif
