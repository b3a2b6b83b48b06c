// SPDX-License-Identifier: GPL-2.0-or-later
#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"

/* mincore() results asked for at once. */
#define MINCORE_BATCH 256

static uintptr_t page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (uintptr_t)page : 4096;
}

/* Reads a whole page across object boundaries, padding included: not an
 * access AddressSanitizer may check (so no memcmp, which it intercepts). */
__attribute__((no_sanitize_address)) static bool page_is_zero(const void *page, size_t len)
{
	typedef unsigned long __attribute__((may_alias)) word; /* whatever the objects' types */
	const word *w = page;
	unsigned long any = 0;

	for (size_t i = 0; i < len / sizeof(*w); i++)
		any |= w[i];
	return any == 0;
}

/* Drops the resident all-zero pages of [start, end), page-aligned, in runs:
 * one madvise per run of zero pages, not one per page. */
static size_t drop_zero_range(uintptr_t start, uintptr_t end, uintptr_t page)
{
	unsigned char vec[MINCORE_BATCH];
	uintptr_t run = 0; /* start of the current run of zero pages, 0: none */
	size_t dropped = 0;

	for (uintptr_t at = start; at < end;) {
		size_t n = (end - at) / page;

		if (n > MINCORE_BATCH)
			n = MINCORE_BATCH;
		/* Only resident pages: reading the others would map them. */
		if (mincore((void *)at, n * page, vec) < 0)
			break;
		for (size_t i = 0; i < n; i++) {
			uintptr_t p = at + i * page;
			bool zero = (vec[i] & 1) && page_is_zero((const void *)p, page);

			if (zero && !run)
				run = p;
			if (!zero && run) {
				if (madvise((void *)run, p - run, MADV_DONTNEED) == 0)
					dropped += p - run;
				run = 0;
			}
		}
		at += n * page;
	}
	if (run && madvise((void *)run, end - run, MADV_DONTNEED) == 0)
		dropped += end - run;
	return dropped;
}

/*
 * A writable PT_LOAD's bss: the part past its file contents. The page that
 * holds the end of the file contents is file-backed (dropping it would bring
 * back the file's bytes, not zeros), so the range starts at the next page;
 * past it the loader mapped anonymous memory, where a dropped page reads
 * back as zeros.
 */
static int drop_zero_bss_of(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t page = page_size();
	size_t *dropped = data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start, end;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz <= ph->p_filesz)
			continue;
		start = (info->dlpi_addr + ph->p_vaddr + ph->p_filesz + page - 1) & ~(page - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
		if (start < end)
			*dropped += drop_zero_range(start, end, page);
	}
	return 0;
}

size_t moat_memory_drop_zero_bss(void)
{
	size_t dropped = 0;

	dl_iterate_phdr(drop_zero_bss_of, &dropped);
	return dropped;
}

/* Whether [start, end) overlaps the object's RELRO: relocated, then made
 * read-only, so its pages are private copies that dropping would lose. The
 * linkers put RELRO in a writable segment; checked anyway. */
static bool overlaps_relro(const struct dl_phdr_info *info, uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t r0 = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_GNU_RELRO && r0 < end && start < r0 + ph->p_memsz)
			return true;
	}
	return false;
}

static int drop_file_pages_of(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t page = page_size();
	uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);

	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start, end;

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
		/* The vDSO is the kernel's, not a file's. */
		if ((vdso && start <= vdso && vdso < end) || overlaps_relro(info, start, end))
			continue;
		madvise((void *)start, end - start, MADV_DONTNEED);
	}
	return 0;
}

void moat_memory_drop_file_pages(void)
{
	dl_iterate_phdr(drop_file_pages_of, NULL);
}

void moat_memory_release(void)
{
	/* Set-up's temporary allocations leave free chunks between live ones,
	 * which free() cannot hand back: malloc_trim(0) returns their pages. */
	malloc_trim(0);
	moat_memory_drop_zero_bss();
	moat_memory_drop_file_pages();
}
