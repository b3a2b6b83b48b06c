/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MOAT_NET_H
#define MOAT_NET_H

#include "error.h"

/* In the sandbox's new network namespace: brings the loopback link up
 * (rtnetlink through libnl), the only link a mode = none sandbox has. */
int moat_net_loopback_up(struct moat_error *err);

#endif
