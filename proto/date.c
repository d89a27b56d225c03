/* date.c - see date.h. */
#include "proto/date.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char mon_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

struct civil {
    int64_t y;
    unsigned m, d; /* 1..12, 1..31 */
    unsigned wd;   /* 0 = Sunday */
    unsigned sec;  /* seconds into the day */
};

/* The UTC calendar date of t (proleptic Gregorian), without libc's time zone machinery. */
static struct civil civil_from_time(time_t t)
{
    int64_t s = (int64_t)t;
    int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    struct civil c;
    c.d = doy - (153 * mp + 2) / 5 + 1;
    c.m = mp < 10 ? mp + 3 : mp - 9;
    c.y = (int64_t)yoe + era * 400 + (c.m <= 2);
    c.wd = (unsigned)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    c.sec = (unsigned)(s - days * 86400);
    return c;
}

void http_date_format(char *out, time_t t)
{
    struct civil c = civil_from_time(t);
    memcpy(out, wday_names[c.wd], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, c.d);
    out[7] = ' ';
    memcpy(out + 8, mon_names[c.m - 1], 3);
    out[11] = ' ';
    unsigned yy = (unsigned)(c.y < 0 ? 0 : c.y > 9999 ? 9999 : c.y);
    put2(out + 12, yy / 100);
    put2(out + 14, yy % 100);
    out[16] = ' ';
    put2(out + 17, c.sec / 3600);
    out[19] = ':';
    put2(out + 20, c.sec / 60 % 60);
    out[22] = ':';
    put2(out + 23, c.sec % 60);
    memcpy(out + 25, " GMT", 4);
}

static int num(const char *p, size_t n, unsigned *v)
{
    unsigned r = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9) {
            return -1;
        }
        r = r * 10 + d;
    }
    *v = r;
    return 0;
}

static int month(const char *p)
{
    for (int i = 0; i < 12; i++) {
        if (memcmp(p, mon_names[i], 3) == 0) {
            return i + 1;
        }
    }
    return -1;
}

static int hms(const char *p, unsigned *h, unsigned *mi, unsigned *s)
{
    if (p[2] != ':' || p[5] != ':' || num(p, 2, h) || num(p + 3, 2, mi) || num(p + 6, 2, s)) {
        return -1;
    }
    return (*h > 23 || *mi > 59 || *s > 60) ? -1 : 0;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int finish(int64_t y, int mon, unsigned d, unsigned h, unsigned mi, unsigned s, time_t *t)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mon < 1 || d < 1 || d > mdays[mon - 1] || (mon == 2 && d == 29 && !leap(y))) {
        return -EINVAL;
    }
    int64_t days = days_from_civil(y, (unsigned)mon, d);
    *t = (time_t)(days * 86400 + h * 3600 + mi * 60 + (s > 59 ? 59 : s));
    return 0;
}

int http_date_parse(struct slice in, time_t now, time_t *t)
{
    const char *p = in.ptr;
    unsigned d, y, h, mi, s;
    int mon;
    if (in.len == 29 && p[3] == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        if (p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
            memcmp(p + 25, " GMT", 4) != 0 || num(p + 5, 2, &d) || (mon = month(p + 8)) < 0 ||
            num(p + 12, 4, &y) || hms(p + 17, &h, &mi, &s)) {
            return -EINVAL;
        }
        return finish(y, mon, d, h, mi, s, t);
    }
    if (in.len == 24 && p[3] == ' ') {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        if (p[7] != ' ' || p[10] != ' ' || p[19] != ' ' || (mon = month(p + 4)) < 0 ||
            hms(p + 11, &h, &mi, &s) || num(p + 20, 4, &y)) {
            return -EINVAL;
        }
        if (p[8] == ' ') {
            if (num(p + 9, 1, &d)) {
                return -EINVAL;
            }
        } else if (num(p + 8, 2, &d)) {
            return -EINVAL;
        }
        return finish(y, mon, d, h, mi, s, t);
    }
    /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    const char *c = memchr(p, ',', in.len < 10 ? in.len : 10);
    if (!c) {
        return -EINVAL;
    }
    size_t rest = in.len - (size_t)(c - p);
    if (rest != 24 || c[1] != ' ' || c[4] != '-' || c[8] != '-' || c[11] != ' ' ||
        memcmp(c + 20, " GMT", 4) != 0 || num(c + 2, 2, &d) || (mon = month(c + 5)) < 0 ||
        num(c + 9, 2, &y) || hms(c + 12, &h, &mi, &s)) {
        return -EINVAL;
    }
    /* RFC 9110 5.6.7: a two-digit year that would be more than 50 years in the future is
     * the most recent past year with those digits; so the year is the latest one with these
     * digits that is at most 50 years after the current one */
    int64_t limit = civil_from_time(now).y + 50;
    int64_t back = (limit - (int64_t)y) % 100;
    int64_t full = limit - (back < 0 ? back + 100 : back);
    return finish(full, mon, d, h, mi, s, t);
}
