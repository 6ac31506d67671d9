// The admin API client under the name the tests, the demo and the benchmarks have always used:
// the code is fieldsync::admin_client's (fieldsync/admin/admin_client.h), which fieldsync-admin
// uses too.
#pragma once

#include "fieldsync/admin/admin_client.h"

namespace fieldsync::dev {

using AdminClient = admin::AdminClient;
using AdminError = admin::AdminError;

}  // namespace fieldsync::dev
