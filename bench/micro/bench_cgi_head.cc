// Parsing a CGI response head (proto/cgi_head.h): what every CGI and FastCGI response pays
// before its first body byte. A PHP-like head (5 fields) and a larger one (20 fields).
#include <benchmark/benchmark.h>

#include <string>

extern "C" {
#include "proto/cgi_head.h"
}

static std::string php_head()
{
    return "X-Powered-By: PHP/8.2.26\r\nSet-Cookie: sid=abcdef0123456789; path=/\r\n"
           "Cache-Control: no-store, no-cache, must-revalidate\r\nPragma: no-cache\r\n"
           "Content-type: text/html; charset=UTF-8\r\n\r\n<html>";
}

static std::string big_head()
{
    std::string s = "Status: 200 OK\nContent-Type: application/json\nContent-Length: 1234\n";
    for (int i = 0; i < 17; i++) {
        s += "X-Field-" + std::to_string(i) + ": some value of moderate length " +
             std::to_string(i) + "\n";
    }
    return s + "\n{}";
}

static void run(benchmark::State &st, const std::string &in)
{
    static struct cgi_head h;
    for (auto _ : st) {
        int n = cgi_head_parse(in.data(), in.size(), 8192, &h);
        benchmark::DoNotOptimize(n);
        benchmark::DoNotOptimize(h.nfields);
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)in.size());
}

static void BM_cgi_head_php(benchmark::State &st)
{
    run(st, php_head());
}
BENCHMARK(BM_cgi_head_php);

static void BM_cgi_head_20_fields(benchmark::State &st)
{
    run(st, big_head());
}
BENCHMARK(BM_cgi_head_20_fields);
