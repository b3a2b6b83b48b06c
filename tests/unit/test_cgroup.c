// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for sandbox/cgroup.c that need no root: layout detection from
 * the text of /proc/self/mountinfo and /proc/self/cgroup, device rule
 * expansion, and gc's refusal of paths moat did not make.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup.h"

/* The CI VM: v1 controllers, cgroup2 at /sys/fs/cgroup/unified, memory nested. */
static const char hybrid_mountinfo[] =
	"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	"23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
	"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
	"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
	"38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char hybrid_cgroup[] = "9:name=systemd:/\n"
				    "8:pids:/\n"
				    "7:blkio:/\n"
				    "6:freezer:/\n"
				    "5:devices:/\n"
				    "4:memory:/process_api/fe33153037ff7b1a4bfb5250daeb595f\n"
				    "3:cpuset:/\n"
				    "2:cpuacct:/\n"
				    "1:cpu:/\n"
				    "0::/\n";

/* A systemd host with the unified hierarchy only. */
static const char unified_mountinfo[] =
	"24 31 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"26 24 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot\n"
	"31 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
	"33 24 0:7 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:11 - bpf bpf rw,mode=700\n";

static const char unified_cgroup[] = "0::/system.slice/moat.service\n";

/* An old host: v1 only, cpu and cpuacct co-mounted, no cgroup2 anywhere. */
static const char v1only_mountinfo[] =
	"25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid shared:9 - cgroup cgroup "
	"rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
	"28 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup "
	"rw,cpu,cpuacct\n"
	"29 25 0:25 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n"
	"30 25 0:26 / /sys/fs/cgroup/pids rw,nosuid shared:12 - cgroup cgroup rw,pids\n";

static const char v1only_cgroup[] = "4:pids:/user.slice\n"
				    "3:memory:/user.slice\n"
				    "2:cpu,cpuacct:/user.slice\n"
				    "1:name=systemd:/user.slice/user-0.slice/session-1.scope\n";

static void test_hybrid(void **state)
{
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(hybrid_mountinfo, hybrid_cgroup, &l, &err), 0);
	assert_int_equal(l.mode, MOAT_CGROUP_HYBRID);
	assert_string_equal(l.v2.mount, "/sys/fs/cgroup/unified");
	assert_string_equal(l.v2.rel, "");
	assert_string_equal(l.v2.dir, "/sys/fs/cgroup/unified");

	assert_string_equal(l.v1[MOAT_CG_MEMORY].mount, "/sys/fs/cgroup/memory");
	assert_string_equal(l.v1[MOAT_CG_MEMORY].rel, "process_api/fe33153037ff7b1a4bfb5250daeb595f");
	assert_string_equal(l.v1[MOAT_CG_MEMORY].dir,
			    "/sys/fs/cgroup/memory/process_api/fe33153037ff7b1a4bfb5250daeb595f");
	assert_string_equal(l.v1[MOAT_CG_CPU].dir, "/sys/fs/cgroup/cpu");
	assert_string_equal(l.v1[MOAT_CG_PIDS].dir, "/sys/fs/cgroup/pids");
	assert_string_equal(l.v1[MOAT_CG_PIDS].rel, "");
	moat_cgroup_layout_clear(&l);
	assert_null(l.v2.mount);
}

static void test_unified(void **state)
{
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(unified_mountinfo, unified_cgroup, &l, &err), 0);
	assert_int_equal(l.mode, MOAT_CGROUP_UNIFIED);
	assert_string_equal(l.v2.mount, "/sys/fs/cgroup");
	assert_string_equal(l.v2.rel, "system.slice/moat.service");
	assert_string_equal(l.v2.dir, "/sys/fs/cgroup/system.slice/moat.service");
	for (int c = 0; c < MOAT_CG_V1_COUNT; c++)
		assert_null(l.v1[c].mount);
	moat_cgroup_layout_clear(&l);
}

static void test_v1_only_unsupported(void **state)
{
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(v1only_mountinfo, v1only_cgroup, &l, &err), -1);
	assert_non_null(strstr(err.msg, "cgroup v1 only"));
	assert_non_null(strstr(err.msg, "unsupported"));
	assert_null(l.v2.mount);
}

static void test_nothing_mounted(void **state)
{
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse("22 27 0:21 / /proc rw - proc proc rw\n", "0::/\n",
						  &l, &err),
			 -1);
	assert_non_null(strstr(err.msg, "no cgroup file system"));
}

/* A container that mounts a subtree: the mount's root is stripped from our path,
 * and a mount whose root does not contain our cgroup is skipped for one that does. */
static void test_subtree_mount(void **state)
{
	static const char mi[] =
		"50 40 0:30 /other /mnt/other rw - cgroup2 cgroup2 rw\n"
		"51 40 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(mi, "0::/docker/abc/init\n", &l, &err), 0);
	assert_string_equal(l.v2.mount, "/sys/fs/cgroup");
	assert_string_equal(l.v2.rel, "init");
	assert_string_equal(l.v2.dir, "/sys/fs/cgroup/init");
	moat_cgroup_layout_clear(&l);

	assert_int_equal(moat_cgroup_layout_parse(mi, "0::/docker\n", &l, &err), -1);
	assert_non_null(strstr(err.msg, "outside the mount"));
}

