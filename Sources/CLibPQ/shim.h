#ifndef SENSTAT_CLIBPQ_SHIM_H
#define SENSTAT_CLIBPQ_SHIM_H
// Debian's libpq-dev installs the header under /usr/include/postgresql.
#include <postgresql/libpq-fe.h>
#endif
