// c_api.h - the C headers under test, included with C linkage for the C++ benchmarks.
#pragma once

extern "C" {
#include "core/base/arena.h"
#include "core/base/hash.h"
#include "fs/cache.h"
#include "proto/hdr_table.h"
#include "proto/path.h"
#include "proto/request.h"
}

#include <string>

// Request samples shared by the parser benchmarks.
namespace samples
{
// what wrk sends
inline const std::string minimal = "GET /small.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
// what a current browser sends for a page (about 560 bytes)
inline const std::string browser =
    "GET /docs/index.html?lang=en HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: "
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=6f1e2b9a3c4d5e6f; theme=dark; tz=Europe%2FBerlin\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "If-None-Match: \"5f2-1a2b3c4d\"\r\n"
    "If-Modified-Since: Tue, 24 Nov 2026 10:00:00 GMT\r\n\r\n";
} // namespace samples