/* Our cgroup outside a cgroup namespace's root shows as "/..": never create there. */
static void test_outside_cgroupns(void **state)
{
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(unified_mountinfo, "0::/../../user.slice\n", &l,
						  &err),
			 -1);
	assert_non_null(strstr(err.msg, "not visible"));
}

static void test_escaped_mount_point(void **state)
{
	static const char mi[] = "26 24 0:24 / /srv/cg\\040two rw - cgroup2 none rw\n";
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(mi, "0::/\n", &l, &err), 0);
	assert_string_equal(l.v2.dir, "/srv/cg two");
	moat_cgroup_layout_clear(&l);
}

/* Debian 10 style hybrid: cpu and cpuacct share a mount named after both. */
static void test_hybrid_comounted(void **state)
{
	static const char mi[] =
		"28 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
		"29 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
		"30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";
	static const char cg[] = "3:memory:/system.slice/x.service\n"
				 "2:cpu,cpuacct:/system.slice/x.service\n"
				 "0::/system.slice/x.service\n";
	struct moat_cgroup_layout l = { 0 };
	struct moat_error err = { 0 };

	(void)state;
	assert_int_equal(moat_cgroup_layout_parse(mi, cg, &l, &err), 0);
	assert_int_equal(l.mode, MOAT_CGROUP_HYBRID);
	assert_string_equal(l.v1[MOAT_CG_CPU].dir, "/sys/fs/cgroup/cpu,cpuacct/system.slice/x.service");
	assert_string_equal(l.v1[MOAT_CG_MEMORY].rel, "system.slice/x.service");
	assert_null(l.v1[MOAT_CG_PIDS].mount); /* not mounted: create() fails only if needed */
	assert_string_equal(l.v2.dir, "/sys/fs/cgroup/unified/system.slice/x.service");
	moat_cgroup_layout_clear(&l);
}

static void test_v1_names(void **state)
{
	(void)state;
	assert_string_equal(moat_cgroup_v1_name(MOAT_CG_MEMORY), "memory");
	assert_string_equal(moat_cgroup_v1_name(MOAT_CG_PIDS), "pids");
	assert_null(moat_cgroup_v1_name(MOAT_CG_V1_COUNT));
}

static void test_device_rules(void **state)
{
	struct moat_device devs[2] = { { .path = "/dev/nul*", .access = "rw" },
				       { .path = "/dev/moat-test-absent*", .access = "rwm" } };
	struct moat_policy p;
	struct moat_dev_rule *rules = NULL;
	struct moat_error err = { 0 };
	size_t n = 0;
	bool pts = false;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.devices = devs;
	p.n_devices = 2;
	assert_int_equal(moat_cgroup_device_rules(&p, &rules, &n, &err), 0);
	/* 8 standard nodes, then /dev/null from the glob; the absent glob adds nothing. */
	assert_int_equal(n, 9);
	for (size_t i = 0; i < 8; i++)
		if (rules[i].major == 136 && rules[i].minor == MOAT_DEV_ANY)
			pts = true;
	assert_true(pts);
	assert_int_equal(rules[8].type, 'c');
	assert_int_equal(rules[8].major, 1);
	assert_int_equal(rules[8].minor, 3);
	assert_string_equal(rules[8].access, "rw");
	free(rules);

	/* A named node (no pattern) must exist. */
	strcpy(devs[1].path, "/dev/moat-test-absent");
	assert_int_equal(moat_cgroup_device_rules(&p, &rules, &n, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	strcpy(devs[1].path, "/dev/moat-test-absent*");

	strcpy(devs[0].access, "rx");
	assert_int_equal(moat_cgroup_device_rules(&p, &rules, &n, &err), -1);
	strcpy(devs[0].path, "/etc/passwd");
	strcpy(devs[0].access, "r");
	assert_int_equal(moat_cgroup_device_rules(&p, &rules, &n, &err), -1);
}

/* gc removes only .../moat/NAME directories on cgroupfs, whatever a state file says. */
static void test_destroy_paths_refuses(void **state)
{
	const char *bad[] = { "/etc", "relative/moat/x", "/sys/fs/cgroup/moat/../x",
			      "/sys/fs/cgroup/moatx/y", "/sys/fs/cgroup/moat/", "/sys/fs/cgroup/moat/.." };
	struct moat_error err = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct moat_strv sv = { 0 };

		assert_int_equal(moat_strv_push(&sv, bad[i]), 0);
		assert_int_equal(moat_cgroup_destroy_paths(&sv, &err), -1);
		assert_int_equal(err.errnum, EINVAL);
		moat_strv_clear(&sv);
	}
	/* Already gone: success (idempotent), and nothing else is touched. */
	struct moat_strv gone = { 0 };

	assert_int_equal(moat_strv_push(&gone, "/nonexistent-moat-test/moat/x"), 0);
	assert_int_equal(moat_cgroup_destroy_paths(&gone, &err), 0);
	moat_strv_clear(&gone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_unified),
		cmocka_unit_test(test_v1_only_unsupported),
		cmocka_unit_test(test_nothing_mounted),
		cmocka_unit_test(test_subtree_mount),
		cmocka_unit_test(test_outside_cgroupns),
		cmocka_unit_test(test_escaped_mount_point),
		cmocka_unit_test(test_hybrid_comounted),
		cmocka_unit_test(test_v1_names),
		cmocka_unit_test(test_device_rules),
		cmocka_unit_test(test_destroy_paths_refuses),
	};

	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
