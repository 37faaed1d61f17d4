/* Time conversions. All times inside hvdiag are UTC ticks; text is ISO-8601. */
#include "hvtime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

hvd_time hvd_time_from_filetime(uint64_t filetime)
{
    const uint64_t delta = (uint64_t)HVD_FILETIME_EPOCH_DELTA;

    if (filetime < delta) {
        return -(hvd_time)(delta - filetime);
    }
    filetime -= delta;
    return filetime > (uint64_t)INT64_MAX ? INT64_MAX : (hvd_time)filetime;
}

hvd_time hvd_time_add(hvd_time t, int64_t d)
{
    if (d > 0 && t > INT64_MAX - d) {
        return INT64_MAX;
    }
    if (d < 0 && t < INT64_MIN - d) {
        return INT64_MIN;
    }
    return t + d;
}

uint64_t hvd_time_span(hvd_time lo, hvd_time hi)
{
    /* Two's complement difference in unsigned arithmetic: exact whenever hi >= lo. */
    return hi < lo ? 0 : (uint64_t)hi - (uint64_t)lo;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    int64_t doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era;
    int64_t doe;
    int64_t yoe;
    int64_t doy;
    int64_t mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

hvd_time hvd_time_from_utc(int year, int month, int day, int hour, int min, int sec,
                           int64_t ticks_fraction)
{
    int64_t days = days_from_civil(year, month, day);
    int64_t secs = days * 86400 + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;

    return secs * HVD_TICKS_PER_SECOND + ticks_fraction;
}

/* "????-??-??", spelled so no C trigraph ("??-") is read in it. */
#define UNDATED "\?\?\?\?-\?\?-\?\?"

int hvd_time_has_date(hvd_time t)
{
    return t < 0 || t >= HVD_TIME_UNDATED_END;
}

static char *format(hvd_time t, char *buf, size_t cap, int undated_as_such);

/* Writes v (0 <= v < 10^n) as n decimal digits, zero-padded; returns the end. */
static char *digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

char *hvd_time_format(hvd_time t, char *buf, size_t cap)
{
    return format(t, buf, cap, 1);
}

char *hvd_time_format_key(hvd_time t, char *buf, size_t cap)
{
    return format(t, buf, cap, 0);
}

static char *format(hvd_time t, char *buf, size_t cap, int undated_as_such)
{
    int64_t secs = t / HVD_TICKS_PER_SECOND;
    int64_t frac = t % HVD_TICKS_PER_SECOND;
    int64_t days;
    int64_t rem;
    int64_t y;
    int m;
    int d;

    if (frac < 0) {
        frac += HVD_TICKS_PER_SECOND;
        secs -= 1;
    }
    days = secs / 86400;
    rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    if (undated_as_such && !hvd_time_has_date(t)) {
        snprintf(buf, cap, UNDATED "T%02d:%02d:%02d.%07lldZ", (int)(rem / 3600),
                 (int)(rem % 3600 / 60), (int)(rem % 60), (long long)frac);
        return buf;
    }
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999 && cap >= sizeof("YYYY-MM-DDTHH:MM:SS.fffffffZ")) {
        /* what the snprintf() below writes, without parsing a format: listings format two
         * times a row */
        char *p = buf;

        p = digits(p, y, 4);
        *p++ = '-';
        p = digits(p, m, 2);
        *p++ = '-';
        p = digits(p, d, 2);
        *p++ = 'T';
        p = digits(p, rem / 3600, 2);
        *p++ = ':';
        p = digits(p, rem % 3600 / 60, 2);
        *p++ = ':';
        p = digits(p, rem % 60, 2);
        *p++ = '.';
        p = digits(p, frac, 7);
        *p++ = 'Z';
        *p = '\0';
        return buf;
    }
    snprintf(buf, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%07lldZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60), (long long)frac);
    return buf;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return -1;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int hvd_time_parse(const char *s, hvd_time *out)
{
    const char *p = s;
    int year;
    int month;
    int day;
    int hour = 0;
    int min = 0;
    int sec = 0;
    int64_t frac = 0;
    int64_t offset = 0;

    if (strncmp(p, UNDATED, 10) == 0) {
        /* A time of day without a date: day 0. */
        p += 10;
        year = 1970;
        month = 1;
        day = 1;
    } else if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &month) ||
               *p++ != '-' || parse_digits(&p, 2, &day)) {
        return -1;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31) {
        return -1;
    }
    if (*p == 'T' || *p == ' ') {
        p++;
        if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &min)) {
            return -1;
        }
        if (*p == ':') {
            p++;
            if (parse_digits(&p, 2, &sec)) {
                return -1;
            }
        }
        if (hour > 23 || min > 59 || sec > 60) {
            return -1;
        }
        if (*p == '.') {
            int64_t scale = HVD_TICKS_PER_SECOND / 10;

            p++;
            if (!isdigit((unsigned char)*p)) {
                return -1;
            }
            while (isdigit((unsigned char)*p)) {
                frac += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh;
        int om = 0;

        p++;
        if (parse_digits(&p, 2, &oh)) {
            return -1;
        }
        if (*p == ':') {
            p++;
        }
        if (isdigit((unsigned char)*p) && parse_digits(&p, 2, &om)) {
            return -1;
        }
        offset = sign * ((int64_t)oh * 3600 + om * 60) * HVD_TICKS_PER_SECOND;
    }
    if (*p != '\0') {
        return -1;
    }
    *out = hvd_time_from_utc(year, month, day, hour, min, sec, frac) - offset;
    return 0;
}
