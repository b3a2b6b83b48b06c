// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <grp.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sys/capability.h>

#include "caps.h"

/* Removes every capability but keep (or none, keep < 0) from the bounding set. */
static int drop_bounding(int keep, struct moat_error *err)
{
	for (cap_value_t c = 0; c <= CAP_LAST_CAP || CAP_IS_SUPPORTED(c); c++) {
		if (c == keep)
			continue;
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return moat_error_errno(err, "drop capability %d from the bounding set", c);
	}
	return 0;
}

static int set_caps_only(int keep, struct moat_error *err)
{
	cap_t caps = cap_init(); /* all three sets empty */
	cap_value_t v = keep;
	int r = 0;

	if (!caps)
		return moat_error_errno(err, "cap_init");
	if (keep >= 0 && (cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) < 0 ||
			  cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0))
		r = moat_error_errno(err, "cap_set_flag");
	if (r == 0 && cap_set_proc(caps) < 0)
		r = moat_error_errno(err, "set capabilities");
	cap_free(caps);
	return r;
}

/* Fails closed: any capability left in any set is an error. */
static int verify_no_caps(struct moat_error *err)
{
	cap_t caps = cap_get_proc();
	cap_t empty = cap_init();
	int diff;

	if (!caps || !empty) {
		cap_free(caps);
		cap_free(empty);
		return moat_error_errno(err, "read capabilities");
	}
	diff = cap_compare(caps, empty);
	cap_free(caps);
	cap_free(empty);
	if (diff != 0)
		return moat_error_set(err, EPERM, "capabilities survived the drop");
	for (cap_value_t c = 0; c <= CAP_LAST_CAP || CAP_IS_SUPPORTED(c); c++)
		if (cap_get_bound(c) > 0 || cap_get_ambient(c) > 0)
			return moat_error_set(err, EPERM, "capability %d survived the drop", c);
	return 0;
}

int moat_caps_drop_all(uid_t uid, gid_t gid, struct moat_error *err)
{
	/* NOROOT: exec as uid 0 grants nothing; locked so no one undoes it.
	 * Needs CAP_SETPCAP, so it comes before the drops. */
	unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED;

	if (cap_set_secbits(bits) < 0)
		return moat_error_errno(err, "set securebits");
	if (drop_bounding(-1, err) < 0)
		return -1;
	if (cap_reset_ambient() < 0)
		return moat_error_errno(err, "clear the ambient set");
	if (setgroups(1, &gid) < 0)
		return moat_error_errno(err, "setgroups %u", gid);
	if (setresgid(gid, gid, gid) < 0)
		return moat_error_errno(err, "setresgid %u", gid);
	if (setresuid(uid, uid, uid) < 0)
		return moat_error_errno(err, "setresuid %u", uid);
	/* setresuid clears the sets when leaving uid 0, but not for a policy
	 * that runs as uid 0: clear them explicitly in every case. */
	if (set_caps_only(-1, err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return moat_error_errno(err, "set no_new_privs");
	return verify_no_caps(err);
}

int moat_caps_keep_kill_only(struct moat_error *err)
{
	if (drop_bounding(CAP_KILL, err) < 0)
		return -1;
	if (cap_reset_ambient() < 0)
		return moat_error_errno(err, "clear the ambient set");
	if (set_caps_only(CAP_KILL, err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return moat_error_errno(err, "set no_new_privs");
	return 0;
}
