// SPDX-License-Identifier: GPL-2.0-or-later
/* Collecting a sandbox whose supervisor died. See collect.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "cgroup.h"
#include "collect.h"
#include "egress.h"
#include "nat.h"
#include "net.h"
#include "state.h"
#include "syscount.h"
#include "util.h"

/* A dead sandbox's network: every step is idempotent. The lease goes by its
 * owner's name, not the recorded address: the supervisor records the
 * address only after leasing it. */
static int collect_network(json_object *net, struct moat_error *err)
{
	json_object *v;
	struct in_addr addr;
	const char *address = NULL;

	if (json_object_object_get_ex(net, "cgroup_id", &v) &&
	    moat_egress_collect(json_object_get_uint64(v), err) < 0)
		return -1;
	if (json_object_object_get_ex(net, "address", &v))
		address = json_object_get_string(v);
	if (address && inet_pton(AF_INET, address, &addr) == 1 &&
	    json_object_object_get_ex(net, "nat", &v) && json_object_get_boolean(v) &&
	    moat_nat_remove(&addr, err) < 0)
		return -1;
	if (json_object_object_get_ex(net, "host_ifname", &v) &&
	    moat_net_veth_delete(json_object_get_string(v), err) < 0)
		return -1;
	return 0;
}

static int collect_cgroups(const char *name, json_object *arr, struct moat_error *err)
{
	struct moat_strv paths = {0};
	int r;

	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (moat_strv_push(&paths, json_object_get_string(json_object_array_get_idx(arr, i))) < 0) {
			moat_strv_clear(&paths);
			return moat_error_errno(err, "collect %s", name);
		}
	r = moat_cgroup_destroy_paths(&paths, err);
	moat_strv_clear(&paths);
	return r;
}

struct newest_event {
	bool stop;
	char time[MOAT_AUDIT_TIME_LEN];
};

static int take_newest(const char *line, size_t len, void *data)
{
	struct newest_event *e = data;
	json_object *obj = json_tokener_parse(line), *v;

	(void)len;
	if (obj && json_object_object_get_ex(obj, "event", &v) &&
	    strcmp(json_object_get_string(v), "stop") == 0 &&
	    json_object_object_get_ex(obj, "time", &v)) {
		e->stop = true;
		snprintf(e->time, sizeof(e->time), "%s", json_object_get_string(v));
	}
	json_object_put(obj);
	return 1; /* the newest line only */
}

static uint64_t mtime_ns(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/*
 * Whether the dead launch's audit log has its "stop" already: the
 * supervisor was killed after writing it, while removing its state. That
 * stop is the newest event and no older than the launch: than its recorded
 * start, or (before its first state.json) the policy its claim wrote, or
 * the state directory's last change. moat_state_remove removes the state,
 * then the policy, last: a directory left empty is one whose launch had
 * torn down (or had only just been made, before the log was opened).
 * Times are RFC 3339 UTC of one fixed width: they compare as strings.
 */
static bool launch_ended(const char *name, json_object *state)
{
	char dir[sizeof(MOAT_RUN_DIR) + MOAT_NAME_MAX + 2], file[sizeof(dir) + 16];
	char since[MOAT_AUDIT_TIME_LEN];
	struct newest_event e = {0};
	struct moat_error ignored;
	uint64_t since_ns = 0;
	json_object *v;
	struct stat st;

	if (moat_audit_tail(name, 2 * MOAT_AUDIT_LINE_MAX, take_newest, &e, &ignored) < 0 ||
	    !e.stop)
		return false;
	snprintf(dir, sizeof(dir), "%s/%s", MOAT_RUN_DIR, name);
	snprintf(file, sizeof(file), "%s/%s", dir, MOAT_STATE_POLICY_FILE);
	if (state && json_object_object_get_ex(state, "started_ns", &v))
		since_ns = json_object_get_uint64(v);
	else if (stat(file, &st) == 0)
		since_ns = mtime_ns(&st);
	else if (dir_empty(dir))
		return true;
	else if (stat(dir, &st) == 0)
		since_ns = mtime_ns(&st);
	moat_audit_format_time(since_ns, since);
	return strcmp(e.time, since) >= 0;
}

static void log_collected(const char *name, json_object *state)
{
	_cleanup_free_ char *why = NULL;
	struct moat_audit_log *log = NULL;
	struct moat_error ignored;
	json_object *fields, *v;

	if (launch_ended(name, state))
		return;
	if (state && json_object_object_get_ex(state, "supervisor_pid", &v))
		why = moat_strdup_printf("the supervisor (pid %d) died before the sandbox ended",
					 json_object_get_int(v));
	else
		why = moat_strdup_printf("the supervisor died before the sandbox ended");
	fields = json_object_new_object();
	if (!why || !fields) {
		json_object_put(fields);
		return;
	}
	json_object_object_add(fields, "status", json_object_new_int(MOAT_EXIT_LAUNCH));
	json_object_object_add(fields, "error", json_object_new_string(why));
	json_object_object_add(fields, "collected", json_object_new_boolean(true));
	if (moat_audit_open(name, &log, &ignored) == 0)
		moat_audit_write(log, "stop", fields, &ignored);
	moat_audit_close(log);
	json_object_put(fields);
}

int moat_sandbox_collect(const char *name, json_object *state, struct moat_error *err)
{
	json_object *v;

	if (state && json_object_object_get_ex(state, "network", &v) &&
	    collect_network(v, err) < 0)
		return -1;
	if (moat_net_lease_release_owner(name, err) < 0)
		return -1;
	if (state && json_object_object_get_ex(state, "cgroup_id", &v) && json_object_get_uint64(v) &&
	    moat_syscount_collect(json_object_get_uint64(v), err) < 0)
		return -1;
	if (state && json_object_object_get_ex(state, "cgroups", &v) &&
	    collect_cgroups(name, v, err) < 0)
		return -1;
	log_collected(name, state);
	return 0;
}
