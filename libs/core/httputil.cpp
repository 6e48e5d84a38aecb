#include "httputil.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QTimeZone>

#include <algorithm>
#include <limits>

namespace iptv::http {

QByteArray jsonError(const QString &error, const QString &detail)
{
    QJsonObject o{{QStringLiteral("error"), error}};
    if (!detail.isEmpty())
        o.insert(QStringLiteral("detail"), detail);
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray quotedEtag(const QByteArray &tag)
{
    return '"' + tag + '"';
}

bool etagMatches(const QByteArray &ifNoneMatch, const QByteArray &tag)
{
    if (tag.isEmpty())
        return false;
    const QByteArray trimmed = ifNoneMatch.trimmed();
    if (trimmed == "*")
        return true;
    for (QByteArray item : trimmed.split(',')) {
        item = item.trimmed();
        if (item.startsWith("W/"))
            item = item.mid(2);
        if (item.size() >= 2 && item.startsWith('"') && item.endsWith('"'))
            item = item.mid(1, item.size() - 2);
        if (item == tag)
            return true;
    }
    return false;
}

std::optional<qint64> parseTime(QStringView text)
{
    text = text.trimmed();
    if (text.isEmpty())
        return std::nullopt;
    bool ok = false;
    const qint64 seconds = text.toLongLong(&ok);
    if (ok)
        return seconds;
    QDateTime dt = QDateTime::fromString(text.toString(), Qt::ISODate);
    if (!dt.isValid())
        return std::nullopt;
    if (dt.timeSpec() == Qt::LocalTime) // no zone given: the API speaks UTC
        dt.setTimeZone(QTimeZone::utc());
    return dt.toSecsSinceEpoch();
}

QString isoUtc(qint64 epochSeconds)
{
    return QDateTime::fromSecsSinceEpoch(epochSeconds, Qt::UTC).toString(Qt::ISODate);
}

QByteArray httpDate(qint64 epochSeconds)
{
    const QDateTime dt = QDateTime::fromSecsSinceEpoch(epochSeconds, QTimeZone::utc());
    return QLocale::c().toString(dt, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss")).toLatin1() + " GMT";
}

std::optional<qint64> parseHttpDate(QByteArrayView text)
{
    // RFC 9110 5.6.7: IMF-fixdate, and the two obsolete forms a recipient must still accept.
    const QString s = QString::fromLatin1(text.trimmed()).simplified();
    const QLocale c = QLocale::c();
    for (const QString &format : {QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"),  // IMF-fixdate
                                  QStringLiteral("dddd, dd-MMM-yy HH:mm:ss 'GMT'"),   // RFC 850
                                  QStringLiteral("ddd MMM d HH:mm:ss yyyy")}) {        // asctime
        QDateTime dt = c.toDateTime(s, format);
        if (!dt.isValid())
            continue;
        // RFC 850's two-digit year: Qt reads it as 19yy; RFC 9110 wants the year within 50 years.
        if (format.contains(u"yy HH") && dt.date().year() < 1970)
            dt = dt.addYears(100);
        dt.setTimeZone(QTimeZone::utc());
        return dt.toSecsSinceEpoch();
    }
    return std::nullopt;
}

bool parseBool(QStringView text)
{
    const auto t = text.trimmed();
    return t == u"1" || t.compare(u"true", Qt::CaseInsensitive) == 0 || t.compare(u"yes", Qt::CaseInsensitive) == 0
        || t.compare(u"on", Qt::CaseInsensitive) == 0;
}

namespace {
/// Digits as a number, saturated at `cap` (leading zeros are fine): the caller only compares it.
qint64 saturatedNumber(QByteArrayView digits, qint64 cap)
{
    qint64 v = 0;
    for (const char c : digits) {
        const int d = c - '0';
        if (v > (cap - d) / 10) // checked before it is computed: v * 10 + d would wrap
            return cap;
        v = v * 10 + d;
    }
    return v;
}
bool allDigits(QByteArrayView text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}
} // namespace

ByteRange byteRange(QByteArrayView header, qint64 size)
{
    const QByteArrayView h = header.trimmed();
    constexpr QByteArrayView unit = "bytes=";
    if (h.size() <= unit.size() || h.first(unit.size()).compare(unit, Qt::CaseInsensitive) != 0)
        return {};
    const QByteArrayView spec = h.sliced(unit.size());
    const qsizetype dash = spec.indexOf('-');
    if (dash < 0 || spec.contains(','))
        return {};
    const QByteArrayView firstText = spec.first(dash), lastText = spec.sliced(dash + 1);
    if (!allDigits(firstText) || !allDigits(lastText) || (firstText.isEmpty() && lastText.isEmpty()))
        return {};
    // Saturated one past the largest size: a number that long is beyond any representation.
    constexpr qint64 cap = std::numeric_limits<qint64>::max();
    if (firstText.isEmpty()) { // the last N bytes
        const qint64 n = saturatedNumber(lastText, cap);
        if (n == 0 || size <= 0)
            return {ByteRange::Unsatisfiable};
        return {ByteRange::Part, std::max<qint64>(0, size - n), size - 1};
    }
    const qint64 first = saturatedNumber(firstText, cap);
    const qint64 last = lastText.isEmpty() ? cap : saturatedNumber(lastText, cap);
    if (last < first)
        return {}; // invalid: ignored
    if (first >= size)
        return {ByteRange::Unsatisfiable};
    return {ByteRange::Part, first, std::min(last, size - 1)};
}

} // namespace iptv::http
