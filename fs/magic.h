/*
 * magic.h - a file's MIME type from its first bytes (libmagic), for `mime_magic`.
 *
 * libmagic's handle (magic_t) is not safe to share between threads, so each thread that
 * sniffs gets its own, opened and loaded on its first call: magic_load parses /etc/magic
 * (the local additions) and maps the compiled database /usr/share/misc/magic.mgc (8 MB on
 * Debian 12, mapped privately by each handle, so its pages are shared through the page
 * cache), or the files $MAGIC names. That load (about 0.25 ms) is paid once per thread: a
 * worker's first sniff pays it unless the worker calls fs_magic_warm at start, which it
 * does when any location uses mime_magic. A worker calls fs_magic_thread_end before it
 * exits, so the handle is freed (ASan's leak check sees none). No locks; nothing shared.
 *
 * A sniff is bounded: at most FS_MAGIC_PEEK bytes are looked at, nothing is decompressed,
 * no file or link is opened (only a buffer is given), the ELF and CDF (old Office) parsers
 * are off, and libmagic's limits on indirection, name recursion, regex and text-encoding
 * scans are lowered (magic.c). It is still slow: libmagic walks its whole rule list for
 * most inputs, so a 4 KiB sniff costs from about 15 us (a PNG, matched early) to 200 us
 * (HTML, unknown bytes) and over 1 ms (plain text, which every text rule's search and
 * regex scans) on one core (bench/micro/bench_magic.cc). It belongs in a cache fill,
 * never in a hit.
 *
 * Any thread may call these; each call acts on the calling thread's handle only.
 */
#pragma once

#include "core/base/compiler.h"

#include <stddef.h>

/*
 * How many leading bytes a caller should read and pass: PNG, JPEG, GIF, PDF, gzip, ZIP,
 * ELF, HTML, XML, SVG and plain text are told apart in 4096 bytes (tests/unit/fs/
 * test_magic.c). Bytes past it are ignored. Two limits of a prefix: JSON is
 * application/json only when the whole document fits (a longer one is text/plain), and a
 * PIE executable is application/x-sharedlib (file(1) needs the file itself to tell).
 */
#define FS_MAGIC_PEEK 4096

/*
 * The MIME type ("image/png", no "; charset=" part) of the len bytes at buf, or NULL when
 * libmagic has nothing useful to say: the buffer is empty, the type is
 * application/octet-stream (libmagic's "no idea": the caller falls back to its
 * default_type), libmagic failed to load or to run, or its answer is not a plain
 * "type/subtype" token. The string is libmagic's and stays valid until the next call on
 * the same thread (copy it to keep it). Loads the thread's handle on first use.
 */
const char *fs_magic_type(const void *buf, size_t len);

/*
 * Opens and loads the calling thread's handle now, so the first sniff does not pay for
 * the database read. 0 (also when already loaded), or -errno (ENOENT: no database; ENOMEM)
 * when libmagic cannot load; then fs_magic_type answers NULL on this thread, without
 * retrying, until fs_magic_thread_end. fs_magic_error says why.
 */
int fs_magic_warm(void) MUST_CHECK;

/* Why the thread's last load failed (libmagic's message), or "" when it did not. */
const char *fs_magic_error(void);

/* Closes the calling thread's handle (a later sniff loads it again). Safe to call twice. */
void fs_magic_thread_end(void);
