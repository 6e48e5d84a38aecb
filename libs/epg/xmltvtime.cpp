#include "xmltvtime.h"

#include <QDate>
#include <QDateTime>

#include <cstdio>

namespace iptv::epg {

namespace {

constexpr qint64 s_unixEpochJulianDay = 2440588;
constexpr int s_maxOffsetSeconds = 18 * 3600; // ISO 8601 / QTimeZone limit; real zones stay within +-14h

bool fail(QString *error, const QString &message)
{
    if (error)
        *error = message;
    return false;
}

int digitsValue(QStringView s, qsizetype from, qsizetype count)
{
    int v = 0;
    for (qsizetype i = from; i < from + count; ++i)
        v = v * 10 + (s[i].unicode() - u'0');
    return v;
}

bool isDigit(QChar c)
{
    return c.unicode() >= u'0' && c.unicode() <= u'9';
}

struct NamedZone
{
    const char16_t *name;
    int minutes;
};

// Abbreviations that older grabbers print instead of a numeric offset. Ambiguous ones (IST: Irish,
// Indian or Israel) are left out on purpose: guessing wrong shifts a whole guide by hours.
constexpr NamedZone s_namedZones[] = {
    {u"Z", 0},          {u"UT", 0},         {u"UTC", 0},       {u"GMT", 0},       {u"WET", 0},
    {u"WEST", 60},      {u"BST", 60},       {u"CET", 60},      {u"MET", 60},      {u"CEST", 120},
    {u"MEST", 120},     {u"EET", 120},      {u"EEST", 180},    {u"MSK", 180},     {u"EST", -300},
    {u"EDT", -240},     {u"CST", -360},     {u"CDT", -300},    {u"MST", -420},    {u"MDT", -360},
    {u"PST", -480},     {u"PDT", -420},     {u"AKST", -540},   {u"AKDT", -480},   {u"HST", -600},
    {u"JST", 540},      {u"KST", 540},      {u"AWST", 480},    {u"ACST", 570},    {u"ACDT", 630},
    {u"AEST", 600},     {u"AEDT", 660},     {u"NZST", 720},    {u"NZDT", 780},
};

int offsetAt(const QTimeZone &zone, qint64 utc)
{
    return zone.offsetFromUtc(QDateTime::fromSecsSinceEpoch(utc, Qt::UTC));
}

// Maps a wall-clock time (seconds since the epoch as if it were UTC) in `zone` to UTC.
// Looks at the offsets a day before and after: zones never change twice within two days, so the
// local time is valid under one of them (normal), both (autumn fold) or neither (spring gap).
void resolveLocal(qint64 local, const QTimeZone &zone, qint64 *utc, int *offset)
{
    if (!zone.isValid()) {
        *utc = local;
        *offset = 0;
        return;
    }
    const int before = offsetAt(zone, local - 86400);
    const int after = offsetAt(zone, local + 86400);
    if (before == after && offsetAt(zone, local - before) == before) {
        *utc = local - before;
        *offset = before;
        return;
    }
    qint64 best = 0;
    bool found = false;
    for (const int candidate : {before, after}) {
        const qint64 u = local - candidate;
        if (offsetAt(zone, u) == candidate && (!found || u < best)) {
            best = u;
            found = true; // the smallest UTC instant is the first occurrence of a folded time
        }
    }
    if (!found)
        best = local - before; // in the gap: read with the old offset, which lands after the jump
    *utc = best;
    *offset = offsetAt(zone, best);
}

bool parseOffset(QStringView s, int *offsetSeconds, QString *error)
{
    const QChar sign = s.front();
    if (sign == u'+' || sign == u'-') {
        const QStringView rest = s.mid(1);
        int hours = 0;
        int minutes = 0;
        auto allDigits = [](QStringView v) {
            for (QChar c : v) {
                if (!isDigit(c))
                    return false;
            }
            return true;
        };
        if (rest.size() == 4 && allDigits(rest)) {
            hours = digitsValue(rest, 0, 2);
            minutes = digitsValue(rest, 2, 2);
        } else if (rest.size() == 5 && rest[2] == u':' && allDigits(rest.first(2)) && allDigits(rest.last(2))) {
            hours = digitsValue(rest, 0, 2);
            minutes = digitsValue(rest, 3, 2);
        } else if (rest.size() == 2 && allDigits(rest)) {
            hours = digitsValue(rest, 0, 2);
        } else {
            return fail(error, u"bad UTC offset \"" + s.toString() + u'"');
        }
        if (minutes >= 60 || hours * 3600 + minutes * 60 > s_maxOffsetSeconds)
            return fail(error, u"UTC offset out of range \"" + s.toString() + u'"');
        const int value = hours * 3600 + minutes * 60;
        *offsetSeconds = sign == u'-' ? -value : value;
        return true;
    }
    for (const NamedZone &zone : s_namedZones) {
        if (s.compare(QStringView(zone.name), Qt::CaseInsensitive) == 0) {
            *offsetSeconds = zone.minutes * 60;
            return true;
        }
    }
    return fail(error, u"unknown time zone \"" + s.toString() + u'"');
}

} // namespace

bool parseXmltvTime(QStringView text, const QTimeZone &defaultZone, qint64 *utcSeconds, int *offsetSeconds,
                    QString *error, bool *zoneGiven)
{
    const QStringView s = text.trimmed();
    qsizetype digits = 0;
    while (digits < s.size() && isDigit(s[digits]))
        ++digits;
    if (digits != 8 && digits != 10 && digits != 12 && digits != 14) {
        if (s.isEmpty())
            return fail(error, QStringLiteral("empty timestamp"));
        return fail(error, u"bad timestamp \"" + s.toString() + u"\" (expected YYYYMMDDhhmmss +hhmm)");
    }
    const int year = digitsValue(s, 0, 4);
    const int month = digitsValue(s, 4, 2);
    const int day = digitsValue(s, 6, 2);
    const int hour = digits >= 10 ? digitsValue(s, 8, 2) : 0;
    const int minute = digits >= 12 ? digitsValue(s, 10, 2) : 0;
    const int second = digits >= 14 ? digitsValue(s, 12, 2) : 0;
    const QDate date(year, month, day);
    if (year < 1 || !date.isValid() || hour > 23 || minute > 59 || second > 59)
        return fail(error, u"impossible date or time in timestamp \"" + s.toString() + u'"');
    const qint64 local = (date.toJulianDay() - s_unixEpochJulianDay) * 86400 + hour * 3600 + minute * 60 + second;

    const QStringView zonePart = s.mid(digits).trimmed();
    qint64 utc = 0;
    int offset = 0;
    if (zoneGiven)
        *zoneGiven = !zonePart.isEmpty();
    if (zonePart.isEmpty()) {
        resolveLocal(local, defaultZone, &utc, &offset);
    } else {
        QString zoneError;
        if (!parseOffset(zonePart, &offset, &zoneError))
            return fail(error, zoneError + u" in timestamp \"" + s.toString() + u'"');
        utc = local - offset;
    }
    if (utcSeconds)
        *utcSeconds = utc;
    if (offsetSeconds)
        *offsetSeconds = offset;
    return true;
}

QString formatXmltvTime(qint64 utcSeconds, int offsetSeconds)
{
    const qint64 local = utcSeconds + offsetSeconds;
    qint64 days = local / 86400;
    qint64 secs = local % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    const QDate date = QDate::fromJulianDay(days + s_unixEpochJulianDay);
    char buf[32];
    const int absOffset = offsetSeconds < 0 ? -offsetSeconds : offsetSeconds;
    const int n = std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d %c%02d%02d", date.year(), date.month(),
                                date.day(), int(secs / 3600), int(secs / 60 % 60), int(secs % 60),
                                offsetSeconds < 0 ? '-' : '+', absOffset / 3600, absOffset / 60 % 60);
    return QString::fromLatin1(buf, n);
}

} // namespace iptv::epg
