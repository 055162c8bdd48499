#ifndef SWITCHBOARD_SQLITE_OPTIONS_H
#define SWITCHBOARD_SQLITE_OPTIONS_H

/// Turns on SQLite's query planner stability guarantee for a connection (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it
/// SQLite marks a statement to be prepared again whenever certain bound values change, so a kept statement whose
/// binds differ on every run (a time, an id) is compiled afresh each time. `sqlite3_db_config` takes variable
/// arguments, which Swift cannot pass: hence this C function. Returns SQLite's result code.
int switchboard_sqlite_enable_qpsg(void *db);

#include <stdint.h>

/// A counter in memory that other processes map too (`ChangeCounters`), read with acquire ordering: what was committed
/// before the count moved is seen by a query that starts after this read. Swift's own atomics need memory that Swift
/// allocated, not a shared mapping of a file.
static inline uint64_t switchboard_counter_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}

/// Adds one to a shared counter, after the commit it announces.
static inline void switchboard_counter_bump(uint64_t *counter) {
    __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
}

#endif
